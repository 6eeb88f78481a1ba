/**
 * The service signal's GetMetricData plan and summary (src/aws/service/queries.ts) and the window
 * percentiles merged from per-period ones (quantiles.ts), pure: legal periods only, a StartTime
 * CloudWatch keeps as is, whole periods per window, and merged percentiles against the exact ones
 * of the raw samples.
 */
import type { MetricDataResult } from "@aws-sdk/client-cloudwatch";
import { describe, expect, it } from "vitest";
import { KNOTS, mergedQuantile, type PeriodQuantiles } from "../../src/aws/service/quantiles.js";
import { planServiceQueries, summariseService } from "../../src/aws/service/queries.js";
import type { ServiceMetrics } from "../../src/core/policy.js";

const M: ServiceMetrics = {
  namespace: "GrayDeploy/Service",
  requests: "Requests",
  errors: "Errors",
  latency: "Latency",
  latencyUnit: "milliseconds",
  dimensions: { Service: "gateway", AutoScalingGroupName: "{asg}" },
};
const IDS = { stable: { asg: "gw-stable" }, gray: { asg: "gw-gray" } };
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const legal = (p: number) => [1, 5, 10, 20, 30].includes(p) || p % 60 === 0;

describe("planServiceQueries", () => {
  const windows = [
    { start: T0 + 20_000, end: T0 + 320_000 },
    { start: T0 - 280_000, end: T0 + 320_000 },
    { start: T0 + 250_000, end: T0 + 320_000 },
  ];

  it("asks for every statistic once per pool, whatever the number of windows, at the service's legal period", () => {
    const plan = planServiceQueries(windows, M, IDS, 10_000, T0 + 340_000);
    // Per pool: requests, 5xx, and the latency's SampleCount, Minimum, Maximum and 9 percentiles.
    expect(plan.queries).toHaveLength(2 * (2 + 3 + KNOTS.length));
    expect(plan.queries.every((q) => legal(q.MetricStat!.Period!))).toBe(true);
    expect(new Set(plan.queries.map((q) => q.MetricStat!.Period))).toEqual(new Set([10]));
    expect(plan.queries.map((q) => q.MetricStat!.Stat)).toEqual(
      expect.arrayContaining([
        "Sum",
        "SampleCount",
        "Minimum",
        "Maximum",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
      ]),
    );
    const gray = plan.queries.find((q) => q.Id === "gray_req")!.MetricStat!.Metric!;
    expect(gray).toEqual({
      Namespace: "GrayDeploy/Service",
      MetricName: "Requests",
      Dimensions: [
        { Name: "Service", Value: "gateway" },
        { Name: "AutoScalingGroupName", Value: "gw-gray" },
      ],
    });
    expect(plan.queries.every((q) => /^[a-z][A-Za-z0-9_]*$/.test(q.Id!))).toBe(true);
  });

  it("starts on a whole minute (CloudWatch would round it down anyway) and ends on a period", () => {
    const plan = planServiceQueries(windows, M, IDS, 10_000, T0 + 340_000);
    expect(plan.startTime.getTime()).toBe(T0 - 300_000);
    expect(plan.endTime.getTime()).toBe(T0 + 320_000);
    const p120 = planServiceQueries(
      [{ start: T0 + 60_000, end: T0 + 300_000 }],
      M,
      IDS,
      120_000,
      T0 + 400_000,
    );
    // A 2-minute period: the start is a whole minute AND a whole number of periods.
    expect(p120.startTime.getTime() % 120_000).toBe(0);
  });

  it("reads whole minutes once the windows reach beyond the 3 hours CloudWatch keeps high-resolution data", () => {
    const now = T0 + 4 * 3_600_000;
    const plan = planServiceQueries([{ start: T0, end: now - 60_000 }], M, IDS, 10_000, now);
    expect(plan.periodMs).toBe(60_000);
    expect(plan.queries.every((q) => q.MetricStat!.Period === 60)).toBe(true);
  });

  it("cannot name a pool's metrics without its version: unresolved, no query for it", () => {
    const m = { ...M, dimensions: { Version: "{version}" } };
    const plan = planServiceQueries(
      windows,
      m,
      { stable: { version: "7" }, gray: { version: null } },
      10_000,
      T0,
    );
    expect(plan.unresolved.get("gray")).toMatch(/\{version\} has no value/);
    expect(plan.queries.every((q) => q.Id!.startsWith("stable_"))).toBe(true);
  });
});

const result = (id: string, points: [number, number][]): MetricDataResult => ({
  Id: id,
  Timestamps: points.map(([t]) => new Date(t)),
  Values: points.map(([, v]) => v),
  StatusCode: "Complete",
});

