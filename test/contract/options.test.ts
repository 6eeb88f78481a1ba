import { describe, expect, it } from "vitest";
import {
  OPTION_DEFS,
  OPTION_NAMES,
  type OptionDef,
  type OptionName,
  type RawOptions,
  rawDefault,
  resolveOptions,
  SCHEMA,
  type Verb,
} from "../../src/app/schema.js";
import { InvalidInputError } from "../../src/contract/errors.js";
import { formatDuration, formatRate, parseDuration, parseRate } from "../../src/contract/units.js";

const AWS_BASE: RawOptions = {
  target: "aws",
  region: "sa-east-1",
  image: "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gatewaypix@sha256:" + "a".repeat(64),
  listenerArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gw/0123456789abcdef/0123456789abcdef",
  ruleArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener-rule/app/gw/0123456789abcdef/0123456789abcdef/fedcba9876543210",
  stableTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-stable/0123456789abcdef",
  grayTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-gray/fedcba9876543210",
  stableAsg: "gatewaypix-stable",
  grayAsg: "gatewaypix-gray",
  launchTemplate: "lt-0123456789abcdef0",
  stateTable: "gray-deploy-state",
};

function issuesOf(raw: RawOptions, verb: Verb = "deploy-gray"): { field: string; message: string }[] {
  try {
    resolveOptions(raw, { verb });
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return [...(e as InvalidInputError).issues];
  }
  return [];
}

describe("units", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1.5s", 1500],
  ])("parses the duration %s", (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: ms });
  });

  it.each(["10", "5", 10, "", "5 m", "5min", "-5s", "abc", "5m-", null])("rejects the duration %j", (bad) => {
    const r = parseDuration(bad);
    expect(r.ok).toBe(false);
  });

  it("tells how to write a duration without a unit", () => {
    expect(parseDuration("10")).toMatchObject({ ok: false, message: expect.stringContaining('"10s"') });
  });

  it.each([
    ["2%", 0.02],
    ["0.02", 0.02],
    [0.02, 0.02],
    ["0.5%", 0.005],
    ["100%", 1],
    ["0", 0],
  ])("parses the rate %j", (text, value) => {
    const r = parseRate(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value).toBeCloseTo(value, 12);
  });

  it.each(["2", 2, "1", 1, "150%", "-1", "-0.1", "abc", "2 %x", true])("rejects the rate %j", (bad) => {
    expect(parseRate(bad).ok).toBe(false);
  });

  it("calls a bare number above 1 ambiguous and shows both readings", () => {
    const r = parseRate("2");
    expect(r).toMatchObject({ ok: false, message: expect.stringMatching(/ambiguous.*2%.*0\.02/) });
  });

  it("formats durations and rates as a person writes them", () => {
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(500)).toBe("500ms");
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatRate(0.0205)).toBe("2.05%");
    expect(formatRate(null)).toBe("n/a");
  });
});

/** Bad values for each kind of option, derived from its definition. */
function badValues(name: OptionName): unknown[] {
  const def: OptionDef = OPTION_DEFS[name];
  switch (def.kind) {
    case "duration":
      return [
        "10",
        "ten seconds",
        ...(def.min !== undefined && def.min > 0 ? [`${Math.max(def.min - 1, 0)}ms`] : []),
        ...(def.max !== undefined ? [`${def.max + 1}ms`] : []),
      ];
    case "rate":
      return [
        "2",
        "150%",
        "-1%",
        "lots",
        ...(def.max !== undefined && def.max < 1 ? [`${def.max * 100 + 1}%`] : []),
      ];
    case "integer":
      return [
        "1.5",
        "many",
        ...(def.min !== undefined ? [def.min - 1] : []),
        ...(def.max !== undefined ? [def.max + 1] : []),
      ];
    case "boolean":
      return ["yes", 1];
    case "enum":
      return ["bogus"];
    case "steps":
      return ["5,5,100", "5,25", "0,100", "50,101", "a,100", ""];
    case "list":
      return [5, [1, 2]];
    case "string":
      return def.pattern ? ["not valid at all !", ""] : [""];
    case "json":
      return ["{not json", 42];
  }
}

