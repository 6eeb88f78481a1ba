/**
 * The rollout state machine. A rollout's whole state is this plain, JSON-serialisable object: the
 * engine writes it to the store before and after every change in the world, so another process
 * (`status`, `promote`, `abort`, or a rerun after a crash) can pick it up exactly where it stands.
 */

import { StateError } from "../contract/errors.js";
import type { TargetName as Target } from "../contract/options/def.js";
import type { RecordedBaseline } from "../gates/evaluate.js";
import type { SyntheticRun } from "../gates/synthetic.js";
import type { GateResult, Verdict } from "./analysis.js";
import type { HookWait } from "./hooks.js";
import type { Policy } from "./policy.js";
import type { CapacityChange, FollowState, Pool, VersionStats, Weights } from "./types.js";

export const STATE_SCHEMA_VERSION = 1;

export const PHASES = [
  "preflight",
  "preparing",
  "scaling",
  "smoke",
  "shifting",
  "paused",
  /** keep-previous: 100% passed, stable still runs the previous version at full capacity (0%). */
  "keeping",
  "promoting",
  "returning",
  "finishing",
  "rolling-back",
  "promoted",
  "rolled-back",
  "aborted",
  "rollback-failed",
  "failed",
  /** rollback-release ended: stable runs the previous release again. */
  "restored",
] as const;
export type Phase = (typeof PHASES)[number];

export const TERMINAL_PHASES: readonly Phase[] = ["promoted", "rolled-back", "aborted", "failed", "restored"];

/** `rollback-failed` is not terminal: the rollout still holds the lock until a person (abort) finishes it. */
export function isTerminal(phase: Phase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

/** Allowed transitions. Anything else is a bug and throws. */
const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  preflight: ["preparing", "rolling-back", "failed", "aborted"],
  preparing: ["scaling", "rolling-back", "failed"],
  // rollback-release (kind restore): scaling → smoke → promoting (traffic moved in one write, stable
  // refreshed back) → finishing → restored.
  scaling: ["smoke", "shifting", "paused", "promoting", "rolling-back"],
  smoke: ["shifting", "paused", "promoting", "rolling-back"],
  shifting: ["shifting", "paused", "keeping", "promoting", "rolling-back"],
  paused: ["shifting", "promoting", "returning", "finishing", "rolling-back"],
  keeping: ["paused", "promoting", "rolling-back"],
  promoting: ["returning", "finishing", "paused", "rolling-back"],
  returning: ["returning", "finishing", "paused", "rolling-back"],
  finishing: ["promoted", "restored", "rolling-back"],
  "rolling-back": ["rolled-back", "aborted", "failed", "rollback-failed"],
  "rollback-failed": ["rolling-back"],
  promoted: [],
  "rolled-back": [],
  aborted: [],
  failed: [],
  restored: [],
};

export function canTransition(from: Phase, to: Phase): boolean {
  return TRANSITIONS[from].includes(to);
}

/** `hook-failed`: a gating hook with `onFailure: pause` failed; `promote` overrides it. */
export type PauseReason = "awaiting-approval" | "inconclusive" | "promotion-failed" | "hook-failed";

export interface PauseInfo {
  readonly reason: PauseReason;
  /** For awaiting-approval: the gate (`step:50` or `promotion`); for hook-failed: `hook:<name>@<stage>`. */
  readonly gate?: string;
  readonly since: number;
  readonly detail: string;
}

export interface Approval {
  readonly gate: string;
  readonly by: string;
  readonly at: number;
  readonly reason?: string;
}

export interface StepRecord {
  /** `pilot`: the chosen-customers step (gray serves only requests matching the pilot rule). */
  readonly kind: "forward" | "return" | "pilot";
  /** Forward: gray's weight; return: stable's weight; pilot: 0 (the weighted split is unchanged). */
  readonly weight: number;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly verdict: Verdict | "pending" | "aborted";
}

export type DecisionKind =
  | "set-weights"
  | "wait"
  | "await-approval"
  | "pause"
  | "promote"
  | "rollback"
  | "done"
  /** keep-previous: the 100% step passed; the previous version stays warm until the window ends. */
  | "keep"
  /** A fleet's size changed to follow the load (core/capacity.ts). */
  | "scale";

