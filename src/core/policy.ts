/**
 * The rollout plan and release policy: the part of the options the core decides with. It is stored
 * with the rollout, so a `promote` from another process continues with exactly the same plan.
 */

import { InvalidInputError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import type { SyntheticSpec } from "../gates/synthetic.js";
import type { GateSpec } from "../gates/types.js";
import type { HookSpec } from "./hooks.js";
import type { CapacityOptions } from "./options/capacity.js";
import type { PlanOptions } from "./options/plan.js";
import { parseServiceDimensions, type SignalOptions, signalOptions } from "./options/signal.js";
import type { ThresholdOptions } from "./options/thresholds.js";
import type { WayBackOptions } from "./options/way-back.js";

export interface Thresholds {
  /** Roll back when gray's error rate over the rollback window is above this. */
  readonly rollbackErrorRate: number;
  /** Roll back when gray's p99 over the rollback window is above this (ms). */
  readonly rollbackP99Ms: number;
  /** Roll back when more than this many gray instances fail health checks. */
  readonly rollbackUnhealthy: number;
  /** A step passes only while gray's error rate over the promotion window is below this. */
  readonly promoteErrorRate: number;
  /** A step passes only while gray's p95 over the promotion window is below this (ms). */
  readonly promoteP95Ms: number;
  /** Minimum gray requests in the promotion window before a step may pass. */
  readonly minRequests: number;
  /** A rollback limit is judged once the window's requests make it at least this many events. */
  readonly evidenceEvents: number;
  /** Significance of the one-sided test "gray's error rate is worse than stable's". */
  readonly relativeSignificance: number;
  /** Gray must be worse than stable by more than this (absolute error rate) to fail the relative gate. */
  readonly relativeErrorMargin: number;
  /** Gray's p95 may exceed stable's by this fraction… */
  readonly latencyTolerance: number;
  /** …plus this many milliseconds. */
  readonly latencySlackMs: number;
  /** False-rollback budget of the sequential error-rate test over a whole rollout; 0: off. */
  readonly sequentialAlpha: number;
  /** The sequential test's null: gray's error rate at most (1 + this) × stable's. */
  readonly sequentialTolerance: number;
}

/** How a service publishes its own metrics (--signal service): what the service signal reads. */
export interface ServiceMetrics {
  readonly namespace: string;
  /** Requests answered (Sum per period). */
  readonly requests: string;
  /** 5xx answers (Sum per period; published also when 0). */
  readonly errors: string;
  /** Response times, one value per request (percentiles). */
  readonly latency: string;
  readonly latencyUnit: "milliseconds" | "seconds";
  /** Dimension name → value, with `{asg}`, `{version}`, `{targetGroup}`, `{loadBalancer}` substituted per pool. */
  readonly dimensions: Readonly<Record<string, string>>;
}

/**
 * The service signal: the built-in gates judge the service's metrics (at the policy's
 * metricPeriodMs and metricsDelayMs, which are then the service's), and the load balancer's own
 * metrics, at their period and lateness, guard them (gates/guard.ts).
 */
export interface ServiceSignal {
  readonly kind: "service";
  readonly metrics: ServiceMetrics;
  /** The load balancer's metrics: their period and how late they are complete. */
  readonly guard: { readonly periodMs: number; readonly delayMs: number };
}

export interface Policy {
  /** Gray's weight at each forward step, ending at 100. */
  readonly steps: readonly number[];
  /** Stable's weight at each return step after promotion refreshed it, ending at 100. */
  readonly returnSteps: readonly number[];
  /** Gates needing a person: `step:<weight>` and/or `promotion`. */
  readonly approvals: readonly string[];
  readonly intervalMs: number;
  readonly bakeMs: number;
  readonly maxBakeMs: number;
  readonly returnBakeMs: number;
  readonly rollbackWindowMs: number;
  readonly promotionWindowMs: number;
  /** Period of the signal the gates judge (the service's with a service signal). */
  readonly metricPeriodMs: number;
  /** How late that signal is complete. */
  readonly metricsDelayMs: number;
  /** Present when the gates judge the service's own metrics (--signal service); absent: the ALB's. */
  readonly signal?: ServiceSignal;
  readonly onInconclusive: "pause" | "rollback";
  readonly minGrayCapacity: number;
  readonly healthyTimeoutMs: number;
  /** Upper bound for one instance refresh (promotion) before it is treated as failed. */
  readonly promotionTimeoutMs: number;
  readonly maxPauseMs: number;
  readonly lockLeaseMs: number;
  readonly alarms: readonly string[];
  readonly thresholds: Thresholds;
  /** Business-metric gates declared by the team (src/gates); absent: none. */
  readonly gates?: readonly GateSpec[];
  /** Synthetic transactions (src/gates/synthetic.ts), run before traffic and during steps; absent: none. */
  readonly synthetic?: readonly SyntheticSpec[];
  /** How often they run during a step. */
  readonly syntheticIntervalMs?: number;
  /** Lifecycle hooks (src/core/hooks.ts); absent: none. */
  readonly hooks?: readonly HookSpec[];
  /** Gates judged and reported but never counted (observe-only); absent: none. */
  readonly observe?: readonly string[];
  /**
   * The chosen-customers first step, before the percentage steps: requests matching `match` (a
   * header or cookie; null: the load balancer's pilot rule holds it) go to gray. Absent: no such step.
   */
  readonly pilot?: { readonly match: string | null };
  /** Gray follows the load (core/capacity.ts) or keeps each step's size; absent (older rollouts): fixed. */
  readonly grayCapacity?: "follow" | "fixed";
  /** How long a change of the load must persist before a fleet grows (shrinking: three times). */
  readonly followDelayMs?: number;
  /** After 100% passes, how long the previous version stays warm on stable before the refresh; 0/absent: off. */
  readonly keepPreviousMs?: number;
  /** How long after promotion `rollback-release` may restore the previous version; absent: 24 h. */
  readonly rollbackReleaseWindowMs?: number;
}

/** rollback-release's window when the stored rollout predates the option. */
export const DEFAULT_ROLLBACK_RELEASE_WINDOW_MS = 86_400_000;

/** What the policy is built from: the plan, the thresholds, and the extra gates (alarms, business gates). */
export type PolicyInput = PlanOptions &
  ThresholdOptions &
  Partial<SignalOptions> &
  Partial<CapacityOptions> &
  Partial<WayBackOptions> & {
    readonly alarms?: readonly string[] | undefined;
    readonly gates?: readonly GateSpec[] | undefined;
    readonly synthetic?: readonly SyntheticSpec[] | undefined;
    readonly syntheticInterval?: number | undefined;
    readonly hooks?: readonly HookSpec[] | undefined;
    readonly observeGates?: readonly string[] | undefined;
    readonly pilotHeader?: string | undefined;
    readonly pilotCookie?: string | undefined;
    /** The load balancer's pilot rule (AWS): the chosen-customers step without a declared match. */
    readonly pilotRuleArn?: string | undefined;
    /** Instance refresh checkpoints (AWS): each bakes --refresh-checkpoint-delay, within the timeout. */
    readonly refreshCheckpoints?: readonly number[] | undefined;
    readonly refreshCheckpointDelay?: number | undefined;
  };

/**
 * Builds the policy from resolved options. `minPromotionTimeoutMs` is the target's floor for one
 * rolling update of stable (an hour for an instance refresh on AWS).
 */
export function policyFromOptions(o: PolicyInput, minPromotionTimeoutMs: number): Policy {
  const gates = o.gates ?? [];
  const signal = serviceSignalOf(o);
  return {
    steps: [...o.steps],
    returnSteps: [...o.returnSteps],
    approvals: o.approveBefore.map((g) => (g === "promotion" ? "promotion" : `step:${Number(g)}`)),
    intervalMs: o.interval,
    bakeMs: o.bake,
    maxBakeMs: o.maxBake,
    returnBakeMs: o.returnBake,
    rollbackWindowMs: o.rollbackWindow,
    promotionWindowMs: o.promotionWindow,
    metricPeriodMs: signal === null ? o.metricPeriod : o.servicePeriod!,
    metricsDelayMs: signal === null ? o.metricsDelay : o.serviceDelay!,
    ...(signal === null ? {} : { signal }),
    onInconclusive: o.onInconclusive,
    minGrayCapacity: o.minGrayCapacity,
    healthyTimeoutMs: o.healthyTimeout,
    // A refresh replaces instances one warm-up at a time; give it generous room, at least the target's
    // floor, plus the bake at each of its checkpoints.
    promotionTimeoutMs:
      Math.max(o.healthyTimeout * 3, o.instanceWarmup * 20, minPromotionTimeoutMs) +
      (o.refreshCheckpoints?.length ?? 0) * (o.refreshCheckpointDelay ?? 0),
    maxPauseMs: o.maxPause,
    lockLeaseMs: o.lockLease,
    alarms: [...(o.alarms ?? [])],
    thresholds: {
      rollbackErrorRate: o.rollbackErrorRate,
      rollbackP99Ms: o.rollbackP99,
      rollbackUnhealthy: o.rollbackUnhealthy,
      promoteErrorRate: o.promoteErrorRate,
      promoteP95Ms: o.promoteP95,
      minRequests: o.minRequests,
      evidenceEvents: o.evidenceEvents,
      relativeSignificance: o.relativeSignificance,
      relativeErrorMargin: o.relativeErrorMargin,
      latencyTolerance: o.latencyTolerance,
      latencySlackMs: o.latencySlack,
      sequentialAlpha: o.sequentialAlpha,
      sequentialTolerance: o.sequentialTolerance,
    },
    ...(gates.length > 0 ? { gates: [...gates] } : {}),
    ...(o.grayCapacity === undefined ? {} : { grayCapacity: o.grayCapacity }),
    ...(o.followLoadDelay === undefined ? {} : { followDelayMs: o.followLoadDelay }),
    ...(o.keepPrevious ? { keepPreviousMs: o.keepPrevious } : {}),
    ...(o.rollbackReleaseWindow === undefined ? {} : { rollbackReleaseWindowMs: o.rollbackReleaseWindow }),
    ...checksOf(o),
  };
}

/** The checks part of the policy: only what is declared, so a plan without checks stays as it was. */
function checksOf(o: PolicyInput): Partial<Policy> {
  const synthetic = o.synthetic ?? [];
  const hooks = o.hooks ?? [];
  const observe = o.observeGates ?? [];
  const match =
    o.pilotHeader !== undefined
      ? `header ${o.pilotHeader.replace(/:\s*/, ": ")}`
      : o.pilotCookie !== undefined
        ? `cookie ${o.pilotCookie}`
        : null;
  const pilot = match !== null || o.pilotRuleArn !== undefined;
  return {
    ...(synthetic.length > 0
      ? { synthetic: [...synthetic], syntheticIntervalMs: o.syntheticInterval ?? o.interval }
      : {}),
    ...(hooks.length > 0 ? { hooks: [...hooks] } : {}),
    ...(observe.length > 0 ? { observe: [...observe] } : {}),
    ...(pilot ? { pilot: { match } } : {}),
  };
}

/** One line saying what the built-in gates read, for plans and reports. */
export function describeSignal(p: Pick<Policy, "signal" | "metricPeriodMs" | "metricsDelayMs">): string {
  const s = p.signal;
  const d = (ms: number) => formatDuration(ms);
  if (s === undefined) {
    return `signal: the load balancer's metrics (${d(p.metricPeriodMs)} periods, complete ${d(p.metricsDelayMs)} late)`;
  }
  const m = s.metrics;
  const dims = Object.entries(m.dimensions)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return `signal: the service's metrics ${m.namespace} ${m.requests}/${m.errors}/${m.latency} (${dims}) at ${d(p.metricPeriodMs)} periods, complete ${d(p.metricsDelayMs)} late; the load balancer's 5xx guard them (${d(s.guard.periodMs)} periods, ${d(s.guard.delayMs)} late)`;
}

/** The service signal the options choose; null for the load balancer's (the default). */
export function serviceSignalOf(
  o: Partial<SignalOptions> & Pick<PlanOptions, "metricPeriod" | "metricsDelay">,
): ServiceSignal | null {
  if (o.signal !== "service") return null;
  if (o.servicePeriod === undefined || o.serviceDelay === undefined) {
    throw new InvalidInputError([
      { field: "servicePeriod", message: "--signal service needs --service-period and --service-delay" },
    ]);
  }
  const d = signalOptions.defs;
  return {
    kind: "service",
    metrics: {
      namespace: o.serviceNamespace ?? d.serviceNamespace.default,
      requests: o.serviceRequests ?? d.serviceRequests.default,
      errors: o.serviceErrors ?? d.serviceErrors.default,
      latency: o.serviceLatency ?? d.serviceLatency.default,
      latencyUnit: o.serviceLatencyUnit ?? d.serviceLatencyUnit.default,
      dimensions: parseServiceDimensions(o.serviceDimensions ?? d.serviceDimensions.default.split(",")),
    },
    guard: { periodMs: o.metricPeriod, delayMs: o.metricsDelay },
  };
}

/**
 * Gray's desired capacity at a weight: clamp(ceil(stable × weight / 100), minGray, stable).
 * Stable keeps its full starting capacity until promotion completes, so a rollback to 100% stable is
 * always safe; gray never needs more than stable had.
 */
export function grayCapacity(stableCapacity: number, weight: number, minGray: number): number {
  const wanted = Math.ceil((stableCapacity * weight) / 100);
  return Math.min(Math.max(wanted, minGray), Math.max(stableCapacity, 1));
}
