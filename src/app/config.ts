/**
 * A config file (`--config`): the same options as the flags, camelCase keys, JSON or YAML. Both front
 * ends hand its name and text here (the CLI reads a path, Dagger a File): one parser, one filter.
 */
import { extname } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { InvalidInputError } from "../contract/errors.js";
import type { RawOptions } from "./schema.js";

/** Parses a config file's text; the format follows the name's extension (`.json`, else YAML). */
export function parseConfigText(name: string, text: string): RawOptions {
  const json = extname(name).toLowerCase() === ".json";
  let data: unknown;
  try {
    data = json ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const where =
      e instanceof YAMLParseError && e.linePos?.[0]
        ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}`
        : "";
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new InvalidInputError(
      [{ field: "config", message: `${name} is not valid ${json ? "JSON" : "YAML"}${where}: ${why}` }],
      "fix the file's syntax; nothing was changed",
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new InvalidInputError([
      { field: "config", message: `${name} must hold a mapping of option names to values (camelCase keys)` },
    ]);
  }
  if ("config" in data) {
    throw new InvalidInputError([{ field: "config", message: `${name} cannot name another config file` }]);
  }
  return data as RawOptions;
}

// One config file serves every verb, target and front end: configFor (resolve.ts, which needs no
// YAML parser) leaves out the keys that do not apply.
export { configFor } from "./resolve.js";