export interface DecisionRecord {
  readonly at: number;
  readonly kind: DecisionKind;
  readonly phase: Phase;
  readonly reason: string;
  readonly weights?: Weights;
  /** For `scale`: which fleet, from and to what size. */
  readonly capacity?: Omit<CapacityChange, "reason">;
  readonly evidence: readonly GateResult[];
}

/** Why a rollback runs; decides its end state (rolled-back, aborted or failed). */
export type RollbackCause = "analysis" | "abort" | "error" | "guard";

export interface ReleaseInfo {
  readonly image: string;
  readonly ami: string | null;
  readonly commit: string | null;
  readonly startedBy: string;
  /** The version gray runs (launch template version or local label), once prepared. */
  readonly version: string | null;
  /** The version stable ran when the rollout began. */
  readonly previousVersion: string | null;
  readonly approvals: readonly Approval[];
}

/** What a `rollback-release` restores: the promoted rollout it undoes (kind `restore`). */
export interface RestoreOf {
  readonly rolloutId: string;
  /** The release being rolled back (image and launch template version). */
  readonly image: string;
  readonly version: string;
  /** When that release was promoted, and until when rollback-release may run. */
  readonly promotedAt: number;
  readonly until: number;
}

export interface RolloutState {
  readonly schemaVersion: typeof STATE_SCHEMA_VERSION;
  readonly id: string;
  /**
   * `release` (deploy-gray, the default when absent) or `restore` (rollback-release: `release` is
   * the previous version being put back, `release.previousVersion` the one being rolled back).
   */
  readonly kind?: "release" | "restore";
  readonly restoreOf?: RestoreOf;
  /** The lock key: the ALB rule (or listener), or `local`. */
  readonly scope: string;
  readonly target: Target;
  readonly release: ReleaseInfo;
  readonly plan: Policy;
  readonly phase: Phase;
  /** Index into plan.steps (shifting) or plan.returnSteps (returning); -1 before the first. */
  readonly stepIndex: number;
  /** Last verified weights. */
  readonly weights: Weights;
  /** When the current step's weights were verified. */
  readonly stepStartedAt: number | null;
  readonly stableCapacity: number | null;
  readonly grayCapacity: number;
  /** Gray following the load: what the core remembers between evaluations (core/capacity.ts). */
  readonly follow?: FollowState;
  /** keep-previous: when the window ends (epoch ms), once the rollout is in it. */
  readonly keepUntil?: number | null;
  /** Whether promotion changed the stable fleet (so a rollback must revert it). */
  readonly stableRefreshed: boolean;
  /**
   * The reference pool's statistics at the last observation where it had traffic: the relative gates
   * use it when that pool has none (gray at 100%, or stable back at 100%).
   */
  readonly baseline: { readonly pool: Pool; readonly stats: VersionStats; readonly at: number } | null;
  /** The same for each business-metric gate (by gate name); absent without gates. */
  readonly gateBaselines?: Readonly<Record<string, RecordedBaseline>>;
  /** Measurement errors in a row of each business-metric gate (by gate name); absent without gates. */
  readonly gateErrors?: Readonly<Record<string, number>>;
  readonly lbErrorBaselineRate: number | null;
  /** Whether the chosen-customers rule sends its requests to gray (last verified); absent: off. */
  readonly pilot?: boolean;
  /** Recent synthetic runs (a bounded few per transaction); absent without synthetic transactions. */
  readonly syntheticRuns?: readonly SyntheticRun[];
  /** Synthetic runs made so far (each run's `{n}`). */
  readonly syntheticCount?: number;
  /** Gating hooks answering "not yet", by approval gate (`hook:<name>@<stage>`). */
  readonly hookWaits?: Readonly<Record<string, HookWait>>;
  readonly drainDelayMs: number;
  readonly stickinessSeconds: number | null;
  readonly pause: PauseInfo | null;
  readonly steps: readonly StepRecord[];
  /** Decisions that changed something, with their evidence. */
  readonly decisions: readonly DecisionRecord[];
  /** The most recent decision of any kind (for `status`). */
  readonly lastDecision: DecisionRecord | null;
  /** Set by `promote --full`: skip the remaining forward steps. */
  readonly skipToFull: boolean;
  /** Set when an operator or the guard asks for a rollback while another process runs the rollout. */
  readonly abortRequested: { readonly by: string; readonly at: number; readonly reason: string } | null;
  readonly rollbackCause: RollbackCause | null;
  readonly rollbackReason: string | null;
  readonly outcomeReason: string | null;
  readonly warnings: readonly string[];
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly endedAt: number | null;
}

