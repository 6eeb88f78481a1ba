/**
 * The fixes that errors suggest must work as written: every `terraform output NAME` that a message
 * under src/ tells a person to run names an output the Terraform module really has.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTerraformDir, MODULE_DIR, ROOT } from "../iac/hcl.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith(".ts") ? [path] : [];
  });
}

describe("fixes suggested by error messages", () => {
  it("every `terraform output NAME` they mention is an output of the module", async () => {
    const outputs = Object.keys((await loadTerraformDir(MODULE_DIR)).outputs);
    const mentioned: { file: string; name: string }[] = [];
    for (const file of sources(join(ROOT, "src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/terraform output (?:-\w+ )*([a-z_]+)/g)) {
        mentioned.push({ file: file.slice(ROOT.length), name: m[1]! });
      }
    }
    expect(mentioned.length).toBeGreaterThan(0);
    const unknown = mentioned.filter((m) => !outputs.includes(m.name));
    expect(unknown, `outputs: ${outputs.join(", ")}`).toEqual([]);
  });
});
