/**
 * Analysis: what "healthy" means. Each gate looks at one aspect of one observation and returns
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
import type { Thresholds } from "./policy.js";
import { conditionalExcessPValue, wilsonLower } from "./stats.js";
import type { AlarmState, FleetHealth, Pool, VersionStats, WindowStats } from "./types.js";

export type Verdict = "pass" | "inconclusive" | "fail";

export type GateName =
  | "health"
  | "alarms"
  | "metrics"
  | "error-rate"
  | "p99"
  | "relative-error-rate"
  | "relative-latency"
  | "evidence"
  | "promote-error-rate"
  | "promote-p95";

export interface GateResult {
  readonly gate: GateName;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly values: Readonly<Record<string, number | string | null>>;
}

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
  /** Measurement errors of this observation (a provider failure is data, not an exception). */
  readonly errors: readonly string[];
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
  readonly thresholds: Thresholds;
}

const RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

export function worst(verdicts: Iterable<Verdict>): Verdict {
  let w: Verdict = "pass";
  for (const v of verdicts) if (RANK[v] > RANK[w]) w = v;
  return w;
}

export const rate = (s: Pick<VersionStats, "errors" | "requests">): number | null =>
  s.requests > 0 ? s.errors / s.requests : null;

const pct = (r: number | null): string => (r === null ? "n/a" : `${Number((r * 100).toFixed(3))}%`);
const ms = (v: number | null): string => (v === null ? "n/a" : `${Math.round(v)}ms`);

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

  const ref = rb[other].requests > 0 ? rb[other] : input.baseline;
  const refLabel = rb[other].requests > 0 ? `${other} over the same window` : `${other}'s recorded baseline`;
  gates.push(relativeErrorGate(subj, ref, refLabel, t, subject));
  gates.push(relativeLatencyGate(subj, ref, refLabel, t, subject));

  const pr = obs.promotion[subject];
  const otherPr = obs.promotion[other];
  gates.push(evidenceGate(pr, t, subject));
  gates.push(promoteErrorGate(pr, otherPr, t, subject));
  gates.push(promoteP95Gate(pr, t, subject));

  return { verdict: worst(gates.map((g) => g.verdict)), gates };
}

export function healthGate(subject: Pool, health: FleetHealth | null, t: Thresholds): GateResult {
  if (health === null) {
    return { gate: "health", verdict: "inconclusive", reason: "target health could not be read", values: {} };
  }
  const h = health[subject];
  const values = { healthy: h.healthy, unhealthy: h.unhealthy, limit: t.rollbackUnhealthy };
  if (h.healthy === 0) {
    return { gate: "health", verdict: "fail", reason: `no healthy ${subject} instance`, values };
  }
  if (h.unhealthy > t.rollbackUnhealthy) {
    return {
      gate: "health",
      verdict: "fail",
      reason: `${h.unhealthy} ${subject} instances fail health checks (more than ${t.rollbackUnhealthy})`,
      values,
    };
  }
  return {
    gate: "health",
    verdict: "pass",
    reason: `${h.healthy} healthy, ${h.unhealthy} unhealthy ${subject} instances`,
    values,
  };
}

export function alarmsGate(alarms: readonly AlarmState[]): GateResult {
  const firing = alarms.filter((a) => a.state === "ALARM");
  if (firing.length > 0) {
    return {
      gate: "alarms",
      verdict: "fail",
      reason: `alarm ${firing.map((a) => a.name).join(", ")} in ALARM`,
      values: { firing: firing.length, total: alarms.length },
    };
  }
  return {
    gate: "alarms",
    verdict: "pass",
    reason: alarms.length === 0 ? "no alarms configured" : `${alarms.length} alarm(s) not in ALARM`,
    values: { firing: 0, total: alarms.length },
  };
}

/**
 * Load-balancer 5xx cannot be attributed to a target group; a rise above what the load balancer
 * produced before gray got traffic is counted against gray.
 */
export function lbExcessErrors(w: WindowStats, baselineRate: number | null): number {
  if (w.lbErrors === null || w.lbErrors <= 0) return 0;
  const total = w.stable.requests + w.gray.requests;
  const expected = (baselineRate ?? 0) * total;
  return Math.max(0, Math.round(w.lbErrors - expected));
}

/**
 * Enough evidence to fail on a rate above a limit: the minimum request count, or a failure rate so
 * high that even the 99.9% lower confidence bound is above the limit (a release failing every request
 * is stopped after a handful, not after a hundred).
 */
function strongEvidenceAbove(errors: number, requests: number, limit: number, minRequests: number): boolean {
  if (requests <= 0) return false;
  if (requests >= minRequests) return true;
  return wilsonLower(errors, requests, 0.999) > limit;
}

