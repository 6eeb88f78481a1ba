import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configFor } from "../../src/app/config.js";
import { resolveOptions } from "../../src/app/schema.js";
import { readConfigFile } from "../../src/cli/config.js";
import { main } from "../../src/cli/main.js";
import { InvalidInputError } from "../../src/contract/errors.js";

const dir = mkdtempSync(join(tmpdir(), "gray-deploy-config-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const AWS_CONFIG = {
  target: "aws",
  region: "sa-east-1",
  listenerArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gw/0123456789abcdef/0123456789abcdef",
  stableTargetGroupArn: "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/s/0123456789abcdef",
  grayTargetGroupArn: "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/g/0123456789abcdef",
  stableAsg: "s",
  grayAsg: "g",
  launchTemplate: "lt-0123456789abcdef0",
  stateTable: "gray-deploy-state",
  alarms: ["a", "b"],
};

function io() {
  let stdout = "";
  let stderr = "";
  return {
    io: {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: {},
    },
    out: () => stdout,
    err: () => stderr,
  };
}

describe("--config", () => {
  it("reads YAML and JSON with the same keys as the options", async () => {
    const yaml = await readConfigFile(
      file("c.yaml", "target: local\nbake: 20s\nsteps: [10, 50, 100]\nrps: 300\n"),
    );
    const json = await readConfigFile(
      file("c.json", JSON.stringify({ target: "local", bake: "20s", steps: "10,50,100", rps: 300 })),
    );
    for (const raw of [yaml, json]) {
      const o = resolveOptions(raw, { verb: "deploy-gray" });
      expect(o.bake).toBe(20_000);
      expect(o.steps).toEqual([10, 50, 100]);
      expect(o.rps).toBe(300);
    }
  });

  it.each([
    ["missing.yaml", null, /cannot read .*no such file/],
    ["bad.yaml", "target: [local\n", /is not valid YAML at line/],
    ["bad.json", "{ target: local }", /is not valid JSON/],
    ["list.yaml", "- a\n- b\n", /must hold a mapping/],
    ["nested.yaml", "config: other.yaml\n", /cannot name another config file/],
  ])("an unreadable or invalid file (%s) is invalid input naming --config", async (name, text, message) => {
    const path = text === null ? join(dir, name) : file(name, text);
    const err = await readConfigFile(path).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.field).toBe("config");
    expect(err.message).toMatch(message);
  });

  it("one file serves every verb: keys of other verbs are left out, unknown keys are still refused", () => {
    const forStatus = configFor({ ...AWS_CONFIG, bakke: "1m" }, "status", "aws");
    expect(forStatus).not.toHaveProperty("stableTargetGroupArn");
    expect(forStatus).toHaveProperty("listenerArn");
    expect(forStatus).toHaveProperty("bakke");
    expect(() => resolveOptions(configFor(AWS_CONFIG, "status", "aws"), { verb: "status" })).not.toThrow();
    expect(() =>
      resolveOptions(configFor(AWS_CONFIG, "bootstrap", "aws"), { verb: "bootstrap" }),
    ).not.toThrow();
    expect(() => resolveOptions(forStatus, { verb: "status" })).toThrow(/unknown option "bakke"/);
  });

  it("flags override the file, and a bad value in the file exits 2 before anything starts", async () => {
    const path = file("override.yaml", "target: local\nbake: 10\n");
    const t = io();
    const code = await main(["deploy-gray", "--config", path, "--json"], t.io);
    expect(code).toBe(2);
    expect(JSON.parse(t.out())).toMatchObject({ outcome: "refused", error: { field: "bake" } });
    const t2 = io();
    const code2 = await main(
      ["plan", "--config", path, "--bake", "1m", "--steps", "5,100", "--json", "--max-bake", "2m"],
      t2.io,
    );
    expect(t2.err()).not.toMatch(/bake/);
    expect(code2).toBe(0);
    expect(JSON.parse(t2.out()).steps.map((s: { bake: string }) => s.bake)).toEqual(["1m", "1m"]);
  }, 60_000);
});
