import {
  type Dimension,
  GetMetricDataCommand,
  type GetMetricDataCommandOutput,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  type MetricDataQuery,
  PutMetricDataCommand,
} from "@aws-sdk/client-cloudwatch";
import { beforeEach, describe, expect, it } from "vitest";
import { useEmulator } from "./helpers.js";

const { aws } = useEmulator();

const NS = "AWS/ApplicationELB";
const LB = { Name: "LoadBalancer", Value: "app/gatewaypix-alb/50dc6c495c0c9188" };
const GRAY: Dimension[] = [
  LB,
  { Name: "TargetGroup", Value: "targetgroup/gatewaypix-gray/943f017f100becff" },
];
const STABLE: Dimension[] = [
  LB,
  { Name: "TargetGroup", Value: "targetgroup/gatewaypix-stable/73e2d6bc24d8a067" },
];
// Minute-aligned, recent, and far enough back that every minute below is complete.
const T0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000);
const at = (minute: number, second = 0): Date => new Date(T0.getTime() + minute * 60_000 + second * 1000);

function stat(
  id: string,
  metric: string,
  dims: Dimension[],
  statName: string,
  period = 60,
  returnData = true,
): MetricDataQuery {
  return {
    Id: id,
    MetricStat: {
      Metric: { Namespace: NS, MetricName: metric, Dimensions: dims },
      Period: period,
      Stat: statName,
    },
    ReturnData: returnData,
  };
}

async function query(queries: MetricDataQuery[], minutes = 10): Promise<Record<string, [string, number][]>> {
  const out: GetMetricDataCommandOutput = await aws().cloudWatch.send(
    new GetMetricDataCommand({
      StartTime: at(0),
      EndTime: at(minutes),
      MetricDataQueries: queries,
      ScanBy: "TimestampAscending",
    }),
  );
  return Object.fromEntries(
    (out.MetricDataResults ?? []).map((r) => [
      r.Id!,
      (r.Timestamps ?? []).map(
        (t, i) =>
          [`+${Math.round((t.getTime() - T0.getTime()) / 60_000)}m`, r.Values![i]!] as [string, number],
      ),
    ]),
  );
}

