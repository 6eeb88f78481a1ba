/**
 * A simulated world for the analysis benchmark: a load balancer, two fleets, a rollout store and a
 * metric source whose numbers follow from the weights the real engine actually wrote, a shared
 * environment (baseline error rate with slow drift and correlated noise, heavy-tailed latency) and
 * the release's fault. Test double for the benchmark only: the real adapters are src/local and
 * src/aws.
 *
 * Data is drawn per metric period, lazily, once the period is complete (its weights are then known):
 * request counts, 5xx counts and latency-bucket counts, all from seeded streams. A period becomes
 * readable `dataDelayMs` after it ends, like CloudWatch's late datapoints.
 */
import { StateError } from "../../src/contract/errors.js";
import { isTerminal, type RolloutState } from "../../src/core/state.js";
import type { FleetHealth, TimeWindow, VersionStats, Weights, WindowStats } from "../../src/core/types.js";
import type {
  AcquireResult,
  Clock,
  Fleet,
  FleetPreflight,
  MetricSource,
  OwnerInfo,
  Ports,
  PreparedRelease,
  PromotionResult,
  ReleaseSpec,
  RolloutStore,
  RouterPreflight,
  SetWeightsOptions,
  StoredRollout,
  TrafficRouter,
} from "../../src/ports/index.js";
import { BUCKETS, bucketProbabilities, histogramQuantile, type LatencyProfile } from "./latency.js";
import { Rng } from "./rng.js";

/** The shared environment: what both versions see, whatever the release does. */
export interface EnvSpec {
  /** Requests per second through the load balancer. */
  readonly rps: number;
  /** Mean shared 5xx rate (the service's own baseline). */
  readonly baseline: number;
  /** Slow drift of the baseline: multiplier exp(amplitude · sin(2π t / period + phase)). */
  readonly driftAmplitude: number;
  readonly driftPeriodMs: number;
  readonly driftPhase: number;
  /** Correlated noise of the baseline: log-normal with this σ, Ornstein–Uhlenbeck in time. */
  readonly noiseSigma: number;
  readonly noiseTauMs: number;
  /** An episode where both versions degrade together, timed from gray's first traffic. */
  readonly degradation: {
    readonly startMs: number;
    readonly durationMs: number;
    /** Extra shared 5xx rate during the episode. */
    readonly errorRate: number;
    /** Shared latency regression (+400 ms) during the episode. */
    readonly latency: boolean;
  } | null;
}

export type Onset =
  | { readonly kind: "first-step" }
  /** When gray's weight first reaches this step (a fault that shows under load). */
  | { readonly kind: "step"; readonly weight: number }
  /** This long after gray's first traffic (a fault that shows after a while). */
  | { readonly kind: "time"; readonly afterMs: number };

export interface FaultSpec {
  /** Extra share of gray's requests that fail (0 for none). */
  readonly errorRate: number;
  /** Gray's latency profile under the fault (null: healthy). */
  readonly latency: LatencyProfile | null;
  readonly onset: Onset;
}

export const NO_FAULT: FaultSpec = { errorRate: 0, latency: null, onset: { kind: "first-step" } };

export const OWNER: OwnerInfo = { id: "bench", host: "bench", pid: 0, verb: "deploy-gray" };

/**
 * Virtual time without event-loop turns. The simulated ports never wait, so the engine's only
 * sleeps are its own: the wait between looks (no abort signal here, since the benchmark passes none)
 * and lease heartbeats during fleet operations (with one). A sleep without a signal is therefore the
 * only thing running: time jumps to its end at once (firing any background timer due before, in
 * order) and it resolves on the microtask queue. Background timers fire only when time passes them.
 * Measured: ~40% faster than a setImmediate-driven virtual clock on this engine; the lifecycle tests'
 * VirtualClock remains the general-purpose one.
 */
export class SimClock implements Clock {
  private t: number;
  private seq = 0;
  private background: { at: number; seq: number; fire: () => void }[] = [];

