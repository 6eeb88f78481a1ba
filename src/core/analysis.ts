/**
 * Analysis: what "healthy" means, over one observation. Each gate (src/gates/builtin.ts for the
 * built-in ones) looks at one aspect of one observation and returns
 * pass / inconclusive / fail with the numbers it used and a sentence saying why. Gates combine into
 * the worst verdict (fail > inconclusive > pass), as Argo Rollouts ranks measurement phases.
 *
 * Two kinds of gate:
 * - rollback gates (health, alarms, absolute error rate and p99 over the rollback window, and the
 *   relative gates against stable) can FAIL: a fail rolls back at once, from any step;
 * - pass criteria (evidence, error rate and p95 over the promotion window) can only hold a step:
 *   not meeting them is inconclusive, never a fail (between 1% and 2% errors a step neither passes
 *   nor rolls back — it waits, then pauses or rolls back per policy).
 * Absent data is inconclusive, never pass.
 */
import {
  alarmsGate,
  errorRateGate,
  evidenceGate,
  healthGate,
  lbExcessErrors,
  p99Gate,
  promoteErrorGate,
  promoteP95Gate,
  relativeErrorGate,
  relativeLatencyGate,
  sequentialGate,
} from "../gates/builtin.js";
import { signalGuardGate } from "../gates/guard.js";
import type { SyntheticRun } from "../gates/synthetic.js";
import { type GateResult, type Verdict, worst } from "../gates/verdict.js";
import type { Thresholds } from "./policy.js";
import type { Stratum } from "./sequential.js";
import type {
  AlarmState,
  FleetHealth,
  FleetSizes,
  GuardReading,
  Pool,
  TimeWindow,
  VersionStats,
  WindowStats,
} from "./types.js";

export { type GateName, type GateResult, rate, type Verdict, worst } from "../gates/verdict.js";

export interface Analysis {
  readonly verdict: Verdict;
  readonly gates: readonly GateResult[];
}

/** One look at the world: metrics over the two windows, target health and alarms. */
export interface Observation {
  readonly at: number;
  /** Null when the metric source failed this time (the failure is in `errors`). */
  readonly rollback: WindowStats | null;
  readonly promotion: WindowStats | null;
  readonly health: FleetHealth | null;
  /** Null when alarms could not be read; empty when none are configured. */
  readonly alarms: readonly AlarmState[] | null;
  /**
   * Gray's history for the sequential test: windows that all end where the rollback window ends and
   * start at the cuts `historyWindows` chose, oldest first (absent or empty: not read).
   */
  readonly history?: readonly WindowStats[] | null;
  /**
   * With a service signal: both signals over the load balancer's latest complete window (null when
   * they could not be read; absent without a service signal).
   */
  readonly guard?: GuardReading | null;
  /** Measurement errors of this observation (a provider failure is data, not an exception). */
  readonly errors: readonly string[];
  /** Synthetic transactions run with this observation (when one was due); absent: none ran. */
  readonly synthetic?: readonly SyntheticRun[] | null;
  /** While the fleets follow the load: both pools over the last metric periods (the load now). */
  readonly recent?: WindowStats | null;
  /** While the fleets follow the load: the groups' sizes (null: unreadable this time). */
  readonly sizes?: FleetSizes | null;
  /**
   * On the way back, when the return step began inside the rollback window: both pools over the
   * step's own part of it (`returnStepWindow`), for the relative gates; absent otherwise.
   */
  readonly returnStep?: WindowStats | null;
}

/**
 * The part of the rollback window inside the current return step (its first complete metric period
 * on), or null when the step began before the rollback window (or is not a return step). The relative
 * gates compare the pools there, as they do on the way up (decide.ts currentStepWindow): over a window
 * straddling the switch, stable's requests include the doubled load of its new share and gray's are
 * all from before it, so a shared slowdown right after the switch was blamed on stable.
 */
export function returnStepWindow(
  phase: string,
  stepStartedAt: number | null,
  rollback: TimeWindow,
  periodMs: number,
): TimeWindow | null {
  if (phase !== "returning" || stepStartedAt === null || periodMs <= 0) return null;
  const start = Math.ceil(stepStartedAt / periodMs) * periodMs;
  return start > rollback.start && start < rollback.end ? { start, end: rollback.end } : null;
}

