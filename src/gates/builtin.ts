/**
 * The built-in gates: each looks at one aspect of one observation (target health, alarms, the error
 * rate and latency of the subject, against fixed limits and against the reference pool, and the
 * sequential test over the whole rollout) and returns its GateResult.
 *
 * Rollback gates (health, alarms, absolute error rate and p99 over the rollback window, the relative
 * gates) can FAIL; pass criteria (evidence, error rate and p95 over the promotion window) can only
 * hold a step: not meeting them is inconclusive, never a fail. Absent data is inconclusive.
 */
import type { Thresholds } from "../core/policy.js";
import { type Stratum, sequentialTest } from "../core/sequential.js";
import { binomialUpperTail, conditionalExcessPValue, samplesAbove, tailProbability } from "../core/stats.js";
import type { AlarmState, FleetHealth, Pool, VersionStats, WindowStats } from "../core/types.js";
import { type GateResult, ms, pct, rate } from "./verdict.js";

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
 * Enough evidence to fail on a rate above a limit: enough requests that the limit itself means at
 * least --evidence-events failures (500 requests for 2% at 10; and the minimum request count), or so many
 * failures that a rate at the limit would produce them with probability below 0.1% (exact binomial
 * tail: a release failing every request is stopped after a handful). Fewer: a few unlucky failures
 * among a few hundred requests would roll back a healthy release with a 0.5% baseline far too often
 * (and a normal-approximation bound such as Wilson's calls 1 failure in 3 requests "above 2%" at
 * 99.9%, which it is not).
 */
