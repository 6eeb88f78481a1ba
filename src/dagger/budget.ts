/**
 * How long a call may run at most, so the credentials preflight can demand that they last that long.
 * An upper bound, not an estimate: a rollout whose credentials expire half-way cannot even roll back.
 */
import { targetNamed } from "../app/requests.js";
import { type OptionName, type Options, parseOptionValue, rawDefault, type Verb } from "../app/schema.js";

/** Reads, one verified write and cleanup: generous for status, plan, bootstrap and publish. */
export const SHORT_CALL_MS = 15 * 60_000;

/** The promotion floor the AWS target gives an instance refresh (TargetDefinition.minPromotionTimeoutMs). */
const MIN_PROMOTION_MS = targetNamed("aws").minPromotionTimeoutMs;

/**
 * deploy-gray: every step extended to --max-bake after gray became healthy, the promotion's full
 * timeout, every return step extended likewise, room to revert stable after an abort, one lock lease.
 * promote: the same for the schema's AWS defaults (the stored plan is only known once read).
 * abort: a revert of stable. Other calls: SHORT_CALL_MS.
 */
export function runBudgetMs(verb: Verb | "publish", o?: Options): number {
  const ms = (name: OptionName): number => {
    const given = o?.[name];
    if (typeof given === "number") return given;
    const parsed = parseOptionValue(name, rawDefault(name, "aws"));
    return parsed.ok ? (parsed.value as number) : 0;
  };
  const count = (name: "steps" | "returnSteps"): number => {
    const given = o?.[name];
    if (Array.isArray(given)) return given.length;
    const parsed = parseOptionValue(name, rawDefault(name, "aws"));
    return parsed.ok ? (parsed.value as readonly number[]).length : 0;
  };
  const promotion = Math.max(ms("healthyTimeout") * 3, ms("instanceWarmup") * 20, MIN_PROMOTION_MS);
  if (verb === "abort") return SHORT_CALL_MS + promotion;
  // rollback-release: gray up on the previous version, then stable refreshed back onto it.
  if (verb === "rollback-release") return SHORT_CALL_MS + ms("healthyTimeout") + promotion;
  if (verb !== "deploy-gray" && verb !== "promote") return SHORT_CALL_MS;
  const step = Math.max(ms("bake"), ms("maxBake")) + ms("healthyTimeout");
  const returnStep = Math.max(ms("returnBake"), ms("maxBake"));
  // A keep-previous window (issue 17) holds the run between the 100% step and the promotion.
  const keep = ms("keepPrevious");
  return (
    count("steps") * step + keep + promotion + count("returnSteps") * returnStep + promotion + ms("lockLease")
  );
}
