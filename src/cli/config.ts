/** Reads `--config FILE`: the same options as the flags, camelCase keys, JSON or YAML. */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { InvalidInputError } from "../contract/errors.js";
import {
  inapplicable,
  OPTION_DEFS,
  type OptionName,
  type RawOptions,
  type Target,
  type Verb,
} from "../contract/options.js";

export async function readConfigFile(path: string): Promise<RawOptions> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InvalidInputError(
      [
        {
          field: "config",
          message: `cannot read ${path}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(code ?? e)}`,
        },
      ],
      "pass the path of a readable JSON or YAML file; nothing was changed",
    );
  }
  let data: unknown;
  try {
    data = extname(path).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const where =
      e instanceof YAMLParseError && e.linePos?.[0]
        ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}`
        : "";
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new InvalidInputError(
      [
        {
          field: "config",
          message: `${path} is not valid ${extname(path) === ".json" ? "JSON" : "YAML"}${where}: ${why}`,
        },
      ],
      "fix the file's syntax; nothing was changed",
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new InvalidInputError([
      { field: "config", message: `${path} must hold a mapping of option names to values (camelCase keys)` },
    ]);
  }
  if ("config" in data) {
    throw new InvalidInputError([{ field: "config", message: `${path} cannot name another config file` }]);
  }
  return data as RawOptions;
}

/**
 * One config file serves every verb: keys that another verb or target needs (e.g. the target group
 * ARNs, which `status` does not take) are left out for this verb instead of refused. Unknown keys
 * stay in, so the schema still rejects them with a suggestion; flags are never filtered.
 */
export function configForVerb(config: RawOptions, verb: Verb, target: Target): RawOptions {
  return Object.fromEntries(
    Object.entries(config).filter(
      ([key]) => !(key in OPTION_DEFS) || inapplicable(key as OptionName, verb, target, "cli") === undefined,
    ),
  );
}