export interface AnalysisInput {
  /** The pool under judgement: gray on the way up, the refreshed stable on the way back. */
  readonly subject: Pool;
  readonly observation: Observation;
  /**
   * The reference for relative gates when the other pool has no traffic in this observation (at
   * 100%): the other pool's statistics recorded at the previous step.
   */
  readonly baseline: VersionStats | null;
  /** Fraction of all requests the load balancer itself failed before gray got traffic (AWS only). */
  readonly lbErrorBaselineRate: number | null;
  /** The subject's and the reference's counts since gray's first traffic, for the sequential test. */
  readonly history?: readonly Stratum[] | null;
  /**
   * The part of the rollback window inside the current step, for the relative gates (absent: the
   * rollback window itself, when the step began before it).
   */
  readonly comparison?: WindowStats | null;
  /** The reference pool's weight (percent) while the step runs: > 0 means it must report traffic. */
  readonly referenceWeight?: number;
  /** The gates judge a service signal: the load balancer's metrics guard it (`observation.guard`). */
  readonly guarded?: boolean;
  readonly thresholds: Thresholds;
}

/** Runs every gate on one observation. */
export function analyse(input: AnalysisInput): Analysis {
  const { subject, observation: obs, thresholds: t } = input;
  const other: Pool = subject === "gray" ? "stable" : "gray";
  const gates: GateResult[] = [];

  gates.push(healthGate(subject, obs.health, t));
  if (obs.alarms !== null) gates.push(alarmsGate(obs.alarms));
  else
    gates.push({
      gate: "alarms",
      verdict: "inconclusive",
      reason: "alarm states could not be read",
      values: {},
    });
  // Before the metrics' own gates: the load balancer's 5xx roll back even when the service's
  // metrics cannot be read.
  if (input.guarded) gates.push(signalGuardGate(subject, obs.guard ?? null, input.lbErrorBaselineRate, t));

  if (obs.rollback === null || obs.promotion === null) {
    gates.push({
      gate: "metrics",
      verdict: "inconclusive",
      reason: `metrics could not be read: ${obs.errors.join("; ") || "no data"}`,
      values: {},
    });
    return { verdict: worst(gates.map((g) => g.verdict)), gates };
  }

  const rb = obs.rollback;
  const subj = rb[subject];
  const lbExcess = subject === "gray" ? lbExcessErrors(rb, input.lbErrorBaselineRate) : 0;
  gates.push(errorRateGate(subj, lbExcess, t, subject, rb[other]));
  gates.push(p99Gate(subj, t, subject));

  // Relative gates compare the two pools where the weights did not change, or a shared degradation
  // in the newer part of a window straddling a step (where gray's share is larger) blames gray.
  const cmp = input.comparison ?? rb;
  const ref = cmp[other].requests > 0 ? cmp[other] : input.baseline;
  const refLabel = cmp[other].requests > 0 ? `${other} over the same window` : `${other}'s recorded baseline`;
  // The reference has traffic by the weights but its metrics report none (they never arrived, arrive
  // late, or only the subject's target group reports): that is missing data, not "no reference".
  // Without this the relative gate said "not applied" — a pass — and a release was promoted on its
  // absolute numbers alone while stable's metrics were missing.
  const referenceWeight = input.referenceWeight ?? 0;
  if (cmp[other].requests === 0 && referenceWeight > 0) {
    gates.push({
      gate: "relative-error-rate",
      verdict: "inconclusive",
      reason: `no ${other} requests in the window although ${other} has ${referenceWeight}% of the traffic (its metrics are missing): nothing to compare ${subject} with`,
      values: { requests: cmp[subject].requests, referenceRequests: 0, referenceWeight },
    });
  } else {
    gates.push(relativeErrorGate(cmp[subject], ref, refLabel, t, subject));
  }
  gates.push(sequentialGate(input.history ?? null, input.baseline, t, subject));
  gates.push(relativeLatencyGate(cmp[subject], ref, refLabel, t, subject));

  const pr = obs.promotion[subject];
  const otherPr = obs.promotion[other];
  gates.push(evidenceGate(pr, t, subject));
  gates.push(promoteErrorGate(pr, otherPr, t, subject));
  gates.push(promoteP95Gate(pr, t, subject));

  return { verdict: worst(gates.map((g) => g.verdict)), gates };
}

/** The gates that failed, for the reason line of a rollback (observe-only gates never count). */
export function failing(a: Analysis): GateResult[] {
  return a.gates.filter((g) => g.verdict === "fail" && g.observe !== true);
}

export function summarise(a: Analysis): string {
  const bad = a.gates.filter((g) => g.verdict === a.verdict && a.verdict !== "pass" && g.observe !== true);
  if (bad.length === 0) return "all gates pass";
  return bad.map((g) => g.reason).join("; ");
}