function baseFor(name: OptionName): { raw: RawOptions; verb: Verb } {
  const def: OptionDef = OPTION_DEFS[name];
  const verbs = def.verbs ?? ["deploy-gray", "plan"];
  const verb = verbs.includes("deploy-gray") ? "deploy-gray" : verbs[0]!;
  const targets = SCHEMA.targetsOf(name);
  const aws = targets.length === 1 && targets[0] === "aws";
  const base: RawOptions = aws || verb === "bootstrap" ? { ...AWS_BASE } : { target: "local" };
  if (verb !== "deploy-gray" && verb !== "plan") {
    for (const k of Object.keys(base)) {
      const kd: OptionDef = OPTION_DEFS[k as OptionName];
      if (!(kd.verbs ?? ["deploy-gray", "plan"]).includes(verb)) delete base[k];
    }
  }
  return { raw: base, verb };
}

describe("options schema: every field's bad values", () => {
  const frontEndOnlyDagger = (n: OptionName) => {
    const fe = (OPTION_DEFS[n] as OptionDef).frontEnds;
    return fe !== undefined && !fe.includes("cli");
  };
  const cases = OPTION_NAMES.filter((n) => !frontEndOnlyDagger(n)).flatMap((name) =>
    badValues(name).map((bad) => [name, bad] as const),
  );

  it.each(cases)("%s = %j is rejected, naming the field", (name, bad) => {
    const { raw, verb } = baseFor(name);
    if (name === "target") raw.target = bad;
    const issues = issuesOf({ ...raw, [name]: bad }, verb);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.map((i) => i.field)).toContain(name);
    const issue = issues.find((i) => i.field === name)!;
    expect(issue.message.length).toBeGreaterThan(10);
  });

  it("accepts every default for both targets", () => {
    expect(issuesOf({ target: "local" })).toEqual([]);
    expect(issuesOf(AWS_BASE)).toEqual([]);
  });

  it("the message of an invalid input names the flag and says nothing changed", () => {
    try {
      resolveOptions({ target: "local", bake: "10" }, { verb: "deploy-gray" });
      expect.unreachable();
    } catch (e) {
      const err = e as InvalidInputError;
      expect(err.code).toBe("INVALID_INPUT");
      expect(err.message).toContain("--bake");
      expect(err.message).toContain('"10s"');
      expect(err.fix).toMatch(/nothing was changed/);
    }
  });
});

