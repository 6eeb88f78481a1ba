/**
 * An in-memory world for engine lifecycle tests: a load balancer, two fleets and a metric source
 * whose numbers follow from the weights actually written, the versions actually running and a
 * scenario's error-rate and latency functions. Test double only: the real adapters are src/local
 * and src/aws.
 */
import { AbortedError, ProviderError, TimeoutError } from "../../src/contract/errors.js";
import type {
  FleetHealth,
  FleetSizes,
  Pool,
  TimeWindow,
  VersionStats,
  Weights,
  WindowStats,
} from "../../src/core/types.js";
import { MemoryRolloutStore } from "../../src/local/memory-store.js";
import type {
  AlarmState,
  Fleet,
  FleetPreflight,
  GrayAnswer,
  GrayRequest,
  MetricSource,
  OwnerInfo,
  Ports,
  PreparedRelease,
  PromotionResult,
  ReleaseSpec,
  ResizeRequest,
  RouterPreflight,
  SetWeightsOptions,
  TrafficRouter,
} from "../../src/ports/index.js";
import type { VirtualClock } from "./virtual-clock.js";

export interface Scenario {
  /** Requests per second through the load balancer. */
  rps?: number;
  stableCapacity?: number;
  /** Error rate of a version at time t (ms since the world started). */
  errorRate?: (version: string, pool: Pool, t: number) => number;
  /** p95 and p99 latency of a version at time t. */
  latency?: (version: string, pool: Pool, t: number) => { p95: number; p99: number };
  /** Gray instances never become healthy. */
  grayCrash?: boolean;
  /** Unhealthy gray instances at time t (while gray runs). */
  grayUnhealthy?: (t: number) => number;
  /** The instance refresh of promotion fails with this reason. */
  promotionFails?: string;
  /** setWeights throws (every call, or when the predicate says so). */
  routerWriteFails?: boolean | ((w: Weights) => boolean);
  /** The metric source throws. */
  metricsFail?: boolean;
  /** Data for a period becomes readable this long after the period ends. */
  dataDelayMs?: number;
  /** The metric source's own period. */
  periodMs?: number;
  drainDelayMs?: number;
  initialWeights?: Weights;
  alarms?: (t: number) => AlarmState[];
  /** Time for new instances to become healthy. */
  bootMs?: number;
  /**
   * How gray answers a synthetic transaction at time t (undefined: an approved payment, 201). Null:
   * no answer (a connection error).
   */
  synthetic?: (version: string, t: number, request: GrayRequest) => GrayAnswer | null | undefined;
  /** The target has a chosen-customers rule (setPilot/getPilot). */
  pilotRule?: boolean;
  /**
   * The fleets report and change their sizes (Fleet.sizes/resize, issue 17): `perInstanceRps` is what
   * stable's scaling policy sizes one instance for (null: none), `grayMax` gray's MaxSize.
   */
  sizes?: { perInstanceRps: number | null; grayMax?: number; stableMax?: number };
  /** Requests per second at time t (overrides `rps`): a load that moves during the rollout. */
  rpsAt?: (t: number) => number;
}

/** Like a real adapter, refuse to start a call whose signal is already aborted. */
function honour(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortedError("the call's signal was aborted");
}

export const OWNER: OwnerInfo = { id: "owner-1", host: "test-host", pid: 1, verb: "deploy-gray" };

export class MemoryWorld implements Ports {
  readonly router: MemoryRouter;
  readonly fleet: MemoryFleet;
  readonly metrics: MemoryMetrics;
  readonly store = new MemoryRolloutStore();
  readonly t0: number;
  /** Every verified change of weights, with its time. */
  readonly weightLog: { at: number; weights: Weights }[] = [];
  /** Every synthetic request gray received, with its time (headers included: tests check secrets). */
  readonly grayRequests: { at: number; request: GrayRequest }[] = [];
  /** Every switch of the chosen-customers rule, with its time. */
  readonly pilotLog: { at: number; enabled: boolean }[] = [];
  readonly calls: string[] = [];

  constructor(
    readonly clock: VirtualClock,
    readonly scenario: Scenario = {},
  ) {
    this.t0 = clock.now();
    this.weightLog.push({ at: this.t0, weights: scenario.initialWeights ?? { stable: 100, gray: 0 } });
    this.router = new MemoryRouter(this);
    this.fleet = new MemoryFleet(this);
    this.metrics = new MemoryMetrics(this);
  }

  weightsAt(t: number): Weights {
    let w = this.weightLog[0]!.weights;
    for (const e of this.weightLog) if (e.at <= t) w = e.weights;
    return w;
  }

  /** Highest gray weight ever applied. */
  maxGrayWeight(): number {
    return Math.max(...this.weightLog.map((e) => e.weights.gray));
  }
}

