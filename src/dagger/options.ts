/**
 * From a Dagger function's arguments to the contract's resolved Options, through the same
 * `resolveOptions` as the CLI (front end "dagger"): same names, same parsing, same defaults, same
 * messages.
 *
 * No option argument declares a default (its description says it): an argument Dagger hands over is
 * one the caller gave, so a value equal to the schema's default still overrides a `--config` file,
 * and an omitted one (undefined) lets the file, then the target's default, decide.
 */
import { parseConfigText } from "../app/config.js";
import { OPTION_DEFS, type OptionName, type RawOptions } from "../app/schema.js";
import { InvalidInputError } from "../contract/errors.js";

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

/** Drops arguments that were not given (undefined, or null from the engine), keeping the rest as typed. */
export function givenOptions(args: OptionArgs): RawOptions {
  const out: RawOptions = {};
  for (const [name, value] of Object.entries(args) as [OptionName, unknown][]) {
    if (!(name in OPTION_DEFS)) {
      throw new InvalidInputError([{ field: name, message: "is not an option of the schema" }]);
    }
    if (value !== undefined && value !== null) out[name] = value;
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
  return parseConfigText(name || "config.yaml", text);
}
