/**
 * One way through the code for every front end: the CLI, the Dagger module and the guard all run a
 * verb here. The front end resolves its input (resolve.ts), then `runVerb` opens the target, runs
 * the verb through the engine and settles whatever happens into a result: an Outcome, a plan, or
 * what bootstrap did. Anything thrown becomes the refused or failed Outcome by the one rule of
 * contract/errors.ts (DISPOSITION); nothing the front end must interpret.
 */
import { hostname } from "node:os";
import { toGrayDeployError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import type { Policy } from "../core/policy.js";
import type { EngineContext } from "../engine/engine.js";
import type { EventListener } from "../engine/events.js";
import { errorOutcome } from "../engine/outcome.js";
import type { TargetDeps, TargetRuntime } from "../engine/targets.js";
import { type PlanReport, status, type VerbContext } from "../engine/verbs.js";
import type { Clock } from "../ports/index.js";
import { checkSecrets } from "./checks.js";
import { addressOf, policyOf, rolloutScope } from "./requests.js";
import type { Options, Verb } from "./schema.js";
import { openTarget } from "./targets.js";
import { assertVerbSupported, VERB_DEFINITIONS, type VerbAnswer } from "./verbs.js";

export interface RunDeps {
  readonly clock: Clock;
  /** Makes rollout and owner ids. */
  readonly newId: () => string;
  /** Aborting it rolls a running rollout back safely (Ctrl-C, SIGTERM). */
  readonly signal?: AbortSignal;
  /** Progress lines (stderr in the CLI, the function's log in Dagger). */
  readonly log: (line: string) => void;
  /** Every engine event (progress, reports, notifications), already isolated with fanOut. */
  readonly onEvent?: EventListener;
  /** Asked at manual gates of a rollout that lives in this process (the CLI's terminal prompt). */
  readonly approver?: EngineContext["approver"];
  /** Credentials for the target's clients (the Dagger module's Secrets); absent: the standard chain. */
  readonly credentials?: TargetDeps["credentials"];
  /** Secrets the run's checks name, by environment variable name (the CLI's env, Dagger Secrets). */
  readonly secret?: TargetDeps["secret"];
  /** Also settle the plan a report shows: the stored rollout's (authoritative), else the options'. */
  readonly withReportPlan?: boolean;
  /** Replaces how the target is opened (tests of a front end). */
  readonly openTarget?: (o: Options, deps: TargetDeps) => Promise<TargetRuntime>;
  /** Replaces how bootstrap prepares the target (tests of a front end). */
  readonly bootstrap?: (o: Options, deps: TargetDeps) => Promise<{ readonly message: string }>;
}

export type VerbResult =
  | {
      readonly kind: "outcome";
      readonly outcome: Outcome;
      readonly plan: Policy | null;
      /** The Outcome settles something thrown (refused or failed before or instead of the verb's own). */
      readonly raised: boolean;
    }
  | { readonly kind: "plan"; readonly report: PlanReport }
  | { readonly kind: "bootstrap"; readonly result: { readonly message: string } };

/** Where a run was going, for an Outcome that refuses it. */
export function whereOf(o: Options): { target: string; scope: string; image: string | null } {
  return { target: o.target, scope: rolloutScope(o), image: o.image ?? null };
}

export async function runVerb(verb: Verb, o: Options, deps: RunDeps): Promise<VerbResult> {
  const failed = (e: unknown): VerbResult => ({
    kind: "outcome",
    outcome: errorOutcome(e, verb === "bootstrap" ? { target: o.target } : whereOf(o)),
    plan: null,
    raised: true,
  });
  try {
    assertVerbSupported(verb, o);
    // Every secret a check names is set, before anything is opened (deploy-gray and plan).
    checkSecrets(o, deps.secret);
  } catch (e) {
    return failed(e);
  }
  const targetDeps: TargetDeps = {
    log: deps.log,
    clock: deps.clock,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.credentials ? { credentials: deps.credentials } : {}),
    ...(deps.secret ? { secret: deps.secret } : {}),
  };
  const definition = VERB_DEFINITIONS[verb];
  let runtime: TargetRuntime | null = null;
  const settle = async (answer: VerbAnswer, raised = false): Promise<VerbResult> =>
    answer.kind !== "outcome"
      ? answer
      : {
          kind: "outcome",
          outcome: answer.outcome,
          plan: deps.withReportPlan ? await reportPlan(answer.outcome, o, verb, runtime) : null,
          raised,
        };
  if (definition.run === undefined) {
    try {
      const prepare = deps.bootstrap
        ? async () => ({ kind: "bootstrap" as const, result: await deps.bootstrap!(o, targetDeps) })
        : () => definition.prepare!(o, targetDeps);
      return await settle(await prepare());
    } catch (e) {
      return failed(e);
    }
  }
  try {
    runtime = await (deps.openTarget ?? openTarget)(o, targetDeps);
    const ctx: VerbContext = {
      clock: deps.clock,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
      owner: { id: deps.newId(), host: hostname(), pid: process.pid, verb },
      newId: deps.newId,
      ...(deps.approver ? { approver: deps.approver } : {}),
      ...(deps.secret ? { secret: deps.secret } : {}),
    };
    return await settle(await definition.run(o, runtime, ctx));
  } catch (e) {
    return settle({ kind: "outcome", outcome: errorOutcome(e, whereOf(o)) }, true);
  } finally {
    await runtime?.dispose().catch((e) => deps.log(`cleanup: ${toGrayDeployError(e).message}`));
  }
}

/** The plan a report shows: the stored rollout's (authoritative, also for promote/abort), else the options'. */
async function reportPlan(
  outcome: Outcome,
  o: Options,
  verb: Verb,
  runtime: TargetRuntime | null,
): Promise<Policy | null> {
  if (outcome.rolloutId !== null && runtime !== null) {
    const stored = await runtime.ports.store.load(rolloutScope(o)).catch(() => null);
    if (stored?.state.id === outcome.rolloutId) return stored.state.plan;
  }
  return verb === "deploy-gray" ? policyOf(o) : null;
}

/**
 * The stored rollout's Outcome and plan, for a report rendered from the durable state (the Dagger
 * module's `report`): works after any outcome, in a later job.
 */
export async function storedRollout(
  o: Options,
  deps: Pick<RunDeps, "clock" | "log" | "credentials" | "openTarget">,
): Promise<{ outcome: Outcome; plan: Policy | null }> {
  assertVerbSupported("status", o);
  const runtime = await (deps.openTarget ?? openTarget)(o, {
    log: deps.log,
    clock: deps.clock,
    ...(deps.credentials ? { credentials: deps.credentials } : {}),
  });
  try {
    const outcome = await status(addressOf(o), runtime.ports, deps.clock.now());
    const stored = await runtime.ports.store.load(rolloutScope(o));
    return { outcome, plan: stored?.state.id === outcome.rolloutId ? stored.state.plan : null };
  } finally {
    await runtime.dispose().catch((e) => deps.log(`cleanup: ${toGrayDeployError(e).message}`));
  }
}

/**
 * The exit code of a result, as the CLI exits and the runbooks document: the Outcome's, except that
 * `status` exits 0 whenever it could read a rollout, a plan exits 2 when deploy-gray would refuse.
 */
export function exitCodeOf(verb: Verb, result: VerbResult): number {
  switch (result.kind) {
    case "bootstrap":
      return 0;
    case "plan":
      return result.report.blockers.length > 0 ? 2 : 0;
    case "outcome":
      return verb === "status" && result.outcome.rolloutId !== null ? 0 : result.outcome.exitCode;
  }
}
