/**
 * The Outcome: the one result every front end returns — the CLI's `--json`, `status`, reports, the
 * Dagger functions. Versioned; consumers (CI definitions) branch on `.outcome`.
 *
 * Exit codes of the CLI (and the meaning of a failing `dagger call`):
 *   0 promoted (or restored by rollback-release) · 2 invalid input (nothing changed) · 3 rolled back (the release was judged bad)
 *   4 paused · 5 aborted by an operator · 6 refused (another rollout holds the lock)
 *   7 rollback failed (traffic may still reach gray: a person must act) · 1 any other failure
 * `status` reports the outcome of the rollout it reads (or `in-progress`) and exits 0 when it could
 * read it.
 */
import type { ErrorCode } from "./errors.js";

export const OUTCOME_SCHEMA_VERSION = 1 as const;

export const OUTCOMES = [
  "promoted",
  "rolled-back",
  "paused",
  "aborted",
  "refused",
  "rollback-failed",
  "failed",
  /** Only `status` reports it: a rollout another process is running right now. */
  "in-progress",
  /** rollback-release put the previous release back on the stable fleet. */
  "restored",
] as const;
export type OutcomeKind = (typeof OUTCOMES)[number];

export const PAUSE_REASONS = [
  "awaiting-approval",
  "inconclusive",
  "promotion-failed",
  "hook-failed",
] as const;
export type OutcomePauseReason = (typeof PAUSE_REASONS)[number];

export const ExitCode = {
  Promoted: 0,
  Failure: 1,
  InvalidInput: 2,
  RolledBack: 3,
  Paused: 4,
  Aborted: 5,
  Refused: 6,
  RollbackFailed: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface OutcomeGate {
  readonly gate: string;
  readonly verdict: "pass" | "inconclusive" | "fail";
  readonly reason: string;
  readonly values: Readonly<Record<string, number | string | null>>;
  /** An observe-only gate: judged and reported, never counted in the decision. */
  readonly observe?: boolean;
}

export interface OutcomeDecision {
  readonly at: string;
  readonly kind: string;
  readonly phase: string;
  readonly reason: string;
  readonly weights?: { readonly stable: number; readonly gray: number };
  /** A `scale` decision (the fleets following the load): which fleet, from and to what size. */
  readonly capacity?: { readonly pool: "stable" | "gray"; readonly from: number; readonly to: number };
  readonly evidence: readonly OutcomeGate[];
}

export interface OutcomeStep {
  /** `pilot`: the chosen-customers step before the percentage steps (weight 0). */
  readonly kind: "forward" | "return" | "pilot";
  /** Forward: gray's weight; return: stable's weight; pilot: 0. */
  readonly weight: number;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  readonly verdict: "pass" | "inconclusive" | "fail" | "pending" | "aborted";
}

export interface Outcome {
  readonly schemaVersion: typeof OUTCOME_SCHEMA_VERSION;
  readonly outcome: OutcomeKind;
  /** One sentence a person understands. */
  readonly reason: string;
  readonly exitCode: ExitCode;
  readonly pause: {
    readonly reason: OutcomePauseReason;
    readonly gate: string | null;
    readonly since: string;
    readonly detail: string;
  } | null;
  /** Set for refused and failed outcomes (and rollback-failed): what went wrong and what to do. */
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly field?: string;
    readonly fix?: string;
  } | null;
  readonly rolloutId: string | null;
  /** The target's name (`local`, `aws`). */
  readonly target: string;
  readonly scope: string | null;
  /** The phase the rollout is in (or ended in). */
  readonly phase: string | null;
  readonly release: {
    readonly image: string | null;
    readonly version: string | null;
    readonly previousVersion: string | null;
    readonly commit: string | null;
    readonly startedBy: string | null;
    readonly approvals: readonly {
      readonly gate: string;
      readonly by: string;
      readonly at: string;
      readonly reason?: string;
    }[];
  };
  /** Last verified weights. */
  readonly weights: { readonly stable: number; readonly gray: number } | null;
  readonly steps: readonly OutcomeStep[];
  /** Every decision that changed something, with its evidence, then the latest decision of any kind. */
  readonly decisions: readonly OutcomeDecision[];
  readonly lastDecision: OutcomeDecision | null;
  readonly warnings: readonly string[];
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  /** keep-previous: when the window in which stable keeps the previous version warm ends (ISO). */
  readonly keepPreviousUntil?: string;
  /** A promoted release: until when `rollback-release` can put the previous version back (ISO). */
  readonly rollbackReleaseUntil?: string;
  /** rollback-release: the release it rolls back (its rollout, image and version). */
  readonly restoreOf?: { readonly rolloutId: string; readonly image: string; readonly version: string };
}

/** The exit code of an outcome; `refused` distinguishes invalid input (2) from a held lock (6). */
export function exitCodeFor(outcome: OutcomeKind, errorCode?: ErrorCode | null): ExitCode {
  switch (outcome) {
    case "promoted":
    case "in-progress":
    case "restored":
      return ExitCode.Promoted;
    case "rolled-back":
      return ExitCode.RolledBack;
    case "paused":
      return ExitCode.Paused;
    case "aborted":
      return ExitCode.Aborted;
    case "refused":
      return errorCode === "LOCKED" ? ExitCode.Refused : ExitCode.InvalidInput;
    case "rollback-failed":
      return ExitCode.RollbackFailed;
    case "failed":
      return errorCode === "INVALID_INPUT" || errorCode === "PREFLIGHT_FAILED"
        ? ExitCode.InvalidInput
        : ExitCode.Failure;
  }
}

/** Outcomes a Dagger function returns as a value; every other outcome fails the call. */
export function isSuccessfulOutcome(outcome: OutcomeKind): boolean {
  return outcome === "promoted" || outcome === "paused" || outcome === "restored";
}
