/**
 * Domain types shared by the core, the engine, the ports and the adapters. Pure data: no SDK types.
 * Times are epoch milliseconds; durations are milliseconds; rates are fractions; weights are percent.
 */
/** Traffic split between the two target groups (or local pools), in percent; they sum to 100. */
export interface Weights {
  readonly stable: number;
  readonly gray: number;
}

export type Pool = "stable" | "gray";

export interface PoolHealth {
  /** Targets passing health checks. */
  readonly healthy: number;
  /** Targets failing health checks (not counting targets still starting or draining). */
  readonly unhealthy: number;
}

export interface FleetHealth {
  readonly stable: PoolHealth;
  readonly gray: PoolHealth;
}

/** Traffic statistics of one version over one window. */
export interface VersionStats {
  readonly requests: number;
  /** Responses counted as failures: 5xx from the targets plus connection errors to them. */
  readonly errors: number;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  /** False when the source had no data point at all for this version in the window. */
  readonly hasData: boolean;
}

export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** Both versions over the same window, as one metric query returns them. */
export interface WindowStats extends TimeWindow {
  readonly stable: VersionStats;
  readonly gray: VersionStats;
  /** 5xx made by the load balancer itself (not attributable to a pool); null when the source cannot tell. */
  readonly lbErrors: number | null;
  /** Business-metric gates' readings over this window, by gate name (when the read asked for gates). */
  readonly business?: Readonly<Record<string, BusinessReading>>;
}

/**
 * The load balancer's guard beside a service signal: both signals over the SAME window, on the load
 * balancer's periods and lateness (so both are complete), for gates/guard.ts to compare.
 */
export interface GuardReading {
  readonly window: TimeWindow;
  /** The load balancer's per-target-group metrics (with its own 5xx in `lbErrors`). */
  readonly alb: WindowStats;
  /** The service's own metrics over the same window. */
  readonly service: WindowStats;
}

/** One version's value of a business-metric gate's metric over one window. */
export interface BusinessValue {
  /** The statistic (value metrics) or numerator ÷ denominator (rates); null without data. */
  readonly value: number | null;
  /** Datapoints or samples behind `value`; for a rate, the denominator's sum. */
  readonly samples: number;
  readonly numerator?: number;
  readonly denominator?: number;
}

/** A gate's metric for both versions over one window, or why it could not be measured. */
export interface BusinessReading {
  readonly stable: BusinessValue | null;
  readonly gray: BusinessValue | null;
  /** A measurement error (source down, slow, refusing): the gate is inconclusive, never pass. */
  readonly error?: string;
  /** A caveat about the numbers (e.g. Zabbix trend-based sums: `exact: false`). */
  readonly note?: string;
}

export type AlarmStateValue = "OK" | "ALARM" | "INSUFFICIENT_DATA";

export interface AlarmState {
  readonly name: string;
  readonly state: AlarmStateValue;
  readonly reason?: string;
}

export const EMPTY_STATS: VersionStats = Object.freeze({
  requests: 0,
  errors: 0,
  p95Ms: null,
  p99Ms: null,
  hasData: false,
});

// ── following the load (core/capacity.ts) ──────────────────────────────────────────────────────

/** The two groups' sizes as the fleet reports them (Auto Scaling groups, or the local pools). */
export interface FleetSizes {
  readonly stable: { readonly desired: number; readonly min: number; readonly max: number };
  readonly gray: { readonly desired: number; readonly max: number };
  /**
   * Requests per second one stable instance is sized for by its scaling policy (a target-tracking
   * policy on requests per instance); null when stable has no such policy.
   */
  readonly perInstanceRps: number | null;
}

/** A change of a fleet's size the core decided, with its reason. */
export interface CapacityChange {
  /** `stable`: its minimum (the pin), which holds its desired capacity; `gray`: its desired capacity. */
  readonly pool: Pool;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

/** A difference seen, not yet acted on. */
export interface PendingResize {
  readonly to: number;
  readonly since: number;
}

/** Gray's MaxSize keeps it short of per-instance parity with stable (core/parity.ts). */
export interface ParityShortfall {
  /** Gray's weight (percent) when it was found. */
  readonly weight: number;
  /** Gray's size for parity, and the MaxSize that caps it. */
  readonly need: number;
  readonly max: number;
  /** A gray instance's requests over a stable one's (at 100%: over stable's per-instance target). */
  readonly ratio: number;
}

/** What the core remembers between evaluations (stored with the rollout). */
export interface FollowState {
  readonly pending: { readonly stable: PendingResize | null; readonly gray: PendingResize | null };
  /** The last growth of gray: further changes wait until it is healthy. */
  readonly grayGrew: { readonly to: number; readonly at: number } | null;
  /** The size of stable the last evaluation found for the whole load (null: unknown). */
  readonly loadSize: number | null;
  /** Requests/s of the last evaluation (both pools). */
  readonly requestRate: number | null;
  /** Gray under judgement but short of per-instance parity by its MaxSize (absent/null: not short). */
  readonly parity?: ParityShortfall | null;
}