describe("options schema: structure and cross-field rules", () => {
  it("fills target-specific defaults: durations and load only", () => {
    const local = resolveOptions({ target: "local" }, { verb: "deploy-gray" });
    const aws = resolveOptions(AWS_BASE, { verb: "deploy-gray" });
    expect(aws.bake).toBe(12 * 60_000);
    expect(aws.rollbackWindow).toBe(5 * 60_000);
    expect(aws.promotionWindow).toBe(10 * 60_000);
    expect(aws.metricPeriod).toBe(60_000);
    expect(aws.metricsDelay).toBe(120_000);
    expect(local.bake).toBeLessThan(60_000);
    for (const name of OPTION_NAMES) {
      const def: OptionDef = OPTION_DEFS[name];
      if (def.perTarget) {
        expect(["duration", "integer"]).toContain(def.kind);
      }
    }
    // Thresholds are the seed's on both targets.
    for (const o of [local, aws]) {
      expect(o.rollbackErrorRate).toBe(0.02);
      expect(o.rollbackP99).toBe(2000);
      expect(o.rollbackUnhealthy).toBe(1);
      expect(o.promoteErrorRate).toBe(0.01);
      expect(o.promoteP95).toBe(500);
      expect(o.steps).toEqual([5, 25, 50, 100]);
    }
  });

  it("rejects a bake shorter than the promotion window plus the metrics delay, saying why", () => {
    const issues = issuesOf({ ...AWS_BASE, bake: "10m" });
    expect(issues).toEqual([
      {
        field: "bake",
        message: expect.stringMatching(/shorter than the promotion window plus the metrics delay.*12m/),
      },
    ]);
  });

  it.each<[string, RawOptions, string]>([
    ["bake shorter than interval", { target: "local", bake: "13s", interval: "20s" }, "bake"],
    ["max bake shorter than bake", { target: "local", maxBake: "13s", bake: "20s" }, "maxBake"],
    ["window not a multiple of the period", { target: "local", rollbackWindow: "10500ms" }, "rollbackWindow"],
    ["promote rate above rollback rate", { target: "local", promoteErrorRate: "3%" }, "promoteErrorRate"],
    ["promote p95 above rollback p99", { target: "local", promoteP95: "3s" }, "promoteP95"],
    ["approval gate not a step", { target: "local", approveBefore: "30" }, "approveBefore"],
    ["return steps not ending at 100", { target: "local", returnSteps: "50,90" }, "returnSteps"],
    [
      "a sub-minute period against real AWS",
      { ...AWS_BASE, metricPeriod: "10s", rollbackWindow: "5m" },
      "metricPeriod",
    ],
    ["polling AWS every second", { ...AWS_BASE, interval: "1s" }, "interval"],
    [
      "a target group of another region",
      {
        ...AWS_BASE,
        grayTargetGroupArn: String(AWS_BASE.grayTargetGroupArn).replace("sa-east-1", "us-east-1"),
      },
      "grayTargetGroupArn",
    ],
    ["region mismatch", { ...AWS_BASE, region: "us-east-1" }, "listenerArn"],
    [
      "a rule of another listener",
      { ...AWS_BASE, ruleArn: String(AWS_BASE.ruleArn).replace("app/gw/", "app/other/") },
      "ruleArn",
    ],
    [
      "the same target group twice",
      { ...AWS_BASE, grayTargetGroupArn: AWS_BASE.stableTargetGroupArn },
      "grayTargetGroupArn",
    ],
    ["the same ASG twice", { ...AWS_BASE, grayAsg: "gatewaypix-stable" }, "grayAsg"],
    ["an option of another target", { target: "aws", ...AWS_BASE, rps: 100 }, "rps"],
    ["an option of another verb", { target: "local", full: true }, "full"],
    ["an unknown option", { target: "local", bakee: "1m" }, "bakee"],
    ["a missing state table", { ...AWS_BASE, stateTable: undefined }, "stateTable"],
    ["a missing image on AWS", { ...AWS_BASE, image: undefined }, "image"],
    ["a missing listener on AWS", { ...AWS_BASE, listenerArn: undefined, ruleArn: undefined }, "listenerArn"],
  ])("rejects %s", (_name, raw, field) => {
    const clean = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
    const issues = issuesOf(clean);
    expect(issues.map((i) => i.field)).toContain(field);
  });

  it("suggests the closest option for a typo", () => {
    const issues = issuesOf({ target: "local", bakee: "1m" });
    expect(issues[0]?.message).toMatch(/did you mean bake \(--bake\)/);
  });

  it("reports every problem at once", () => {
    const issues = issuesOf({ target: "local", bake: "10", steps: "5,1", rps: 0 });
    expect(issues.map((i) => i.field).sort()).toEqual(["bake", "rps", "steps"]);
  });

  it("reads documented environment fallbacks when a front end passes the environment", () => {
    const o = resolveOptions(
      { target: "local" },
      { verb: "deploy-gray", env: { GITHUB_SHA: "abc123", GITHUB_ACTOR: "dev" } },
    );
    expect(o.commit).toBe("abc123");
    expect(o.startedBy).toBe("dev");
  });

  it("never echoes a sensitive value in an error", () => {
    const issues = issuesOf({ target: "local", notifyWebhook: "not-a-url-secret-token" });
    expect(JSON.stringify(issues)).not.toContain("secret-token");
  });

  it("control verbs on AWS need only the scope and the state table", () => {
    const raw = {
      target: "aws",
      region: "sa-east-1",
      listenerArn: AWS_BASE.listenerArn,
      stateTable: "gray-deploy-state",
    };
    for (const verb of ["status", "promote", "abort"] as const) expect(issuesOf(raw, verb)).toEqual([]);
  });

  it("every option has a description and a default that parses", () => {
    for (const name of OPTION_NAMES) {
      const def: OptionDef = OPTION_DEFS[name];
      expect(def.description.length, name).toBeGreaterThan(20);
      for (const target of ["local", "aws"] as const) {
        const d = rawDefault(name, target);
        if (d === undefined) continue;
        const { verb } = baseFor(name);
        const raw: RawOptions = target === "aws" ? { ...AWS_BASE } : { target: "local" };
        if (!SCHEMA.targetsOf(name).includes(target)) continue;
        if (verb !== "deploy-gray") continue;
        expect(
          issuesOf({ ...raw, [name]: d }).filter((i) => i.field === name),
          `${name} on ${target}`,
        ).toEqual([]);
      }
    }
  });
});
