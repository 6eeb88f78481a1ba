/**
 * No file under src/ is longer than 500 lines (issue 18's rule, docs/architecture.md): a file that
 * grows past it is split along its seams, as engine.ts, fleet.ts and options.ts were. Counted the way
 * `wc -l` counts, on every .ts file the Dagger runtime would load.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LIMIT = 500;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const lines = (file: string) => readFileSync(file, "utf8").split("\n").length - 1;

describe("the size of src/ files", () => {
  it(`keeps every file at ${LIMIT} lines or fewer`, () => {
    const files = tsFiles(join(ROOT, "src"));
    expect(files.length).toBeGreaterThan(100);
    const over = files
      .map((f) => ({ file: relative(ROOT, f), lines: lines(f) }))
      .filter((f) => f.lines > LIMIT);
    expect(over).toEqual([]);
  });
});
