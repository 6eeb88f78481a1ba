/**
 * From what a front end was given to resolved options, the same way for every front end: the config
 * file's keys that apply to this verb, target and front end, under the given flags or arguments,
 * through the one schema.
 */
import {
  type FrontEnd,
  type Options,
  type RawOptions,
  resolveOptions,
  SCHEMA,
  type TargetName,
  type Verb,
} from "./schema.js";

export interface CallInput {
  readonly verb: Verb;
  readonly frontEnd: FrontEnd;
  /** Options given as flags or arguments (only those given: undefined means not given). */
  readonly given: RawOptions;
  /** The parsed config file (parseConfigText), if any. */
  readonly config?: RawOptions;
  /** Environment variables for the options' `env` fallbacks (the CLI's; Dagger passes none). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * One config file serves every verb, target and front end: keys another verb, target or front end
 * needs (the target group ARNs for `status`, `reportDir` for Dagger) are left out instead of refused.
 * Unknown keys stay in, so resolving still rejects them with a suggestion; flags are never filtered.
 * (Here rather than in config.ts, whose YAML parser a call without a config file does not need.)
 */
export function configFor(
  config: RawOptions,
  verb: Verb,
  target: TargetName,
  frontEnd: FrontEnd = "cli",
): RawOptions {
  return SCHEMA.applicableConfig(config, verb, target, frontEnd);
}

/** Resolves a call; throws InvalidInputError naming every problem. */
export function resolveCall(input: CallInput): Options {
  const config = input.config ?? {};
  const target = SCHEMA.targetOf({ ...config, ...input.given });
  return resolveOptions(
    { ...configFor(config, input.verb, target, input.frontEnd), ...input.given },
    { verb: input.verb, frontEnd: input.frontEnd, ...(input.env ? { env: input.env } : {}) },
  );
}

/** Where a call was going before its options resolved (for the Outcome that refuses it). */
export function whereOfRaw(raw: RawOptions): { target: string; scope: null; image: null } {
  return { target: SCHEMA.targetOf(raw), scope: null, image: null };
}

/** Drops what was not given (undefined), keeping the rest as typed. */
export const given = (raw: RawOptions): RawOptions =>
  Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
