/**
 * The built-in load generator: customers of the sample payment gateway at a steady rate, through
 * the proxy, recording what the CLIENT saw, so tests can hold it against the proxy's own numbers.
 *
 * Open loop: requests leave on schedule (request n at start + n/rps), whether or not earlier ones
 * have answered, as independent customers do; a slow gray does not slow the load down and hide its
 * latency (the coordinated-omission trap of closed-loop generators). A safety cap on requests in
 * flight turns runaway queues into counted `dropped` requests instead of unbounded memory.
 *
 * The mix: 70% GET /v1/payments/:id, 30% POST /v1/payments (PIX and card). No cookies are kept: each
 * request is a different anonymous customer.
 */
import { performance } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";
import { Pool as UndiciPool } from "undici";
import { ErrorCode, GrayDeployError, InvalidInputError } from "../contract/errors.js";
import { POOL_HEADER } from "./proxy.js";

export interface LoadGeneratorOptions {
  /** Base URL of the proxy. */
  readonly url: string;
  /** Requests per second. */
  readonly rps: number;
  /** Client connections to the proxy. Default 128. */
  readonly connections?: number;
  /** Requests in flight beyond which new ones are dropped (and counted). Default 5000. */
  readonly maxInFlight?: number;
  /** Per-request timeout. Default 30 s. */
  readonly timeoutMs?: number;
  /** Extra request headers (e.g. a cookie, or the force-gray header in tests). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Picks the request kind; injectable for tests. Default Math.random. */
  readonly random?: () => number;
}

export interface Tally {
  readonly requests: number;
  readonly failed: number;
}

export interface LoadStats {
  readonly rps: number;
  readonly running: boolean;
  /** Requests sent (not counting dropped ones). */
  readonly sent: number;
  readonly completed: number;
  readonly inFlight: number;
  /** Answers below 500. */
  readonly succeeded: number;
  /** 5xx answers plus network errors. */
  readonly failed: number;
  readonly networkErrors: number;
  /** Not sent because too many were in flight. */
  readonly dropped: number;
  /** Answers by HTTP status ("200", "502", …; "network-error" when there was no answer). */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Answers by the `x-service-version` header ("none" when absent, e.g. the proxy answered). */
  readonly byVersion: Readonly<Record<string, Tally>>;
  /** Answers by the proxy's `x-gray-deploy-pool` header. */
  readonly byPool: Readonly<Record<string, Tally>>;
  /** Client-side latency of completed answers; null before the first. */
  readonly latency: {
    readonly p50Ms: number;
    readonly p95Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
  } | null;
}

const JSON_HEADERS = { "content-type": "application/json" };
const BODIES = [
  JSON.stringify({ amount: 1990, currency: "BRL", method: "pix" }),
  JSON.stringify({ amount: 15_000, currency: "BRL", method: "card", card: { brand: "visa", last4: "4242" } }),
  JSON.stringify({
    amount: 49_900,
    currency: "BRL",
    method: "card",
    card: { brand: "mastercard", last4: "5454" },
  }),
  JSON.stringify({ amount: 250, currency: "BRL", method: "pix" }),
];
const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

class MutableTally {
  requests = 0;
  failed = 0;
}

export class LoadGenerator {
  readonly #o: LoadGeneratorOptions;
  readonly #pool: UndiciPool;
  readonly #random: () => number;
  readonly #paths: string[];
  readonly #getHeaders: Record<string, string>;
  readonly #postHeaders: Record<string, string>;
  #rps: number;
  #timer: NodeJS.Timeout | null = null;
  /** Schedule anchor: `#base` requests were due at `#t0`. */
  #t0 = 0;
  #base = 0;
  #scheduled = 0;
  #sent = 0;
  #completed = 0;
  #inFlight = 0;
  #failed = 0;
  #networkErrors = 0;
  #dropped = 0;
  #byStatus = new Map<number, number>();
  #byVersion = new Map<string, MutableTally>();
  #byPool = new Map<string, MutableTally>();
  #latency = newHistogram();
  #idle: (() => void) | null = null;
  #closed = false;