describe("CloudWatch", () => {
  beforeEach(async () => {
    const cw = aws().cloudWatch;
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    await cw.send(
      new PutMetricDataCommand({
        Namespace: NS,
        MetricData: [
          // minute 0: a distribution 1..100 (as the data plane writes a minute of response times)
          {
            MetricName: "TargetResponseTime",
            Dimensions: GRAY,
            Timestamp: at(0, 10),
            Unit: "Seconds",
            Values: values,
            Counts: values.map(() => 1),
          },
          // minute 1: three single values
          {
            MetricName: "TargetResponseTime",
            Dimensions: GRAY,
            Timestamp: at(1, 1),
            Unit: "Seconds",
            Value: 5,
          },
          {
            MetricName: "TargetResponseTime",
            Dimensions: GRAY,
            Timestamp: at(1, 20),
            Unit: "Seconds",
            Value: 9,
          },
          {
            MetricName: "TargetResponseTime",
            Dimensions: GRAY,
            Timestamp: at(1, 59),
            Unit: "Seconds",
            Value: 7,
          },
          // minute 2: nothing. minute 3: one value seen 1000 times
          {
            MetricName: "TargetResponseTime",
            Dimensions: GRAY,
            Timestamp: at(3, 30),
            Unit: "Seconds",
            Values: [0.5],
            Counts: [1000],
          },
          // same name, different dimension set: another metric, never mixed in
          {
            MetricName: "TargetResponseTime",
            Dimensions: [LB],
            Timestamp: at(0, 30),
            Unit: "Seconds",
            Value: 1000,
          },
          {
            MetricName: "TargetResponseTime",
            Dimensions: STABLE,
            Timestamp: at(0, 30),
            Unit: "Seconds",
            Value: 0.01,
          },
          { MetricName: "RequestCount", Dimensions: GRAY, Timestamp: at(0, 5), Unit: "Count", Value: 60 },
          { MetricName: "RequestCount", Dimensions: GRAY, Timestamp: at(0, 50), Unit: "Count", Value: 40 },
          { MetricName: "RequestCount", Dimensions: GRAY, Timestamp: at(1, 5), Unit: "Count", Value: 50 },
          {
            MetricName: "HTTPCode_Target_5XX_Count",
            Dimensions: GRAY,
            Timestamp: at(0, 7),
            Unit: "Count",
            Value: 5,
          },
          // a statistic set without spread has percentiles; one with spread has none
          {
            MetricName: "Latency",
            Dimensions: GRAY,
            Timestamp: at(4),
            StatisticValues: { SampleCount: 10, Sum: 20, Minimum: 2, Maximum: 2 },
          },
          {
            MetricName: "Latency",
            Dimensions: GRAY,
            Timestamp: at(5),
            StatisticValues: { SampleCount: 10, Sum: 30, Minimum: 1, Maximum: 5 },
          },
        ],
      }),
    );
  });

  it("computes percentiles per period from raw values", async () => {
    const r = await query([
      stat("p50", "TargetResponseTime", GRAY, "p50"),
      stat("p95", "TargetResponseTime", GRAY, "p95"),
      stat("p99", "TargetResponseTime", GRAY, "p99"),
      stat("p999", "TargetResponseTime", GRAY, "p99.9"),
      stat("lat", "Latency", GRAY, "p90"),
    ]);
    expect(r["p50"]).toEqual([
      ["+0m", 50],
      ["+1m", 7],
      ["+3m", 0.5],
    ]);
    expect(r["p95"]).toEqual([
      ["+0m", 95],
      ["+1m", 9],
      ["+3m", 0.5],
    ]);
    expect(r["p99"]).toEqual([
      ["+0m", 99],
      ["+1m", 9],
      ["+3m", 0.5],
    ]);
    expect(r["p999"]).toEqual([
      ["+0m", 100],
      ["+1m", 9],
      ["+3m", 0.5],
    ]);
    expect(r["lat"]).toEqual([["+4m", 2]]);
  });

  it("keeps Sum, Average, SampleCount, Minimum and Maximum, each query with its own period", async () => {
    const r = await query([
      stat("sum", "TargetResponseTime", GRAY, "Sum"),
      stat("avg", "TargetResponseTime", GRAY, "Average"),
      stat("n", "TargetResponseTime", GRAY, "SampleCount"),
      stat("min", "TargetResponseTime", GRAY, "Minimum"),
      stat("max", "TargetResponseTime", GRAY, "Maximum"),
      stat("n5", "TargetResponseTime", GRAY, "SampleCount", 300),
      stat("req5", "RequestCount", GRAY, "Sum", 300),
      stat("stable", "TargetResponseTime", STABLE, "Maximum"),
    ]);
    expect(r["sum"]).toEqual([
      ["+0m", 5050],
      ["+1m", 21],
      ["+3m", 500],
    ]);
    expect(r["avg"]).toEqual([
      ["+0m", 50.5],
      ["+1m", 7],
      ["+3m", 0.5],
    ]);
    expect(r["n"]).toEqual([
      ["+0m", 100],
      ["+1m", 3],
      ["+3m", 1000],
    ]);
    expect(r["min"]).toEqual([
      ["+0m", 1],
      ["+1m", 5],
      ["+3m", 0.5],
    ]);
    expect(r["max"]).toEqual([
      ["+0m", 100],
      ["+1m", 9],
      ["+3m", 0.5],
    ]);
    expect(r["n5"]).toEqual([["+0m", 1103]]);
    expect(r["req5"]).toEqual([["+0m", 150]]);
    expect(r["stable"]).toEqual([["+0m", 0.01]]);
  });

  it("has no datapoint where there is no data, and matches the exact dimension set", async () => {
    const r = await query([
      stat("errors", "HTTPCode_Target_5XX_Count", GRAY, "Sum"),
      stat("stableErrors", "HTTPCode_Target_5XX_Count", STABLE, "Sum"),
      stat("lbOnly", "TargetResponseTime", [LB], "Maximum"),
      stat("noDims", "TargetResponseTime", [], "Maximum"),
    ]);
    expect(r["errors"]).toEqual([["+0m", 5]]);
    expect(r["stableErrors"]).toEqual([]);
    expect(r["lbOnly"]).toEqual([["+0m", 1000]]);
    expect(r["noDims"]).toEqual([]);
  });

  it("evaluates simple metric math across ids", async () => {
    const r = await query([
      stat("e", "HTTPCode_Target_5XX_Count", GRAY, "Sum", 60, false),
      stat("q", "RequestCount", GRAY, "Sum", 60, false),
      { Id: "rate", Expression: "100*e/q", Label: "gray 5xx %" },
      { Id: "filled", Expression: "100 * FILL(e, 0) / q" },
      { Id: "total", Expression: "(q + FILL(e, 0)) - -1" },
    ]);
    expect(Object.keys(r).sort()).toEqual(["filled", "rate", "total"]);
    expect(r["rate"]).toEqual([["+0m", 5]]);
    expect(r["filled"]).toEqual([
      ["+0m", 5],
      ["+1m", 0],
    ]);
    expect(r["total"]).toEqual([
      ["+0m", 106],
      ["+1m", 51],
    ]);

    await expect(
      query([stat("e", "RequestCount", GRAY, "Sum"), { Id: "bad", Expression: "METRICS()" }]),
    ).rejects.toThrow(/not supported/);
  });

  it("answers GetMetricStatistics with ExtendedStatistics", async () => {
    const out = await aws().cloudWatch.send(
      new GetMetricStatisticsCommand({
        Namespace: NS,
        MetricName: "TargetResponseTime",
        Dimensions: GRAY,
        StartTime: at(0),
        EndTime: at(10),
        Period: 60,
        Statistics: ["SampleCount", "Average"],
        ExtendedStatistics: ["p95", "p99"],
        Unit: "Seconds",
      }),
    );
    const points = (out.Datapoints ?? []).sort((a, b) => a.Timestamp!.getTime() - b.Timestamp!.getTime());
    expect(
      points.map((p) => [
        p.Timestamp!.getTime() - T0.getTime(),
        p.SampleCount,
        p.Average,
        p.ExtendedStatistics,
      ]),
    ).toEqual([
      [0, 100, 50.5, { p95: 95, p99: 99 }],
      [60_000, 3, 7, { p95: 9, p99: 9 }],
      [180_000, 1000, 0.5, { p95: 0.5, p99: 0.5 }],
    ]);
    expect(points[0]!.Unit).toBe("Seconds");
  });

  it("rejects statistics it cannot compute instead of answering HTTP 500", async () => {
    await expect(query([stat("tm", "TargetResponseTime", GRAY, "tm99")])).rejects.toMatchObject({
      name: "InvalidParameterValueException",
    });
  });
});