class MemoryRouter implements TrafficRouter {
  weights: Weights;
  stickiness: "configured" | "off" = "configured";
  pilot = false;
  setPilot?: (enabled: boolean, signal?: AbortSignal) => Promise<void>;
  getPilot?: (signal?: AbortSignal) => Promise<boolean>;
  constructor(private readonly w: MemoryWorld) {
    this.weights = w.scenario.initialWeights ?? { stable: 100, gray: 0 };
    if (w.scenario.pilotRule) {
      this.setPilot = async (enabled, signal) => {
        honour(signal);
        this.w.calls.push(`router.setPilot ${enabled}`);
        this.pilot = enabled;
        this.w.pilotLog.push({ at: this.w.clock.now(), enabled });
      };
      this.getPilot = async (signal) => {
        honour(signal);
        return this.pilot;
      };
    }
  }
  async grayRequest(request: GrayRequest, signal?: AbortSignal): Promise<GrayAnswer> {
    honour(signal);
    this.w.grayRequests.push({ at: this.w.clock.now(), request });
    const f = this.w.fleet;
    if (f.grayCapacity === 0)
      throw new ProviderError("connection refused: gray has no instance", { retryable: true });
    const answer = this.w.scenario.synthetic?.(
      f.grayVersion ?? "none",
      this.w.clock.now() - this.w.t0,
      request,
    );
    if (answer === null) throw new ProviderError("socket hang up", { retryable: true });
    return (
      answer ?? {
        status: 201,
        body: JSON.stringify({ id: "pay_memory1", status: "approved", sandbox: true }),
        pool: "gray",
      }
    );
  }
  async preflight(): Promise<RouterPreflight> {
    this.w.calls.push("router.preflight");
    return {
      weights: this.weights,
      drainDelayMs: this.w.scenario.drainDelayMs ?? 0,
      stickinessSeconds: null,
      facts: ["memory load balancer"],
    };
  }
  async getWeights(signal?: AbortSignal): Promise<Weights> {
    honour(signal);
    return { ...this.weights };
  }
  async setWeights(weights: Weights, options: SetWeightsOptions, signal?: AbortSignal): Promise<void> {
    honour(signal);
    this.w.calls.push(`router.setWeights ${weights.stable}/${weights.gray} ${options.stickiness}`);
    const fails = this.w.scenario.routerWriteFails;
    if (fails === true || (typeof fails === "function" && fails(weights))) {
      throw new ProviderError("ModifyRule: service unavailable", { retryable: true });
    }
    this.weights = { ...weights };
    this.stickiness = options.stickiness;
    this.w.weightLog.push({ at: this.w.clock.now(), weights: { ...weights } });
  }
  async targetHealth(signal?: AbortSignal): Promise<FleetHealth> {
    honour(signal);
    const f = this.w.fleet;
    const t = this.w.clock.now() - this.w.t0;
    const grayUnhealthy = f.grayCapacity > 0 ? (this.w.scenario.grayUnhealthy?.(t) ?? 0) : 0;
    const grayHealthy = this.w.scenario.grayCrash ? 0 : Math.max(0, f.grayCapacity - grayUnhealthy);
    return {
      stable: { healthy: f.stableCapacity, unhealthy: 0 },
      gray: { healthy: grayHealthy, unhealthy: this.w.scenario.grayCrash ? f.grayCapacity : grayUnhealthy },
    };
  }
}

class MemoryFleet implements Fleet {
  stableVersion = "v1";
  stableCapacity: number;
  grayVersion: string | null = null;
  grayCapacity = 0;
  pinned = false;
  created: string[] = [];
  /** Stable's MinSize (the pin; raised by the fleets following the load). */
  stableMin = 0;
  readonly sizes?: (signal?: AbortSignal) => Promise<FleetSizes>;
  readonly resize?: (change: ResizeRequest, signal?: AbortSignal) => Promise<void>;
  constructor(private readonly w: MemoryWorld) {
    this.stableCapacity = w.scenario.stableCapacity ?? 4;
    const sizes = w.scenario.sizes;
    if (sizes !== undefined) {
      this.sizes = async (signal) => {
        honour(signal);
        return {
          stable: { desired: this.stableCapacity, min: this.stableMin, max: sizes.stableMax ?? 40 },
          gray: { desired: this.grayCapacity, max: sizes.grayMax ?? 40 },
          perInstanceRps: sizes.perInstanceRps,
        };
      };
      this.resize = async (change, signal) => {
        honour(signal);
        if (change.stableMin !== undefined) {
          this.w.calls.push(`fleet.resize stableMin ${change.stableMin}`);
          this.stableMin = change.stableMin;
          this.stableCapacity = Math.max(this.stableCapacity, change.stableMin);
        }
        if (change.gray !== undefined) {
          this.w.calls.push(`fleet.resize gray ${change.gray.desired}`);
          this.grayCapacity = change.gray.desired;
        }
      };
    }
  }
  async preflight(_r: ReleaseSpec): Promise<FleetPreflight> {
    this.w.calls.push("fleet.preflight");
    return {
      stableCapacity: this.stableCapacity,
      stableVersion: this.stableVersion,
      facts: ["memory fleet"],
    };
  }
  async prepare(release: ReleaseSpec, known: PreparedRelease | null): Promise<PreparedRelease> {
    this.w.calls.push("fleet.prepare");
    const version = known?.version ?? `v2:${release.image}`;
    if (!this.created.includes(version)) this.created.push(version);
    this.pinned = true;
    this.stableMin = Math.max(this.stableMin, known?.stableCapacity ?? this.stableCapacity);
    return {
      version,
      previousVersion: known?.previousVersion ?? this.stableVersion,
      stableCapacity: this.stableCapacity,
    };
  }
  async scaleGray(version: string, capacity: number, timeoutMs: number): Promise<void> {
    this.w.calls.push(`fleet.scaleGray ${capacity}`);
    this.grayVersion = version;
    this.grayCapacity = capacity;
    const boot = this.w.scenario.bootMs ?? 1000;
    if (this.w.scenario.grayCrash) {
      await this.w.clock.sleep(timeoutMs);
      throw new TimeoutError(`0 of ${capacity} gray instances healthy after ${timeoutMs}ms`);
    }
    await this.w.clock.sleep(boot);
  }
  async promote(version: string): Promise<PromotionResult> {
    this.w.calls.push("fleet.promote");
    await this.w.clock.sleep(this.w.scenario.bootMs ?? 1000);
    if (this.w.scenario.promotionFails) return { ok: false, reason: this.w.scenario.promotionFails };
    this.stableVersion = version;
    return { ok: true };
  }
  async revertStable(version: string): Promise<void> {
    this.w.calls.push(`fleet.revertStable ${version}`);
    await this.w.clock.sleep(this.w.scenario.bootMs ?? 1000);
    this.stableVersion = version;
  }
  async retireGray(version: string): Promise<void> {
    this.w.calls.push("fleet.retireGray");
    this.grayCapacity = 0;
    this.grayVersion = version;
  }
  async releaseStable(): Promise<void> {
    this.w.calls.push("fleet.releaseStable");
    this.pinned = false;
    this.stableMin = 0;
  }
}

