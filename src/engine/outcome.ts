/** Builds the contract's Outcome from a rollout state, or from an error before any rollout existed. */
import { type GrayDeployError, isRefusal, toGrayDeployError } from "../contract/errors.js";
import type { TargetName as Target } from "../contract/options/def.js";
import {
  exitCodeFor,
  OUTCOME_SCHEMA_VERSION,
  type Outcome,
  type OutcomeDecision,
  type OutcomeKind,
} from "../contract/outcome.js";
import { DEFAULT_ROLLBACK_RELEASE_WINDOW_MS } from "../core/policy.js";
import type { DecisionRecord, Phase, RolloutState } from "../core/state.js";

const iso = (t: number | null | undefined): string | null =>
  t === null || t === undefined ? null : new Date(t).toISOString();

/** The outcome a rollout in this phase reports. Non-terminal phases report as paused or failed. */
export function outcomeKindOf(phase: Phase): OutcomeKind {
  switch (phase) {
    case "promoted":
      return "promoted";
    case "rolled-back":
      return "rolled-back";
    case "aborted":
      return "aborted";
    case "rollback-failed":
      return "rollback-failed";
    case "paused":
      return "paused";
    case "restored":
      return "restored";
    default:
      return "failed";
  }
}

export function decisionToOutcome(d: DecisionRecord): OutcomeDecision {
  return {
    at: iso(d.at) ?? "",
    kind: d.kind,
    phase: d.phase,
    reason: d.reason,
    ...(d.weights ? { weights: { ...d.weights } } : {}),
    ...(d.capacity ? { capacity: { ...d.capacity } } : {}),
    evidence: d.evidence.map((g) => ({
      gate: g.gate,
      verdict: g.verdict,
      reason: g.reason,
      values: { ...g.values },
      ...(g.observe ? { observe: true } : {}),
    })),
  };
}

export function outcomeFromState(
  s: RolloutState,
  extra: { outcome?: OutcomeKind; reason?: string; error?: GrayDeployError | null } = {},
): Outcome {
  const kind = extra.outcome ?? outcomeKindOf(s.phase);
  const error = extra.error ?? null;
  const reason =
    extra.reason ??
    s.outcomeReason ??
    (s.pause ? s.pause.detail : null) ??
    s.rollbackReason ??
    s.lastDecision?.reason ??
    s.phase;
  return {
    schemaVersion: OUTCOME_SCHEMA_VERSION,
    outcome: kind,
    reason,
    exitCode: exitCodeFor(kind, error?.code),
    pause:
      kind === "paused" && s.pause
        ? {
            reason: s.pause.reason,
            gate: s.pause.gate ?? null,
            since: iso(s.pause.since) ?? "",
            detail: s.pause.detail,
          }
        : null,
    error: error ? error.toJSON() : null,
    rolloutId: s.id,
    target: s.target,
    scope: s.scope,
    phase: s.phase,
    release: {
      image: s.release.image,
      version: s.release.version,
      previousVersion: s.release.previousVersion,
      commit: s.release.commit,
      startedBy: s.release.startedBy,
      approvals: s.release.approvals.map((a) => ({
        gate: a.gate,
        by: a.by,
        at: iso(a.at) ?? "",
        ...(a.reason ? { reason: a.reason } : {}),
      })),
    },
    weights: { ...s.weights },
    steps: s.steps.map((st) => ({
      kind: st.kind,
      weight: st.weight,
      startedAt: iso(st.startedAt) ?? "",
      endedAt: iso(st.endedAt),
      durationMs: st.endedAt === null ? null : st.endedAt - st.startedAt,
      verdict: st.verdict,
    })),
    decisions: s.decisions.map(decisionToOutcome),
    lastDecision: s.lastDecision ? decisionToOutcome(s.lastDecision) : null,
    warnings: [...s.warnings],
    startedAt: iso(s.startedAt),
    endedAt: iso(s.endedAt),
    durationMs: s.endedAt === null ? null : s.endedAt - s.startedAt,
    ...wayBack(s),
  };
}

/** The way back a rollout offers now: its keep-previous window, or rollback-release's. */
function wayBack(s: RolloutState): Pick<Outcome, "keepPreviousUntil" | "rollbackReleaseUntil" | "restoreOf"> {
  const out: { keepPreviousUntil?: string; rollbackReleaseUntil?: string; restoreOf?: Outcome["restoreOf"] } =
    {};
  if (s.keepUntil !== undefined && s.keepUntil !== null && (s.phase === "keeping" || s.phase === "paused")) {
    out.keepPreviousUntil = iso(s.keepUntil) ?? "";
  }
  if (s.phase === "promoted" && s.kind !== "restore" && s.release.previousVersion !== null && s.endedAt) {
    const window = s.plan.rollbackReleaseWindowMs ?? DEFAULT_ROLLBACK_RELEASE_WINDOW_MS;
    out.rollbackReleaseUntil = iso(s.endedAt + window) ?? "";
  }
  if (s.restoreOf !== undefined) {
    out.restoreOf = {
      rolloutId: s.restoreOf.rolloutId,
      image: s.restoreOf.image,
      version: s.restoreOf.version,
    };
  }
  return out;
}

/** The outcome of a run that never became a rollout: invalid input, preflight mismatch, held lock. */
export function refusedOutcome(
  error: GrayDeployError,
  ctx: { target: Target; scope?: string | null; image?: string | null; kind?: OutcomeKind },
): Outcome {
  const kind = ctx.kind ?? "refused";
  return {
    schemaVersion: OUTCOME_SCHEMA_VERSION,
    outcome: kind,
    reason: error.fix ? `${error.message} — ${error.fix}` : error.message,
    exitCode: exitCodeFor(kind, error.code),
    pause: null,
    error: error.toJSON(),
    rolloutId: null,
    target: ctx.target,
    scope: ctx.scope ?? null,
    phase: null,
    release: {
      image: ctx.image ?? null,
      version: null,
      previousVersion: null,
      commit: null,
      startedBy: null,
      approvals: [],
    },
    weights: null,
    steps: [],
    decisions: [],
    lastDecision: null,
    warnings: [],
    startedAt: null,
    endedAt: null,
    durationMs: null,
  };
}

/**
 * The outcome of anything thrown before (or instead of) a rollout's own Outcome: `refused` when the
 * error's code is a refusal (contract/errors.ts DISPOSITION), else `failed`. The one rule every verb
 * and every front end settles errors with.
 */
export function errorOutcome(
  e: unknown,
  where: { target: Target; scope?: string | null; image?: string | null },
): Outcome {
  const err = toGrayDeployError(e);
  return refusedOutcome(err, { ...where, kind: isRefusal(err) ? "refused" : "failed" });
}
