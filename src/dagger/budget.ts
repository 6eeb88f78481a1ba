/**
 * How long a call may run at most, so the credentials preflight can demand that they last that long.
 * An upper bound, not an estimate: a rollout whose credentials expire half-way cannot even roll back.
 */
import type { Options, Verb } from "../contract/options.js";
import { policyFromOptions } from "../core/policy.js";

/** Reads, one verified write and cleanup: generous for status, abort, plan, bootstrap and publish. */
export const SHORT_CALL_MS = 15 * 60_000;

/**
 * deploy-gray and promote: every step extended to --max-bake after gray became healthy, the
 * promotion's full timeout, every return step extended likewise, and room to revert stable after an
 * abort; plus one lock lease. Other verbs: SHORT_CALL_MS, or a revert of stable for abort.
 */
export function runBudgetMs(verb: Verb | "publish", o?: Options): number {
  if (o === undefined) return SHORT_CALL_MS;
  const p = policyFromOptions(o);
  if (verb === "abort") return SHORT_CALL_MS + p.promotionTimeoutMs;
  if (verb !== "deploy-gray" && verb !== "promote") return SHORT_CALL_MS;
  const step = Math.max(p.bakeMs, p.maxBakeMs) + p.healthyTimeoutMs;
  const returnStep = Math.max(p.returnBakeMs, p.maxBakeMs);
  return (
    p.steps.length * step +
    p.promotionTimeoutMs +
    p.returnSteps.length * returnStep +
    p.promotionTimeoutMs +
    p.lockLeaseMs
  );
}
