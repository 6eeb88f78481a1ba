/**
 * The analysis benchmark's machinery (bench/analysis): seeded runs reproduce, the simulated world
 * counts what it should, the measures are computed as stated, the seed's rule is what the naive
 * policy does, and the local target keeps its behaviour. Not the benchmark itself (npm run
 * bench:analysis).
 */

import { describe, expect, it } from "vitest";
import { MODES, optionsFor } from "../../bench/analysis/modes.js";
import { NAIVE_OPTIONS, seedRule } from "../../bench/analysis/naive.js";
import { oracleRun, thresholdFor } from "../../bench/analysis/oracle.js";
import { goodSummary, median, scenarioRows, wilson } from "../../bench/analysis/report.js";
import { Rng } from "../../bench/analysis/rng.js";
import { runBench } from "../../bench/analysis/run.js";
import { seedOf } from "../../bench/analysis/scenarios.js";
import { envFor, type RunResult, type RunSpec, runOne } from "../../bench/analysis/sim.js";
import { NO_FAULT, SimWorld } from "../../bench/analysis/world.js";
import { policyOf } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import { analyse, type Observation } from "../../src/core/analysis.js";
import type { VersionStats } from "../../src/core/types.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";

const spec = (o: Partial<RunSpec>): RunSpec => ({
  mode: "cloudwatch",
  analysis: "ours",
  kind: "error",
  scenario: "s",
  rps: 200,
  seed: 7,
  fault: { errorRate: 0.05, latency: null, onset: { kind: "first-step" } },
  degradation: null,
  ...o,
});

describe("seeded runs", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("the same spec gives the same run, to the request", async () => {
    for (const s of [
      spec({}),
      spec({ mode: "fast", analysis: "naive", seed: 11 }),
      spec({ kind: "good", fault: NO_FAULT, rps: 20, seed: 3 }),
    ]) {
      expect(await runOne(s)).toEqual(await runOne(s));
    }
  });

  it("a small benchmark reproduces its summary exactly", async () => {
    const counts = { good: 6, naiveGood: 3, error: 1, latency: 0, degradation: 0 };
    const a = await runBench({ modes: ["fast"], counts, calibrationRuns: 40, workers: 1 });
    const b = await runBench({ modes: ["fast"], counts, calibrationRuns: 40, workers: 1 });
    expect(a.summary).toEqual(b.summary);
    expect(a.summary.runs).toBe(6 + 3 + 15 * 3 * 2);
    expect(a.errorRows).toHaveLength(15 * 3);
  });
});

describe("simulated world", () => {
  const world = (fault = NO_FAULT, rps = 200) =>
    new SimWorld({
      env: { ...envFor(5, rps, null), noiseSigma: 0, driftAmplitude: 0 },
      fault,
      periodMs: 5000,
      dataDelayMs: 5000,
      seed: 5,
      t0: Date.UTC(2026, 0, 5, 10, 0, 2),
    });

  it("sends traffic by the weights written, time-weighted within a period", () => {
    const w = world();
    w.extendWeights(w.t0, 25);
    w.grayFirstAt = w.t0;
    w.generateUpTo(w.t0 + 3_600_000, true);
    const k = Math.floor((w.t0 + 3_600_000 - w.origin) / 5000);
    const gray = w.gray.requests[k]!;
    const all = gray + w.stable.requests[k]!;
    // 200/s for an hour, less the 2 s before t0: Poisson counts within 4σ.
    expect(Math.abs(all - 200 * 3598)).toBeLessThan(4 * Math.sqrt(200 * 3598));
    expect(gray / all).toBeCloseTo(0.25, 2);
  });

  it("charges failures to the release only from the fault's onset, only on gray", () => {
    const w = world({ errorRate: 0.2, latency: null, onset: { kind: "step", weight: 50 } });
    w.recordWeights({ stable: 95, gray: 5 });
    w.clock.sleep(600_000);
    w.generateUpTo(w.clock.now());
    expect(w.onsetAt()).toBeNull();
    expect(w.causedFailures).toBe(0);
    w.recordWeights({ stable: 50, gray: 50 });
    expect(w.onsetAt()).toBe(w.t0 + 600_000);
    w.extendWeights(w.t0 + 660_000, 0);
    w.generateUpTo(w.t0 + 700_000);
    // 50% of 200/s for 60 s at 20%: 1,200 expected.
    expect(Math.abs(w.causedFailures - 1200)).toBeLessThan(4 * Math.sqrt(1200));
    expect(w.faultyRequests).toBeGreaterThan(5500);
  });

  it("serves a window only from complete periods that have landed", async () => {
    const w = world();
    w.recordWeights({ stable: 95, gray: 5 });
    await w.clock.sleep(30_000);
    const [late] = await w.metrics.read([{ start: w.origin, end: w.clock.now() }]);
    const [landed] = await w.metrics.read([{ start: w.origin, end: w.clock.now() - 5000 }]);
    expect(late!.gray.requests + late!.stable.requests).toBe(landed!.gray.requests + landed!.stable.requests);
    expect(landed!.gray.p99Ms).toBeGreaterThan(0);
  });

  it("draws Poisson and binomial counts with the right means", () => {
    const r = new Rng(99);
    for (const mean of [0.3, 4, 45, 900]) {
      let sum = 0;
      for (let i = 0; i < 4000; i++) sum += r.poisson(mean);
      expect(Math.abs(sum / 4000 - mean)).toBeLessThan(5 * Math.sqrt(mean / 4000));
    }
    let sum = 0;
    for (let i = 0; i < 4000; i++) sum += r.binomial(500, 0.2);
    expect(Math.abs(sum / 4000 - 100)).toBeLessThan(5 * Math.sqrt(80 / 4000));
  });
});

