/**
 * The load balancer's guard beside a service signal (--signal service). The service's own metrics
 * are fast, but they are what the service says about itself; the load balancer sees what customers
 * got. Over one window that both have complete (the load balancer's periods and lateness), this gate:
 *
 * - FAILS when the load balancer's own counts put the subject's 5xx rate (target 5xx and connection
 *   errors, plus load-balancer 5xx above their rate before gray had traffic) over the rollback limit,
 *   with the same evidence rule as the error-rate gate: ELB and target 5xx still roll back, whatever
 *   the service reports;
 * - is INCONCLUSIVE when the two signals disagree: a pool's request counts differ by more than
 *   max(5, 5%) (the service's metrics stopped arriving, only some instances publish, or the
 *   dimensions select another fleet), or the load balancer counted more of the subject's 5xx than the
 *   service did by more than max(3, 5%) (answers the service does not count: a crash, a refused
 *   connection, a proxy in front of it). The numbers go into the result, so the report shows them;
 * - passes otherwise, and while neither signal saw traffic.
 */
import type { Thresholds } from "../core/policy.js";
import type { GuardReading, Pool, VersionStats } from "../core/types.js";
import { errorRateGate, lbExcessErrors } from "./builtin.js";
import { type GateResult, pct } from "./verdict.js";

/** Counts of the two signals agree within max(AGREE_COUNT, AGREE_SHARE × the larger). */
export const AGREE_SHARE = 0.05;
export const AGREE_COUNT = 5;
/** 5xx the load balancer saw beyond the service's count, tolerated: max(AGREE_ERRORS, AGREE_SHARE × its count). */
export const AGREE_ERRORS = 3;

const iso = (t: number) => new Date(t).toISOString().replace(/\.000Z$/, "Z");

export function signalGuardGate(
  subject: Pool,
  reading: GuardReading | null,
  lbErrorBaselineRate: number | null,
  t: Thresholds,
): GateResult {
  if (reading === null) {
    return {
      gate: "signal-guard",
      verdict: "inconclusive",
      reason: "the load balancer's metrics could not be read to guard the service signal",
      values: {},
    };
  }
  const { alb, service, window } = reading;
  const other: Pool = subject === "gray" ? "stable" : "gray";
  const span = `${iso(window.start)} to ${iso(window.end)}`;
  const lbExcess = subject === "gray" ? lbExcessErrors(alb, lbErrorBaselineRate) : 0;
  const albRate = errorRateGate(alb[subject], lbExcess, t, subject, alb[other]);
  const values: Record<string, number | null> = {
    windowStart: window.start,
    windowEnd: window.end,
    albRequests: alb[subject].requests,
    serviceRequests: service[subject].requests,
    albErrors: alb[subject].errors,
    serviceErrors: service[subject].errors,
    albReferenceRequests: alb[other].requests,
    serviceReferenceRequests: service[other].requests,
    lbErrors: alb.lbErrors,
    albErrorRate: alb[subject].requests > 0 ? (alb[subject].errors + lbExcess) / alb[subject].requests : null,
  };
  if (albRate.verdict === "fail") {
    return {
      gate: "signal-guard",
      verdict: "fail",
      reason: `the load balancer's metrics over ${span}: ${albRate.reason}`,
      values,
    };
  }
  const disagreements = [
    ...requestDisagreement(subject, alb[subject], service[subject]),
    ...requestDisagreement(other, alb[other], service[other]),
    ...errorDisagreement(subject, alb[subject], service[subject]),
  ];
  if (disagreements.length > 0) {
    return {
      gate: "signal-guard",
      verdict: "inconclusive",
      reason: `the load balancer and the service disagree over ${span}: ${disagreements.join("; ")}`,
      values,
    };
  }
  const a = alb[subject];
  const s = service[subject];
  return {
    gate: "signal-guard",
    verdict: "pass",
    reason:
      a.requests === 0 && s.requests === 0
        ? `no ${subject} traffic over ${span} in either signal`
        : `the load balancer agrees over ${span}: ${subject} ${a.requests} requests (service ${s.requests}), ${a.errors} 5xx (service ${s.errors}), ${pct(values.albErrorRate ?? null)}`,
    values,
  };
}

function requestDisagreement(pool: Pool, alb: VersionStats, service: VersionStats): string[] {
  const slack = Math.max(AGREE_COUNT, AGREE_SHARE * Math.max(alb.requests, service.requests));
  // Requests the targets never answered (connection errors) are in the load balancer's count only.
  if (alb.requests - service.requests > slack + alb.errors) {
    return [
      `the load balancer counted ${alb.requests} ${pool} requests, the service ${service.requests}${service.hasData ? "" : " (no datapoint at all: its metrics stopped arriving, or the dimensions select nothing)"}`,
    ];
  }
  if (service.requests - alb.requests > slack) {
    return [
      `the service counted ${service.requests} ${pool} requests, the load balancer only ${alb.requests} (do the dimensions select another fleet, or does traffic bypass the load balancer?)`,
    ];
  }
  return [];
}

function errorDisagreement(pool: Pool, alb: VersionStats, service: VersionStats): string[] {
  const slack = Math.max(AGREE_ERRORS, AGREE_SHARE * alb.errors);
  if (alb.errors - service.errors > slack) {
    return [
      `the load balancer saw ${alb.errors} ${pool} 5xx (and connection errors), the service counted ${service.errors}`,
    ];
  }
  return [];
}