  constructor(options: LoadGeneratorOptions) {
    checkRps(options.rps);
    this.#o = options;
    this.#rps = options.rps;
    this.#random = options.random ?? Math.random;
    this.#pool = new UndiciPool(options.url, {
      connections: options.connections ?? 128,
      pipelining: 1,
      headersTimeout: options.timeoutMs ?? 30_000,
      bodyTimeout: options.timeoutMs ?? 30_000,
    });
    // A fixed set of payment ids to look up: realistic-looking, and no string building per request.
    this.#paths = Array.from({ length: 512 }, (_, n) => {
      let id = "pay_";
      for (let i = 0; i < 12; i++) id += ID_CHARS[(n * 7919 + i * 104_729 + i * i * 31) % ID_CHARS.length];
      return `/v1/payments/${id}`;
    });
    this.#getHeaders = { ...options.headers };
    this.#postHeaders = { ...options.headers, ...JSON_HEADERS };
  }

  get rps(): number {
    return this.#rps;
  }

  get running(): boolean {
    return this.#timer !== null;
  }

  /** Starts sending (the first request at once). A no-op while running. */
  start(): void {
    if (this.#closed) throw new GrayDeployError(ErrorCode.Internal, "the load generator was closed");
    if (this.#timer !== null) return;
    this.#anchor();
    this.#tick();
    // Ticks of up to 10 ms: each sends every request that fell due since the last one, so the
    // schedule holds even when a tick comes late.
    this.#timer = setInterval(() => this.#tick(), Math.max(1, Math.min(10, Math.floor(1000 / this.#rps))));
  }

  /** Changes the rate from now on. */
  setRate(rps: number): void {
    checkRps(rps);
    this.#rps = rps;
    if (this.#timer !== null) {
      this.#anchor();
      clearInterval(this.#timer);
      this.#timer = setInterval(() => this.#tick(), Math.max(1, Math.min(10, Math.floor(1000 / rps))));
    }
  }

  /** Stops sending; resolves with the stats once requests in flight have answered. */
  async stop(): Promise<LoadStats> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    return this.stats();
  }

  /** Forgets what was recorded (not what is in flight). */
  reset(): void {
    this.#sent = 0;
    this.#completed = 0;
    this.#failed = 0;
    this.#networkErrors = 0;
    this.#dropped = 0;
    this.#byStatus = new Map();
    this.#byVersion = new Map();
    this.#byPool = new Map();
    this.#latency = newHistogram();
  }

  stats(): LoadStats {
    const tallies = (m: Map<string, MutableTally>) =>
      Object.fromEntries([...m].map(([k, v]) => [k, { requests: v.requests, failed: v.failed }]));
    const h = this.#latency;
    return {
      rps: this.#rps,
      running: this.#timer !== null,
      sent: this.#sent,
      completed: this.#completed,
      inFlight: this.#inFlight,
      succeeded: this.#completed - this.#failed,
      failed: this.#failed,
      networkErrors: this.#networkErrors,
      dropped: this.#dropped,
      byStatus: Object.fromEntries(
        [...this.#byStatus].map(([k, v]) => [k === 0 ? "network-error" : String(k), v]),
      ),
      byVersion: tallies(this.#byVersion),
      byPool: tallies(this.#byPool),
      latency:
        h.totalCount === 0
          ? null
          : {
              p50Ms: h.getValueAtPercentile(50) / 1000,
              p95Ms: h.getValueAtPercentile(95) / 1000,
              p99Ms: h.getValueAtPercentile(99) / 1000,
              maxMs: h.maxValue / 1000,
            },
    };
  }

  /** Stops and closes the client connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#pool.destroy();
    this.#idle?.();
  }

  #anchor(): void {
    this.#t0 = performance.now();
    this.#base = this.#scheduled;
  }

  #tick(): void {
    const due = this.#base + Math.floor(((performance.now() - this.#t0) * this.#rps) / 1000) + 1;
    const cap = this.#o.maxInFlight ?? 5000;
    while (this.#scheduled < due) {
      this.#scheduled++;
      if (this.#inFlight >= cap) this.#dropped++;
      else this.#send();
    }
  }

  #send(): void {
    const r = this.#random();
    const post = r < 0.3;
    const path = post ? "/v1/payments" : this.#paths[Math.floor(r * 1_000_000) % this.#paths.length]!;
    const start = performance.now();
    this.#sent++;
    this.#inFlight++;
    this.#pool
      .request({
        path,
        method: post ? "POST" : "GET",
        headers: post ? this.#postHeaders : this.#getHeaders,
        body: post ? BODIES[Math.floor(r * 1000) % BODIES.length]! : null,
      })
      .then(
        async (res) => {
          try {
            await res.body.dump();
          } catch {
            this.#networkErrors++;
            this.#record(0, "none", "none", start);
            return;
          }
          const version = res.headers["x-service-version"];
          const pool = res.headers[POOL_HEADER];
          this.#record(
            res.statusCode,
            typeof version === "string" ? version : "none",
            typeof pool === "string" ? pool : "none",
            start,
          );
        },
        () => {
          this.#networkErrors++;
          this.#record(0, "none", "none", start);
        },
      );
  }

  #record(status: number, version: string, pool: string, start: number): void {
    if (this.#closed) return;
    this.#inFlight--;
    this.#completed++;
    const failed = status === 0 || status >= 500;
    if (failed) this.#failed++;
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
    tally(this.#byVersion, version, failed);
    tally(this.#byPool, pool, failed);
    if (status !== 0) {
      const us = Math.round((performance.now() - start) * 1000);
      this.#latency.recordValue(Math.min(Math.max(us, 1), 3_600_000_000));
    }
    if (this.#inFlight === 0 && this.#idle !== null) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
  }
}

function tally(map: Map<string, MutableTally>, key: string, failed: boolean): void {
  let t = map.get(key);
  if (t === undefined) {
    t = new MutableTally();
    map.set(key, t);
  }
  t.requests++;
  if (failed) t.failed++;
}

function checkRps(rps: number): void {
  if (!Number.isFinite(rps) || rps <= 0 || rps > 100_000) {
    throw new InvalidInputError([
      { field: "rps", message: `${rps} is not a rate between 0 and 100000 requests/s` },
    ]);
  }
}

function newHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 2,
    useWebAssembly: false,
  });
}