describe("summariseService", () => {
  const P = 10_000;
  const at = (k: number) => T0 + k * P;
  const results = [
    result("gray_req", [
      [at(0), 100],
      [at(1), 100],
      [at(2), 100],
      [at(3), 100],
    ]),
    result("gray_err", [
      [at(1), 5],
      [at(2), 0],
    ]),
    result("gray_lat_n", [
      [at(1), 100],
      [at(2), 100],
    ]),
    result("gray_lat_q95", [
      [at(1), 0.2],
      [at(2), 0.2],
    ]),
    result("gray_lat_q99", [
      [at(1), 0.4],
      [at(2), 0.4],
    ]),
    result("gray_lat_max", [
      [at(1), 0.5],
      [at(2), 0.5],
    ]),
  ];

  it("sums the periods lying entirely inside each window; absent counts are 0; no datapoint is no data", () => {
    const [w] = summariseService(
      [{ start: at(1), end: at(3) + 5000 }],
      results,
      { periodMs: P, unresolved: new Map() },
      "seconds",
    );
    expect(w!.gray).toMatchObject({ requests: 200, errors: 5, hasData: true });
    // Two periods alike: the window's percentiles are theirs, give or take the interpolation.
    expect(w!.gray.p95Ms).toBeGreaterThan(200);
    expect(w!.gray.p95Ms).toBeLessThan(400);
    expect(w!.gray.p99Ms).toBeGreaterThan(400);
    expect(w!.gray.p99Ms).toBeLessThanOrEqual(500);
    expect(w!.stable).toEqual({ requests: 0, errors: 0, p95Ms: null, p99Ms: null, hasData: false });
    expect(w!.lbErrors).toBeNull();
  });
});

/** A seeded PRNG (mulberry32), so the comparison is the same on every run. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nearest rank, as CloudWatch (and the emulator) compute a percentile over raw values. */
const rank = (sorted: readonly number[], q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

function describePeriod(values: number[]): PeriodQuantiles {
  const s = [...values].sort((a, b) => a - b);
  return {
    count: s.length,
    min: s[0]!,
    max: s.at(-1)!,
    quantiles: new Map(KNOTS.map((k) => [k.q, rank(s, k.q)])),
  };
}

describe("window percentiles merged from per-period percentiles", () => {
  const random = rng(42);
  const logNormal = (median: number, sigma: number) => {
    const u = Math.max(1e-12, random());
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return median * Math.exp(sigma * z);
  };

  it("is the period's own percentile for a window of one period", () => {
    const p = describePeriod(Array.from({ length: 500 }, () => logNormal(80, 0.6)));
    expect(mergedQuantile([p], 0.95)).toBe(p.quantiles.get(0.95));
    expect(mergedQuantile([p], 0.99)).toBe(p.quantiles.get(0.99));
    // …and close to it for a window of several periods alike.
    expect(mergedQuantile([p, p, p], 0.99)! / p.quantiles.get(0.99)!).toBeCloseTo(1, 1);
  });

  it("is within 5% of the exact percentile of a steady window (30 periods of ~100 requests)", () => {
    for (let trial = 0; trial < 20; trial++) {
      const periods = Array.from({ length: 30 }, () =>
        Array.from({ length: 80 + Math.floor(random() * 40) }, () => logNormal(80, 0.6)),
      );
      const all = periods.flat().sort((a, b) => a - b);
      for (const q of [0.95, 0.99]) {
        const merged = mergedQuantile(periods.map(describePeriod), q)!;
        expect(Math.abs(merged / rank(all, q) - 1)).toBeLessThan(0.05);
      }
    }
  });

  it("follows a regression that starts halfway through the window, between the periods' extremes", () => {
    const periods = Array.from({ length: 30 }, (_, k) =>
      Array.from({ length: 100 }, () => logNormal(k < 15 ? 80 : 400, 0.4)),
    );
    const all = periods.flat().sort((a, b) => a - b);
    const described = periods.map(describePeriod);
    for (const q of [0.95, 0.99]) {
      const merged = mergedQuantile(described, q)!;
      const own = described.map((d) => d.quantiles.get(q)!);
      expect(merged).toBeGreaterThanOrEqual(Math.min(...own));
      expect(merged).toBeLessThanOrEqual(Math.max(...own));
      expect(Math.abs(merged / rank(all, q) - 1)).toBeLessThan(0.1);
    }
  });

  it("has nothing to say without samples", () => {
    expect(mergedQuantile([], 0.99)).toBeNull();
    expect(mergedQuantile([{ count: 0, min: null, max: null, quantiles: new Map() }], 0.99)).toBeNull();
  });
});