export function errorRateGate(
  s: VersionStats,
  lbExcess: number,
  t: Thresholds,
  subject: Pool,
  other?: VersionStats,
): GateResult {
  const errors = s.errors + lbExcess;
  const r = rate({ errors, requests: s.requests });
  const values = {
    requests: s.requests,
    errors: s.errors,
    lbErrors: lbExcess,
    errorRate: r,
    limit: t.rollbackErrorRate,
  };
  if (r === null) {
    return {
      gate: "error-rate",
      verdict: "inconclusive",
      reason: `no ${subject} requests in the rollback window`,
      values,
    };
  }
  const lbNote = lbExcess > 0 ? ` (including ${lbExcess} load-balancer 5xx)` : "";
  if (r > t.rollbackErrorRate) {
    if (strongEvidenceAbove(errors, s.requests, t.rollbackErrorRate, t.minRequests)) {
      // The seed's absolute gate always applies; when the other version is as bad, say so, because
      // the environment rather than the release may be at fault.
      const ro = other ? rate(other) : null;
      const shared =
        ro !== null && ro > t.rollbackErrorRate
          ? `; the other version is at ${pct(ro)} too: the environment may be degraded`
          : "";
      return {
        gate: "error-rate",
        verdict: "fail",
        reason: `${subject} error rate ${pct(r)} > ${pct(t.rollbackErrorRate)} (${errors} of ${s.requests} requests${lbNote})${shared}`,
        values,
      };
    }
    return {
      gate: "error-rate",
      verdict: "inconclusive",
      reason: `${subject} error rate ${pct(r)} > ${pct(t.rollbackErrorRate)} on only ${s.requests} requests (fewer than ${t.minRequests})`,
      values,
    };
  }
  return {
    gate: "error-rate",
    verdict: "pass",
    reason: `${subject} error rate ${pct(r)} ≤ ${pct(t.rollbackErrorRate)}${lbNote}`,
    values,
  };
}

export function p99Gate(s: VersionStats, t: Thresholds, subject: Pool): GateResult {
  const values = { requests: s.requests, p99Ms: s.p99Ms, limitMs: t.rollbackP99Ms };
  if (s.requests === 0 || s.p99Ms === null) {
    return {
      gate: "p99",
      verdict: "inconclusive",
      reason: `no ${subject} latency data in the rollback window`,
      values,
    };
  }
  if (s.p99Ms > t.rollbackP99Ms) {
    if (s.requests >= t.minRequests) {
      return {
        gate: "p99",
        verdict: "fail",
        reason: `${subject} p99 ${ms(s.p99Ms)} > ${ms(t.rollbackP99Ms)}`,
        values,
      };
    }
    return {
      gate: "p99",
      verdict: "inconclusive",
      reason: `${subject} p99 ${ms(s.p99Ms)} > ${ms(t.rollbackP99Ms)} on only ${s.requests} requests`,
      values,
    };
  }
  return {
    gate: "p99",
    verdict: "pass",
    reason: `${subject} p99 ${ms(s.p99Ms)} ≤ ${ms(t.rollbackP99Ms)}`,
    values,
  };
}

export function relativeErrorGate(
  s: VersionStats,
  ref: VersionStats | null,
  refLabel: string,
  t: Thresholds,
  subject: Pool,
): GateResult {
  if (ref === null || ref.requests === 0) {
    return {
      gate: "relative-error-rate",
      verdict: "pass",
      reason: "not applied: no reference traffic to compare with",
      values: { requests: s.requests },
    };
  }
  const r = rate(s);
  const rr = rate(ref);
  const p = conditionalExcessPValue(s.errors, s.requests, ref.errors, ref.requests, t.relativeErrorMargin);
  const values = {
    requests: s.requests,
    errors: s.errors,
    errorRate: r,
    referenceRequests: ref.requests,
    referenceErrors: ref.errors,
    referenceErrorRate: rr,
    pValue: p,
    significance: t.relativeSignificance,
    margin: t.relativeErrorMargin,
  };
  if (r !== null && rr !== null && r - rr > t.relativeErrorMargin && p < t.relativeSignificance) {
    return {
      gate: "relative-error-rate",
      verdict: "fail",
      reason: `${subject} error rate ${pct(r)} is worse than ${refLabel} ${pct(rr)} by more than ${pct(t.relativeErrorMargin)} (p=${p.toPrecision(2)} < ${t.relativeSignificance})`,
      values,
    };
  }
  return {
    gate: "relative-error-rate",
    verdict: "pass",
    reason: `${subject} error rate ${pct(r)} vs ${refLabel} ${pct(rr)}: not significantly worse`,
    values,
  };
}

