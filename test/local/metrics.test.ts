/**
 * TrafficMetrics: the period bookkeeping with a controlled clock, then percentiles measured from real
 * traffic against the service's configured latency.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { ServiceInstance } from "../../src/local/instance.js";
import { LoadGenerator } from "../../src/local/load.js";
import { TrafficMetrics } from "../../src/local/metrics.js";
import { StaticWeightSource, WeightedProxy } from "../../src/local/proxy.js";
import { startInstances, targetsOf, waitFor } from "./helpers.js";

function clocked(periodMs: number, start: number, retentionMs?: number) {
  const clock = { now: start };
  const metrics = new TrafficMetrics({
    periodMs,
    now: () => clock.now,
    ...(retentionMs === undefined ? {} : { retentionMs }),
  });
  return { clock, metrics };
}

describe("traffic metrics periods", () => {
  it("reads only complete periods inside the window, aligned to epoch multiples of the period", async () => {
    const { clock, metrics } = clocked(1000, 10_000_250);
    metrics.request("gray", 200, 10, false); // period [10_000_000, 10_001_000)
    clock.now = 10_001_100;
    metrics.request("gray", 500, 20, false); // period [10_001_000, 10_002_000): still open
    const window = { start: 10_000_000, end: 10_002_000 };

    let [w] = await metrics.read([window]);
    expect(w?.gray).toMatchObject({ requests: 1, errors: 0, hasData: true });

    clock.now = 10_002_000; // the second period is now complete
    [w] = await metrics.read([window]);
    expect(w?.gray).toMatchObject({ requests: 2, errors: 1, hasData: true });
    expect(w?.stable).toEqual({ requests: 0, errors: 0, p95Ms: null, p99Ms: null, hasData: false });

    // A window that cuts a period in two does not get that period at all.
    [w] = await metrics.read([{ start: 10_000_500, end: 10_002_000 }]);
    expect(w?.gray.requests).toBe(1);
  });

  it("sums counts and merges histograms across periods (percentiles of the union, not averages)", async () => {
    const { clock, metrics } = clocked(1000, 5_000_000);
    // Period 1: 90 fast answers. Period 2: 10 slow ones. p95 of the union is slow; the mean of
    // per-period p95s (~ (10 + 500) / 2) would be wrong.
    for (let i = 0; i < 90; i++) metrics.request("stable", 200, 10, false);
    clock.now = 5_001_000;
    for (let i = 0; i < 10; i++) metrics.request("stable", 200, 500, false);
    clock.now = 5_002_000;
    const [w] = await metrics.read([{ start: 5_000_000, end: 5_002_000 }]);
    expect(w?.stable.requests).toBe(100);
    expect(w?.stable.p95Ms).toBeGreaterThanOrEqual(495);
    expect(w?.stable.p95Ms).toBeLessThanOrEqual(505);
    const [first] = await metrics.read([{ start: 5_000_000, end: 5_001_000 }]);
    expect(first?.stable.p99Ms).toBeCloseTo(10, 0);
  });

  it("counts connection errors and 5xx as errors, load-balancer answers apart, 4xx not at all", async () => {
    const { clock, metrics } = clocked(500, 1_000_000);
    metrics.request("gray", 503, 5, false);
    metrics.request("gray", 502, 3, true);
    metrics.request("gray", 404, 5, false);
    metrics.request(null, 503, 1, false);
    clock.now = 1_000_500;
    const [w] = await metrics.read([{ start: 1_000_000, end: 1_000_500 }]);
    expect(w?.gray).toMatchObject({ requests: 3, errors: 2 });
    expect(w?.lbErrors).toBe(1);
    const [p] = metrics.periods();
    expect(p?.gray).toMatchObject({ target5xx: 1, connectionErrors: 1, requests: 3 });
    // The connection error has no response time: two latencies recorded.
    expect(p?.gray.latencyDistribution().counts.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it("answers several windows in one read and keeps health per period", async () => {
    const { clock, metrics } = clocked(1000, 2_000_000);
    metrics.health("gray", { healthy: 2, unhealthy: 0 });
    metrics.health("gray", { healthy: 1, unhealthy: 1 });
    metrics.request("gray", 200, 1, false);
    clock.now = 2_003_000;
    const stats = await metrics.read([
      { start: 2_000_000, end: 2_001_000 },
      { start: 2_001_000, end: 2_003_000 },
    ]);
    expect(stats.map((s) => s.gray.hasData)).toEqual([true, false]);
    expect(metrics.periods()[0]?.gray).toMatchObject({ healthyMin: 1, unhealthyMax: 1 });
  });

  it("drops periods older than the retention", async () => {
    const { clock, metrics } = clocked(1000, 0, 10_000);
    for (let t = 0; t < 60; t++) {
      clock.now = t * 1000;
      metrics.request("stable", 200, 1, false);
    }
    const kept = metrics.periods();
    expect(kept.length).toBeLessThanOrEqual(11);
    expect(kept[0]!.start).toBeGreaterThanOrEqual(59_000 - 10_000 - 1000);
    const [w] = await metrics.read([{ start: 0, end: 10_000 }]);
    expect(w?.stable.hasData).toBe(false);
  });

  it("delivers each complete period once to a subscriber", async () => {
    const metrics = new TrafficMetrics({ periodMs: 100 });
    const seen: number[] = [];
    const stop = metrics.onPeriod((p) => seen.push(p.stable.requests));
    const until = Date.now() + 450;
    while (Date.now() < until) {
      metrics.request("stable", 200, 1, false);
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor("three periods delivered", () => seen.length >= 3, 5000);
    stop();
    expect(seen.every((n) => n > 0)).toBe(true);
    const total = metrics.periods().reduce((n, p) => n + p.stable.requests, 0);
    expect(seen.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(total);
  });
});

describe("traffic metrics from real traffic", () => {
  const owned: ServiceInstance[] = [];
  afterAll(async () => {
    await Promise.all(owned.map((i) => i.stop()));
  });

  it("measures gray's configured latency and stable's absence of it", async () => {
    const LATENCY = 80;
    const [stable] = await startInstances(1, "stable", "v1");
    const [gray] = await startInstances(1, "gray", "v2", { latencyMs: LATENCY });
    owned.push(stable!, gray!);
    const metrics = new TrafficMetrics({ periodMs: 500 });
    const proxy = new WeightedProxy({
      weights: new StaticWeightSource({ weights: { stable: 50, gray: 50 }, stickinessSeconds: null }),
      sink: metrics,
      healthCheck: { intervalMs: 100 },
    });
    const url = await proxy.start();
    const load = new LoadGenerator({ url, rps: 100 });
    try {
      void proxy.setTargets("stable", targetsOf([stable!]));
      void proxy.setTargets("gray", targetsOf([gray!]));
      await waitFor("healthy", () => proxy.health().stable.healthy + proxy.health().gray.healthy === 2);
      const from = Math.ceil(Date.now() / 500) * 500;
      load.start();
      await waitFor("3 s of traffic", () => Date.now() >= from + 3000, 10_000);
      const client = await load.stop();
      const to = Math.ceil(Date.now() / 500) * 500;
      await waitFor("last period complete", () => Date.now() >= to, 5000);
      const [w] = await metrics.read([{ start: from, end: to }]);

      // What the proxy measured agrees with what the client saw (requests sent before `from` excluded).
      expect(w!.stable.requests + w!.gray.requests).toBeGreaterThan(200);
      expect(w!.stable.requests + w!.gray.requests).toBeLessThanOrEqual(client.completed);
      expect(w!.gray.errors + w!.stable.errors).toBe(0);
      // The service sleeps LATENCY ms before answering: no gray answer can be faster; and the proxy
      // times each request inside the client's own timing of it, so no proxy latency can exceed the
      // slowest answer the client saw (a bound by construction: fixed ones — LATENCY + 200 ms — were
      // exceeded on a loaded machine, which slows every answer).
      expect(w!.gray.p95Ms).toBeGreaterThanOrEqual(LATENCY);
      expect(w!.gray.p95Ms).toBeLessThanOrEqual(client.latency!.maxMs + 1);
      expect(w!.gray.p99Ms).toBeGreaterThanOrEqual(w!.gray.p95Ms!);
      // Same machine, same moment: only the service's sleep separates the pools.
      expect(w!.stable.p95Ms).toBeLessThan(w!.gray.p95Ms!);
      expect(client.byVersion.v2?.requests).toBe(client.byPool.gray?.requests);
    } finally {
      await load.close();
      await proxy.close();
    }
  });
});