  constructor(start: number) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new Error("sleep aborted"));
    const at = this.t + Math.max(0, ms);
    if (signal === undefined) {
      this.background.sort((a, b) => a.at - b.at || a.seq - b.seq);
      while (this.background.length > 0 && this.background[0]!.at <= at) {
        const next = this.background.shift()!;
        this.t = Math.max(this.t, next.at);
        next.fire();
      }
      this.t = at;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const timer = { at, seq: this.seq++, fire: resolve };
      this.background.push(timer);
      signal.addEventListener(
        "abort",
        () => {
          this.background = this.background.filter((x) => x !== timer);
          reject(new Error("sleep aborted"));
        },
        { once: true },
      );
    });
  }
}

/** Per-pool accumulated series, as prefix sums over periods. */
class Series {
  requests: Float64Array;
  errors: Float64Array;
  hist: Int32Array;
  constructor(capacity: number) {
    this.requests = new Float64Array(capacity + 1);
    this.errors = new Float64Array(capacity + 1);
    this.hist = new Int32Array((capacity + 1) * BUCKETS);
  }
  grow(capacity: number): void {
    const r = new Float64Array(capacity + 1);
    r.set(this.requests);
    this.requests = r;
    const e = new Float64Array(capacity + 1);
    e.set(this.errors);
    this.errors = e;
    const h = new Int32Array((capacity + 1) * BUCKETS);
    h.set(this.hist);
    this.hist = h;
  }
}

/** Window statistics with percentiles computed only when someone reads them. */
class LazyStats implements VersionStats {
  readonly requests: number;
  readonly errors: number;
  readonly hasData: boolean;
  private q: [number | null, number | null] | null = null;
  constructor(
    private readonly series: Series,
    private readonly from: number,
    private readonly to: number,
  ) {
    this.requests = series.requests[to]! - series.requests[from]!;
    this.errors = series.errors[to]! - series.errors[from]!;
    this.hasData = this.requests > 0;
  }
  private quantiles(): [number | null, number | null] {
    if (this.q === null) {
      if (this.requests <= 0) this.q = [null, null];
      else {
        const counts = new Int32Array(BUCKETS);
        const a = this.from * BUCKETS;
        const b = this.to * BUCKETS;
        for (let i = 0; i < BUCKETS; i++) counts[i] = this.series.hist[b + i]! - this.series.hist[a + i]!;
        this.q = [
          histogramQuantile(counts, this.requests, 0.95),
          histogramQuantile(counts, this.requests, 0.99),
        ];
      }
    }
    return this.q;
  }
  get p95Ms(): number | null {
    return this.quantiles()[0];
  }
  get p99Ms(): number | null {
    return this.quantiles()[1];
  }
  toJSON() {
    return {
      requests: this.requests,
      errors: this.errors,
      p95Ms: this.p95Ms,
      p99Ms: this.p99Ms,
      hasData: this.hasData,
    };
  }
}

export interface WorldOptions {
  readonly env: EnvSpec;
  readonly fault: FaultSpec;
  readonly periodMs: number;
  readonly dataDelayMs: number;
  readonly seed: number;
  readonly stableCapacity?: number;
  /** A service signal's load-balancer guard: the same traffic, read this late (its windows on its own periods). */
  readonly guardDelayMs?: number;
  /** Epoch ms when the rollout starts; periods are aligned to epoch multiples of the period, not to it. */
  readonly t0: number;
}

export class SimWorld implements Ports {
  readonly router: SimRouter;
  readonly fleet: SimFleet;
  readonly metrics: SimMetrics;
  /** Present with a service signal: the load balancer's view of the same traffic, later. */
  readonly guard?: SimMetrics;
  readonly store = new FastStore();
  readonly clock: SimClock;
  readonly t0: number;
  /** Start of period 0: the last period boundary at or before t0. */
  readonly origin: number;
  readonly periodMs: number;
  readonly dataDelayMs: number;
  readonly env: EnvSpec;
  readonly fault: FaultSpec;
  /** Gray's weight (0..100) from each time on, in time order. */
  readonly weightLog: { at: number; gray: number }[] = [];
  grayFirstAt: number | null = null;
  /** First verified return of all traffic to stable after gray had traffic. */
  backOnStableAt: number | null = null;
  promotedAt: number | null = null;
  /** Requests/5xx caused by the release's fault, over every generated period. */
  causedFailures = 0;
  faultyRequests = 0;
  private readonly countsRng: Rng;
  private readonly latencyRng: Rng;
  private readonly noise: number[] = [];
  private readonly noiseRng: Rng;
  private generated = 0;
  private capacity = 0;
  readonly stable: Series;
  readonly gray: Series;

