/**
 * The verbs, one definition each: what it says in `--help`, whether it needs a rollout that outlives
 * its process, whether it opens the target, and how it runs on the opened target. runVerb (run.ts)
 * does the rest the same way for all of them. A new verb is its engine function, one entry here,
 * its name in contract/options/def.ts VERBS (so options can say they apply to it), and its Dagger
 * function.
 *
 * The engine is imported when a verb runs, not with this file: `--help` and refused input need only
 * the summaries (a CLI spawn pays for every module it loads).
 */
import { InvalidInputError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import type { TargetDefinition, TargetDeps, TargetRuntime } from "../engine/targets.js";
import type { PlanReport, VerbContext } from "../engine/verbs.js";
import { TARGETS } from "./registry.js";
import { addressOf, deployRequest, planRequest, targetOf } from "./requests.js";
import type { Options, Verb } from "./schema.js";

/** What a verb answers: an Outcome, a plan, or what bootstrap prepared. */
export type VerbAnswer =
  | { readonly kind: "outcome"; readonly outcome: Outcome }
  | { readonly kind: "plan"; readonly report: PlanReport }
  | { readonly kind: "bootstrap"; readonly result: { readonly message: string } };

export interface VerbDefinition {
  /** One sentence for `--help`. */
  readonly summary: string;
  /** It acts on a stored rollout: refused on a target whose rollouts live only in their process. */
  readonly needsStoredRollout: boolean;
  /** Runs on the opened target (all but bootstrap, which prepares the target instead). */
  run?(o: Options, runtime: TargetRuntime, ctx: VerbContext): Promise<VerbAnswer>;
  /** Runs without opening the target. */
  prepare?(o: Options, deps: TargetDeps): Promise<VerbAnswer>;
}

const outcome = (o: Outcome): VerbAnswer => ({ kind: "outcome", outcome: o });
const by = (o: Options) => o.startedBy ?? "unknown";

export const VERB_DEFINITIONS: Readonly<Record<Verb, VerbDefinition>> = {
  "deploy-gray": {
    summary:
      "Roll a new version out through weighted gray steps (5 → 25 → 50 → 100 by default), analysing metrics at every step; promote it or roll back on its own.",
    needsStoredRollout: false,
    async run(o, runtime, ctx) {
      const { deployGray } = await import("../engine/verbs.js");
      const request = deployRequest(o);
      await runtime.begin?.();
      return outcome(await deployGray(request, runtime.ports, ctx));
    },
  },
  plan: {
    summary: "Dry run: check the environment and print what deploy-gray would change, changing nothing.",
    needsStoredRollout: false,
    async run(o, runtime, ctx) {
      const { plan } = await import("../engine/verbs.js");
      return { kind: "plan", report: await plan(planRequest(o), runtime.ports, ctx) };
    },
  },
  status: {
    summary:
      "Where the rollout of this load balancer stands: phase, step, weights, last decision and its evidence.",
    needsStoredRollout: true,
    async run(o, runtime, ctx) {
      const { status } = await import("../engine/verbs.js");
      return outcome(await status(addressOf(o), runtime.ports, ctx.clock.now()));
    },
  },
  promote: {
    summary:
      "Continue a paused rollout (pass its manual gate, accept an inconclusive step, or retry a failed promotion); --full skips the remaining steps.",
    needsStoredRollout: true,
    async run(o, runtime, ctx) {
      const { promote } = await import("../engine/verbs.js");
      return outcome(
        await promote(addressOf(o), runtime.ports, ctx, { by: by(o), reason: o.reason, full: o.full }),
      );
    },
  },
  abort: {
    summary: "Back to stable 100% now (one verified write), then clean up; the rollout ends as aborted.",
    needsStoredRollout: true,
    async run(o, runtime, ctx) {
      const { abort } = await import("../engine/verbs.js");
      return outcome(await abort(addressOf(o), runtime.ports, ctx, { by: by(o), reason: o.reason }));
    },
  },
  "rollback-release": {
    summary:
      "After a promotion, put the previous release back fast: gray up on the previous version, smoke-tested, all traffic to it in one verified write, stable refreshed back onto it, traffic returned (within --rollback-release-window of the promotion; in a keep-previous window, one write).",
    needsStoredRollout: true,
    async run(o, runtime, ctx) {
      const { rollbackRelease } = await import("../engine/rollback-release.js");
      return outcome(
        await rollbackRelease(addressOf(o), runtime.ports, ctx, { by: by(o), reason: o.reason }),
      );
    },
  },
  bootstrap: {
    summary: "Create the DynamoDB table that holds rollout state and the lock (idempotent).",
    needsStoredRollout: false,
    async prepare(o, deps) {
      const prepare = targetOf(o).bootstrap;
      if (prepare === undefined) throw new Error(`--target ${o.target} has nothing to bootstrap`);
      return { kind: "bootstrap", result: await prepare(o, deps) };
    },
  },
};

/**
 * Refuses a verb the target cannot serve, before anything is opened: the control verbs need a rollout
 * that outlives its process (a state store), bootstrap needs something to prepare.
 */
export function assertVerbSupported(verb: Verb, o: Pick<Options, "target">): void {
  const t = targetOf(o);
  const all: readonly TargetDefinition<never>[] = TARGETS;
  const stored = all.filter((x) => x.storedRollouts).map((x) => `--target ${x.name}`);
  if (verb === "bootstrap" && t.bootstrap === undefined) {
    throw new InvalidInputError(
      [{ field: "target", message: `\`bootstrap\` has nothing to prepare on --target ${t.name}` }],
      `bootstrap creates the state table: use ${all
        .filter((x) => x.bootstrap !== undefined)
        .map((x) => `--target ${x.name}`)
        .join(" or ")}`,
    );
  }
  if (!VERB_DEFINITIONS[verb].needsStoredRollout || t.storedRollouts) return;
  throw new InvalidInputError(
    [
      {
        field: "target",
        message: `\`${verb}\` needs a stored rollout, and a ${t.name} rollout lives only inside the process that runs deploy-gray`,
      },
    ],
    `use ${stored.join(" or ")} for stored rollouts; on --target ${t.name}, answer deploy-gray's prompt or interrupt it (Ctrl-C) to abort`,
  );
}