export function relativeLatencyGate(
  s: VersionStats,
  ref: VersionStats | null,
  refLabel: string,
  t: Thresholds,
  subject: Pool,
): GateResult {
  if (ref === null || ref.p95Ms === null || ref.requests < t.minRequests) {
    return {
      gate: "relative-latency",
      verdict: "pass",
      reason: "not applied: not enough reference latency data",
      values: { p95Ms: s.p95Ms },
    };
  }
  const limit = ref.p95Ms * (1 + t.latencyTolerance) + t.latencySlackMs;
  const values = { p95Ms: s.p95Ms, referenceP95Ms: ref.p95Ms, limitMs: limit, requests: s.requests };
  if (s.p95Ms === null || s.requests < t.minRequests) {
    const note = s.p95Ms !== null && s.p95Ms > limit ? " (slower so far)" : "";
    return {
      gate: "relative-latency",
      verdict: s.p95Ms !== null && s.p95Ms > limit ? "inconclusive" : "pass",
      reason: `not enough ${subject} requests to compare latency (${s.requests} < ${t.minRequests})${note}`,
      values,
    };
  }
  if (s.p95Ms > limit) {
    return {
      gate: "relative-latency",
      verdict: "fail",
      reason: `${subject} p95 ${ms(s.p95Ms)} > ${refLabel} p95 ${ms(ref.p95Ms)} × ${1 + t.latencyTolerance} + ${ms(t.latencySlackMs)} = ${ms(limit)}`,
      values,
    };
  }
  return {
    gate: "relative-latency",
    verdict: "pass",
    reason: `${subject} p95 ${ms(s.p95Ms)} within ${ms(limit)} of ${refLabel}`,
    values,
  };
}

export function evidenceGate(s: VersionStats, t: Thresholds, subject: Pool): GateResult {
  const values = { requests: s.requests, minRequests: t.minRequests };
  if (!s.hasData || s.requests < t.minRequests) {
    return {
      gate: "evidence",
      verdict: "inconclusive",
      reason: `${s.requests} ${subject} requests in the promotion window, fewer than ${t.minRequests}`,
      values,
    };
  }
  return { gate: "evidence", verdict: "pass", reason: `${s.requests} ${subject} requests`, values };
}

export function promoteErrorGate(
  s: VersionStats,
  other: VersionStats,
  t: Thresholds,
  subject: Pool,
): GateResult {
  const r = rate(s);
  const ro = rate(other);
  const values = { errorRate: r, limit: t.promoteErrorRate, otherErrorRate: ro };
  if (r === null) {
    return { gate: "promote-error-rate", verdict: "inconclusive", reason: `no ${subject} requests`, values };
  }
  if (r < t.promoteErrorRate) {
    return {
      gate: "promote-error-rate",
      verdict: "pass",
      reason: `${subject} error rate ${pct(r)} < ${pct(t.promoteErrorRate)}`,
      values,
    };
  }
  const shared = ro !== null && ro >= t.promoteErrorRate ? ` (the other version is at ${pct(ro)} too)` : "";
  return {
    gate: "promote-error-rate",
    verdict: "inconclusive",
    reason: `${subject} error rate ${pct(r)} is not below ${pct(t.promoteErrorRate)}${shared}`,
    values,
  };
}

export function promoteP95Gate(s: VersionStats, t: Thresholds, subject: Pool): GateResult {
  const values = { p95Ms: s.p95Ms, limitMs: t.promoteP95Ms };
  if (s.p95Ms === null) {
    return { gate: "promote-p95", verdict: "inconclusive", reason: `no ${subject} latency data`, values };
  }
  if (s.p95Ms < t.promoteP95Ms) {
    return {
      gate: "promote-p95",
      verdict: "pass",
      reason: `${subject} p95 ${ms(s.p95Ms)} < ${ms(t.promoteP95Ms)}`,
      values,
    };
  }
  return {
    gate: "promote-p95",
    verdict: "inconclusive",
    reason: `${subject} p95 ${ms(s.p95Ms)} is not below ${ms(t.promoteP95Ms)}`,
    values,
  };
}

/** The gates that failed, for the reason line of a rollback. */
export function failing(a: Analysis): GateResult[] {
  return a.gates.filter((g) => g.verdict === "fail");
}

export function summarise(a: Analysis): string {
  const bad = a.gates.filter((g) => g.verdict === a.verdict && a.verdict !== "pass");
  if (bad.length === 0) return "all gates pass";
  return bad.map((g) => g.reason).join("; ");
}