  constructor(o: WorldOptions) {
    this.periodMs = o.periodMs;
    this.dataDelayMs = o.dataDelayMs;
    this.env = o.env;
    this.fault = o.fault;
    this.t0 = o.t0;
    this.origin = Math.floor(o.t0 / o.periodMs) * o.periodMs;
    this.clock = new SimClock(this.t0);
    this.countsRng = Rng.derive(o.seed, "counts");
    this.latencyRng = Rng.derive(o.seed, "latency");
    this.noiseRng = Rng.derive(o.seed, "noise");
    this.capacity = 256;
    this.stable = new Series(this.capacity);
    this.gray = new Series(this.capacity);
    this.weightLog.push({ at: this.origin, gray: 0 });
    this.router = new SimRouter(this);
    this.fleet = new SimFleet(this, o.stableCapacity ?? 8);
    this.metrics = new SimMetrics(this);
    if (o.guardDelayMs !== undefined) this.guard = new SimMetrics(this, o.guardDelayMs);
  }

  recordWeights(w: Weights): void {
    const now = this.clock.now();
    const last = this.weightLog[this.weightLog.length - 1]!;
    if (last.at === now) last.gray = w.gray;
    else this.weightLog.push({ at: now, gray: w.gray });
    if (w.gray > 0 && this.grayFirstAt === null) this.grayFirstAt = now;
    if (w.gray === 0 && this.grayFirstAt !== null && this.backOnStableAt === null) this.backOnStableAt = now;
  }

  /** Forces gray's weight from `at` on (after the engine ended: promotion's hour, a pause's wait). */
  extendWeights(at: number, gray: number): void {
    this.weightLog.push({ at, gray });
  }

  /** When the fault starts, once the weights say so; null while it has not. */
  onsetAt(): number | null {
    const o = this.fault.onset;
    if (this.fault.errorRate === 0 && this.fault.latency === null) return null;
    if (this.grayFirstAt === null) return null;
    switch (o.kind) {
      case "first-step":
        return this.grayFirstAt;
      case "time":
        return this.grayFirstAt + o.afterMs;
      case "step": {
        for (const e of this.weightLog) if (e.gray >= o.weight) return e.at;
        return null;
      }
    }
  }

  /** ∫ gray weight (fraction) over [a, b), and the part of it at or after `from`. */
  private weightIntegral(a: number, b: number, from: number | null): [number, number] {
    let total = 0;
    let after = 0;
    const log = this.weightLog;
    for (let i = 0; i < log.length; i++) {
      const s = Math.max(a, log[i]!.at);
      const e = Math.min(b, i + 1 < log.length ? log[i + 1]!.at : Number.POSITIVE_INFINITY);
      if (e <= s) continue;
      const w = log[i]!.gray / 100;
      total += w * (e - s);
      if (from !== null) {
        const s2 = Math.max(s, from);
        if (e > s2) after += w * (e - s2);
      }
    }
    return [total, after];
  }

  private noiseAt(k: number): number {
    const env = this.env;
    while (this.noise.length <= k) {
      const rho = Math.exp(-this.periodMs / env.noiseTauMs);
      const prev = this.noise.length === 0 ? this.noiseRng.normal() : this.noise[this.noise.length - 1]!;
      this.noise.push(rho * prev + Math.sqrt(1 - rho * rho) * this.noiseRng.normal());
    }
    return this.noise[k]!;
  }

