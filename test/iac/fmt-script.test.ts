import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./hcl.js";

const SCRIPT = join(ROOT, "scripts", "terraform-fmt-check.sh");

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A PATH holding only what the script needs besides terraform (bash, dirname), plus `extra`. */
function isolatedPath(extra: Record<string, string> = {}): string {
  const bin = mkdtempSync(join(tmpdir(), "fmt-check-bin-"));
  for (const tool of ["bash", "dirname", "head"]) {
    const at = which(tool);
    if (at === undefined) throw new Error(`${tool} not found`);
    symlinkSync(at, join(bin, tool));
  }
  for (const [name, body] of Object.entries(extra)) {
    writeFileSync(join(bin, name), body);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

function run(args: string[], path: string) {
  return spawnSync(join(path.split(delimiter)[0]!, "bash"), [SCRIPT, ...args], {
    encoding: "utf8",
    env: { PATH: path, HOME: tmpdir() },
  });
}

describe("scripts/terraform-fmt-check.sh", () => {
  it("says it skipped, and succeeds, where terraform is not installed", () => {
    const r = run([], isolatedPath());
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("terraform fmt check skipped: terraform not installed");
  });

  it("fails with terraform's exit code 3 and lists the files when formatting is off", () => {
    const fake = isolatedPath({
      terraform:
        '#!/bin/sh\ncase "$*" in *-list=true*) echo "IaC/modules/x/main.tf"; exit 3;; version) echo "Terraform v0.0.0";; *) exit 3;; esac\n',
    });
    const r = run([], fake);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("these files need `terraform fmt`");
    expect(r.stderr).toContain("IaC/modules/x/main.tf");
  });

  const terraform = which("terraform");
  it.runIf(terraform !== undefined)(
    "with the real terraform: IaC is formatted, and a misformatted file is caught",
    () => {
      const path = `${isolatedPath()}${delimiter}${join(terraform!, "..")}`;
      const ok = run([], path);
      expect(ok.stderr).toBe("");
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/^terraform fmt check passed: Terraform v\d/);
      const dir = mkdtempSync(join(tmpdir(), "fmt-check-"));
      mkdirSync(join(dir, "m"));
      writeFileSync(join(dir, "m", "main.tf"), 'variable "x" {\ntype=string\n}\n');
      const bad = run([dir], path);
      expect(bad.status).toBe(3);
      expect(bad.stderr).toContain("main.tf");
    },
  );
});