export interface NewRollout {
  readonly id: string;
  readonly scope: string;
  readonly target: Target;
  readonly image: string;
  readonly ami?: string | null | undefined;
  readonly commit: string | null;
  readonly startedBy: string;
  readonly plan: Policy;
  readonly now: number;
}

export function newRollout(n: NewRollout): RolloutState {
  return {
    schemaVersion: STATE_SCHEMA_VERSION,
    id: n.id,
    scope: n.scope,
    target: n.target,
    release: {
      image: n.image,
      ami: n.ami ?? null,
      commit: n.commit,
      startedBy: n.startedBy,
      version: null,
      previousVersion: null,
      approvals: [],
    },
    plan: n.plan,
    phase: "preflight",
    stepIndex: -1,
    weights: { stable: 100, gray: 0 },
    stepStartedAt: null,
    stableCapacity: null,
    grayCapacity: 0,
    stableRefreshed: false,
    baseline: null,
    lbErrorBaselineRate: null,
    drainDelayMs: 0,
    stickinessSeconds: null,
    pause: null,
    steps: [],
    decisions: [],
    lastDecision: null,
    skipToFull: false,
    abortRequested: null,
    rollbackCause: null,
    rollbackReason: null,
    outcomeReason: null,
    warnings: [],
    startedAt: n.now,
    updatedAt: n.now,
    endedAt: null,
  };
}

/** Moves to another phase; throws StateError on a forbidden transition. */
export function transition(
  s: RolloutState,
  to: Phase,
  now: number,
  patch: Partial<RolloutState> = {},
): RolloutState {
  if (!canTransition(s.phase, to)) {
    throw new StateError(`rollout ${s.id} cannot go from ${s.phase} to ${to}`);
  }
  return {
    ...s,
    ...patch,
    phase: to,
    pause: to === "paused" ? (patch.pause ?? s.pause) : null,
    updatedAt: now,
    endedAt: isTerminal(to) ? now : s.endedAt,
  };
}

/** Gray's weight of the forward step at `index`. */
export function forwardWeights(plan: Policy, index: number): Weights {
  const gray = plan.steps[index];
  if (gray === undefined) throw new StateError(`no forward step ${index}`);
  return { stable: 100 - gray, gray };
}

/** Weights of the return step at `index` (stable's weight given by the plan). */
export function returnWeights(plan: Policy, index: number): Weights {
  const stable = plan.returnSteps[index];
  if (stable === undefined) throw new StateError(`no return step ${index}`);
  return { stable, gray: 100 - stable };
}

export function gateOfStep(weight: number): string {
  return `step:${weight}`;
}

export function isApproved(s: RolloutState, gate: string): boolean {
  return s.release.approvals.some((a) => a.gate === gate);
}

export function needsApproval(s: RolloutState, gate: string): boolean {
  return s.plan.approvals.includes(gate) && !isApproved(s, gate);
}

/** Closes the current step record with a verdict. */
export function endStep(s: RolloutState, verdict: StepRecord["verdict"], now: number): RolloutState {
  const last = s.steps[s.steps.length - 1];
  if (last === undefined || last.endedAt !== null) return s;
  return { ...s, steps: [...s.steps.slice(0, -1), { ...last, endedAt: now, verdict }] };
}

/** Records a decision; `wait` decisions only update lastDecision, so the stored log stays small. */
export function recordDecision(s: RolloutState, d: DecisionRecord): RolloutState {
  if (d.kind === "wait") return { ...s, lastDecision: d };
  return { ...s, lastDecision: d, decisions: [...s.decisions, d] };
}

export function addWarning(s: RolloutState, warning: string): RolloutState {
  return { ...s, warnings: [...s.warnings, warning] };
}
