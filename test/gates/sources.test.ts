/**
 * The gates' metric sources against the real things:
 * - CloudWatch (the AWS emulator): datapoints put per ASG and TargetGroup are read back exactly, in the
 *   SAME GetMetricData call as the ALB metrics, per window; a dimension whose placeholder has no value
 *   yet is that gate's measurement error.
 * - Zabbix (the real 6.0 server): per-version values pushed with zabbix_sender are read back as
 *   readings; an unreachable or slow Zabbix is a measurement error of its gates, never an exception
 *   that would cost the built-in metrics, and the gate is inconclusive.
 */

import { createServer, type Server, type Socket } from "node:net";
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGates } from "../../src/app/schema.js";
import { planGateQueries } from "../../src/aws/cloudwatch/queries.js";
import { planMetricQueries } from "../../src/aws/metrics.js";
import { withGateReaders } from "../../src/engine/gate-readers.js";
import { evaluateGate } from "../../src/gates/evaluate.js";
import type { GateSpec } from "../../src/gates/types.js";
import { ZabbixClient } from "../../src/zabbix/client.js";
import { ZabbixGateReader } from "../../src/zabbix/gates.js";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { buildWorld, openTarget, options } from "../aws/support/world.js";
import {
  createFleet,
  type Fleet,
  requireZabbix,
  sendMany,
  type ZabbixEnv,
  zabbixClient,
} from "../support/zabbix.js";

function gates(decls: Record<string, unknown>[]): readonly GateSpec[] {
  const p = parseGates(decls);
  if (!p.ok) throw new Error(JSON.stringify(p.issues));
  return p.value;
}

const CW = gates([
  {
    name: "declines",
    source: "cloudwatch",
    namespace: "TecPag/Payments",
    numerator: "PaymentsDeclined",
    denominator: "PaymentsAttempted",
    dimensions: { AutoScalingGroupName: "{asg}" },
    test: true,
  },
  {
    name: "latency",
    source: "cloudwatch",
    namespace: "TecPag/Payments",
    metricName: "SettlementLatency",
    statistic: "Maximum",
    dimensions: { TargetGroup: "{targetGroup}" },
    max: 800,
  },
  {
    name: "by-version",
    source: "cloudwatch",
    namespace: "TecPag/Payments",
    metricName: "SettlementLatency",
    dimensions: { Version: "{version}" },
    max: 800,
  },
]);