  /** The shared 5xx rate over period k (drift × noise + degradation share). */
  sharedRate(k: number): { rate: number; degradedShare: number } {
    const env = this.env;
    const mid = this.origin + (k + 0.5) * this.periodMs;
    const drift = Math.exp(
      env.driftAmplitude * Math.sin((2 * Math.PI * (mid - this.t0)) / env.driftPeriodMs + env.driftPhase),
    );
    const noise = Math.exp(env.noiseSigma * this.noiseAt(k) - (env.noiseSigma * env.noiseSigma) / 2);
    let degradedShare = 0;
    const d = env.degradation;
    if (d !== null && this.grayFirstAt !== null) {
      const a = this.origin + k * this.periodMs;
      const b = a + this.periodMs;
      const s = Math.max(a, this.grayFirstAt + d.startMs);
      const e = Math.min(b, this.grayFirstAt + d.startMs + d.durationMs);
      degradedShare = Math.max(0, e - s) / this.periodMs;
    }
    const rate = env.baseline * drift * noise + (d?.errorRate ?? 0) * degradedShare;
    return { rate: Math.min(rate, 1), degradedShare };
  }

  /** Draws every complete period that ends at or before `t`. */
  generateUpTo(t: number, countsOnly = false): void {
    const target = Math.floor((t - this.origin) / this.periodMs);
    while (this.generated < target) {
      this.generatePeriod(this.generated, countsOnly);
      this.generated++;
    }
  }

  private generatePeriod(k: number, countsOnly: boolean): void {
    if (k + 1 > this.capacity) {
      this.capacity *= 2;
      this.stable.grow(this.capacity);
      this.gray.grow(this.capacity);
    }
    const P = this.periodMs;
    const a = this.origin + k * P;
    const b = a + P;
    const onset = this.onsetAt();
    const [wInt, wFaultInt] = this.weightIntegral(a, b, onset);
    const perMs = this.env.rps / 1000;
    const muGray = perMs * wInt;
    const muStable = perMs * (P - wInt);
    const muGrayFaulty = perMs * wFaultInt;
    const { rate, degradedShare } = this.sharedRate(k);
    const sharedLatency: LatencyProfile =
      this.env.degradation?.latency && degradedShare >= 0.5 ? "shared400" : "healthy";
    const faultLatency = this.fault.latency ?? sharedLatency;
    const rngC = this.countsRng;

    // Stable: one part.
    const ns = this.drawPart(this.stable, k, muStable, sharedLatency, countsOnly, true);
    const es = rngC.binomial(ns, rate);
    // Gray: healthy part and faulty part (the fault's onset may fall inside the period).
    const nHealthy = this.drawPart(this.gray, k, muGray - muGrayFaulty, sharedLatency, countsOnly, true);
    const nFaulty = this.drawPart(this.gray, k, muGrayFaulty, faultLatency, countsOnly, false);
    const baseErrors = rngC.binomial(nHealthy + nFaulty, rate);
    const faultErrors = this.fault.errorRate > 0 ? rngC.binomial(nFaulty, this.fault.errorRate) : 0;
    this.causedFailures += faultErrors;
    this.faultyRequests += nFaulty;
    const eg = Math.min(nHealthy + nFaulty, baseErrors + faultErrors);

    this.stable.requests[k + 1] = this.stable.requests[k]! + ns;
    this.stable.errors[k + 1] = this.stable.errors[k]! + es;
    this.gray.requests[k + 1] = this.gray.requests[k]! + nHealthy + nFaulty;
    this.gray.errors[k + 1] = this.gray.errors[k]! + eg;
  }

  /**
   * Draws one part of a pool's requests in period k and adds its latency histogram. `first` says
   * whether this is the first part of the pool in the period (it then initialises the prefix row).
   */
  private drawPart(
    s: Series,
    k: number,
    mean: number,
    profile: LatencyProfile,
    countsOnly: boolean,
    first: boolean,
  ): number {
    const row = (k + 1) * BUCKETS;
    const prev = k * BUCKETS;
    if (first) for (let i = 0; i < BUCKETS; i++) s.hist[row + i] = s.hist[prev + i]!;
    if (!(mean > 0)) return 0;
    if (countsOnly) return this.countsRng.poisson(mean);
    const probs = bucketProbabilities(profile);
    const rng = this.latencyRng;
    let n = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const m = mean * probs[i]!;
      if (m < 1e-7) continue;
      const c = rng.poisson(m);
      if (c > 0) {
        s.hist[row + i]! += c;
        n += c;
      }
    }
    return n;
  }

  /** Statistics of both pools over a window: complete, readable periods entirely inside it. */
  window(w: TimeWindow, delayMs = this.dataDelayMs): WindowStats {
    const readable = this.clock.now() - delayMs;
    const end = Math.min(w.end, readable);
    const P = this.periodMs;
    const from = Math.max(0, Math.ceil((w.start - this.origin) / P));
    const to = Math.max(from, Math.floor((end - this.origin) / P));
    this.generateUpTo(this.origin + to * P);
    return {
      start: w.start,
      end: w.end,
      stable: new LazyStats(this.stable, from, to),
      gray: new LazyStats(this.gray, from, to),
      lbErrors: null,
    };
  }
}

