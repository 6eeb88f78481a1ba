import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { extractConfig, renderConfig, validateConfig } from "../../scripts/render-config.js";
import { resolveOptions } from "../../src/app/schema.js";
import { loadTerraformDir, MODULE_DIR, ROOT } from "./hcl.js";

/** What `terraform output -json gray_deploy_config` prints after an apply (realistic values). */
const CONFIG = {
  target: "aws",
  region: "sa-east-1",
  listenerArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/tecpag-public/0123456789abcdef/fedcba9876543210",
  ruleArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener-rule/app/tecpag-public/0123456789abcdef/fedcba9876543210/00112233aabbccdd",
  stableTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gatewaypix-v1/0123456789abcdef",
  grayTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gatewaypix-gray/fedcba9876543210",
  stableAsg: "gatewaypix-stable",
  grayAsg: "gatewaypix-gray",
  launchTemplate: "lt-0123456789abcdef0",
  stateTable: "gray-deploy-state",
  alarms: ["gatewaypix-gray-error-rate", "gatewaypix-gray-p99", "gatewaypix-gray-unhealthy"],
};

/** The whole `terraform output -json` map. */
const ALL_OUTPUTS = {
  gray_deploy_config: { sensitive: false, type: ["object", {}], value: CONFIG },
  rule_arn: { sensitive: false, type: "string", value: CONFIG.ruleArn },
};

beforeAll(async () => {
  // The sample must have exactly the keys the module's output has.
  const mod = await loadTerraformDir(MODULE_DIR);
  expect(Object.keys(mod.locals.gray_deploy_config as object).sort()).toEqual(Object.keys(CONFIG).sort());
});

describe("render-config (scripts/render-config.ts)", () => {
  it("takes the config from all outputs or from the one output's value", () => {
    expect(extractConfig(ALL_OUTPUTS)).toEqual(CONFIG);
    expect(extractConfig(CONFIG)).toEqual(CONFIG);
    expect(() => extractConfig({ rule_arn: ALL_OUTPUTS.rule_arn })).toThrow(
      /no output gray_deploy_config.*rule_arn/,
    );
    expect(() => extractConfig([])).toThrow(/JSON object/);
  });

  it("accepts the module's output, and gray-deploy resolves it for a rollout on AWS", () => {
    expect(validateConfig(CONFIG)).toEqual([]);
    for (const verb of ["deploy-gray", "plan"] as const) {
      const options = resolveOptions(
        { ...CONFIG, image: "123456789012.dkr.ecr.sa-east-1.amazonaws.com/tecpag/gatewaypix:1.4.2" },
        { verb },
      );
      expect(options.ruleArn).toBe(CONFIG.ruleArn);
      expect(options.alarms).toEqual(CONFIG.alarms);
    }
  });

  it("refuses what the tool would refuse, naming the field", () => {
    expect(validateConfig({ ...CONFIG, stableAsgName: "x" })).toEqual([
      expect.stringMatching(/^stableAsgName: not a gray-deploy option/),
    ]);
    expect(
      validateConfig({ ...CONFIG, grayTargetGroupArn: "arn:aws:elasticloadbalancing:sa-east-1:1:tg" }),
    ).toEqual([expect.stringMatching(/^grayTargetGroupArn: .*not valid/)]);
    const { stateTable: _, ...noTable } = CONFIG;
    expect(validateConfig(noTable)).toEqual(["stateTable: missing"]);
    expect(validateConfig({ ...CONFIG, region: "us-east-1" })).toHaveLength(4);
    expect(
      validateConfig({ ...CONFIG, ruleArn: CONFIG.ruleArn.replace("fedcba9876543210", "0000000000000000") }),
    ).toEqual(["ruleArn: does not belong to listenerArn"]);
    expect(validateConfig({ ...CONFIG, target: "local" })).toContain('target: expected "aws", got "local"');
  });

  it("writes JSON or YAML that reads back as the same object", () => {
    expect(JSON.parse(renderConfig(CONFIG, "json"))).toEqual(CONFIG);
    const yaml = renderConfig(CONFIG, "yaml");
    expect(yaml.startsWith("# gray-deploy configuration")).toBe(true);
    expect(parseYaml(yaml)).toEqual(CONFIG);
    expect(JSON.parse(renderConfig({ ...CONFIG, ruleArn: null }, "json"))).not.toHaveProperty("ruleArn");
  });

  it("works as a command: terraform output -json | render-config --format yaml --out FILE", () => {
    const out = join(mkdtempSync(join(tmpdir(), "render-config-")), "gray-deploy.yaml");
    const script = join(ROOT, "scripts", "render-config.ts");
    execFileSync(process.execPath, ["--import", "tsx", script, "--format", "yaml", "--out", out], {
      cwd: ROOT,
      input: JSON.stringify(ALL_OUTPUTS),
      stdio: ["pipe", "pipe", "pipe"],
    });
    expect(parseYaml(readFileSync(out, "utf8"))).toEqual(CONFIG);
    const bad = spawnSync(process.execPath, ["--import", "tsx", script], {
      cwd: ROOT,
      input: JSON.stringify({ ...CONFIG, launchTemplate: "$Latest" }),
      encoding: "utf8",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/launchTemplate: .*not valid/);
    expect(bad.stdout).toBe("");
  });
});