describe("measures", () => {
  const result = (o: Partial<RunResult>): RunResult => ({
    mode: "cloudwatch",
    analysis: "ours",
    kind: "error",
    scenario: "s",
    rps: 200,
    seed: 1,
    outcome: "rolled-back",
    failingGates: [],
    onsetMs: 0,
    backOnStableMs: 60_000,
    promotedMs: null,
    pausedMs: null,
    exposureEndMs: 60_000,
    failedRequests: 10,
    faultyRequests: 100,
    baseline: 0.003,
    maxGrayWeight: 5,
    ...o,
  });

  it("per scenario: means of failed requests, naive ÷ ours, ours ÷ oracle", () => {
    const rows = scenarioRows(
      [
        result({ failedRequests: 10 }),
        result({ failedRequests: 30, seed: 2, exposureEndMs: 120_000 }),
        result({ analysis: "naive", failedRequests: 100 }),
        result({ analysis: "naive", failedRequests: 60, seed: 2, outcome: "paused" }),
      ],
      new Map([
        [
          "cloudwatch|s",
          [
            {
              rollbackMs: 30_000,
              exposureEndMs: 30_000,
              onsetMs: 0,
              failedRequests: 8,
              firstDataFailedRequests: 5,
            },
            {
              rollbackMs: 30_000,
              exposureEndMs: 30_000,
              onsetMs: 0,
              failedRequests: 12,
              firstDataFailedRequests: 5,
            },
          ],
        ],
      ]),
      "error",
    );
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    expect(r.ours.cost).toBe(20);
    expect(r.naive.cost).toBe(80);
    expect(r.ratioVsNaive).toBe(4);
    expect(r.ratioToOracle).toBe(2);
    expect(r.naiveToFirstData).toBe(16);
    expect(r.ours.timeS).toBe(90);
    expect(r.naive.paused).toBe(0.5);
  });

  it("false rollback rate of good releases, with its interval, and time to promote", () => {
    const good = (outcome: string, promotedMs: number | null, gates: string[] = []) =>
      result({ kind: "good", outcome, promotedMs, failingGates: gates, failedRequests: 0 });
    const g = goodSummary([
      good("promoted", 2_880_000),
      good("promoted", 2_940_000),
      good("rolled-back", null, ["sequential-error-rate"]),
      good("paused", null),
    ]);
    expect(g.rate).toBe(0.25);
    expect(g.falseRollbacks).toBe(1);
    expect(g.paused).toBe(1);
    expect(g.gates).toEqual({ "sequential-error-rate": 1 });
    expect(g.promoteMedianS).toBe(2910);
    const [lo, hi] = wilson(1, 4);
    expect(lo).toBeLessThan(0.25);
    expect(hi).toBeGreaterThan(0.25);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });

  it("calibrates the oracle on the sample's exponential tail", () => {
    const sample = Array.from({ length: 1000 }, (_, i) => -Math.log(1 - (i + 0.5) / 1000));
    // Exp(1): P(max > h) = e^-h, so the 1% threshold is ln 100 and the 0.1% one ln 1000.
    expect(thresholdFor(sample, 0.01)).toBeCloseTo(Math.log(100), 1);
    expect(thresholdFor(sample, 0.001)).toBeCloseTo(Math.log(1000), 1);
  });

  it("the oracle stops a 20% fault at the first data it sees, and never stops a good release at a high bar", () => {
    const bad = oracleRun(
      "fast",
      2000,
      3,
      { errorRate: 0.2, latency: null, onset: { kind: "first-step" } },
      8,
    );
    expect(bad.rollbackMs).not.toBeNull();
    expect(bad.rollbackMs!).toBeLessThanOrEqual(15_000);
    expect(bad.failedRequests).toBeGreaterThanOrEqual(bad.firstDataFailedRequests);
    const good = oracleRun(
      "fast",
      2000,
      3,
      { errorRate: 0.0001, latency: null, onset: { kind: "first-step" } },
      50,
    );
    expect(good.rollbackMs).toBeNull();
  });
});