class SimRouter implements TrafficRouter {
  weights: Weights = { stable: 100, gray: 0 };
  constructor(private readonly w: SimWorld) {}
  async preflight(): Promise<RouterPreflight> {
    return {
      weights: { ...this.weights },
      drainDelayMs: 0,
      stickinessSeconds: null,
      facts: ["simulated load balancer"],
    };
  }
  async getWeights(): Promise<Weights> {
    return { ...this.weights };
  }
  async setWeights(weights: Weights, _o: SetWeightsOptions): Promise<void> {
    this.weights = { ...weights };
    this.w.recordWeights(weights);
  }
  async targetHealth(): Promise<FleetHealth> {
    const f = this.w.fleet;
    return {
      stable: { healthy: f.stableCapacity, unhealthy: 0 },
      gray: { healthy: f.grayCapacity, unhealthy: 0 },
    };
  }
}

class SimFleet implements Fleet {
  grayCapacity = 0;
  constructor(
    private readonly w: SimWorld,
    readonly stableCapacity: number,
  ) {}
  async preflight(_r: ReleaseSpec): Promise<FleetPreflight> {
    return { stableCapacity: this.stableCapacity, stableVersion: "v1", facts: ["simulated fleet"] };
  }
  async prepare(_r: ReleaseSpec, known: PreparedRelease | null): Promise<PreparedRelease> {
    return known ?? { version: "v2", previousVersion: "v1", stableCapacity: this.stableCapacity };
  }
  async scaleGray(_v: string, capacity: number): Promise<void> {
    this.grayCapacity = capacity;
  }
  /** The benchmark's measurement of a rollout ends when promotion starts (see run.ts). */
  async promote(): Promise<PromotionResult> {
    this.w.promotedAt = this.w.clock.now();
    return { ok: false, reason: "benchmark: measurement ends at promotion" };
  }
  async revertStable(): Promise<void> {}
  async retireGray(): Promise<void> {
    this.grayCapacity = 0;
  }
  async releaseStable(): Promise<void> {}
}

class SimMetrics implements MetricSource {
  constructor(
    private readonly w: SimWorld,
    private readonly delayMs?: number,
  ) {}
  async read(windows: readonly TimeWindow[]): Promise<WindowStats[]> {
    return windows.map((win) => this.w.window(win, this.delayMs));
  }
}

/**
 * The store's contract (conditional writes, one live rollout per scope) without the deep copies of
 * the memory store: the engine never mutates a state it saved, so keeping the reference is safe and
 * saves most of a run's time.
 */
export class FastStore implements RolloutStore {
  private current: StoredRollout | null = null;
  async acquire(state: RolloutState, owner: OwnerInfo, leaseMs: number, now: number): Promise<AcquireResult> {
    if (this.current !== null && !isTerminal(this.current.state.phase))
      return { kind: "held", stored: this.current };
    this.current = { state, revision: (this.current?.revision ?? 0) + 1, owner, leaseUntil: now + leaseMs };
    return { kind: "acquired", stored: this.current };
  }
  async load(): Promise<StoredRollout | null> {
    return this.current;
  }
  async save(
    state: RolloutState,
    expectedRevision: number,
    owner: OwnerInfo | null,
    leaseMs: number,
    now: number,
  ): Promise<StoredRollout> {
    if (this.current === null || this.current.revision !== expectedRevision) {
      throw new StateError(`revision ${expectedRevision} is not current`);
    }
    this.current = {
      state,
      revision: expectedRevision + 1,
      owner,
      leaseUntil: owner === null ? now : now + leaseMs,
    };
    return this.current;
  }
}