describe("CloudWatch gates", () => {
  const { emu, aws } = useAwsEmulator();

  it("are read back exactly per version and window, in the same GetMetricData call as the ALB metrics", async () => {
    const w = await buildWorld(emu(), aws(), { name: "gcw" });
    const end = Math.floor(Date.now() / 1000) * 1000 - 5000;
    const put = (
      asg: string,
      tg: string,
      offsetS: number,
      attempted: number,
      declined: number,
      latency: number,
    ) =>
      w.aws.cloudWatch.send(
        new PutMetricDataCommand({
          Namespace: "TecPag/Payments",
          // High-resolution, as a metric read at 1 s periods must be (CloudWatch keeps others per minute).
          MetricData: [
            {
              MetricName: "PaymentsAttempted",
              Dimensions: [{ Name: "AutoScalingGroupName", Value: asg }],
              Timestamp: new Date(end - offsetS * 1000),
              StorageResolution: 1,
              Value: attempted,
            },
            {
              MetricName: "PaymentsDeclined",
              Dimensions: [{ Name: "AutoScalingGroupName", Value: asg }],
              Timestamp: new Date(end - offsetS * 1000),
              StorageResolution: 1,
              Value: declined,
            },
            {
              MetricName: "SettlementLatency",
              Dimensions: [{ Name: "TargetGroup", Value: tg }],
              Timestamp: new Date(end - offsetS * 1000),
              StorageResolution: 1,
              Value: latency,
            },
          ],
        }),
      );
    const { stable, gray } = w.fx;
    // Rollback window: the last 2 s; promotion window: the last 4 s.
    await Promise.all([
      put(stable.asgName, stable.targetGroupDimension, 1, 100, 1, 300),
      put(stable.asgName, stable.targetGroupDimension, 2, 120, 2, 310),
      put(stable.asgName, stable.targetGroupDimension, 3, 90, 0, 900),
      put(gray.asgName, gray.targetGroupDimension, 1, 40, 9, 500),
      put(gray.asgName, gray.targetGroupDimension, 3, 30, 1, 450),
    ]);
    const o = options(w, "deploy-gray", { metricPeriod: "1s" });
    const target = await openTarget(w, o);
    try {
      const before = target.calls.snapshot();
      const windows = [
        { start: end - 2000, end },
        { start: end - 4000, end },
      ];
      const stats = await target.ports.metrics.read(windows, undefined, {
        gates: CW,
        versions: { stable: "1", gray: null },
      });
      expect(target.calls.since(before).operations).toEqual({ "cloudwatch:GetMetricData": 1 });
      const [rb, pr] = stats as [(typeof stats)[0], (typeof stats)[0]];
      expect(rb.business?.declines).toEqual({
        stable: { value: 3 / 220, samples: 220, numerator: 3, denominator: 220 },
        gray: { value: 9 / 40, samples: 40, numerator: 9, denominator: 40 },
      });
      expect(pr.business?.declines?.gray).toEqual({
        value: 10 / 70,
        samples: 70,
        numerator: 10,
        denominator: 70,
      });
      expect(rb.business?.latency).toEqual({
        stable: { value: 310, samples: 2 },
        gray: { value: 500, samples: 1 },
      });
      expect(pr.business?.latency?.stable).toEqual({ value: 900, samples: 3 });
      // {version} has no value for gray yet: that gate alone is a measurement error.
      expect(rb.business?.["by-version"]?.error).toMatch(/\{version\} has no value/);
      const g = evaluateGate(CW[0]!, rb.business!.declines!, {
        subject: "gray",
        referenceIdle: false,
        baselines: {},
        errors: {},
        significance: 0.001,
      });
      expect(g.verdict).toBe("inconclusive"); // 40 attempts < the default 100
    } finally {
      await target.dispose();
    }
  }, 60_000);

  it("fit in one call beside the built-in metrics even with 20 gates", () => {
    const windows = [
      { start: 0, end: 300_000 },
      { start: -300_000, end: 300_000 },
    ];
    const many = gates(
      Array.from({ length: 20 }, (_, i) => ({
        name: `g${i}`,
        source: "cloudwatch",
        namespace: "N",
        numerator: "D",
        denominator: "A",
        dimensions: { AutoScalingGroupName: "{asg}" },
        test: true,
      })),
    );
    const ids = { stable: { asg: "s" }, gray: { asg: "g" } };
    const custom = planGateQueries(many, windows, 60_000, ids);
    const builtIn = planMetricQueries(windows, {
      loadBalancerArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:loadbalancer/app/gw/0123456789abcdef",
      stableTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/s/0123456789abcdef",
      grayTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/g/0123456789abcdef",
      periodMs: 60_000,
    });
    expect(custom.queries.length + builtIn.queries.length).toBeLessThanOrEqual(500);
    expect(custom.queries.map((q) => q.MetricStat?.Period)).toContain(600);
    expect(new Set([...custom.queries, ...builtIn.queries].map((q) => q.Id)).size).toBe(
      custom.queries.length + builtIn.queries.length,
    );
  });
});

