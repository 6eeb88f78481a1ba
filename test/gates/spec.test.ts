/**
 * Gate declarations: what is accepted (and normalised, with defaults), and every mistake refused with
 * a message naming the gate and the field, through the options schema as every front end uses it.
 */
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseGates, type RawOptions, resolveOptions } from "../../src/app/schema.js";
import { buildProgram } from "../../src/cli/program.js";
import { InvalidInputError } from "../../src/contract/errors.js";
import { describeGate, substitute } from "../../src/gates/spec.js";
import type { GateSpec } from "../../src/gates/types.js";

const README_EXAMPLE = `
gates:
  - name: pix-declines
    source: cloudwatch
    namespace: TecPag/Payments
    numerator: PaymentsDeclined
    denominator: PaymentsAttempted
    dimensions: { AutoScalingGroupName: "{asg}", Method: pix }
    test: { margin: 0.5% }
    minSamples: 200
  - name: settlement-latency
    source: cloudwatch
    namespace: TecPag/Payments
    metricName: SettlementLatency
    statistic: p99
    dimensions: { TargetGroup: "{targetGroup}" }
    max: 800
    window: promotion
  - name: pix-declines-zabbix
    source: zabbix
    numeratorKey: payments.declined
    denominatorKey: payments.attempted
    ratio: { tolerance: 50% }
`;

function ok(raw: unknown): readonly GateSpec[] {
  const p = parseGates(raw);
  if (!p.ok) throw new Error(JSON.stringify(p.issues));
  return p.value;
}

function issues(raw: unknown): string[] {
  const p = parseGates(raw);
  return p.ok ? [] : p.issues.map((i) => `${i.path}: ${i.message}`);
}

const CW = {
  name: "g",
  source: "cloudwatch",
  namespace: "TecPag/Payments",
  metricName: "SettlementLatency",
  dimensions: { AutoScalingGroupName: "{asg}" },
  max: 800,
};

