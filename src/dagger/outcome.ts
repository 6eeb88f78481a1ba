/**
 * How a Dagger function answers: the Outcome as JSON when the rollout is promoted or paused, and a
 * failed call for every other outcome, its message carrying the outcome and the reason, so that
 * `dagger call` exits non-zero and CI never mistakes a rollback for a release.
 */
import { isSuccessfulOutcome, type Outcome, type OutcomeKind } from "../contract/outcome.js";
import { errorOutcome } from "../engine/outcome.js";

/** A rollout (or a request about one) ended in an outcome that must fail the call. */
export class RolloutOutcomeError extends Error {
  readonly outcome: Outcome;
  /** The outcome's kind: assert on this, not on the message. */
  readonly kind: OutcomeKind;
  readonly exitCode: number;

  constructor(outcome: Outcome) {
    super(outcomeMessage(outcome));
    this.name = "RolloutOutcomeError";
    this.outcome = outcome;
    this.kind = outcome.outcome;
    this.exitCode = outcome.exitCode;
  }
}

/** `rolled-back (exit 3): <reason> [rollout …] [fix: …]` — one line a CI log shows as the error. */
export function outcomeMessage(o: Outcome): string {
  const parts = [`${o.outcome} (exit ${o.exitCode}): ${o.reason}`];
  if (o.rolloutId) parts.push(`[rollout ${o.rolloutId}${o.phase ? `, phase ${o.phase}` : ""}]`);
  if (o.error?.fix && !o.reason.includes(o.error.fix)) parts.push(`fix: ${o.error.fix}`);
  return parts.join(" ");
}

/** The function's result for an Outcome: its JSON, or a RolloutOutcomeError. */
export function settle(outcome: Outcome): string {
  if (!isSuccessfulOutcome(outcome.outcome)) throw new RolloutOutcomeError(outcome);
  return JSON.stringify(outcome, null, 2);
}

/** Turns anything thrown into the failing Outcome the CLI would print for it. */
export const failureOutcome = (
  e: unknown,
  ctx: { target: string; scope?: string | null; image?: string | null },
): Outcome => errorOutcome(e, ctx);