describe("Zabbix gates", () => {
  let env: ZabbixEnv;
  let fleet: Fleet;
  let client: ZabbixClient;
  let silent: Server;
  const sockets: Socket[] = [];
  const Z = gates([
    {
      name: "declines",
      source: "zabbix",
      numeratorKey: "payments.declined",
      denominatorKey: "payments.attempted",
      test: true,
      minSamples: 10,
    },
    { name: "latency", source: "zabbix", key: "payments.latency.ms", aggregation: "max", max: 800 },
  ]);
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;

  beforeAll(async () => {
    env = await requireZabbix();
    client = zabbixClient();
    fleet = await createFleet({ stable: 2, gray: 1, label: "gates" });
    const [s1, s2] = fleet.stable as [string, string];
    const g1 = fleet.gray[0]!;
    const at = (host: string, key: string, s: number, value: number) => ({
      host,
      key,
      value,
      clock: base + s * 1000,
    });
    await sendMany([
      at(s1, "payments.attempted", 5, 100),
      at(s2, "payments.attempted", 15, 80),
      at(s1, "payments.declined", 5, 2),
      at(g1, "payments.attempted", 5, 60),
      at(g1, "payments.declined", 5, 12),
      at(s1, "payments.latency.ms", 5, 320),
      at(s2, "payments.latency.ms", 15, 410),
      at(g1, "payments.latency.ms", 5, 700),
    ]);
    // A port that accepts connections and never answers: a Zabbix that hangs.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  }, 60_000);

  afterAll(async () => {
    await fleet?.dispose();
    await client?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => silent?.close(r));
  });

  const reader = (c: ZabbixClient, timeoutMs = 10_000) =>
    new ZabbixGateReader({
      client: c,
      identities: { stable: { asg: fleet.asgs.stable }, gray: { asg: fleet.asgs.gray } },
      timeoutMs,
    });

  it("read each version's hosts (tagged with its ASG) into readings, and pass preflight", async () => {
    const facts = await reader(client).preflight(Z);
    expect(facts.join("\n")).toMatch(/gate declines: stable: 2 Zabbix host\(s\)/);
    const [w] = await reader(client).read(Z, [{ start: base, end: base + 60_000 }]);
    expect(w!.declines).toEqual({
      stable: { value: 2 / 180, samples: 180, numerator: 2, denominator: 180 },
      gray: { value: 12 / 60, samples: 60, numerator: 12, denominator: 60 },
    });
    expect(w!.latency).toEqual({ stable: { value: 410, samples: 2 }, gray: { value: 700, samples: 1 } });
    expect(env.version).toMatch(/^6\.0/);
  });

  it("make a Zabbix that refuses or hangs a measurement error of its gates: inconclusive, the built-in metrics kept", async () => {
    const refused = new ZabbixClient({
      url: "http://127.0.0.1:9/api_jsonrpc.php",
      token: env.token,
      timeoutMs: 2000,
    });
    const hanging = new ZabbixClient({
      url: `http://127.0.0.1:${(silent.address() as { port: number }).port}/api_jsonrpc.php`,
      token: env.token,
      timeoutMs: 30_000,
    });
    const window = { start: base, end: base + 60_000 };
    const builtIn = {
      async read() {
        return [
          {
            ...window,
            stable: { requests: 10, errors: 0, p95Ms: 1, p99Ms: 1, hasData: true },
            gray: { requests: 5, errors: 0, p95Ms: 1, p99Ms: 1, hasData: true },
            lbErrors: 0,
          },
        ];
      },
    };
    try {
      // Each read ends before what it must not wait for: a refusal before the read's own deadline,
      // a hang at the read's deadline, long before the client's 30 s (bounds that tell the cases
      // apart on a loaded machine too, where "the deadline + 3 s" did not hold by design).
      for (const [c, timeoutMs, mustBeatMs, why] of [
        [refused, 10_000, 10_000, /Zabbix: .*(refused|ECONNREFUSED)/i],
        [hanging, 1500, 30_000, /did not finish within 1500 ms/],
      ] as const) {
        const t0 = performance.now();
        const source = withGateReaders(builtIn, "cloudwatch", [reader(c, timeoutMs)]);
        const [w] = await source.read([window], undefined, {
          gates: Z,
          versions: { stable: "1", gray: "2" },
        });
        expect(performance.now() - t0).toBeLessThan(mustBeatMs);
        expect(w!.stable.requests).toBe(10);
        const reading = w!.business!.declines!;
        expect(reading.error).toMatch(why);
        const g = evaluateGate(Z[0]!, reading, {
          subject: "gray",
          referenceIdle: false,
          baselines: {},
          errors: { declines: 1 },
          significance: 0.001,
        });
        expect(g.verdict).toBe("inconclusive");
      }
    } finally {
      await refused.close();
      await hanging.close();
    }
  }, 90_000);

  it("refuse a wrong token at preflight as a credentials error naming the gate", async () => {
    const wrong = new ZabbixClient({ url: env.url, token: "f".repeat(64), timeoutMs: 5000 });
    try {
      await expect(reader(wrong).preflight(Z)).rejects.toMatchObject({
        code: "CREDENTIALS",
        message: expect.stringMatching(/^gate declines \(Zabbix\):/),
      });
    } finally {
      await wrong.close();
    }
  });
});
