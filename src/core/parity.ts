/**
 * Per-instance parity between gray and stable while the fleets follow the load (issue 17).
 *
 * Stable is held at the size of the WHOLE load during a rollout (a rollback sends all of it back at
 * once), so at gray's weight w its instances carry less than their scaling target. Sized by the
 * capacity rule alone (ceil(stable × w ÷ 100)), a gray instance at 50% carried twice a stable one's
 * requests, and the relative latency gate compared a busier gray with a quieter stable: a peak could
 * roll a good release back. Sized for parity, a gray instance carries no more than a stable one.
 *
 * When gray's MaxSize cannot reach parity, a slower gray is not evidence against the release: the
 * relative latency gate cannot fail the step while that lasts (it is inconclusive: the step holds,
 * and pauses or rolls back per --on-inconclusive when its bake runs out). The absolute gates (error
 * rate, p99, alarms, health) still roll back at once: customers are protected either way.
 */
import { type GateResult, worst } from "../gates/verdict.js";
import type { Analysis } from "./analysis.js";
import type { ParityShortfall } from "./types.js";

export type { ParityShortfall } from "./types.js";

/**
 * Gray's size at which a gray instance carries no more requests than a stable one at gray's weight
 * w < 100: ceil(stable × w ÷ (100 − w)). At 100% there is no stable share to be on par with (the
 * whole load is sized by stable's per-instance target instead, core/capacity.ts): stable's size.
 */
export function parityCapacity(stableDesired: number, weight: number): number {
  if (weight <= 0) return 0;
  if (weight >= 100) return Math.max(1, stableDesired);
  return Math.max(1, Math.ceil((stableDesired * weight) / (100 - weight) - 1e-9));
}

/**
 * How many times a stable instance's requests a gray instance carries at these sizes and weight
 * (below 100%), or how many times its per-instance target (at 100%: `need` ÷ `gray`).
 */
export function perInstanceRatio(stable: number, gray: number, weight: number, need: number): number {
  if (gray <= 0) return Number.POSITIVE_INFINITY;
  if (weight >= 100 || stable <= 0) return need / gray;
  return weight / gray / ((100 - weight) / stable);
}

/** One line on a shortfall, for the scale decision, the progress line and the gate's reason. */
export function describeShortfall(p: ParityShortfall): string {
  const ratio = `${Number(p.ratio.toFixed(2))}×`;
  const carried =
    p.weight >= 100
      ? `a gray instance carries about ${ratio} what stable's scaling policy sizes one instance for`
      : `a gray instance carries about ${ratio} a stable instance's requests`;
  return `gray's MaxSize ${p.max} cannot reach per-instance parity (${p.need} needed at ${p.weight}%): ${carried}`;
}

/**
 * The step's analysis with the relative latency gate held while gray's MaxSize keeps it short of
 * parity: a fail becomes inconclusive with the reason. Everything else is left as it is.
 */
export function parityHold(a: Analysis, shortfall: ParityShortfall | null | undefined): Analysis {
  if (shortfall === null || shortfall === undefined) return a;
  let changed = false;
  const gates = a.gates.map((g): GateResult => {
    if (g.gate !== "relative-latency" || g.verdict !== "fail") return g;
    changed = true;
    return {
      ...g,
      verdict: "inconclusive",
      reason: `${g.reason} — not held against the release: ${describeShortfall(shortfall)}; the step holds`,
    };
  });
  return changed ? { verdict: worst(gates.map((g) => g.verdict)), gates } : a;
}