describe("emulator CloudWatch: custom high-resolution metrics (--signal service)", () => {
  const CUSTOM = "GrayDeploy/Service";
  const dims = [{ Name: "AutoScalingGroupName", Value: "gw-gray" }];
  const custom = (id: string, metric: string, statName: string, period: number): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: { Namespace: CUSTOM, MetricName: metric, Dimensions: dims },
      Period: period,
      Stat: statName,
    },
    ReturnData: true,
  });

  beforeEach(async () => {
    const cw = aws().cloudWatch;
    // High resolution: one datum per 10 s period; standard resolution: the same, seconds dropped.
    for (const [name, resolution] of [
      ["Requests", 1],
      ["RequestsStd", 60],
    ] as const) {
      await cw.send(
        new PutMetricDataCommand({
          Namespace: CUSTOM,
          MetricData: [0, 10, 20, 30].map((s) => ({
            MetricName: name,
            Dimensions: dims,
            Timestamp: at(1, s),
            Value: 10,
            StorageResolution: resolution,
          })),
        }),
      );
    }
  });

  it("serves high-resolution data at sub-minute periods, and standard-resolution data only in whole minutes", async () => {
    const out = await aws().cloudWatch.send(
      new GetMetricDataCommand({
        StartTime: at(0),
        EndTime: at(10),
        MetricDataQueries: [custom("hi", "Requests", "Sum", 10), custom("std", "RequestsStd", "Sum", 10)],
        ScanBy: "TimestampAscending",
      }),
    );
    const seconds = (id: string) =>
      (out.MetricDataResults ?? [])
        .find((x) => x.Id === id)!
        .Timestamps!.map((t, i) => [
          (t.getTime() - T0.getTime()) / 1000,
          out.MetricDataResults!.find((x) => x.Id === id)!.Values![i],
        ]);
    expect(seconds("hi")).toEqual([
      [60, 10],
      [70, 10],
      [80, 10],
      [90, 10],
    ]);
    expect(seconds("std")).toEqual([[60, 40]]);
  });

  it("lists recently active metrics with ListMetrics RecentlyActive PT3H", async () => {
    const cw = aws().cloudWatch;
    await cw.send(
      new PutMetricDataCommand({
        Namespace: CUSTOM,
        MetricData: [
          {
            MetricName: "Requests",
            Dimensions: [{ Name: "AutoScalingGroupName", Value: "gw-old" }],
            Timestamp: new Date(Date.now() - 5 * 3_600_000),
            Value: 1,
          },
        ],
      }),
    );
    const names = async (recent: boolean) =>
      (
        await cw.send(
          new ListMetricsCommand({
            Namespace: CUSTOM,
            MetricName: "Requests",
            ...(recent ? { RecentlyActive: "PT3H" } : {}),
          }),
        )
      ).Metrics?.map((m) => m.Dimensions?.map((d) => d.Value).join(",")).sort();
    expect(await names(false)).toEqual(["gw-gray", "gw-old"]);
    expect(await names(true)).toEqual(["gw-gray"]);
  });
});
