/**
 * The ports: what the engine needs from the world, in the domain's words. Each adapter family
 * (src/local, src/aws) implements all of them; the engine cannot tell one from the other.
 *
 * Rules every implementation keeps:
 * - Writes are idempotent: calling them twice with the same input leaves the world as calling once.
 * - Writes return when accepted; the engine reads them back (getWeights, targetHealth) to verify.
 * - Every method honours its AbortSignal, and throws GrayDeployError subclasses (src/contract/errors)
 *   with `retryable` set for transient provider failures.
 * - No SDK type crosses a port.
 */
import type { HookAnswer, HookContext, HookSpec } from "../core/hooks.js";
import type { RolloutState } from "../core/state.js";
import type {
  AlarmState,
  BusinessReading,
  FleetHealth,
  FleetSizes,
  TimeWindow,
  Weights,
  WindowStats,
} from "../core/types.js";
import type { BusinessQuery, GateSpec } from "../gates/types.js";

/** What the engine knows about the load balancer before it changes anything. */
export interface RouterPreflight {
  /** Weights as they are now. */
  readonly weights: Weights;
  /** How long a target keeps serving in-flight requests after its weight reaches 0 (deregistration delay). */
  readonly drainDelayMs: number;
  /** Target-group stickiness configured on the forward action, restored when a rollout starts. */
  readonly stickinessSeconds: number | null;
  /** Human-readable facts checked, for `plan` and reports. */
  readonly facts: readonly string[];
}

export interface SetWeightsOptions {
  /**
   * `off` removes target-group stickiness from the action (rollback: a client holding a stickiness
   * cookie must not keep reaching gray); `configured` restores what preflight found.
   */
  readonly stickiness: "configured" | "off";
}

/** The ALB forward action (or the local weighted proxy). */
export interface TrafficRouter {
  /** Checks the listener/rule and both target groups; no writes. Throws PreflightError on mismatch. */
  preflight(signal?: AbortSignal): Promise<RouterPreflight>;
  /** Reads the weights as the load balancer applies them now. */
  getWeights(signal?: AbortSignal): Promise<Weights>;
  /** Writes the weights, keeping every other part of the action as it is. */
  setWeights(weights: Weights, options: SetWeightsOptions, signal?: AbortSignal): Promise<void>;
  /** Health of the targets registered in each pool's target group. */
  targetHealth(signal?: AbortSignal): Promise<FleetHealth>;
  /**
   * Optional smoke test through the load balancer before any customer traffic reaches gray
   * (a header route to gray). Resolves with what was checked; throws when a check fails.
   */
  smokeTest?(signal?: AbortSignal): Promise<readonly string[]>;
  /**
   * Sends one request straight to gray through the same header route, as a synthetic transaction.
   * Resolves with the answer whatever its status; throws (retryable) only when no answer came.
   */
  grayRequest?(request: GrayRequest, signal?: AbortSignal): Promise<GrayAnswer>;
  /**
   * The chosen-customers rule (evaluated before the weighted split): `true` forwards the requests it
   * matches to gray, `false` to stable. Idempotent; read back with `getPilot`.
   */
  setPilot?(enabled: boolean, signal?: AbortSignal): Promise<void>;
  /** Whether the chosen-customers rule forwards to gray now. */
  getPilot?(signal?: AbortSignal): Promise<boolean>;
}

/** A synthetic request, ready to send (placeholders filled, secret headers resolved). */
export interface GrayRequest {
  readonly method: string;
  readonly path: string;
  /** Never logged: may hold secret values. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly timeoutMs: number;
}

export interface GrayAnswer {
  readonly status: number;
  /** The body, up to 64 KiB. */
  readonly body: string;
  /** The pool that answered, when the load balancer says (the local proxy does); null otherwise. */
  readonly pool: string | null;
}

/**
 * Calls lifecycle hooks of one kind (HTTP, Lambda): one call, the answer's meaning (src/core/hooks.ts).
 * Throws a retryable error when no answer came (connection refused, timeout): the engine retries.
 */