describe("the naive policy is the seed's rule", () => {
  const thresholds = policyOf(
    resolveOptions(optionsFor(MODES.cloudwatch, "naive"), { verb: "deploy-gray" }),
  ).thresholds;

  it("uses the seed's limits with every addition switched off", () => {
    expect(thresholds).toMatchObject({
      rollbackErrorRate: 0.02,
      rollbackP99Ms: 2000,
      rollbackUnhealthy: 1,
      promoteErrorRate: 0.01,
      promoteP95Ms: 500,
      minRequests: 1,
      evidenceEvents: 0,
      sequentialAlpha: 0,
    });
    expect(NAIVE_OPTIONS.interval).toBe("60s");
  });

  it("rolls back, promotes or holds exactly when the seed's rule says so", () => {
    const r = new Rng(2024);
    const stats = (): VersionStats => {
      const requests =
        Math.floor(r.uniform() * 3) === 0 ? Math.floor(r.uniform() * 20) : Math.floor(r.uniform() * 20_000);
      const errors = Math.min(requests, Math.floor(requests * 0.04 * r.uniform() ** 2));
      const p95 = 100 + 700 * r.uniform() ** 2;
      return {
        requests,
        errors,
        p95Ms: requests ? p95 : null,
        p99Ms: requests ? p95 * (1 + 4 * r.uniform()) : null,
        hasData: requests > 0,
      };
    };
    const stable: VersionStats = { requests: 50_000, errors: 150, p95Ms: 200, p99Ms: 500, hasData: true };
    for (let i = 0; i < 3000; i++) {
      const rb = stats();
      const pr = stats();
      const unhealthy = r.uniform() < 0.05 ? 2 : 0;
      const observation: Observation = {
        at: 0,
        rollback: { start: 0, end: 1, gray: rb, stable, lbErrors: null },
        promotion: { start: 0, end: 1, gray: pr, stable, lbErrors: null },
        health: { stable: { healthy: 8, unhealthy: 0 }, gray: { healthy: 2, unhealthy } },
        alarms: [],
        errors: [],
      };
      const a = analyse({
        subject: "gray",
        observation,
        baseline: null,
        lbErrorBaselineRate: null,
        thresholds,
      });
      const expected = seedRule(rb, pr, unhealthy);
      const got = a.verdict === "fail" ? "rollback" : a.verdict === "pass" ? "promote" : "hold";
      expect(got, JSON.stringify({ rb, pr, unhealthy })).toBe(expected);
    }
  });
});

describe("the local target's behaviour", () => {
  const local = (seed: number, rps: number, errorRate: number, baseline = 0) =>
    runOne(
      spec({
        mode: "local",
        rps,
        seed,
        fault: { errorRate, latency: null, onset: { kind: "first-step" } },
        kind: errorRate ? "error" : "good",
        env: { baseline },
      }),
    );

  it("a release failing 5% at 200 req/s (10 req/s to gray) is rolled back at the 5% step in well under 15 s", async () => {
    // The local default: no baseline errors (--baseline-error-rate 0%). Gray's failures arrive at
    // 0.5/s; the sequential test needs three of them (and the 1 s metrics delay), so the time is
    // mostly the wait for the third failure: typically 7 s, one rollout in ten above 11 s.
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await local(seedOf("local-bad", i), 200, 0.05);
      expect(r.outcome).toBe("rolled-back");
      expect(r.maxGrayWeight).toBe(5);
      times.push(r.backOnStableMs!);
    }
    times.sort((a, b) => a - b);
    expect(median(times)).toBeLessThan(9_000);
    expect(times[Math.floor(0.9 * times.length)]).toBeLessThan(15_000);
  });

  it("with a 0.3% baseline in both versions it still stops at the 5% step, in seconds", async () => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await local(seedOf("local-bad-baseline", i), 200, 0.05, 0.003);
      expect(r.outcome).toBe("rolled-back");
      expect(r.maxGrayWeight).toBe(5);
      times.push(r.backOnStableMs!);
    }
    expect(median(times)).toBeLessThan(12_000);
  });

  it("a healthy release is promoted; with too little traffic it never is", async () => {
    for (let i = 0; i < 4; i++) {
      expect((await local(seedOf("local-good", i), 200, 0)).outcome).toBe("promoted");
      expect((await local(seedOf("local-thin", i), 20, 0)).outcome).toBe("paused");
    }
  });
});
