/** Reads `--config FILE`: the same options as the flags, camelCase keys, JSON or YAML (src/app/config.ts). */
import { readFile } from "node:fs/promises";
import { parseConfigText } from "../app/config.js";
import type { RawOptions } from "../app/schema.js";
import { InvalidInputError } from "../contract/errors.js";

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
  return parseConfigText(path, text);
}
