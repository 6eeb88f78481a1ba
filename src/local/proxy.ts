/**
 * The weighted reverse proxy: the local stand-in for an ALB listener whose forward action splits
 * traffic between two target groups (the stable and the gray pool), and the data plane the AWS
 * end-to-end tests put in front of the emulated load balancer.
 *
 * What it copies from an ALB, because the engine's decisions depend on it:
 * - Weights are relative integers, as in a forward action: a pool with weight 0 gets no new client
 *   (only clients pinned by a stickiness cookie, as on an ALB); both at 0 answers 503.
 * - Target-group stickiness: with `stickinessSeconds` set, the answer carries an `AWSALBTG` cookie that
 *   pins the client to the pool that served it; with it off (rollback), cookies are ignored.
 * - Health checks: GET `path` on every registered target each `intervalMs`; a target is healthy after
 *   `healthyThreshold` consecutive successes and unhealthy after `unhealthyThreshold` failures. New
 *   targets start `initial` and receive no traffic until healthy. Requests go round-robin to the
 *   pool's healthy targets only; a pool without one answers 503, counted as a load-balancer error
 *   (ALB's HTTPCode_ELB_5XX), not against the pool. Unlike an ALB it does not "fail open" to unhealthy
 *   targets: a gray fleet that never became healthy must never see a customer.
 * - Connection errors to a target (refused, reset, timeout) answer 502 (504 on timeout) and count as
 *   errors of that target's pool (TargetConnectionErrorCount).
 * - Deregistration drains: a removed target gets no new request; in-flight ones finish (up to
 *   `drainTimeoutMs`, the deregistration delay) before `setTargets` resolves.
 * Plus a header route for smoke tests: `x-gray-deploy-pool: gray` (or `stable`) forces the pool.
 * - Listener rules before the weighted one (`routes`: smoke, chosen customers), by priority, with
 *   ALB's http-header matching (matchRoute); the first that matches forwards by its own weights.
 * Every answer carries `x-gray-deploy-pool`; `stats().routes` and the access log (`log`) say why.
 *
 * Pluggable on both sides, so the AWS tests reuse it: weights come from a `WeightSource` (local: a
 * value the router sets; AWS: a poller of DescribeRules), measurements go to a `MetricSink` (local:
 * the in-memory TrafficMetrics; AWS: the same, flushed per period to CloudWatch PutMetricData).
 *
 * Upstream HTTP is undici: one keep-alive `Pool` per target for traffic and one `Client` per target
 * for health checks (so a check never queues behind slow traffic). Nothing runs at import time.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import { ErrorCode, GrayDeployError, InvalidInputError } from "../contract/errors.js";
import type { FleetHealth, Pool, PoolHealth, Weights } from "../core/types.js";
import { systemClock } from "../engine/clock.js";
import {
  accessEntry,
  Counters,
  DEFAULT_HEALTH,
  type ForwardConfig,
  type HealthCheckOptions,
  type MetricSink,
  matchRoute,
  POOL_HEADER,
  type PoolCounters,
  type ProxyOptions,
  type ProxyStats,
  STICKY_COOKIE,
  Target,
  type TargetSpec,
  type TargetState,
  type TargetStatus,
} from "./proxy-config.js";
import {
  describeError,
  HOP_BY_HOP,
  isTimeout,
  isUpstreamError,
  readStickyCookie,
  upstreamHeaders,
} from "./proxy-http.js";

export * from "./proxy-config.js";
export { describeError } from "./proxy-http.js";

const POOLS: readonly Pool[] = ["stable", "gray"];

/** Per-request state, passed through undici as `opaque` so the hot path allocates no closures. */
interface Exchange {
  readonly proxy: WeightedProxy;
  readonly res: ServerResponse;
  readonly req: IncomingMessage;
  /** How the pool was chosen (AccessLogEntry.route). */
  readonly route: string;
  readonly pool: Pool;
  readonly target: Target;
  readonly start: number;
  readonly cookie: string | null;
  status: number;
}

const LB_HEADERS = { "content-type": "text/plain", [POOL_HEADER]: "none" };

export class WeightedProxy {
  readonly #opts: ProxyOptions;
  readonly #health: HealthCheckOptions;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #sink: MetricSink | undefined;
  readonly #targets: Record<Pool, Map<string, Target>> = { stable: new Map(), gray: new Map() };
  /** Healthy targets per pool, rebuilt on every state change; the request path only reads it. */
  #rotation: Record<Pool, Target[]> = { stable: [], gray: [] };
  readonly #rr: Record<Pool, number> = { stable: 0, gray: 0 };
  readonly #counters: Record<Pool, Counters> = { stable: new Counters(), gray: new Counters() };
  #lbErrors = 0;
  readonly #routes = new Map<string, Record<Pool, number>>();
  #config: ForwardConfig | null = null;
  #cookies: Record<Pool, string> | null = null;
  #server: Server | null = null;
  #timer: NodeJS.Timeout | null = null;
  #url: string | null = null;
  #closing: Promise<void> | null = null;
  readonly #draining = new Set<Promise<void>>();

