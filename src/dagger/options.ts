/**
 * From a Dagger function's arguments to the contract's resolved Options, through the same
 * `resolveOptions` as the CLI (front end "dagger"): same names, same parsing, same defaults, same
 * messages.
 *
 * Dagger hands a function every argument that has a default, given or not, so an argument equal to
 * the schema's default is treated as not given: a `--config` file can then set it, and when no file
 * does, the schema applies the very same default. The one thing this cannot express is forcing the
 * default value over a config file that says otherwise; edit the file for that.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { readConfigFile } from "../cli/config.js";
import { InvalidInputError } from "../contract/errors.js";
import {
  inapplicable,
  OPTION_DEFS,
  type OptionDef,
  type OptionName,
  type Options,
  type RawOptions,
  type Target,
  type Verb,
} from "../contract/options.js";

/** The part of a Dagger `File` the module reads (so tests can pass a plain object). */
export interface ConfigFileLike {
  name(): Promise<string>;
  contents(): Promise<string>;
}

/** The part of a Dagger `Service` the module uses (so tests can pass a plain object). */
export interface ServiceLike {
  endpoint(opts?: { port?: number; scheme?: string }): Promise<string>;
}

/**
 * The schema's `endpoint` from `--endpoint` or `--endpoint-service`. Inside the engine a function's
 * localhost is its own container, so a service on the caller's machine arrives as a Dagger Service
 * (`tcp://localhost:4566` on the command line) and is reached at the URL the engine gives it.
 */
export async function endpointOf(
  endpoint: string | undefined,
  service: ServiceLike | undefined,
): Promise<string | undefined> {
  if (service === undefined) return endpoint;
  if (endpoint !== undefined) {
    throw new InvalidInputError(
      [{ field: "endpointService", message: "is given together with --endpoint; pass one of them" }],
      "use --endpoint-service tcp://localhost:PORT for an endpoint on your machine, --endpoint URL for one the engine reaches directly",
    );
  }
  return service.endpoint({ scheme: "http" });
}

/** The arguments of one call that are options of the schema, as Dagger passed them. */
export type OptionArgs = Partial<Record<OptionName, unknown>>;

/** True when `value` is what the schema uses anyway when the option is not given. */
export function isSchemaDefault(name: OptionName, value: unknown): boolean {
  const def: OptionDef = OPTION_DEFS[name];
  if (value === undefined) return true;
  if (Array.isArray(value)) {
    // Lists default to nothing, or to the schema's comma-separated default.
    if (def.default === undefined) return value.length === 0;
    return value.join(",") === String(def.default);
  }
  return def.default !== undefined && value === def.default;
}

/** Drops arguments that were not given (or equal their schema default), keeping the rest as typed. */
export function givenOptions(args: OptionArgs): RawOptions {
  const out: RawOptions = {};
  for (const [name, value] of Object.entries(args) as [OptionName, unknown][]) {
    if (!(name in OPTION_DEFS)) {
      throw new InvalidInputError([{ field: name, message: "is not an option of the schema" }]);
    }
    if (!isSchemaDefault(name, value)) out[name] = value;
  }
  return out;
}

/**
 * Reads a `--config` File: the same JSON or YAML as the CLI's `--config`, parsed by the same code
 * (the format follows the file name's extension).
 */
export async function readConfig(file: ConfigFileLike | undefined): Promise<RawOptions> {
  if (file === undefined) return {};
  const [name, text] = await Promise.all([file.name(), file.contents()]);
  const dir = await mkdtemp(join(tmpdir(), "gray-deploy-config-"));
  try {
    const path = join(dir, basename(name) || "config.yaml");
    await writeFile(path, text, { mode: 0o600 });
    return await readConfigFile(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One config file serves every verb and both front ends, as in the CLI: keys another verb, target or
 * front end needs (the target group ARNs for `status`, `reportDir` for Dagger) are left out here
 * instead of refused. Unknown keys stay, so the schema still rejects them with a suggestion.
 */
export function configForCall(config: RawOptions, verb: Verb, target: Target): RawOptions {
  return Object.fromEntries(
    Object.entries(config).filter(
      ([key]) =>
        !(key in OPTION_DEFS) || inapplicable(key as OptionName, verb, target, "dagger") === undefined,
    ),
  );
}

/** A verb that needs a stored rollout cannot run on the local target (its rollout lives in-process). */
export function refuseLocalControl(verb: Verb | "report", o: Options): void {
  if (o.target !== "local" || verb === "deploy-gray" || verb === "plan") return;
  throw new InvalidInputError(
    [
      {
        field: "target",
        message: `\`${verb}\` needs a stored rollout, and a local rollout lives only inside its deploy-gray call`,
      },
    ],
    verb === "bootstrap"
      ? "bootstrap creates the AWS state table: pass --target aws"
      : "pass --target aws (with --region, --listener-arn and --state-table) to control a stored rollout",
  );
}