export interface HookCaller {
  call(hook: HookSpec, context: HookContext, signal?: AbortSignal): Promise<HookAnswer>;
  /** Checks, before anything changes, that the hooks can be called (a Lambda function exists); facts. */
  preflight?(hooks: readonly HookSpec[], signal?: AbortSignal): Promise<string[]>;
}

/** What is being released. */
export interface ReleaseSpec {
  readonly image: string;
  readonly ami?: string | undefined;
  readonly commit: string | null;
  readonly startedBy: string;
}

/** What preflight found about the fleets; no writes. */
export interface FleetPreflight {
  /** Stable's current desired capacity: the rollout's reference for gray's capacity and stable's pin. */
  readonly stableCapacity: number;
  /** The version stable runs now (launch template version number, or a local label). */
  readonly stableVersion: string;
  readonly facts: readonly string[];
}

export interface PreparedRelease {
  /** The version gray runs (a new launch template version, reused when the image is the same). */
  readonly version: string;
  /** The version stable ran when the rollout began; rollback and abort go back to it. */
  readonly previousVersion: string;
  /** Stable's desired capacity when the rollout began. */
  readonly stableCapacity: number;
}

export type PromotionResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What the rolling update of stable also watches (where the provider can). */
export interface PromotionWatch {
  /** CloudWatch alarms that fail (and roll back) the refresh when one goes to ALARM. */
  readonly alarms?: readonly string[];
}

/** A change of the fleets' sizes to follow the load; accepted, not awaited (see Fleet.resize). */
export interface ResizeRequest {
  /** Gray's desired capacity, on the version it runs. */
  readonly gray?: { readonly version: string; readonly desired: number };
  /** Stable's minimum (the pin): holds its desired capacity at least there. */
  readonly stableMin?: number;
}

/** What the fleet says about a launch template version (or local version) rollback-release restores. */
export interface VersionInfo {
  /** The container image the version runs. */
  readonly image: string;
  readonly facts: readonly string[];
}

