/**
 * keep-previous (issue 17): when the 100% step passes, gray keeps all the traffic and stable keeps
 * the previous version at full capacity for the window before the instance refresh starts, so the
 * way back is one verified weight write. The rollback criteria are judged at every look meanwhile.
 * Pure; called by decide().
 */
import { StateError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import { type Analysis, failing, type GateResult, summarise } from "./analysis.js";
import type { Decision } from "./decision.js";
import { needsApproval, type RolloutState } from "./state.js";

/** When the 100% step has passed: the keep decision, or null when the plan keeps nothing. */
export function keepDecision(s: RolloutState, now: number, evidence: readonly GateResult[]): Decision | null {
  const keep = s.plan.keepPreviousMs ?? 0;
  if (keep <= 0) return null;
  return {
    kind: "keep",
    until: now + keep,
    reason: `100% passed: the previous version stays warm on stable (serving 0%) for ${formatDuration(keep)}, until ${new Date(now + keep).toISOString()}, before the instance refresh; the rollback criteria are still judged`,
    evidence,
  };
}

/**
 * In the window: a fail of any rollback criterion rolls back (one verified write back to stable);
 * otherwise wait until the window ends, then promote (after its approval, if it needs one).
 * `analysis` is null before the first observation of the window.
 */
export function decideKeeping(
  s: RolloutState,
  analysis: Analysis | null,
  now: number,
  nextLook: number,
): Decision {
  const until = s.keepUntil;
  if (until === null || until === undefined)
    throw new StateError(`rollout ${s.id} is keeping without a window`);
  const left = `the previous version stays warm on stable until ${new Date(until).toISOString()}`;
  if (analysis === null)
    return { kind: "wait", until: Math.min(nextLook, until), reason: left, evidence: [] };
  const evidence = analysis.gates;
  if (analysis.verdict === "fail") {
    const why = failing(analysis)
      .map((g) => g.reason)
      .join("; ");
    return { kind: "rollback", reason: `in the keep-previous window: ${why}`, evidence };
  }
  if (now < until) {
    return {
      kind: "wait",
      until: Math.min(nextLook, until),
      reason: `${left} (${formatDuration(until - now)} left); ${summarise(analysis)}`,
      evidence,
    };
  }
  if (needsApproval(s, "promotion")) {
    return {
      kind: "await-approval",
      gate: "promotion",
      reason: "the keep-previous window ended; promotion needs approval",
      evidence,
    };
  }
  return {
    kind: "promote",
    reason:
      "the keep-previous window ended with no rollback criterion met: promoting the release to the stable fleet",
    evidence,
  };
}
