/**
 * What the weighted proxy is configured with and reports: the forward action (weights, stickiness),
 * where measurements go, its targets and their health, and its counters.
 */
import { Client, Pool as UndiciPool } from "undici";
import { InvalidInputError } from "../contract/errors.js";
import type { Pool, PoolHealth, Weights } from "../core/types.js";

/** The forward action as the load balancer applies it. */
export interface ForwardConfig {
  /** Relative weights (an ALB accepts 0..999 each); the router writes percentages summing to 100. */
  readonly weights: Weights;
  /** Target-group stickiness duration; null when stickiness is off. */
  readonly stickinessSeconds: number | null;
  /**
   * Listener rules evaluated before the weighted split, lowest priority first, as an ALB evaluates
   * them (the smoke rule, the chosen-customers rule): the first whose every condition matches
   * forwards by its own weights. Absent: none.
   */
  readonly routes?: readonly HeaderRoute[];
}

/** An http-header condition: any of `values` (case-insensitive, `*` and `?` wildcards) matches. */
export interface HeaderCondition {
  readonly header: string;
  readonly values: readonly string[];
}

/** A listener rule of http-header conditions (ANDed) with a forward action. */
export interface HeaderRoute {
  /** Names the route in counters and logs: `pilot`, `smoke`, a rule ARN. */
  readonly id: string;
  readonly priority: number;
  readonly conditions: readonly HeaderCondition[];
  readonly weights: Weights;
}