describe("gate declarations", () => {
  it("accept the README's example and fill in the defaults", () => {
    const gates = ok((parseYaml(README_EXAMPLE) as { gates: unknown }).gates);
    expect(gates).toEqual([
      {
        name: "pix-declines",
        metric: {
          source: "cloudwatch",
          kind: "rate",
          namespace: "TecPag/Payments",
          numerator: "PaymentsDeclined",
          denominator: "PaymentsAttempted",
          dimensions: { AutoScalingGroupName: "{asg}", Method: "pix" },
          label: "PaymentsDeclined ÷ PaymentsAttempted",
          title: "CloudWatch TecPag/Payments PaymentsDeclined ÷ PaymentsAttempted",
        },
        rule: { kind: "test", margin: 0.005 },
        window: "rollback",
        minSamples: 200,
        maxErrors: 3,
      },
      {
        name: "settlement-latency",
        metric: {
          source: "cloudwatch",
          kind: "value",
          namespace: "TecPag/Payments",
          metricName: "SettlementLatency",
          dimensions: { TargetGroup: "{targetGroup}" },
          statistic: "p99",
          label: "SettlementLatency p99",
          title: "CloudWatch TecPag/Payments SettlementLatency p99",
        },
        rule: { kind: "max", limit: 800 },
        window: "promotion",
        minSamples: 1,
        maxErrors: 3,
      },
      {
        name: "pix-declines-zabbix",
        metric: {
          source: "zabbix",
          kind: "rate",
          numeratorKey: "payments.declined",
          denominatorKey: "payments.attempted",
          hosts: {
            stable: { tags: [{ tag: "asg", value: "{asg}" }] },
            gray: { tags: [{ tag: "asg", value: "{asg}" }] },
          },
          label: "payments.declined ÷ payments.attempted",
          title: "Zabbix payments.declined ÷ payments.attempted",
        },
        rule: { kind: "ratio", tolerance: 0.5, worse: "higher" },
        window: "rollback",
        minSamples: 100,
        maxErrors: 3,
      },
    ]);
    expect(gates.map(describeGate)).toEqual([
      "custom:pix-declines: CloudWatch TecPag/Payments PaymentsDeclined ÷ PaymentsAttempted not worse than stable by more than 0.5% (tested) over the rollback window",
      "custom:settlement-latency: CloudWatch TecPag/Payments SettlementLatency p99 ≤ 800 over the promotion window",
      "custom:pix-declines-zabbix: Zabbix payments.declined ÷ payments.attempted ≤ stable × 1.5 over the rollback window",
    ]);
  });

  it("accept one object, its JSON, a JSON list, and one JSON text per repeated flag alike", () => {
    const one = ok(CW);
    expect(ok(JSON.stringify(CW))).toEqual(one);
    expect(ok(JSON.stringify([CW]))).toEqual(one);
    expect(ok([JSON.stringify(CW), JSON.stringify({ ...CW, name: "h" })]).map((g) => g.name)).toEqual([
      "g",
      "h",
    ]);
  });

  it("take Zabbix hosts by tag, by groups per version, or as one template with {asg}", () => {
    const z = { name: "z", source: "zabbix", key: "payments.latency.ms", max: 300 };
    expect(ok({ ...z, hosts: { tag: "instance-asg" } })[0]!.metric).toMatchObject({
      aggregation: "avg",
      hosts: { gray: { tags: [{ tag: "instance-asg", value: "{asg}" }] } },
    });
    expect(
      ok({ ...z, hosts: { stable: { groups: ["pix/stable"] }, gray: { groups: ["pix/canary"] } } })[0]!
        .metric,
    ).toMatchObject({ hosts: { stable: { groups: ["pix/stable"] }, gray: { groups: ["pix/canary"] } } });
    expect(ok({ ...z, hosts: { groups: ["asg/{asg}"], tags: { env: "prod" } } })[0]!.metric).toMatchObject({
      hosts: { stable: { groups: ["asg/{asg}"], tags: [{ tag: "env", value: "prod" }] } },
    });
  });

  it.each([
    [{ ...CW, name: undefined }, "[0].name: required"],
    [{ ...CW, name: "Pix Declines" }, "[0].name: must be lower-case"],
    [{ ...CW, source: "datadog" }, '[0].source: "datadog" is not cloudwatch or zabbix'],
    [
      { ...CW, metricName: undefined },
      '[0].metricName: required (or numerator and denominator for a rate) (gate "g")',
    ],
    [{ ...CW, namespace: undefined }, '[0].namespace: required (gate "g")'],
    [{ ...CW, threshold: 3 }, "[0].threshold: unknown field"],
    [{ ...CW, key: "payments.declined" }, "[0].key: applies to source zabbix only"],
    [{ ...CW, max: undefined }, "[0]: needs a rule: one of max, min, ratio, test"],
    [{ ...CW, min: 1 }, "[0].min: one rule per gate, but max and min are given"],
    [{ ...CW, max: undefined, test: true }, "[0].test: the statistical test applies to rates"],
    [{ ...CW, max: "lots" }, '[0].max: "lots" is not a number'],
    [{ ...CW, statistic: "Median" }, '[0].statistic: "Median" is not one of Sum, Average'],
    [
      { ...CW, dimensions: { AutoScalingGroupName: "{asgName}" } },
      "[0].dimensions.AutoScalingGroupName: unknown placeholder {asgName}",
    ],
    [
      { ...CW, dimensions: { LoadBalancer: "{loadBalancer}" } },
      "[0].dimensions: must tell the versions apart",
    ],
    [{ ...CW, window: "both" }, '[0].window: "both" is not rollback or promotion'],
    [{ ...CW, minSamples: 0 }, "[0].minSamples: 0 is not a whole number from 1"],
    [{ ...CW, maxErrors: 1.5 }, "[0].maxErrors: 1.5 is not a whole number"],
    [
      {
        ...CW,
        max: undefined,
        metricName: undefined,
        numerator: "A",
        denominator: "B",
        ratio: { tolerance: "25%", worse: "up" },
      },
      '[0].ratio.worse: "up" is not higher or lower',
    ],
    [
      {
        ...CW,
        max: undefined,
        metricName: undefined,
        numerator: "A",
        denominator: "B",
        max2: 1,
        test: { margin: "2" },
      },
      "[0].max2: unknown field",
    ],
    [{ ...CW, metricName: undefined, numerator: "A" }, '[0].denominator: required (gate "g")'],
    [{ ...CW, metricName: undefined, numerator: "A", denominator: "B", max: 5 }, '[0].max: "5" is ambiguous'],
    [
      { name: "z", source: "zabbix", key: "k", max: 1, hosts: { groups: ["pix"] } },
      "[0].hosts: one selector for both versions must hold {asg}",
    ],
    [
      { name: "z", source: "zabbix", key: "k", max: 1, hosts: { stable: { groups: ["a"] } } },
      "[0].hosts.gray: required when hosts.stable is given",
    ],
    [
      { name: "z", source: "zabbix", key: "k", max: 1, aggregation: "median" },
      '[0].aggregation: "median" is not one of sum, avg',
    ],
    [{ name: "z", source: "zabbix", numeratorKey: "a", max: 1 }, '[0].denominatorKey: required (gate "z")'],
    ["[{", "is not valid JSON"],
    [42, "expected a list of gate declarations"],
  ])("refuse %j: %s", (raw, expected) => {
    expect(issues(raw).join("\n")).toContain(expected);
  });

  it("refuse duplicate names and too many gates", () => {
    expect(issues([CW, CW])).toContain('[1].name: "g" is already the name of gates[0]: names must be unique');
    expect(issues(Array.from({ length: 21 }, (_, i) => ({ ...CW, name: `g${i}` })))[0]).toMatch(/at most 20/);
  });

  it("report every problem through the schema as --gates[i].field, naming the gate", () => {
    const raw: RawOptions = {
      target: "aws",
      region: "sa-east-1",
      gates: JSON.stringify([CW, { ...CW, name: "settlement", metricName: undefined }]),
    };
    try {
      resolveOptions(raw, { verb: "plan" });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidInputError);
      const err = e as InvalidInputError;
      expect(err.issues.map((i) => i.field)).toContain("gates[1].metricName");
      expect(err.message).toContain(
        '--gates[1].metricName: required (or numerator and denominator for a rate) (gate "settlement")',
      );
    }
  });

  it("CloudWatch gates need the AWS target; Zabbix gates run on any target, with the URL and the token", () => {
    expect(() => resolveOptions({ target: "local", gates: [CW] }, { verb: "deploy-gray" })).toThrow(
      /--gates\[0\]\.source: cloudwatch gates are read by the aws target's own metrics: use --target aws/,
    );
    const z = { name: "z", source: "zabbix", numeratorKey: "a", denominatorKey: "b", test: true };
    const local = resolveOptions(
      {
        target: "local",
        gates: [{ ...z, hosts: { stable: { groups: ["a"] }, gray: { groups: ["b"] } } }],
        zabbixUrl: "http://127.0.0.1:1/api_jsonrpc.php",
        zabbixToken: "x".repeat(16),
      },
      { verb: "deploy-gray" },
    );
    expect(local.gates.map((g) => g.metric.source)).toEqual(["zabbix"]);
    const aws: RawOptions = {
      target: "aws",
      region: "sa-east-1",
      image: "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gatewaypix:1.5.0",
      listenerArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gw/0123456789abcdef/0123456789abcdef",
      stableTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-s/0123456789abcdef",
      grayTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-g/fedcba9876543210",
      stableAsg: "gatewaypix-stable",
      grayAsg: "gatewaypix-gray",
      launchTemplate: "lt-0123456789abcdef0",
      stateTable: "gray-deploy-state",
    };
    expect(resolveOptions({ ...aws, gates: [CW] }, { verb: "plan" }).gates).toHaveLength(1);
    expect(() => resolveOptions({ ...aws, gates: [z] }, { verb: "plan" })).toThrow(
      /--zabbix-url: is required: gate\(s\) z read Zabbix.*--zabbix-token: is required/,
    );
  });

  it("reach the schema from a repeated CLI flag", async () => {
    const program = buildProgram("0.0.0");
    let flags: Record<string, unknown> = {};
    const cmd = program.commands.find((c) => c.name() === "plan")!;
    cmd.action((f: Record<string, unknown>) => {
      flags = f;
    });
    await program.parseAsync(
      ["plan", "--gates", JSON.stringify(CW), "--gates", JSON.stringify({ ...CW, name: "h" })],
      {
        from: "user",
      },
    );
    expect(flags.gates).toHaveLength(2);
    expect(ok(flags.gates).map((g) => g.name)).toEqual(["g", "h"]);
  });
});

describe("placeholders", () => {
  it("take each version's identity, and name the one without a value", () => {
    expect(substitute("{asg}", { asg: "gatewaypix-gray" })).toBe("gatewaypix-gray");
    expect(substitute("v{version}-{asg}", { asg: "a", version: "7" })).toBe("v7-a");
    expect(() => substitute("{version}", { version: null })).toThrow("{version} has no value");
  });
});

describe("the documented examples", () => {
  it.each(["README.md", "docs/gray-deployment-runbook.md", "docs/gray-deployment-runbook.pt-BR.md"])(
    "%s: every `gates:` YAML block is valid",
    async (file) => {
      const { readFile } = await import("node:fs/promises");
      const text = await readFile(new URL(`../../${file}`, import.meta.url), "utf8");
      const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
        .map((m) => m[1]!)
        .filter((b) => /^gates:/m.test(b));
      expect(blocks.length).toBeGreaterThan(0);
      for (const b of blocks) expect(ok((parseYaml(b) as { gates: unknown }).gates).length).toBe(2);
    },
  );
});
