/**
 * A fault-injecting HTTP proxy in front of the AWS emulator: the control plane as it behaves on a bad
 * day. gray-deploy (the CLI, or the SDK clients of a test) gets the proxy's URL as its endpoint; every
 * call is forwarded to the emulator unless the proxy decides otherwise:
 *
 * - faults: on a chosen share of calls (optionally only calls that match), answer as AWS does when it
 *   throttles — HTTP 400 with the error body of the service's protocol — or with a 5xx. The call
 *   never reaches the emulator (a throttled or failed request did nothing), so a retry is safe.
 * - latency: a random delay before each call is forwarded.
 * - persistent faults: every call that matches fails, until the rule is removed (a service outage,
 *   a permission lost mid-run).
 * - hold: once a call that matches has been ANSWERED, every later call is held (not forwarded), so a
 *   test can SIGKILL the process at an exact point ("right after the weight write"). Held calls whose
 *   client went away are dropped on release, never forwarded: a dead process's call must not land.
 *
 * The protocols, as the SDK v3 clients speak them (service from the SigV4 credential scope):
 *   elasticloadbalancing, autoscaling, sts: awsQuery — form body `Action=…`, errors
 *     `<ErrorResponse><Error><Type>Sender</Type><Code>…` (real throttling: `Throttling`, "Rate exceeded")
 *   ec2: the EC2 protocol — form body, errors `<Response><Errors><Error><Code>…` (`RequestLimitExceeded`)
 *   monitoring (CloudWatch): JSON 1.0, query-compatible — `X-Amz-Target: GraniteServiceVersion20100801.Op`,
 *     errors `{"__type": …}` plus `x-amzn-query-error: Throttling;Sender`
 *   dynamodb: JSON 1.0 — `X-Amz-Target: DynamoDB_20120810.Op`, errors
 *     `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"}`
 *   ecr: JSON 1.1 — `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.Op`
 */
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export type FaultKind = "throttle" | "5xx";

/** One AWS API call as the proxy saw it. */
export interface Call {
  readonly seq: number;
  /** Epoch ms when the request arrived. */
  readonly at: number;
  /** SigV4 signing name: elasticloadbalancing, autoscaling, ec2, monitoring, dynamodb, ecr, sts… */
  readonly service: string;
  readonly operation: string;
  /** Query protocols: the form parameters; JSON protocols: the parsed body. */
  readonly params: Readonly<Record<string, unknown>>;
}

/** What happened to a call. */
export interface CallRecord extends Call {
  /** `forwarded` with the emulator's status, or the fault the proxy answered with, or `dropped`. */
  /**
   * `forwarded` with the emulator's status; `throttle` or `5xx` when the proxy answered instead (the
   * call never reached the emulator); `lost` when the emulator DID the call but the client got a 5xx
   * (the answer was lost); `dropped` for a held call of a killed process.
   */
  readonly result: "forwarded" | "throttle" | "5xx" | "lost" | "dropped";
  readonly status: number | null;
  /** Epoch ms when the answer was sent (null when dropped). */
  readonly doneAt: number | null;
}

export type Match = (call: Call) => boolean;

export interface FaultPlan {
  /** Share of (matching) calls answered with a fault, 0..1. */
  readonly rate: number;
  /** Faults to pick from (uniformly). Default both. */
  readonly kinds?: readonly FaultKind[];
  /** Only calls that match get faults; default every call. */
  readonly match?: Match;
}

export interface FaultProxyOptions {
  /** The emulator's endpoint, e.g. http://127.0.0.1:5000. */
  readonly target: string;
  /** Seed of the proxy's random choices (faults, latency), for repeatable runs. Default 1. */
  readonly seed?: number;
}

interface Persistent {
  readonly id: number;
  readonly match: Match;
  readonly kind: FaultKind;
}

