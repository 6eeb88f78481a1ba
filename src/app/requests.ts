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
import type { Options, TargetName } from "./schema.js";

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
  storedRollouts: targetOf(o).storedRollouts,
});
