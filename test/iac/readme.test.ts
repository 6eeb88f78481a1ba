import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_DIR, loadTerraformDir, MODULE_DIR, type TerraformDir } from "./hcl.js";
import { type PolicyDocument, readPolicyTemplate } from "./policy.js";

let mod: TerraformDir;
let readme: string;

beforeAll(async () => {
  mod = await loadTerraformDir(MODULE_DIR);
  readme = readFileSync(join(MODULE_DIR, "README.md"), "utf8");
});

/** Rows `| \`name\` | … |` of the table under a "## heading". */
function tableRows(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const rest = markdown.slice(start + heading.length + 5);
  const end = rest.search(/\n## /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return section
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .map((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, "");

describe("module README", () => {
  it("has an input table row for every variable, and only for them, with required/default right", () => {
    const rows = tableRows(readme, "Inputs");
    expect(rows.map((r) => unquote(r[0]!)).sort()).toEqual(Object.keys(mod.variables).sort());
    for (const [name, type, def] of rows) {
      const v = mod.variables[unquote(name!)]!;
      expect(def === "required", `${name}: required`).toBe(!("default" in v));
      if ("default" in v) expect(def, `${name}: default`).toBe(`\`${JSON.stringify(v.default)}\``);
      expect(type, `${name}: type`).toMatch(/^`.+`$/);
    }
  });

  it("has an output table row for every output, and only for them", () => {
    const rows = tableRows(readme, "Outputs");
    expect(rows.map((r) => unquote(r[0]!)).sort()).toEqual(Object.keys(mod.outputs).sort());
  });

  it("lists exactly the policy document's statements", () => {
    const doc = JSON.parse(readPolicyTemplate()) as PolicyDocument;
    const rows = tableRows(readme, "Pipeline IAM policy");
    expect(rows.map((r) => unquote(r[0]!))).toEqual(doc.Statement.map((s) => s.Sid));
  });

  it("says what could not be checked, explains ignore_changes, the wildcard resources and the config file", () => {
    expect(readme).toMatch(/`terraform validate` cannot run here\*\*: providers cannot be downloaded/);
    expect(readme).toMatch(/## `ignore_changes`: Terraform must never undo a rollout/);
    expect(readme).toMatch(/most common way infrastructure as code breaks canary deployments/);
    expect(readme).toMatch(/`"Resource": "\*"` is used only where AWS supports no resource-level permission/);
    expect(readme).toContain("terraform output -json gray_deploy_config > gray-deploy.json");
    expect(readme).toContain("scripts/terraform-fmt-check.sh");
  });

  it("the example's README shows how to render the config and points at the stable ASG's ignore_changes", () => {
    const example = readFileSync(join(EXAMPLE_DIR, "README.md"), "utf8");
    expect(example).toContain("terraform output -json gray_deploy_config > gray-deploy.json");
    expect(example).toMatch(/stable_asg\.tf.*ignore_changes/s);
  });
});
