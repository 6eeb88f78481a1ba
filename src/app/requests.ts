/**
 * From resolved options to what each part receives: the target's definition, the rollout's address,
 * the plan, the release. Verbs get these, never the whole bag of options.
 */
import { InvalidInputError, PreflightError } from "../contract/errors.js";
import { type Policy, policyFromOptions } from "../core/policy.js";
import type { TargetDefinition } from "../engine/targets.js";
import type { DeployRequest, PlanRequest, RolloutAddress } from "../engine/verbs.js";
import type { ReleaseSpec } from "../ports/index.js";
import { TARGETS } from "./registry.js";
import type { Options, TargetName, Verb } from "./schema.js";

/** The registered target of that name (the schema only lets registered names through). */
export function targetNamed(name: TargetName): TargetDefinition<Options> {
  const t = (TARGETS as readonly TargetDefinition<never>[]).find((x) => x.name === name);
  if (t === undefined) {
    throw new InvalidInputError([
      { field: "target", message: `"${name}" is not one of ${TARGETS.map((x) => x.name).join(", ")}` },
    ]);
  }
  return t as TargetDefinition<Options>;
}

export const targetOf = (o: Pick<Options, "target">): TargetDefinition<Options> => targetNamed(o.target);

export function addressOf(o: Options): RolloutAddress {
  const t = targetOf(o);
  return { target: t.name, scope: t.scopeOf(o) };
}

/** The scope a rollout locks, as the target defines it. */
export const rolloutScope = (o: Options): string => addressOf(o).scope;

export const policyOf = (o: Options): Policy => policyFromOptions(o, targetOf(o).minPromotionTimeoutMs);

export function releaseOf(o: Options): ReleaseSpec {
  if (o.image === undefined)
    throw new PreflightError("no image given", { field: "image", fix: "pass --image" });
  return { image: o.image, ami: o.ami, commit: o.commit ?? null, startedBy: o.startedBy ?? "unknown" };
}

export const deployRequest = (o: Options): DeployRequest => ({
  ...addressOf(o),
  release: releaseOf(o),
  plan: policyOf(o),
  supersede: o.supersede,
});

export const planRequest = (o: Options): PlanRequest => ({
  ...deployRequest(o),
  refreshMinHealthy: o.refreshMinHealthy,
});

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
  if (verb === "deploy-gray" || verb === "plan" || verb === "bootstrap" || t.storedRollouts) return;
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