  constructor(options: ProxyOptions) {
    this.#opts = options;
    this.#health = { ...DEFAULT_HEALTH, ...options.healthCheck };
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? systemClock().now;
    this.#sink = options.sink;
    const h = this.#health;
    if (h.intervalMs < 10 || h.timeoutMs < 1 || h.healthyThreshold < 1 || h.unhealthyThreshold < 1) {
      throw new InvalidInputError([
        { field: "healthCheck", message: "interval ≥ 10 ms, timeout ≥ 1 ms and thresholds ≥ 1 are required" },
      ]);
    }
  }

  /** Starts listening and health-checking. Resolves with the proxy's base URL. */
  async start(): Promise<string> {
    if (this.#url !== null) return this.#url;
    if (this.#closing)
      throw new GrayDeployError(ErrorCode.Internal, "the proxy was closed; create a new one");
    const server = createServer((req, res) => this.#handle(req, res));
    // Longer than any client's idle timeout (undici: 4 s), like the ALB's 60 s idle timeout: the client
    // closes idle connections, never the proxy mid-request.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#opts.port ?? 0, this.#opts.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const { address, port } = server.address() as AddressInfo;
    this.#url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
    this.#timer = setInterval(() => this.#checkRound(), this.#health.intervalMs);
    this.#timer.unref();
    return this.#url;
  }

  /** The base URL (after start). */
  get url(): string {
    if (this.#url === null)
      throw new GrayDeployError(ErrorCode.Internal, "the proxy is not started: call start()");
    return this.#url;
  }

  get healthCheck(): HealthCheckOptions {
    return this.#health;
  }

  get drainTimeoutMs(): number {
    return this.#opts.drainTimeoutMs ?? 5000;
  }

  /** The forward action as applied now. */
  forwardConfig(): ForwardConfig {
    return this.#opts.weights.get();
  }

  /**
   * Makes `targets` the pool's registered targets. New ones start `initial` and are checked at once;
   * removed ones stop receiving requests now and the promise resolves when their in-flight requests
   * have finished (or the drain timeout passed), so the caller may then stop the instance.
   */
  setTargets(pool: Pool, targets: readonly TargetSpec[]): Promise<void> {
    const map = this.#targets[pool];
    const wanted = new Map(targets.map((t) => [t.id, t]));
    const removed: Target[] = [];
    for (const [id, t] of map) {
      const spec = wanted.get(id);
      if (spec === undefined || spec.host !== t.spec.host || spec.port !== t.spec.port) {
        map.delete(id);
        removed.push(t);
      }
    }
    const added: Target[] = [];
    const timeout = this.#opts.upstreamTimeoutMs ?? 60_000;
    for (const spec of targets) {
      if (map.has(spec.id)) continue;
      const t = new Target(
        spec,
        pool,
        this.#opts.connectionsPerTarget ?? 64,
        timeout,
        this.#health.timeoutMs,
      );
      map.set(spec.id, t);
      added.push(t);
    }
    this.#rebuild();
    if (this.#url !== null) for (const t of added) void this.#check(t);
    const drained = Promise.all(removed.map((t) => this.#drain(t))).then(() => undefined);
    this.#draining.add(drained);
    void drained.finally(() => this.#draining.delete(drained));
    return drained;
  }

  /** Registered targets and their health-check state. */
  targets(pool?: Pool): TargetStatus[] {
    const out: TargetStatus[] = [];
    for (const p of pool === undefined ? POOLS : [pool]) {
      for (const t of this.#targets[p].values()) {
        out.push({ ...t.spec, pool: p, state: t.state, reason: t.reason, requests: t.requests });
      }
    }
    return out;
  }

  /** Healthy and unhealthy targets per pool (`initial` targets are in neither count, as on an ALB). */
  health(): FleetHealth {
    return { stable: this.#poolHealth("stable"), gray: this.#poolHealth("gray") };
  }

  /** Cumulative counters since start. */
  stats(): ProxyStats {
    const c = (p: Pool): PoolCounters => ({ ...this.#counters[p] });
    const routes = Object.fromEntries([...this.#routes].map(([id, n]) => [id, { ...n }]));
    return { stable: c("stable"), gray: c("gray"), lbErrors: this.#lbErrors, routes };
  }

  /** Stops accepting, closes client connections and upstream pools. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const server = this.#server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Clients still mid-request get a short grace, then their sockets go: close() must not hang.
      const grace = setTimeout(() => server.closeAllConnections(), 1000);
      await closed;
      clearTimeout(grace);
    }
    const all = POOLS.flatMap((p) => [...this.#targets[p].values()]);
    for (const p of POOLS) this.#targets[p].clear();
    this.#rebuild();
    await Promise.all(all.map((t) => Promise.all([t.traffic.destroy(), t.health.destroy()])));
    await Promise.all([...this.#draining]);
  }

  #poolHealth(pool: Pool): PoolHealth {
    let healthy = 0;
    let unhealthy = 0;
    for (const t of this.#targets[pool].values()) {
      if (t.state === "healthy") healthy++;
      else if (t.state === "unhealthy") unhealthy++;
    }
    return { healthy, unhealthy };
  }

  #rebuild(): void {
    const rotation: Record<Pool, Target[]> = { stable: [], gray: [] };
    for (const p of POOLS) {
      for (const t of this.#targets[p].values()) if (t.state === "healthy") rotation[p].push(t);
    }
    this.#rotation = rotation;
  }

  async #drain(t: Target): Promise<void> {
    t.state = "draining";
    const timeout = this.drainTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeout);
    });
    // undici's close() waits for queued and in-flight requests, which is exactly a drain.
    const done = await Promise.race([t.traffic.close().then(() => false), expired]);
    clearTimeout(timer);
    if (done) await t.traffic.destroy();
    await t.health.destroy();
  }

  #checkRound(): void {
    const round: Promise<void>[] = [];
    for (const p of POOLS) for (const t of this.#targets[p].values()) round.push(this.#check(t));
    if (this.#sink?.health) {
      void Promise.all(round).then(() => {
        if (this.#closing) return;
        for (const p of POOLS) this.#sink?.health?.(p, this.#poolHealth(p));
      });
    }
  }

  async #check(t: Target): Promise<void> {
    if (t.checking || t.state === "draining") return;
    t.checking = true;
    let ok = false;
    let reason: string | null = null;
    try {
      const { statusCode, body } = await t.health.request({ path: this.#health.path, method: "GET" });
      await body.dump();
      // The ALB's default success matcher is 200 exactly.
      ok = statusCode === 200;
      if (!ok) reason = `GET ${this.#health.path} answered ${statusCode}`;
    } catch (e) {
      reason = `GET ${this.#health.path} failed: ${describeError(e)}`;
    } finally {
      t.checking = false;
    }
    // The target may have been deregistered while the check was in flight.
    if ((t.state as TargetState) === "draining" || this.#closing) return;
    const before = t.state;
    if (ok) {
      t.failStreak = 0;
      t.okStreak++;
      t.reason = null;
      if (t.state !== "healthy" && t.okStreak >= this.#health.healthyThreshold) t.state = "healthy";
    } else {
      t.okStreak = 0;
      t.failStreak++;
      t.reason = reason;
      if (t.state !== "unhealthy" && t.failStreak >= this.#health.unhealthyThreshold) t.state = "unhealthy";
    }
    if (t.state !== before) this.#rebuild();
  }

  #applyConfig(config: ForwardConfig): void {
    this.#config = config;
    const s = config.stickinessSeconds;
    this.#cookies =
      s === null
        ? null
        : {
            stable: `${STICKY_COOKIE}=stable; Max-Age=${s}; Path=/; HttpOnly`,
            gray: `${STICKY_COOKIE}=gray; Max-Age=${s}; Path=/; HttpOnly`,
          };
  }

  #pick(weights: Weights): Pool | null {
    const total = weights.stable + weights.gray;
    if (total <= 0) return null;
    if (weights.gray === 0) return "stable";
    if (weights.stable === 0) return "gray";
    return this.#random() * total < weights.stable ? "stable" : "gray";
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    const config = this.#opts.weights.get();
    if (config !== this.#config) this.#applyConfig(config);
    const cookies = this.#cookies;

    let pool: Pool | null = null;
    let cookie: string | null = null;
    let route = "weighted";
    const forced = req.headers[POOL_HEADER];
    const matched = config.routes ? matchRoute(config.routes, req.headersDistinct) : null;
    if (forced === "gray" || forced === "stable") {
      // A header route is its own rule on an ALB: no stickiness there.
      pool = forced;
      route = "header";
    } else if (matched !== null) {
      // A listener rule before the weighted one (smoke, chosen customers): its own forward weights.
      pool = this.#pick(matched.weights);
      route = matched.id;
    } else {
      if (cookies !== null) {
        const pinned = readStickyCookie(req.headers.cookie);
        // A pinned pool without a healthy target loses the pin (the ALB re-balances the client).
        if (pinned !== null && this.#rotation[pinned].length > 0) {
          pool = pinned;
          route = "sticky";
        }
      }
      pool ??= this.#pick(config.weights);
      if (pool !== null && cookies !== null) cookie = cookies[pool];
    }

    if (pool === null) {
      this.#answerSelf(req, res, start, "no pool has weight in the forward action", route);
      return;
    }
    const rotation = this.#rotation[pool];
    if (rotation.length === 0) {
      this.#answerSelf(req, res, start, `no healthy target in the ${pool} pool`, route);
      return;
    }
    const counted = this.#routes.get(route) ?? { stable: 0, gray: 0 };
    counted[pool]++;
    this.#routes.set(route, counted);
    const target = rotation[this.#rr[pool]++ % rotation.length]!;
    if (this.#rr[pool] > 1e9) this.#rr[pool] = 0;
    target.requests++;
    if (target.requests === 1 && this.#counters[pool].firstRequestAt === null) {
      this.#counters[pool].firstRequestAt = this.#now();
    }

    const h = req.headers;
    const hasBody =
      h["transfer-encoding"] !== undefined ||
      (h["content-length"] !== undefined && h["content-length"] !== "0");
    const exchange: Exchange = { proxy: this, res, req, route, pool, target, start, cookie, status: 0 };
    target.traffic.stream(
      {
        path: req.url ?? "/",
        method: req.method as Dispatcher.HttpMethod,
        headers: upstreamHeaders(req),
        body: hasBody ? req : null,
        opaque: exchange,
        responseHeaders: "raw",
      },
      onUpstreamHeaders,
      onUpstreamDone,
    );
  }

  #answerSelf(req: IncomingMessage, res: ServerResponse, start: number, why: string, route: string): void {
    this.#lbErrors++;
    res.writeHead(503, LB_HEADERS);
    res.end(`503 Service Unavailable: ${why}\n`);
    this.#sink?.request(null, 503, performance.now() - start, false);
    this.#opts.log?.(accessEntry(this.#now(), null, route, req, 503));
  }

  #log(ex: Exchange, status: number): void {
    this.#opts.log?.(accessEntry(this.#now(), ex.pool, ex.route, ex.req, status));
  }

  /** @internal called once per exchange when it ends. */
  finish(ex: Exchange, err: Error | null): void {
    const latency = performance.now() - ex.start;
    const c = this.#counters[ex.pool];
    c.requests++;
    if (err === null) {
      if (ex.status >= 500) c.errors++;
      this.#sink?.request(ex.pool, ex.status, latency, false);
      this.#log(ex, ex.status);
      return;
    }
    if (ex.status === 0) {
      // The target never answered: what an ALB reports as a 502 (504 on timeout) and a target
      // connection error of that target group.
      const status = isTimeout(err) ? 504 : 502;
      c.errors++;
      c.connectionErrors++;
      const res = ex.res;
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(status, { "content-type": "text/plain", [POOL_HEADER]: ex.pool });
        res.end(
          `${status} ${status === 504 ? "Gateway Timeout" : "Bad Gateway"}: ${ex.target.spec.id}: ${describeError(err)}\n`,
        );
      }
      this.#sink?.request(ex.pool, status, latency, true);
      this.#log(ex, status);
      return;
    }
    if (isUpstreamError(err)) {
      // The target failed mid-body: the client saw a truncated answer.
      c.errors++;
      c.connectionErrors++;
      this.#sink?.request(ex.pool, ex.status, latency, true);
      this.#log(ex, ex.status);
      return;
    }
    // The client went away mid-answer (ALB's 460): not the target's fault.
    this.#sink?.request(ex.pool, 460, latency, false);
    this.#log(ex, 460);
  }
}

function onUpstreamHeaders(data: Dispatcher.StreamFactoryData<Exchange>): ServerResponse {
  const ex = data.opaque;
  ex.status = data.statusCode;
  // With responseHeaders "raw", undici hands over a flat [name, value, name, value…] list.
  const raw = data.headers as unknown as string[];
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length <= 17 && HOP_BY_HOP.has(name.toLowerCase())) continue;
    headers.push(name, raw[i + 1]!);
  }
  headers.push(POOL_HEADER, ex.pool);
  if (ex.cookie !== null) headers.push("set-cookie", ex.cookie);
  ex.res.writeHead(data.statusCode, headers);
  return ex.res;
}

function onUpstreamDone(err: Error | null, data: Dispatcher.StreamData<Exchange>): void {
  const ex = data.opaque;
  ex.proxy.finish(ex, err);
}