/**
 * The world's traffic as one metric source sees it. `view` overrides the scenario for this source
 * only (its period, lateness, the error rates it reports): a second source over the same traffic,
 * such as the load balancer's guard beside a service signal.
 */
export class MemoryMetrics implements MetricSource {
  constructor(
    private readonly w: MemoryWorld,
    private readonly view: Partial<Scenario> = {},
  ) {}

  async read(windows: readonly TimeWindow[], signal?: AbortSignal): Promise<WindowStats[]> {
    honour(signal);
    if ({ ...this.w.scenario, ...this.view }.metricsFail)
      throw new ProviderError("GetMetricData: throttled", { retryable: true });
    return windows.map((win) => this.window(win));
  }

  async alarms(names: readonly string[]): Promise<AlarmState[]> {
    const t = this.w.clock.now() - this.w.t0;
    const all = this.w.scenario.alarms?.(t) ?? [];
    return names.map((n) => all.find((a) => a.name === n) ?? { name: n, state: "OK" });
  }

  private versionOf(pool: Pool): string {
    return pool === "gray" ? (this.w.fleet.grayVersion ?? "none") : this.w.fleet.stableVersion;
  }

  private window(win: TimeWindow): WindowStats {
    const s = { ...this.w.scenario, ...this.view };
    const period = s.periodMs ?? 1000;
    const readable = this.w.clock.now() - (s.dataDelayMs ?? 0);
    const rpsOf = (t: number) => s.rpsAt?.(t) ?? s.rps ?? 200;
    // Errors accumulate as expected values and are rounded once per window, so small per-period
    // counts do not inflate a 5% rate into 10%.
    const acc: Record<Pool, { requests: number; errors: number; p95: number | null; p99: number | null }> = {
      stable: { requests: 0, errors: 0, p95: null, p99: null },
      gray: { requests: 0, errors: 0, p95: null, p99: null },
    };
    for (let p = Math.ceil(win.start / period) * period; p + period <= win.end; p += period) {
      if (p + period > readable) break;
      const weights = this.w.weightsAt(p);
      const t = p - this.w.t0;
      const rps = rpsOf(t);
      for (const pool of ["stable", "gray"] as const) {
        const requests = Math.round((rps * weights[pool] * period) / 100 / 1000);
        if (requests === 0) continue;
        const version = this.versionOf(pool);
        const errors = requests * (s.errorRate?.(version, pool, t) ?? 0);
        const lat = s.latency?.(version, pool, t) ?? { p95: 80, p99: 150 };
        const a = acc[pool];
        a.requests += requests;
        a.errors += errors;
        a.p95 = Math.max(a.p95 ?? 0, lat.p95);
        a.p99 = Math.max(a.p99 ?? 0, lat.p99);
      }
    }
    const stats = (pool: Pool): VersionStats => ({
      requests: acc[pool].requests,
      errors: Math.round(acc[pool].errors),
      p95Ms: acc[pool].p95,
      p99Ms: acc[pool].p99,
      hasData: acc[pool].requests > 0,
    });
    return { start: win.start, end: win.end, stable: stats("stable"), gray: stats("gray"), lbErrors: null };
  }
}