interface Held {
  readonly call: Call;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: Buffer;
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const QUERY_SERVICES = new Set(["elasticloadbalancing", "autoscaling", "sts", "iam"]);

/** The service and operation of a signed AWS request, and its parameters. */
export function describeCall(headers: IncomingHttpHeaders, body: string): Omit<Call, "seq" | "at"> {
  const auth = String(headers.authorization ?? "");
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(auth)?.[1] ?? "unknown";
  const target = headers["x-amz-target"];
  if (typeof target === "string") {
    let params: Record<string, unknown> = {};
    try {
      params = body === "" ? {} : (JSON.parse(body) as Record<string, unknown>);
    } catch {
      // not JSON: keep no parameters
    }
    return { service, operation: target.slice(target.lastIndexOf(".") + 1), params };
  }
  const form = Object.fromEntries(new URLSearchParams(body));
  return { service, operation: form.Action ?? "unknown", params: form };
}

/** An AWS-shaped error answer for `service` (see the protocols above). */
export function faultResponse(
  service: string,
  kind: FaultKind,
): { status: number; headers: Record<string, string>; body: string } {
  const requestId = randomUUID();
  const throttle = kind === "throttle";
  if (service === "dynamodb" || service === "ecr" || service === "monitoring") {
    const prefix =
      service === "dynamodb"
        ? "com.amazonaws.dynamodb.v20120810#"
        : service === "monitoring"
          ? "com.amazonaws.cloudwatch#"
          : "";
    const code = throttle
      ? "ThrottlingException"
      : service === "dynamodb"
        ? "InternalServerError"
        : "InternalFailure";
    const headers: Record<string, string> = {
      "content-type": service === "ecr" ? "application/x-amz-json-1.1" : "application/x-amz-json-1.0",
      "x-amzn-requestid": requestId,
    };
    // CloudWatch's JSON protocol is query-compatible: the SDK takes the error code from this header.
    if (service === "monitoring") {
      headers["x-amzn-query-error"] = throttle ? "Throttling;Sender" : "InternalFailure;Receiver";
    }
    const message = throttle
      ? service === "dynamodb"
        ? "Rate of requests exceeds the allowed throughput."
        : "Rate exceeded"
      : "The server encountered an internal error trying to fulfill the request.";
    return {
      status: throttle ? 400 : 500,
      headers,
      body: JSON.stringify({ __type: `${prefix}${code}`, message }),
    };
  }
  if (service === "ec2") {
    const code = throttle ? "RequestLimitExceeded" : "InternalError";
    const message = throttle ? "Request limit exceeded." : "An internal error has occurred";
    return {
      status: throttle ? 400 : 500,
      headers: { "content-type": "text/xml;charset=UTF-8" },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    };
  }
  // awsQuery (ELBv2, Auto Scaling, STS) and anything unknown.
  const code = throttle ? "Throttling" : "ServiceUnavailable";
  const message = throttle ? "Rate exceeded" : "Service is unavailable. Please try again later.";
  const type = throttle ? "Sender" : "Receiver";
  return {
    status: throttle ? 400 : 503,
    headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
    body: `<ErrorResponse xmlns="https://${QUERY_SERVICES.has(service) ? service : "aws"}.amazonaws.com/doc/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

export class FaultProxy {
  readonly #target: URL;
  readonly #random: () => number;
  #server: Server | null = null;
  #url: string | null = null;
  #seq = 0;
  #plan: FaultPlan = { rate: 0 };
  #latency: { min: number; max: number } = { min: 0, max: 0 };
  #persistent: Persistent[] = [];
  #nextRule = 1;
  #slow: { id: number; match: Match; wait: number | Promise<unknown> }[] = [];
  #lose: FaultPlan = { rate: 0 };
  #watchers: { match: Match; resolve: (c: Call) => void }[] = [];
  #holdAfter: Match | null = null;
  #holding = false;
  #held: Held[] = [];
  #onHeld: ((call: Call) => void)[] = [];
  /** Every call, in order of arrival. */
  readonly calls: CallRecord[] = [];

  constructor(o: FaultProxyOptions) {
    this.#target = new URL(o.target);
    this.#random = prng(o.seed ?? 1);
  }

  async start(): Promise<string> {
    if (this.#url !== null) return this.#url;
    const server = createServer((req, res) => void this.#handle(req, res));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.#url;
  }

  get url(): string {
    if (this.#url === null) throw new Error("fault proxy not started");
    return this.#url;
  }

  /** Faults on a share of calls from now on (rate 0: none). */
  faults(plan: FaultPlan): void {
    this.#plan = plan;
  }

  /** A uniform random delay in [minMs, maxMs] before each call is forwarded. */
  latency(minMs: number, maxMs = minMs): void {
    this.#latency = { min: minMs, max: maxMs };
  }

  /** Every matching call fails with `kind` until the returned function is called. */
  persistent(match: Match, kind: FaultKind = "5xx"): () => void {
    const rule: Persistent = { id: this.#nextRule++, match, kind };
    this.#persistent.push(rule);
    return () => {
      this.#persistent = this.#persistent.filter((r) => r.id !== rule.id);
    };
  }

  /**
   * On a share of (matching) calls, the call reaches the emulator — the write happens — but the
   * client gets a 5xx instead of the answer, as when AWS fails after doing the work ("the request may
   * or may not have succeeded"). The SDK then retries a call that already succeeded.
   */
  loseResponses(plan: Omit<FaultPlan, "kinds">): void {
    this.#lose = plan;
  }

  /**
   * Matching calls wait before they are forwarded — `wait` ms, or until the promise settles — until
   * the returned function is called.
   */
  slow(match: Match, wait: number | Promise<unknown>): () => void {
    const rule = { id: this.#nextRule++, match, wait };
    this.#slow.push(rule);
    return () => {
      this.#slow = this.#slow.filter((r) => r.id !== rule.id);
    };
  }

  /** Resolves with the next call that matches, when it arrives (before it is answered). */
  next(match: Match): Promise<Call> {
    return new Promise((resolve) => this.#watchers.push({ match, resolve }));
  }

  /**
   * Holds every call after the first matching call that succeeded (2xx). Resolves with the first
   * held call: proof that the client went on to its next call after the matching one.
   */
  holdAfter(match: Match): Promise<Call> {
    this.#holdAfter = match;
    return new Promise((resolve) => this.#onHeld.push(resolve));
  }

  /** Whether calls are being held right now. */
  get holding(): boolean {
    return this.#holding;
  }

  /**
   * Stops holding. With `drop` (after the process that made them was killed) every held call is
   * dropped and its connection closed — a dead process's call must never land, and its socket may
   * not look closed yet; otherwise held calls whose client went away are dropped and the rest are
   * forwarded.
   */
  release(o: { drop?: boolean } = {}): void {
    this.#holdAfter = null;
    this.#holding = false;
    const held = this.#held;
    this.#held = [];
    for (const h of held) {
      if (o.drop || h.req.socket.destroyed || h.res.destroyed || h.res.writableEnded) {
        h.res.destroy();
        this.#record(h.call, "dropped", null);
        continue;
      }
      void this.#forward(h.call, h.req, h.res, h.body);
    }
  }

  /** Calls (optionally of one operation) and their results. */
  count(filter: Partial<Pick<CallRecord, "service" | "operation" | "result">> = {}): number {
    return this.calls.filter(
      (c) =>
        (filter.service === undefined || c.service === filter.service) &&
        (filter.operation === undefined || c.operation === filter.operation) &&
        (filter.result === undefined || c.result === filter.result),
    ).length;
  }

  /** Faults answered, per `service:Operation`. */
  faultsByOperation(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.calls) {
      if (c.result !== "throttle" && c.result !== "5xx") continue;
      const k = `${c.service}:${c.operation}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const h of this.#held) h.res.destroy();
    this.#held = [];
    if (server === null) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #record(call: Call, result: CallRecord["result"], status: number | null): void {
    this.calls.push({ ...call, result, status, doneAt: result === "dropped" ? null : Date.now() });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const call: Call = {
      seq: ++this.#seq,
      at: Date.now(),
      ...describeCall(req.headers, body.toString("utf8")),
    };

    const seen = this.#watchers.filter((w) => w.match(call));
    this.#watchers = this.#watchers.filter((w) => !seen.includes(w));
    for (const w of seen) w.resolve(call);

    if (this.#holding) {
      this.#held.push({ call, req, res, body });
      const waiting = this.#onHeld;
      this.#onHeld = [];
      for (const w of waiting) w(call);
      return;
    }

    const { min, max } = this.#latency;
    if (max > 0) await new Promise((r) => setTimeout(r, min + this.#random() * (max - min)));
    const slow = this.#slow.find((r) => r.match(call));
    if (slow) {
      await (typeof slow.wait === "number"
        ? new Promise((r) => setTimeout(r, slow.wait as number))
        : slow.wait.catch(() => undefined));
    }

    const persistent = this.#persistent.find((p) => p.match(call));
    let fault: FaultKind | null = persistent?.kind ?? null;
    const plan = this.#plan;
    if (fault === null && plan.rate > 0 && (plan.match === undefined || plan.match(call))) {
      if (this.#random() < plan.rate) {
        const kinds = plan.kinds ?? ["throttle", "5xx"];
        fault = kinds[Math.floor(this.#random() * kinds.length)] ?? "throttle";
      }
    }
    if (fault !== null) {
      const answer = faultResponse(call.service, fault);
      res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
      res.end(answer.body);
      this.#record(call, fault, answer.status);
      return;
    }
    await this.#forward(call, req, res, body);
  }

  #forward(call: Call, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    return new Promise<void>((resolve) => {
      const upstream = request(
        {
          host: this.#target.hostname,
          port: this.#target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          const chunks: Buffer[] = [];
          up.on("data", (c: Buffer) => chunks.push(c));
          up.on("end", () => {
            const status = up.statusCode ?? 502;
            const ok = status >= 200 && status < 300;
            // Decide before answering, so the client cannot get a call in before the hold starts.
            if (ok && this.#holdAfter !== null && !this.#holding && this.#holdAfter(call)) {
              this.#holding = true;
            }
            const lose = this.#lose;
            if (ok && lose.rate > 0 && (lose.match?.(call) ?? true) && this.#random() < lose.rate) {
              const answer = faultResponse(call.service, "5xx");
              if (!res.destroyed) {
                res.writeHead(answer.status, {
                  ...answer.headers,
                  "content-length": Buffer.byteLength(answer.body),
                });
                res.end(answer.body);
              }
              this.#record(call, "lost", answer.status);
              resolve();
              return;
            }
            const out = Buffer.concat(chunks);
            const headers = { ...up.headers };
            delete headers["transfer-encoding"];
            headers["content-length"] = String(out.length);
            if (!res.destroyed) {
              res.writeHead(status, headers);
              res.end(out);
            }
            this.#record(call, "forwarded", status);
            resolve();
          });
          up.on("error", () => resolve());
        },
      );
      upstream.on("error", (e) => {
        if (!res.destroyed) {
          res.writeHead(502, { "content-type": "text/plain" });
          res.end(`fault proxy: upstream error ${e.message}`);
        }
        this.#record(call, "forwarded", 502);
        resolve();
      });
      upstream.end(body);
    });
  }
}

// ── matchers ──────────────────────────────────────────────────────────────────────────────────────

export const op =
  (service: string, operation: string): Match =>
  (c) =>
    c.service === service && c.operation === operation;

/** The weights a ModifyRule call writes for the two target groups, or null for another call. */
export function writtenWeights(
  c: Call,
  stableTg: string,
  grayTg: string,
): { stable: number; gray: number; stickiness: boolean } | null {
  if (
    c.service !== "elasticloadbalancing" ||
    (c.operation !== "ModifyRule" && c.operation !== "ModifyListener")
  )
    return null;
  const p = c.params as Record<string, string>;
  let stable: number | null = null;
  let gray: number | null = null;
  let stickiness = false;
  for (const [k, v] of Object.entries(p)) {
    const m = /^(.*ForwardConfig\.TargetGroups\.member\.\d+)\.TargetGroupArn$/.exec(k);
    if (m) {
      const w = Number(p[`${m[1]}.Weight`] ?? 0);
      if (v === stableTg) stable = w;
      if (v === grayTg) gray = w;
    }
    if (/ForwardConfig\.TargetGroupStickinessConfig\.Enabled$/.test(k) && v === "true") stickiness = true;
  }
  return stable === null || gray === null ? null : { stable, gray, stickiness };
}

/** The `:phase` a DynamoDB UpdateItem writes (gray-deploy's store), or null. */
export function savedPhase(c: Call): string | null {
  if (c.service !== "dynamodb" || c.operation !== "UpdateItem") return null;
  const values = (c.params as { ExpressionAttributeValues?: Record<string, { S?: string }> })
    .ExpressionAttributeValues;
  return values?.[":phase"]?.S ?? null;
}
