/**
 * The module's rollback alarms and gray-deploy's rollback gates must say the same thing. The
 * defaults of the module's threshold variables are compared with the tool's defaults, read from
 * the contract (OPTION_DEFS / rawDefault) and parsed with the contract's own unit parsers: change a
 * default on either side and this test fails.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { OPTION_DEFS, rawDefault } from "../../src/app/schema.js";
import { parseDuration, parseRate } from "../../src/contract/units.js";
import { EXAMPLE_DIR, loadTerraformDir, MODULE_DIR, raw, type TerraformDir } from "./hcl.js";

let mod: TerraformDir;
let example: TerraformDir;

beforeAll(async () => {
  mod = await loadTerraformDir(MODULE_DIR);
  example = await loadTerraformDir(EXAMPLE_DIR);
});

function toolDuration(name: "rollbackWindow" | "rollbackP99" | "maxPause"): number {
  const parsed = parseDuration(rawDefault(name, "aws"));
  if (!parsed.ok) throw new Error(`${name}: ${parsed.message}`);
  return parsed.value;
}

function toolRate(name: "rollbackErrorRate"): number {
  const parsed = parseRate(rawDefault(name, "aws"));
  if (!parsed.ok) throw new Error(`${name}: ${parsed.message}`);
  return parsed.value;
}

const moduleDefault = (variable: string): unknown => {
  const v = mod.variables[variable];
  if (v === undefined) throw new Error(`the module has no variable ${variable}`);
  return v.default;
};

describe("alarm thresholds = gray-deploy's default rollback thresholds", () => {
  it("error rate: the tool's --rollback-error-rate (2%), as the alarm's percentage", () => {
    const percent = toolRate("rollbackErrorRate") * 100;
    expect(moduleDefault("error_rate_threshold_percent")).toBeCloseTo(percent, 9);
    // The alarm's expression is a percentage (100 * errors / requests), compared with that variable.
    const alarm = mod.resources["aws_cloudwatch_metric_alarm.gray_error_rate"]!;
    expect(raw(alarm.threshold)).toBe("var.error_rate_threshold_percent");
  });

  it("p99 latency: the tool's --rollback-p99 (2s), in seconds as TargetResponseTime is", () => {
    expect(moduleDefault("p99_threshold_seconds")).toBe(toolDuration("rollbackP99") / 1000);
    expect(raw(mod.resources["aws_cloudwatch_metric_alarm.gray_p99"]!.threshold)).toBe(
      "var.p99_threshold_seconds",
    );
  });

  it("unhealthy gray instances: the tool's --rollback-unhealthy (more than 1)", () => {
    expect(moduleDefault("unhealthy_hosts_threshold")).toBe(rawDefault("rollbackUnhealthy", "aws"));
    expect(OPTION_DEFS.rollbackUnhealthy.description).toMatch(/more than/);
    const alarm = mod.resources["aws_cloudwatch_metric_alarm.gray_unhealthy"]!;
    expect(raw(alarm.threshold)).toBe("var.unhealthy_hosts_threshold");
    expect(alarm.comparison_operator, "more than N, as the tool's gate").toBe("GreaterThanThreshold");
  });

  it("window: the tool's --rollback-window on AWS (5m), a whole number of ALB metric periods", () => {
    const windowMs = toolDuration("rollbackWindow");
    expect(moduleDefault("rollback_window_minutes")).toBe(windowMs / 60_000);
    expect(windowMs % 60_000, "ALB metrics have one-minute periods").toBe(0);
    expect(raw(mod.locals.window_seconds)).toBe("var.rollback_window_minutes * 60");
  });

  it("the guard's maximum pause: the tool's --max-pause (1h)", () => {
    const pause = parseDuration(moduleDefault("guard_max_pause"));
    expect(pause.ok && pause.value).toBe(toolDuration("maxPause"));
  });

  it("the example keeps the defaults (changing them must go together with the pipeline's flags)", () => {
    const args = example.modules.gray!;
    for (const v of [
      "error_rate_threshold_percent",
      "p99_threshold_seconds",
      "unhealthy_hosts_threshold",
      "rollback_window_minutes",
      "guard_max_pause",
    ]) {
      expect(args[v], `example overrides ${v}`).toBeUndefined();
    }
  });

  it("the variables' descriptions name the tool's flags they mirror", () => {
    const flags: Record<string, string> = {
      error_rate_threshold_percent: "--rollback-error-rate",
      p99_threshold_seconds: "--rollback-p99",
      unhealthy_hosts_threshold: "--rollback-unhealthy",
      rollback_window_minutes: "--rollback-window",
      guard_max_pause: "--max-pause",
    };
    for (const [v, flag] of Object.entries(flags))
      expect(String(mod.variables[v]!.description), v).toContain(flag);
  });
});