/** The Auto Scaling groups (or local process pools). */
export interface Fleet {
  /** Checks groups, attachments and launch template versions; no writes. Throws PreflightError. */
  preflight(release: ReleaseSpec, signal?: AbortSignal): Promise<FleetPreflight>;
  /**
   * Creates (or finds) the release's version and pins stable: its minimum is raised to its starting
   * capacity and scale-in is suspended until `releaseStable`. Idempotent; `known` is what a previous
   * run of the same rollout recorded, so a resumed rollout reuses it.
   */
  prepare(
    release: ReleaseSpec,
    known: PreparedRelease | null,
    signal?: AbortSignal,
  ): Promise<PreparedRelease>;
  /**
   * Points gray at `version` with `capacity` instances and waits, up to `timeoutMs`, until that many
   * are healthy in gray's target group. Throws TimeoutError with what it saw otherwise.
   */
  scaleGray(version: string, capacity: number, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * The rolling update: moves stable onto `version` (instance refresh) and waits for it. A failed
   * refresh is rolled back to the previous version before this resolves with `ok: false`.
   */
  promote(
    version: string,
    timeoutMs: number,
    signal?: AbortSignal,
    watch?: PromotionWatch,
  ): Promise<PromotionResult>;
  /** Puts stable back on `version` (after an abort once promotion had changed it). */
  revertStable(version: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Scales gray to zero and restores its launch template reference to `version`. */
  retireGray(version: string, signal?: AbortSignal): Promise<void>;
  /** Restores stable's minimum and resumes its suspended processes. Idempotent. */
  releaseStable(signal?: AbortSignal): Promise<void>;
  /**
   * The groups' sizes now and what one stable instance carries by its scaling policy, for the fleets
   * to follow the load (core/capacity.ts). Absent: the fleet cannot follow the load.
   */
  sizes?(signal?: AbortSignal): Promise<FleetSizes>;
  /**
   * Sets gray's desired capacity and/or stable's minimum and returns once accepted, without waiting
   * for instances (the engine reads the sizes back; new gray instances count once healthy).
   */
  resize?(change: ResizeRequest, signal?: AbortSignal): Promise<void>;
  /**
   * rollback-release: checks that `version` (the one stable ran before the last promotion) can run
   * again, and says which image it runs; no writes. Throws PreflightError otherwise.
   */
  describeVersion?(version: string, signal?: AbortSignal): Promise<VersionInfo>;
}

/** CloudWatch (or the local proxy's measurements). */
export interface MetricSource {
  /**
   * Per-version statistics over each window, answered in one round trip where the source allows.
   * Absent counts are zero; a version with no data point at all has `hasData: false`.
   *
   * With `business`, each window also carries the readings of those business-metric gates
   * (`WindowStats.business`, by gate name), in the same round trip where the source allows (CloudWatch
   * gates ride in the same GetMetricData call). A gate the source cannot measure this time gets a
   * reading with `error`, never an exception: the built-in metrics still count.
   */
  read(
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
    business?: BusinessQuery,
  ): Promise<WindowStats[]>;
  /** States of the named alarms (extra gates). */
  alarms?(names: readonly string[], signal?: AbortSignal): Promise<AlarmState[]>;
  /**
   * Checks, before anything changes, that the metrics this source reads exist for stable (a service
   * signal: the service's own metrics); `stableVersion` is the version stable runs now (for
   * `{version}`). Resolves with facts; throws PreflightError naming the missing metric and the fix.
   */
  preflight?(stableVersion: string, signal?: AbortSignal): Promise<readonly string[]>;
}

/**
 * Reads the business-metric gates of one source (Zabbix, …) over windows: one record of readings (by
 * gate name) per window. A gate it cannot measure this time gets a reading with `error`.
 */
export interface GateReader {
  readonly source: string;
  read(
    gates: readonly GateSpec[],
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
  ): Promise<Record<string, BusinessReading>[]>;
  /**
   * Checks, before anything changes, that every gate of this source can be measured; resolves with
   * facts, throws PreflightError or CredentialsError naming the gate.
   */
  preflight?(gates: readonly GateSpec[], signal?: AbortSignal): Promise<string[]>;
}

/** Who is running a rollout right now. */
export interface OwnerInfo {
  /** Unique per process run. */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly verb: string;
}

/** A rollout as stored, with its lock. */
export interface StoredRollout {
  readonly state: RolloutState;
  /** Incremented by every write; writes are conditional on it. */
  readonly revision: number;
  /** The process running it; null when nobody is (a paused rollout still holds the lock). */
  readonly owner: OwnerInfo | null;
  /** Until when the owner's claim holds without a heartbeat (epoch ms). */
  readonly leaseUntil: number;
}

export type AcquireResult =
  | { readonly kind: "acquired"; readonly stored: StoredRollout }
  /** A live rollout holds the scope. */
  | { readonly kind: "held"; readonly stored: StoredRollout };

/** Durable rollout state and the one-rollout-per-scope lock (DynamoDB, or memory locally). */
export interface RolloutStore {
  /**
   * Creates the rollout for its scope unless a rollout that has not ended holds it. Atomic: of two
   * concurrent callers exactly one acquires.
   */
  acquire(state: RolloutState, owner: OwnerInfo, leaseMs: number, now: number): Promise<AcquireResult>;
  /** The current (or most recent) rollout of a scope. */
  load(scope: string): Promise<StoredRollout | null>;
  /**
   * Writes the state if `expectedRevision` is still current. `owner` null releases ownership (pause);
   * an owner renews the lease. Throws StateError (code INVALID_STATE) when someone else wrote first.
   */
  save(
    state: RolloutState,
    expectedRevision: number,
    owner: OwnerInfo | null,
    leaseMs: number,
    now: number,
  ): Promise<StoredRollout>;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with AbortedError when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Everything the engine drives. */
export interface Ports {
  readonly router: TrafficRouter;
  readonly fleet: Fleet;
  readonly metrics: MetricSource;
  readonly store: RolloutStore;
  /** Lifecycle hooks of every kind the run declares (the application layer composes them). */
  readonly hooks?: HookCaller;
  /**
   * The load balancer's own metrics, when `metrics` reads the service's (a service signal): read over
   * the load balancer's periods and lateness to guard it (gates/guard.ts).
   */
  readonly guard?: MetricSource;
}

/** Re-exported so adapters import every port type from one place. */
export type { AlarmState, FleetHealth, FleetSizes, TimeWindow, Weights, WindowStats };
