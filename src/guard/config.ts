/**
 * The guard's configuration: GRAY_DEPLOY_CONFIG, the JSON the Terraform module passes (its
 * `gray_deploy_config` object, i.e. gray-deploy's config file, plus `maxPause`). Read through the same
 * options schema as every front end: the control options as for `abort` (keys only deploy-gray takes,
 * such as the target groups, are left out as the CLI does for a shared config file; unknown keys are
 * refused with a suggestion), `maxPause` and `alarms` with the schema's own parsers.
 */

import { configFor } from "../app/config.js";
import { type Options, parseOptionValue, rawDefault, resolveOptions } from "../app/schema.js";
import { InvalidInputError } from "../contract/errors.js";

export const CONFIG_ENV = "GRAY_DEPLOY_CONFIG";

export interface GuardConfig {
  /** Resolved as for `abort --target aws` (region, listener/rule, state table, endpoint, role). */
  readonly options: Options;
  /** A paused or unwatched rollout with traffic on gray is rolled back after this (ms). */
  readonly maxPauseMs: number;
  /** The service's gray alarms: only these trigger a rollback. */
  readonly alarms: readonly string[];
}

const FIX = `set ${CONFIG_ENV} to the module's gray_deploy_config object plus maxPause, as JSON (the Terraform module does)`;

export function guardConfig(env: Readonly<Record<string, string | undefined>>): GuardConfig {
  const text = env[CONFIG_ENV];
  if (text === undefined || text.trim() === "") {
    throw new InvalidInputError([{ field: "config", message: `${CONFIG_ENV} is not set` }], FIX);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(
      [{ field: "config", message: `${CONFIG_ENV} is not valid JSON: ${(e as Error).message}` }],
      FIX,
    );
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new InvalidInputError(
      [{ field: "config", message: `${CONFIG_ENV} must be a JSON object of option names to values` }],
      FIX,
    );
  }
  const { maxPause, alarms, ...rest } = data as Record<string, unknown>;
  const control = configFor(rest, "abort", "aws", "cli");
  const options = resolveOptions(
    { ...control, target: rest.target ?? "aws", startedBy: "guard" },
    { verb: "abort", env: {}, frontEnd: "cli" },
  );
  if (options.target !== "aws") {
    throw new InvalidInputError(
      [{ field: "target", message: "the guard drives AWS rollouts only (target must be aws)" }],
      FIX,
    );
  }
  const pause = parseOptionValue("maxPause", maxPause ?? rawDefault("maxPause", "aws"));
  if (!pause.ok) throw new InvalidInputError([{ field: "maxPause", message: pause.message }], FIX);
  const names = parseOptionValue("alarms", alarms ?? []);
  if (!names.ok) throw new InvalidInputError([{ field: "alarms", message: names.message }], FIX);
  return { options, maxPauseMs: pause.value as number, alarms: names.value as readonly string[] };
}
