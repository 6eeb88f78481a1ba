/**
 * What the payment-grade checks add to the decision, pure like decide(): the synthetic transactions'
 * gates over the current step, observe-only marking, the chosen-customers step, and how a rollout
 * paused by a failed hook continues once a person overrides it.
 */
import { StateError } from "../contract/errors.js";
import type { SyntheticRun } from "../gates/synthetic.js";
import { mergeRuns, syntheticGate } from "../gates/synthetic-judge.js";
import { counted, type GateResult, observeOnly, worst } from "../gates/verdict.js";
import type { Analysis, Observation } from "./analysis.js";
import type { RolloutState } from "./state.js";
import type { Weights } from "./types.js";

/** Synthetic runs of the current step (the stored ones and this observation's), oldest first. */
export function stepRuns(s: RolloutState, obs: Observation | null): SyntheticRun[] {
  const all = mergeRuns(s.syntheticRuns ?? [], obs?.synthetic);
  const since = s.stepStartedAt ?? Number.POSITIVE_INFINITY;
  return all.filter((r) => r.when === "step" && r.at >= since);
}

/**
 * Adds the synthetic transactions' gates (while gray is judged on the way up) and marks the
 * observe-only gates; the verdict counts only the gates that judge.
 */
export function withChecks(
  s: RolloutState,
  obs: Observation | null,
  analysis: Analysis,
  subjectIsGray: boolean,
): Analysis {
  const specs = s.plan.synthetic ?? [];
  const onTheWayUp = subjectIsGray && s.phase !== "returning" && !s.stableRefreshed;
  const synthetic =
    onTheWayUp && specs.length > 0 ? specs.map((spec) => syntheticGate(spec, stepRuns(s, obs))) : [];
  if (synthetic.length === 0 && (s.plan.observe ?? []).length === 0) return analysis;
  const gates = observeOnly([...analysis.gates, ...synthetic], s.plan.observe);
  return { verdict: worst(counted(gates).map((g) => g.verdict)), gates };
}

/** State an observation's synthetic runs leave behind (bounded; idempotent). */
export function absorbSynthetic(s: RolloutState, obs: Observation): RolloutState {
  if (!obs.synthetic || obs.synthetic.length === 0) return s;
  const count = Math.max(s.syntheticCount ?? 0, ...obs.synthetic.map((r) => r.n));
  return { ...s, syntheticRuns: mergeRuns(s.syntheticRuns ?? [], obs.synthetic), syntheticCount: count };
}

/** The chosen-customers step: the weighted split stays stable 100 / gray 0, the pilot rule sends its requests to gray. */
export const PILOT_WEIGHTS: Weights = { stable: 100, gray: 0 };

export function pilotLabel(s: RolloutState): string {
  const match = s.plan.pilot?.match;
  return `chosen customers (${match ?? "the load balancer's pilot rule"})`;
}

/** The label of the step a rollout is at, for reasons: `step 25%` or `the chosen-customers step`. */
export function stepLabel(s: RolloutState): string {
  return s.stepIndex < 0 ? "the chosen-customers step" : `step ${s.plan.steps[s.stepIndex]}%`;
}

/**
 * Where a rollout paused by a failed hook goes once a person overrides it (`hook:<name>@<instance>`):
 * promotion, the chosen-customers step, or the index of the forward step the hook was guarding.
 */
export function hookOverrideTarget(s: RolloutState, gate: string): "promotion" | "pilot" | number {
  const at = gate.lastIndexOf("@");
  if (!gate.startsWith("hook:") || at < 0) throw new StateError(`${gate} is not a hook gate`);
  const instance = gate.slice(at + 1);
  if (instance === "promotion" || instance === "pilot") return instance;
  if (instance === "pre-traffic") return s.plan.pilot ? "pilot" : 0;
  const index = s.plan.steps.indexOf(Number(instance.replace(/^step:/, "")));
  if (index < 0) throw new StateError(`${gate} names no step of rollout ${s.id}`);
  return index;
}

/** Gates a decision's evidence counts (observe-only ones excluded), for rules that scan evidence. */
export const judging = (evidence: readonly GateResult[]): GateResult[] => counted(evidence);