function strongEvidenceAbove(errors: number, requests: number, limit: number, t: Thresholds): boolean {
  if (requests <= 0) return false;
  if (requests >= t.minRequests && requests * limit >= t.evidenceEvents) return true;
  return binomialUpperTail(errors, requests, limit) < 0.001;
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
    if (strongEvidenceAbove(errors, s.requests, t.rollbackErrorRate, t)) {
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
      reason: `${subject} error rate ${pct(r)} > ${pct(t.rollbackErrorRate)} on only ${s.requests} requests (judged from ${Math.max(t.minRequests, Math.ceil(t.evidenceEvents / t.rollbackErrorRate))})`,
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

/**
 * Enough evidence that the share of requests slower than `limit` exceeds 1 − q, when the window's
 * q-quantile is above `limit`: enough requests that the quantile has --evidence-events samples
 * beyond it (1,000 for a p99 at 10; and the minimum request count), or so many samples above the limit (counted from the p95 when it is above the
 * limit too) that a share of 1 − q would produce them with probability below 0.1%.
 */
function strongTailEvidence(s: VersionStats, limit: number, q: number, t: Thresholds): boolean {
  const n = s.requests;
  const above = Math.max(samplesAbove(n, q), s.p95Ms !== null && s.p95Ms > limit ? samplesAbove(n, 0.95) : 0);
  if (n >= t.minRequests && n * (1 - q) >= t.evidenceEvents) return true;
  return binomialUpperTail(above, n, 1 - q) < 0.001;
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
    if (strongTailEvidence(s, t.rollbackP99Ms, 0.99, t)) {
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
      reason: `${subject} p99 ${ms(s.p99Ms)} > ${ms(t.rollbackP99Ms)} on only ${s.requests} requests (judged from ${Math.max(t.minRequests, Math.ceil(t.evidenceEvents / 0.01))})`,
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

/**
 * Gray slower than the reference (stable over the same window, or its recorded baseline), tested
 * rather than eyeballed. The null: gray's response time is at most (1 + tolerance) × the reference's
 * plus the slack. Gray's p95 (p99) at v means at least 5% (1%) of its requests took longer than v
 * (samplesAbove); under the null each does so with at most the reference's probability of exceeding
 * (v − slack) / (1 + tolerance), read off its p95/p99 conservatively (tailProbability). A binomial
 * tail below --relative-significance (halved: two quantiles are tested) fails the gate; gray above
 * the plain limit (reference × (1 + tolerance) + slack) without that evidence is inconclusive, so
 * the step does not advance on it.
 */
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
      values: { p95Ms: s.p95Ms, p99Ms: s.p99Ms },
    };
  }
  const limitOf = (v: number | null) => (v === null ? null : v * (1 + t.latencyTolerance) + t.latencySlackMs);
  const values: Record<string, number | null> = {
    p95Ms: s.p95Ms,
    p99Ms: s.p99Ms,
    referenceP95Ms: ref.p95Ms,
    referenceP99Ms: ref.p99Ms,
    limitP95Ms: limitOf(ref.p95Ms),
    limitP99Ms: limitOf(ref.p99Ms),
    requests: s.requests,
  };
  let slower: string | null = null;
  for (const [name, q] of [
    ["p95", 0.95],
    ["p99", 0.99],
  ] as const) {
    const value = name === "p95" ? s.p95Ms : s.p99Ms;
    const refValue = name === "p95" ? ref.p95Ms : ref.p99Ms;
    const limit = limitOf(refValue);
    if (value === null) continue;
    const above = samplesAbove(s.requests, q);
    const share = tailProbability((value - t.latencySlackMs) / (1 + t.latencyTolerance), ref);
    const p = share >= 1 ? 1 : binomialUpperTail(above, s.requests, share);
    values[`${name}PValue`] = p;
    const what =
      limit === null
        ? `${subject} ${name} ${ms(value)}`
        : `${subject} ${name} ${ms(value)} > ${refLabel} ${name} ${ms(refValue)} × ${1 + t.latencyTolerance} + ${ms(t.latencySlackMs)} = ${ms(limit)}`;
    if (s.requests >= t.minRequests && p < t.relativeSignificance / 2) {
      return {
        gate: "relative-latency",
        verdict: "fail",
        reason: `${what}: ${above} of ${s.requests} requests took ${ms(value)} or more, p=${p.toPrecision(2)} < ${t.relativeSignificance}/2`,
        values,
      };
    }
    if (limit !== null && value > limit) slower ??= `${what}, not significant (p=${p.toPrecision(2)})`;
  }
  if (slower !== null) return { gate: "relative-latency", verdict: "inconclusive", reason: slower, values };
  return {
    gate: "relative-latency",
    verdict: "pass",
    reason: `${subject} p95 ${ms(s.p95Ms)} and p99 ${ms(s.p99Ms)} not significantly slower than ${refLabel} (p95 ${ms(ref.p95Ms)}, p99 ${ms(ref.p99Ms)}) beyond × ${1 + t.latencyTolerance} + ${ms(t.latencySlackMs)}`,
    values,
  };
}

/**
 * The sequential error-rate test (sequential.ts) on gray's history since its first traffic: rolls
 * back as soon as the evidence that gray fails more often than stable (beyond the tolerance) passes
 * 1/α, with α the false-rollback budget of the whole rollout. Not applied to the way back after
 * promotion, where no history is read.
 */
export function sequentialGate(
  history: readonly Stratum[] | null,
  baseline: VersionStats | null,
  t: Thresholds,
  subject: Pool,
): GateResult {
  if (t.sequentialAlpha <= 0) {
    return {
      gate: "sequential-error-rate",
      verdict: "pass",
      reason: "not applied: switched off",
      values: {},
    };
  }
  if (history === null || history.length === 0) {
    return {
      gate: "sequential-error-rate",
      verdict: "pass",
      reason: `not applied: no ${subject} history yet`,
      values: {},
    };
  }
  const r = sequentialTest(
    history,
    { alpha: t.sequentialAlpha, tolerance: t.sequentialTolerance, fallbackMargin: t.relativeErrorMargin },
    baseline ? { errors: baseline.errors, requests: baseline.requests } : null,
  );
  const values = {
    log10Evidence: Number((r.logStatistic / Math.LN10).toFixed(3)),
    log10Threshold: Number((r.logThreshold / Math.LN10).toFixed(3)),
    since: r.since,
    ratio: r.ratio,
    requests: r.requests,
    errors: r.errors,
    referenceRequests: r.refRequests,
    referenceErrors: r.refErrors,
    fallbackRate: r.fallbackRate,
    alpha: t.sequentialAlpha,
    tolerance: t.sequentialTolerance,
  };
  const since = r.since === null ? "" : ` since ${new Date(r.since).toISOString()}`;
  const counts = `${r.errors} of ${r.requests} requests vs stable's ${r.refErrors} of ${r.refRequests}`;
  const evidence = `evidence 10^${values.log10Evidence.toFixed(1)}, threshold 10^${values.log10Threshold.toFixed(1)}`;
  if (r.reject) {
    return {
      gate: "sequential-error-rate",
      verdict: "fail",
      reason: `${subject} fails more often than stable × ${1 + t.sequentialTolerance}${since} (${counts}; sequential test: ${evidence})`,
      values,
    };
  }
  return {
    gate: "sequential-error-rate",
    verdict: "pass",
    reason: `${subject} not shown to fail more often than stable × ${1 + t.sequentialTolerance} (${evidence})`,
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