/** One answered request, for an access log (`ProxyOptions.log`). */
export interface AccessLogEntry {
  readonly at: number;
  /** null: the load balancer answered itself. */
  readonly pool: Pool | null;
  /** How the pool was chosen: `weighted`, `sticky`, `header` (the force header) or a route's id. */
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

/**
 * Where the proxy reads its forward action. `get()` is called on every request: it must be
 * synchronous and cheap (return a cached object; a poller updates the cache in the background).
 * Returning a new object is how a change is signalled; the proxy recomputes derived state only then.
 */
export interface WeightSource {
  get(): ForwardConfig;
}

/** The local weight source: a value the router writes. */
export class StaticWeightSource implements WeightSource {
  #config: ForwardConfig;
  constructor(initial: ForwardConfig) {
    this.#config = freezeConfig(initial);
  }
  get(): ForwardConfig {
    return this.#config;
  }
  set(config: ForwardConfig): void {
    this.#config = freezeConfig(config);
  }
}

function freezeConfig(c: ForwardConfig): ForwardConfig {
  for (const [k, v] of Object.entries(c.weights)) {
    if (!Number.isInteger(v) || v < 0 || v > 999) {
      throw new InvalidInputError([
        { field: "weights", message: `${k} weight ${v} is not an integer from 0 to 999` },
      ]);
    }
  }
  const s = c.stickinessSeconds;
  if (s !== null && (!Number.isInteger(s) || s < 1 || s > 604_800)) {
    throw new InvalidInputError([
      {
        field: "stickinessSeconds",
        message: `${s} is not a whole number of seconds from 1 to 604800 (7 days)`,
      },
    ]);
  }
  return Object.freeze({
    weights: Object.freeze({ stable: c.weights.stable, gray: c.weights.gray }),
    stickinessSeconds: s,
    ...(c.routes && c.routes.length > 0
      ? { routes: Object.freeze([...c.routes].sort((a, b) => a.priority - b.priority)) }
      : {}),
  });
}

/**
 * Receives every finished request and the health of each pool. Called on the request path:
 * implementations must be synchronous, allocation-light and never do I/O inline (buffer, then flush
 * per period).
 */
export interface MetricSink {
  /**
   * One request answered. `pool` is null when the load balancer answered itself (no healthy target,
   * no weight): an ELB 5xx that cannot be attributed to a pool. `connectionError` marks requests the
   * target never answered (refused, reset, timed out); their latency is not a response time.
   */
  request(pool: Pool | null, status: number, latencyMs: number, connectionError: boolean): void;
  /** Health of a pool after each round of health checks. */
  health?(pool: Pool, health: PoolHealth): void;
}

/** Sends every call to each sink (e.g. TrafficMetrics for the engine plus a CloudWatch publisher). */
export function teeSink(...sinks: MetricSink[]): MetricSink {
  return {
    request(pool, status, latencyMs, connectionError) {
      for (const s of sinks) s.request(pool, status, latencyMs, connectionError);
    },
    health(pool, health) {
      for (const s of sinks) s.health?.(pool, health);
    },
  };
}

/** A registered target: one instance of the service. `id` is stable across re-registrations. */
export interface TargetSpec {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export type TargetState = "initial" | "healthy" | "unhealthy" | "draining";

export interface TargetStatus extends TargetSpec {
  readonly pool: Pool;
  readonly state: TargetState;
  /** Why the last health check failed, when it did. */
  readonly reason: string | null;
  /** Requests sent to it so far. */
  readonly requests: number;
}

export interface HealthCheckOptions {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export interface ProxyOptions {
  readonly weights: WeightSource;
  readonly sink?: MetricSink;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: an ephemeral port. */
  readonly port?: number;
  /** Defaults tuned for a local run: path /health, every 500 ms, timeout 2 s, thresholds 2/2. */
  readonly healthCheck?: Partial<HealthCheckOptions>;
  /** Deregistration delay: how long in-flight requests of a removed target may take. Default 5 s. */
  readonly drainTimeoutMs?: number;
  /** Upstream connections per target. Default 64. */
  readonly connectionsPerTarget?: number;
  /** Upstream response timeout (the ALB idle timeout). Default 60 s. */
  readonly upstreamTimeoutMs?: number;
  /** Draws the weighted choice; injectable so tests can pin it. Default Math.random. */
  readonly random?: () => number;
  /** Epoch milliseconds, for the pools' first requests. Default: the system clock. */
  readonly now?: () => number;
  /** Told about every answered request (an access log); keep it cheap: it runs on the request path. */
  readonly log?: (entry: AccessLogEntry) => void;
}

export interface PoolCounters {
  /** When the pool was first sent a request (epoch ms); null if never. */
  readonly firstRequestAt: number | null;
  readonly requests: number;
  /** 5xx answers of the pool's targets plus connection errors. */
  readonly errors: number;
  readonly connectionErrors: number;
}

export interface ProxyStats {
  readonly stable: PoolCounters;
  readonly gray: PoolCounters;
  /** Answers the load balancer made itself (no healthy target or no weight). */
  readonly lbErrors: number;
  /** Requests sent to each pool, by how the pool was chosen (see AccessLogEntry.route). */
  readonly routes: Readonly<Record<string, Readonly<Record<Pool, number>>>>;
}

export function accessEntry(
  at: number,
  pool: Pool | null,
  route: string,
  req: { readonly method?: string | undefined; readonly url?: string | undefined },
  status: number,
): AccessLogEntry {
  return { at, pool, route, method: req.method ?? "GET", path: req.url ?? "/", status };
}

/** Whether a header value matches an ALB condition value: case-insensitive, `*` any run, `?` one character. */
export function albMatch(pattern: string, value: string): boolean {
  let re = PATTERNS.get(pattern);
  if (re === undefined) {
    re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
      "is",
    );
    if (PATTERNS.size < 256) PATTERNS.set(pattern, re);
  }
  return re.test(value);
}
const PATTERNS = new Map<string, RegExp>();

/** The first route whose every condition matches the request's headers (all values of each header). */
export function matchRoute(
  routes: readonly HeaderRoute[],
  headers: NodeJS.Dict<string[]>,
): HeaderRoute | null {
  for (const r of routes) {
    const ok = r.conditions.every((c) => {
      const values = headers[c.header.toLowerCase()] ?? [];
      return values.some((v) => c.values.some((p) => albMatch(p, v)));
    });
    if (ok) return r;
  }
  return null;
}

/** The header that forces a pool (smoke tests) and names the serving pool in answers. */
export const POOL_HEADER = "x-gray-deploy-pool";
/** The ALB's target-group stickiness cookie. */
export const STICKY_COOKIE = "AWSALBTG";

export const DEFAULT_HEALTH: HealthCheckOptions = {
  path: "/health",
  intervalMs: 500,
  timeoutMs: 2000,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
};

export class Counters {
  firstRequestAt: number | null = null;
  requests = 0;
  errors = 0;
  connectionErrors = 0;
}

export class Target {
  state: TargetState = "initial";
  okStreak = 0;
  failStreak = 0;
  reason: string | null = null;
  requests = 0;
  checking = false;
  readonly origin: string;
  readonly traffic: UndiciPool;
  readonly health: Client;
  constructor(
    readonly spec: TargetSpec,
    readonly pool: Pool,
    connections: number,
    timeoutMs: number,
    healthTimeoutMs: number,
  ) {
    this.origin = `http://${spec.host.includes(":") ? `[${spec.host}]` : spec.host}:${spec.port}`;
    this.traffic = new UndiciPool(this.origin, {
      connections,
      pipelining: 1,
      // Shorter than the sample service's keep-alive (65 s): the proxy closes idle sockets first, so
      // it never sends a request on a socket the target is closing (a spurious 502).
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connectTimeout: Math.min(timeoutMs, 5000),
    });
    this.health = new Client(this.origin, {
      keepAliveTimeout: 30_000,
      headersTimeout: healthTimeoutMs,
      bodyTimeout: healthTimeoutMs,
      connectTimeout: healthTimeoutMs,
    });
  }
}
