/**
 * The decision: decide(state, observation, now) → what to do next, with the reason and the numbers.
 * Pure: no I/O, no clock, no randomness. The engine applies decisions; it never chooses weights.
 */
import { StateError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import { absorbReadings, errorLimitReached, evaluateGate, readingOf } from "../gates/evaluate.js";
import {
  type Analysis,
  analyse,
  failing,
  type GateResult,
  type Observation,
  summarise,
  worst,
} from "./analysis.js";
import {
  absorbSynthetic,
  hookOverrideTarget,
  judging,
  PILOT_WEIGHTS,
  pilotLabel,
  stepLabel,
  withChecks,
} from "./checks.js";
import type { Decision } from "./decision.js";
import { decideKeeping, keepDecision } from "./keep.js";
import { parityHold } from "./parity.js";
import { type HistoryPlan, historyCuts, type Stratum, strataFromSuffixes } from "./sequential.js";
import {
  forwardWeights,
  gateOfStep,
  isApproved,
  needsApproval,
  type RolloutState,
  returnWeights,
} from "./state.js";
import type { Pool, TimeWindow, WindowStats } from "./types.js";

export type { Decision } from "./decision.js";

/**
 * The windows an observation at `now` reads: both end `metricsDelay` ago, aligned down to the metric
 * period so that only complete periods are judged.
 */
export function observationWindows(
  plan: RolloutState["plan"],
  now: number,
): { rollback: TimeWindow; promotion: TimeWindow } {
  const period = plan.metricPeriodMs;
  const end = Math.floor((now - plan.metricsDelayMs) / period) * period;
  return {
    rollback: { start: end - plan.rollbackWindowMs, end },
    promotion: { start: end - plan.promotionWindowMs, end },
  };
}

/**
 * With a service signal, the window its load-balancer guard compares both signals over: the rollback
 * window's length, ending where both signals are complete (the later of their latenesses: the load
 * balancer's, as a rule), aligned down to the load balancer's period. Null without a service signal.
 */
export function guardWindow(plan: RolloutState["plan"], now: number): TimeWindow | null {
  const guard = plan.signal?.guard;
  if (guard === undefined) return null;
  const late = Math.max(guard.delayMs, plan.metricsDelayMs);
  const end = Math.floor((now - late) / guard.periodMs) * guard.periodMs;
  return { start: end - plan.rollbackWindowMs, end };
}

/**
 * When to look next: at the latest moment new metric data lands (windows move every period, the
 * metrics delay after each period ends) that is no later than one interval from now; when none
 * lands that soon, one interval from now (target health and alarms are still watched that often).
 * Looking exactly when data lands, not up to an interval after, is free time against a bad release.
 */
export function nextLookAt(plan: RolloutState["plan"], now: number): number {
  const period = plan.metricPeriodMs;
  const landed =
    Math.floor((now + plan.intervalMs - plan.metricsDelayMs) / period) * period + plan.metricsDelayMs;
  return landed > now ? landed : now + plan.intervalMs;
}

/** How the sequential test cuts gray's history, from the plan. */
export function historyPlan(plan: RolloutState["plan"]): HistoryPlan {
  const period = plan.metricPeriodMs;
  return {
    periodMs: period,
    gridMs: Math.max(period, Math.ceil(plan.rollbackWindowMs / 5 / period) * period),
    lookbackMs: 2 * plan.rollbackWindowMs,
    horizonMs: plan.steps.length * plan.bakeMs + (plan.maxBakeMs - plan.bakeMs),
  };
}

function forwardStepStarts(s: RolloutState): number[] {
  return s.steps.filter((r) => r.kind === "forward").map((r) => r.startedAt);
}

/**
 * The extra windows an observation reads for the sequential test while gray is under judgement on
 * the way up: all end where the rollback window ends, each starts at a cut (historyCuts), oldest
 * first. Empty when the test is off or there is no history.
 */
export function historyWindows(s: RolloutState, now: number): TimeWindow[] {
  if (s.phase !== "shifting" || s.plan.thresholds.sequentialAlpha <= 0) return [];
  const end = observationWindows(s.plan, now).rollback.end;
  return historyCuts(historyPlan(s.plan), forwardStepStarts(s), end).map((c) => ({ start: c.start, end }));
}

/** The sequential test's strata from an observation's history windows (null when they do not fit). */
export function historyStrata(s: RolloutState, obs: Observation): Stratum[] | null {
  const h = obs.history;
  if (!h || h.length === 0) return null;
  const end = h[0]!.end;
  const cuts = historyCuts(historyPlan(s.plan), forwardStepStarts(s), end);
  if (cuts.length !== h.length || cuts.some((c, i) => c.start !== h[i]!.start || h[i]!.end !== end))
    return null;
  return strataFromSuffixes(
    h.map((w) => ({
      start: w.start,
      end: w.end,
      requests: w.gray.requests,
      errors: w.gray.errors,
      refRequests: w.stable.requests,
      refErrors: w.stable.errors,
    })),
    cuts,
  );
}

/**
 * The history window that covers the current step only (its first complete period on), when the
 * step began inside the rollback window; null when the rollback window lies within the step.
 */
export function currentStepWindow(s: RolloutState, obs: Observation): WindowStats | null {
  const h = obs.history;
  const rb = obs.rollback;
  if (!h || h.length === 0 || rb === null || s.stepStartedAt === null) return null;
  const inStep = h.find((w) => w.start >= s.stepStartedAt!);
  return inStep !== undefined && inStep.start > rb.start ? inStep : null;
}

/** The pool under judgement in the current phase. */
export function subjectOf(s: RolloutState): Pool {
  return s.phase === "returning" || (s.phase === "paused" && s.stableRefreshed) ? "stable" : "gray";
}

/** Runs the analysis of the current step for an observation. */
export function analyseStep(s: RolloutState, obs: Observation): Analysis {
  const subject = subjectOf(s);
  const other: Pool = subject === "gray" ? "stable" : "gray";
  // Return steps re-check instances of a release that already passed: they are judged over the
  // rollback window (their bake is sized for it), not the longer promotion window.
  const observation = subject === "stable" ? { ...obs, promotion: obs.rollback } : obs;
  // Gray short of per-instance parity by its MaxSize: its relative latency holds the step (parity.ts).
  const judged = analyse({
    subject,
    observation,
    baseline: s.baseline?.pool === other ? s.baseline.stats : null,
    lbErrorBaselineRate: s.lbErrorBaselineRate,
    history: subject === "gray" ? historyStrata(s, obs) : null,
    comparison: subject === "gray" ? currentStepWindow(s, obs) : (obs.returnStep ?? null),
    referenceWeight: s.weights[other],
    guarded: s.plan.signal !== undefined,
    thresholds: s.plan.thresholds,
  });
  const analysis = parityHold(judged, subject === "gray" ? s.follow?.parity : null);
  const declared = s.plan.gates ?? [];
  if (declared.length === 0) return withChecks(s, obs, analysis, subject === "gray");
  // Business-metric gates (src/gates), judged like the built-in ones and listed after them.
  const business = declared.map((g) =>
    evaluateGate(g, readingOf(g, observation, obs.errors), {
      subject,
      referenceIdle: s.weights[other] === 0,
      baselines: s.gateBaselines ?? {},
      errors: s.gateErrors ?? {},
      significance: s.plan.thresholds.relativeSignificance,
    }),
  );
  const gates = [...analysis.gates, ...business];
  return withChecks(s, obs, { verdict: worst(gates.map((g) => g.verdict)), gates }, subject === "gray");
}

/**
 * State updates an observation implies, independent of the decision: the reference pool's baseline
 * (kept while it has traffic, for when it has none) and the load balancer's own error rate before
 * gray gets any traffic.
 */
export function absorbObservation(s: RolloutState, obs: Observation): RolloutState {
  let next = s;
  const rb = obs.rollback;
  if (rb !== null) {
    const other: Pool = subjectOf(s) === "gray" ? "stable" : "gray";
    // Only while the weights send the reference traffic: at 100% its windows thin out to the last
    // few periods before the switch, whose percentiles are those of a handful of requests.
    if (
      rb[other].requests > 0 &&
      s.weights[other] > 0 &&
      (s.phase === "shifting" || s.phase === "returning")
    ) {
      next = { ...next, baseline: { pool: other, stats: rb[other], at: obs.at } };
    }
  }
  // The load balancer's own 5xx rate before gray gets traffic: from its metrics, which are the
  // guard's beside a service signal (the service cannot see them). (Not during the chosen-customers
  // step: its gray traffic comes through another rule.)
  const lb = obs.guard?.alb ?? rb;
  if (lb && s.weights.gray === 0 && !s.pilot && s.phase !== "returning" && lb.lbErrors !== null) {
    const total = lb.stable.requests + lb.gray.requests;
    if (total > 0) next = { ...next, lbErrorBaselineRate: lb.lbErrors / total };
  }
  const declared = s.plan.gates ?? [];
  if (declared.length > 0) {
    // Each pool's business values are kept while the weights send it traffic, for when it has none.
    const judged = s.phase === "shifting" || s.phase === "returning";
    const serving = (["stable", "gray"] as const).filter((p) => judged && s.weights[p] > 0);
    const absorbed = absorbReadings(declared, (g) => readingOf(g, obs, obs.errors), serving, obs.at, {
      errors: s.gateErrors ?? {},
      baselines: s.gateBaselines ?? {},
    });
    next = { ...next, gateErrors: absorbed.errors, gateBaselines: absorbed.baselines };
  }
  return absorbSynthetic(next, obs);
}

export function decide(s: RolloutState, obs: Observation | null, now: number): Decision {
  const plan = s.plan;
  const wait = (reason: string, evidence: readonly GateResult[] = []): Decision => ({
    kind: "wait",
    until: nextLookAt(plan, now),
    reason,
    evidence,
  });

  if (s.abortRequested !== null) {
    return {
      kind: "rollback",
      reason: `aborted by ${s.abortRequested.by}: ${s.abortRequested.reason}`,
      evidence: [],
    };
  }

  switch (s.phase) {
    case "scaling":
    case "smoke":
      return s.plan.pilot
        ? enterPilot(s, "gray is healthy")
        : enterForward(s, 0, "gray is healthy; first step");
    case "paused":
      return decidePaused(s, obs);
    case "keeping":
      return decideKeeping(s, obs === null ? null : analyseStep(s, obs), now, nextLookAt(plan, now));
    case "shifting":
    case "returning":
      break;
    default:
      throw new StateError(`decide() has nothing to decide in phase ${s.phase}`);
  }

  if (s.phase === "returning" && s.stepIndex < 0) {
    return {
      kind: "set-weights",
      phase: "returning",
      stepIndex: 0,
      weights: returnWeights(plan, 0),
      reason: `stable refreshed onto the new version: stable back to ${plan.returnSteps[0]}%`,
      evidence: [],
    };
  }
  if (s.stepStartedAt === null) throw new StateError(`rollout ${s.id} is ${s.phase} without a step start`);
  if (obs === null) return wait("waiting for the first observation of this step");

  const forward = s.phase === "shifting";
  const analysis = analyseStep(s, obs);
  const evidence = analysis.gates;

  if (analysis.verdict === "fail") {
    const why = failing(analysis)
      .map((g) => g.reason)
      .join("; ");
    if (forward) return { kind: "rollback", reason: why, evidence };
    // Refreshed stable instances misbehave: gray (which passed analysis) takes the traffic back.
    return {
      kind: "pause",
      pauseReason: "promotion-failed",
      weights: { stable: 0, gray: 100 },
      reason: `refreshed stable instances failed analysis: ${why}`,
      evidence,
    };
  }

  const lastForward = plan.steps.length - 1;
  if (forward && s.skipToFull && s.stepIndex < lastForward) {
    return {
      kind: "set-weights",
      phase: "shifting",
      stepIndex: lastForward,
      weights: forwardWeights(plan, lastForward),
      reason: "promote --full: skipping the remaining steps to 100%",
      evidence,
    };
  }

  const bake = forward ? plan.bakeMs : plan.returnBakeMs;
  const elapsed = now - s.stepStartedAt;
  if (elapsed < bake) {
    return wait(
      `baking ${formatDuration(elapsed)} of ${formatDuration(bake)}; ${summarise(analysis)}`,
      evidence,
    );
  }
  const judged = forward ? obs.promotion : obs.rollback;
  // Metrics that could not be read at all leave the analysis inconclusive (its `metrics` gate), which
  // is extended and then paused or rolled back below like any inconclusive step. Waiting here for a
  // window instead waited forever while the CloudWatch API failed, gray keeping its traffic unjudged.
  if (judged !== null && judged.start < s.stepStartedAt) {
    return wait("waiting for a metrics window that lies entirely inside this step", evidence);
  }

  if (analysis.verdict === "pass") {
    if (forward) {
      if (s.stepIndex < lastForward) {
        return enterForward(s, s.stepIndex + 1, `${stepLabel(s)} passed`, evidence);
      }
      const keep = keepDecision(s, now, evidence);
      if (keep !== null) return keep;
      if (needsApproval(s, "promotion")) {
        return {
          kind: "await-approval",
          gate: "promotion",
          reason: "100% passed; promotion needs approval",
          evidence,
        };
      }
      return {
        kind: "promote",
        reason: "100% step passed: promoting the release to the stable fleet",
        evidence,
      };
    }
    if (s.stepIndex < plan.returnSteps.length - 1) {
      const next = s.stepIndex + 1;
      return {
        kind: "set-weights",
        phase: "returning",
        stepIndex: next,
        weights: returnWeights(plan, next),
        reason: `return step ${plan.returnSteps[s.stepIndex]}% passed`,
        evidence,
      };
    }
    return { kind: "done", reason: "stable serves 100% on the new version", evidence };
  }

  const limit = forward ? plan.maxBakeMs : Math.max(plan.maxBakeMs, plan.returnBakeMs);
  // A business-metric source down for its gate's error limit will not judge the step by waiting.
  if (elapsed < limit && errorLimitReached(judging(evidence)) === undefined) {
    return wait(
      `inconclusive, extending the bake (${formatDuration(elapsed)} of at most ${formatDuration(limit)}): ${summarise(analysis)}`,
      evidence,
    );
  }
  const why = `still inconclusive after ${formatDuration(elapsed)}: ${summarise(analysis)}`;
  if (forward && plan.onInconclusive === "rollback") return { kind: "rollback", reason: why, evidence };
  return { kind: "pause", pauseReason: "inconclusive", reason: why, evidence };
}

/** The chosen-customers step: the pilot rule on, the weighted split unchanged (stable 100 / gray 0). */
function enterPilot(s: RolloutState, why: string, evidence: readonly GateResult[] = []): Decision {
  const reason = `${why}: first step, ${pilotLabel(s)} to gray`;
  return {
    kind: "set-weights",
    phase: "shifting",
    stepIndex: -1,
    weights: PILOT_WEIGHTS,
    pilot: true,
    reason,
    evidence,
  };
}

function enterForward(
  s: RolloutState,
  index: number,
  why: string,
  evidence: readonly GateResult[] = [],
): Decision {
  const weights = forwardWeights(s.plan, index);
  const gate = gateOfStep(weights.gray);
  if (needsApproval(s, gate)) {
    return { kind: "await-approval", gate, reason: `${why}; ${weights.gray}% needs approval`, evidence };
  }
  return {
    kind: "set-weights",
    phase: "shifting",
    stepIndex: index,
    weights,
    reason: `${why}: gray to ${weights.gray}%`,
    evidence,
  };
}

/** A paused rollout continues only when a person approved it (`promote`); otherwise it stays paused. */
function decidePaused(s: RolloutState, obs: Observation | null): Decision {
  const pause = s.pause;
  if (pause === null) throw new StateError(`rollout ${s.id} is paused without a reason`);
  const gate = pauseGate(s);
  if (!isApproved(s, gate)) {
    if (pause.reason === "awaiting-approval") {
      return { kind: "await-approval", gate, reason: pause.detail, evidence: [] };
    }
    return { kind: "pause", pauseReason: pause.reason, reason: pause.detail, evidence: [] };
  }
  const evidence = obs ? analyseStep(s, obs).gates : [];
  if (pause.reason === "hook-failed") {
    // A person overrode the failed hook: go where it was guarding (the engine skips the hook there).
    const by = `${approver(s, gate)} overrode ${gate.replace(/@.*/, "")}`;
    const to = hookOverrideTarget(s, gate);
    if (to === "promotion") return { kind: "promote", reason: `${by}: promoting`, evidence };
    return to === "pilot" ? enterPilot(s, by, evidence) : enterForward(s, to, by, evidence);
  }
  if (pause.reason === "promotion-failed") {
    return { kind: "promote", reason: "operator retries the promotion", evidence };
  }
  if (s.skipToFull && s.stepIndex < s.plan.steps.length - 1) {
    const last = s.plan.steps.length - 1;
    return {
      kind: "set-weights",
      phase: "shifting",
      stepIndex: last,
      weights: forwardWeights(s.plan, last),
      reason: "promote --full: skipping the remaining steps to 100%",
      evidence,
    };
  }
  if (gate === "promotion" || (pause.reason === "inconclusive" && s.stepIndex === s.plan.steps.length - 1)) {
    return { kind: "promote", reason: `approved by ${approver(s, gate)}: promoting`, evidence };
  }
  if (s.stableRefreshed) {
    // Paused (inconclusive) on the way back: continue with the next return step, or finish.
    if (s.stepIndex < s.plan.returnSteps.length - 1) {
      const next = s.stepIndex + 1;
      return {
        kind: "set-weights",
        phase: "returning",
        stepIndex: next,
        weights: returnWeights(s.plan, next),
        reason: `approved by ${approver(s, gate)}`,
        evidence,
      };
    }
    return { kind: "done", reason: `approved by ${approver(s, gate)}`, evidence };
  }
  if (pause.reason === "awaiting-approval") {
    const next = indexOfGate(s, gate);
    const weights = forwardWeights(s.plan, next);
    return {
      kind: "set-weights",
      phase: "shifting",
      stepIndex: next,
      weights,
      reason: `approved by ${approver(s, gate)}: gray to ${weights.gray}%`,
      evidence,
    };
  }
  // An inconclusive step that an operator accepted: on to the next step, whose own gate still applies.
  return enterForward(s, s.stepIndex + 1, `approved by ${approver(s, gate)}`, evidence);
}

/**
 * The approval that releases the current pause: its own gate when waiting for approval, otherwise a
 * per-pause override gate, so an approval given for one pause never releases a later one.
 */
export function pauseGate(s: RolloutState): string {
  const pause = s.pause;
  if (pause === null) throw new StateError(`rollout ${s.id} is not paused`);
  if ((pause.reason === "awaiting-approval" || pause.reason === "hook-failed") && pause.gate !== undefined)
    return pause.gate;
  return `${pause.reason}@${pause.since}`;
}

function indexOfGate(s: RolloutState, gate: string): number {
  const weight = Number(gate.replace(/^step:/, ""));
  const i = s.plan.steps.indexOf(weight);
  if (i < 0) throw new StateError(`gate ${gate} is not a step of rollout ${s.id}`);
  return i;
}

function approver(s: RolloutState, gate: string): string {
  return s.release.approvals.find((a) => a.gate === gate)?.by ?? "an operator";
}
