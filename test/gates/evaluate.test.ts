/**
 * Evaluation of business-metric gates, table-driven: each rule with passing, failing and
 * inconclusive numbers, missing data, too few samples, a source error (counted against its limit),
 * and the 100% step (the reference recorded when it still had traffic). Then the gates inside the
 * core: judged with the built-in ones by analyseStep, their baselines and error counts kept by
 * absorbObservation, and a source down past its limit ending the bake extension.
 */

import { describe, expect, it } from "vitest";
import { policyOf } from "../../src/app/requests.js";
import { parseGates, type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Observation } from "../../src/core/analysis.js";
import { absorbObservation, analyseStep, decide, observationWindows } from "../../src/core/decide.js";
import { newRollout, type RolloutState } from "../../src/core/state.js";
import type { VersionStats, WindowStats } from "../../src/core/types.js";
import { evaluateGate, type GateContext } from "../../src/gates/evaluate.js";
import type { BusinessReading, BusinessValue, GateSpec } from "../../src/gates/types.js";

function gate(decl: Record<string, unknown>): GateSpec {
  const p = parseGates({
    name: "g",
    source: "cloudwatch",
    namespace: "N",
    dimensions: { A: "{asg}" },
    ...decl,
  });
  if (!p.ok) throw new Error(JSON.stringify(p.issues));
  return p.value[0]!;
}
const value = (v: number | null, samples = 10): BusinessValue => ({ value: v, samples });
const rate = (num: number, den: number): BusinessValue => ({
  value: den > 0 ? num / den : null,
  samples: den,
  numerator: num,
  denominator: den,
});
const CTX: GateContext = {
  subject: "gray",
  referenceIdle: false,
  baselines: {},
  errors: {},
  significance: 0.001,
};

const LATENCY_MAX = gate({ metricName: "SettlementLatency", max: 800 });
const APPROVALS_MIN = gate({ metricName: "ApprovalRate", min: 0.9, minSamples: 5 });
const LATENCY_RATIO = gate({ metricName: "SettlementLatency", ratio: { tolerance: "25%" } });
const APPROVAL_RATIO = gate({ metricName: "Approved", ratio: { tolerance: "10%", worse: "lower" } });
const DECLINES_TEST = gate({ numerator: "D", denominator: "A", test: { margin: "0.5%" }, minSamples: 100 });
const DECLINES_MAX = gate({ numerator: "D", denominator: "A", max: "5%", minSamples: 100 });

describe("evaluateGate", () => {
  it.each<
    [string, GateSpec, BusinessReading, Partial<GateContext>, "pass" | "fail" | "inconclusive", RegExp]
  >([
    [
      "absolute max, below",
      LATENCY_MAX,
      { gray: value(420), stable: value(400) },
      {},
      "pass",
      /gray SettlementLatency Average 420 ≤ 800 \(10 samples\)/,
    ],
    ["absolute max, above", LATENCY_MAX, { gray: value(950), stable: value(400) }, {}, "fail", /950 > 800/],
    [
      "absolute min, above",
      APPROVALS_MIN,
      { gray: value(0.97), stable: value(0.97) },
      {},
      "pass",
      /0\.97 ≥ 0\.9/,
    ],
    [
      "absolute min, below",
      APPROVALS_MIN,
      { gray: value(0.8), stable: value(0.97) },
      {},
      "fail",
      /0\.8 < 0\.9/,
    ],
    [
      "absolute, no gray data",
      LATENCY_MAX,
      { gray: value(null, 0), stable: value(400) },
      {},
      "inconclusive",
      /no gray data/,
    ],
    [
      "absolute, gray missing",
      LATENCY_MAX,
      { gray: null, stable: value(400) },
      {},
      "inconclusive",
      /no gray data/,
    ],
    [
      "absolute, too few samples",
      APPROVALS_MIN,
      { gray: value(0.5, 3), stable: value(0.97) },
      {},
      "inconclusive",
      /on 3 samples, fewer than 5/,
    ],
    [
      "ratio, within",
      LATENCY_RATIO,
      { gray: value(480), stable: value(400) },
      {},
      "pass",
      /480 ≤ stable over the same window 400 × 1\.25 = 500/,
    ],
    [
      "ratio, above",
      LATENCY_RATIO,
      { gray: value(520), stable: value(400) },
      {},
      "fail",
      /520 > stable over the same window 400 × 1\.25 = 500/,
    ],
    [
      "ratio, lower is worse",
      APPROVAL_RATIO,
      { gray: value(80), stable: value(100) },
      {},
      "fail",
      /80 < stable over the same window 100 × 0\.9 = 90/,
    ],
    [
      "ratio, no reference",
      LATENCY_RATIO,
      { gray: value(480), stable: value(null, 0) },
      {},
      "inconclusive",
      /no reference value from stable \(no value recorded\)/,
    ],
    [
      "rate test, gray declines far more",
      DECLINES_TEST,
      { gray: rate(30, 120), stable: rate(5, 500) },
      {},
      "fail",
      /25% \(30 of 120\) vs stable over the same window 1% \(5 of 500\): worse by more than 0\.5% \(p=/,
    ],
    [
      "rate test, same rate",
      DECLINES_TEST,
      { gray: rate(2, 150), stable: rate(6, 500) },
      {},
      "pass",
      /not significantly worse/,
    ],
    [
      "rate test, worse but not significant yet",
      DECLINES_TEST,
      { gray: rate(4, 100), stable: rate(5, 500) },
      {},
      "pass",
      /not significantly worse/,
    ],
    [
      "rate test, too few attempts",
      DECLINES_TEST,
      { gray: rate(20, 40), stable: rate(5, 500) },
      {},
      "inconclusive",
      /on 40 in the denominator, fewer than 100/,
    ],
    [
      "rate test, no reference counts",
      DECLINES_TEST,
      { gray: rate(2, 150), stable: rate(0, 0) },
      {},
      "inconclusive",
      /no reference counts from stable \(no value recorded\)/,
    ],
    [
      "rate max, above",
      DECLINES_MAX,
      { gray: rate(9, 100), stable: rate(5, 500) },
      {},
      "fail",
      /9% > 5% \(9 of 100\)/,
    ],
    ["rate max, below", DECLINES_MAX, { gray: rate(4, 100), stable: rate(5, 500) }, {}, "pass", /4% ≤ 5%/],
    [
      "source error, first",
      DECLINES_TEST,
      { gray: null, stable: null, error: "Zabbix: connection refused" },
      { errors: { g: 1 } },
      "inconclusive",
      /zabbix|cloudwatch measurement error 1 in a row \(limit 3\): Zabbix: connection refused/,
    ],
    [
      "source error, at the limit",
      DECLINES_TEST,
      { gray: null, stable: null, error: "timed out" },
      { errors: { g: 3 } },
      "inconclusive",
      /3 in a row \(limit 3\): limit reached, the step is judged inconclusive now/,
    ],
    [
      "100%: stable's recorded counts",
      DECLINES_TEST,
      { gray: rate(30, 120), stable: rate(0, 0) },
      { referenceIdle: true, baselines: { g: { stable: { value: rate(5, 500), at: 0 } } } },
      "fail",
      /vs stable's value recorded at 1970-01-01T00:00:00\.000Z 1% \(5 of 500\)/,
    ],
    [
      "100%: thin live stable data ignored",
      DECLINES_TEST,
      { gray: rate(3, 300), stable: rate(1, 3) },
      { referenceIdle: true, baselines: { g: { stable: { value: rate(5, 500), at: 0 } } } },
      "pass",
      /recorded at/,
    ],
    [
      "return step: refreshed stable vs gray's 100%",
      DECLINES_TEST,
      { gray: rate(0, 0), stable: rate(30, 150) },
      { subject: "stable", referenceIdle: true, baselines: { g: { gray: { value: rate(3, 600), at: 0 } } } },
      "fail",
      /stable D ÷ A 20% \(30 of 150\) vs gray's value recorded/,
    ],
    [
      "note carried into the reason",
      DECLINES_TEST,
      { gray: rate(2, 150), stable: rate(6, 500), note: "exact: false (trend-based sums)" },
      {},
      "pass",
      /; exact: false \(trend-based sums\)$/,
    ],
  ])("%s", (_, spec, reading, ctx, verdict, reason) => {
    const r = evaluateGate(spec, reading, { ...CTX, ...ctx });
    expect(r.gate).toBe("custom:g");
    expect(r.reason).toMatch(reason);
    expect(r.verdict).toBe(verdict);
  });

  it("carries the numbers in values", () => {
    const r = evaluateGate(DECLINES_TEST, { gray: rate(30, 120), stable: rate(5, 500) }, CTX);
    expect(r.values).toMatchObject({
      source: "cloudwatch",
      window: "rollback",
      value: 0.25,
      numerator: 30,
      denominator: 120,
      referenceValue: 0.01,
      referenceNumerator: 5,
      referenceDenominator: 500,
      reference: "live",
      margin: 0.005,
      significance: 0.001,
    });
    expect(r.values.pValue as number).toBeLessThan(1e-6);
  });
});

// ── inside the core ─────────────────────────────────────────────────────────────────────────────

const T0 = 1_700_000_000_000;
const GATE = {
  name: "declines",
  source: "cloudwatch",
  namespace: "N",
  numerator: "D",
  denominator: "A",
  dimensions: { A: "{asg}" },
  test: true,
  minSamples: 50,
};

function rollout(raw: RawOptions = {}, patch: Partial<RolloutState> = {}): RolloutState {
  const o = resolveOptions(
    {
      target: "aws",
      region: "sa-east-1",
      image: "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gatewaypix:1.5.0",
      listenerArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gw/0123456789abcdef/0123456789abcdef",
      stableTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-s/0123456789abcdef",
      grayTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-g/fedcba9876543210",
      stableAsg: "gw-stable",
      grayAsg: "gw-gray",
      launchTemplate: "lt-0123456789abcdef0",
      stateTable: "gray-deploy-state",
      endpoint: "http://127.0.0.1:5000",
      metricPeriod: "1s",
      metricsDelay: "1s",
      rollbackWindow: "5s",
      promotionWindow: "5s",
      bake: "10s",
      maxBake: "60s",
      interval: "1s",
      steps: "25,100",
      gates: [GATE],
      ...raw,
    },
    { verb: "deploy-gray" },
  );
  const s = newRollout({
    id: "r",
    scope: "s",
    target: "aws",
    image: o.image!,
    commit: null,
    startedBy: "t",
    plan: policyOf(o),
    now: T0,
  });
  return {
    ...s,
    phase: "shifting",
    stepIndex: 0,
    weights: { stable: 75, gray: 25 },
    stepStartedAt: T0,
    ...patch,
  };
}

const traffic = (n: number): VersionStats => ({
  requests: n,
  errors: 0,
  p95Ms: 40,
  p99Ms: 60,
  hasData: true,
});

function observation(s: RolloutState, now: number, reading: BusinessReading): Observation {
  const w = observationWindows(s.plan, now);
  const stats = (win: { start: number; end: number }): WindowStats => ({
    ...win,
    stable: traffic(s.weights.stable * 20),
    gray: traffic(s.weights.gray * 20),
    lbErrors: 0,
    business: { declines: reading },
  });
  return {
    at: now,
    rollback: stats(w.rollback),
    promotion: stats(w.promotion),
    health: { stable: { healthy: 2, unhealthy: 0 }, gray: { healthy: 1, unhealthy: 0 } },
    alarms: [],
    errors: [],
  };
}

describe("business gates in the core", () => {
  it("are judged after the built-in gates, and a failing one rolls back", () => {
    const s = rollout();
    const now = T0 + 3000;
    const a = analyseStep(s, observation(s, now, { gray: rate(40, 200), stable: rate(6, 600) }));
    expect(a.gates.at(-1)?.gate).toBe("custom:declines");
    expect(a.verdict).toBe("fail");
    expect(a.gates.filter((g) => g.verdict === "fail").map((g) => g.gate)).toEqual(["custom:declines"]);
    const d = decide(s, observation(s, now, { gray: rate(40, 200), stable: rate(6, 600) }), now);
    expect(d.kind).toBe("rollback");
    expect(d.reason).toMatch(/gray D ÷ A 20% \(40 of 200\)/);
  });

  it("keep stable's values from 25% and judge 100% against them", () => {
    let s = rollout();
    const at25 = T0 + 12_000;
    s = absorbObservation(s, observation(s, at25, { gray: rate(2, 200), stable: rate(6, 600) }));
    expect(s.gateBaselines?.declines?.stable?.value).toEqual(rate(6, 600));
    expect(s.gateBaselines?.declines?.gray?.value).toEqual(rate(2, 200));
    // At 100% stable has no traffic: its window is empty, the recorded 6 of 600 is the reference.
    s = { ...s, stepIndex: 1, weights: { stable: 0, gray: 100 }, stepStartedAt: at25 };
    const obs = observation(s, at25 + 12_000, { gray: rate(60, 800), stable: rate(0, 0) });
    s = absorbObservation(s, obs);
    expect(s.gateBaselines?.declines?.stable?.at).toBe(at25);
    const g = analyseStep(s, obs).gates.find((x) => x.gate === "custom:declines")!;
    expect(g.verdict).toBe("fail");
    expect(g.values).toMatchObject({ reference: "baseline", referenceDenominator: 600 });
  });

  it("count a source's errors in a row, reset them on a good read, and stop waiting at the limit", () => {
    let s = rollout({ onInconclusive: "rollback" });
    const down: BusinessReading = { stable: null, gray: null, error: "Zabbix: timed out" };
    let now = T0 + 11_000; // past the bake, far from --max-bake
    for (const expected of [1, 2]) {
      const obs = observation(s, now, down);
      s = absorbObservation(s, obs);
      expect(s.gateErrors?.declines).toBe(expected);
      const d = decide(s, obs, now);
      expect(d.kind).toBe("wait");
      expect(d.reason).toMatch(new RegExp(`measurement error ${expected} in a row \\(limit 3\\)`));
      now += 1000;
    }
    const good = observation(s, now, { gray: rate(2, 200), stable: rate(6, 600) });
    s = absorbObservation(s, good);
    expect(s.gateErrors?.declines).toBe(0);
    for (let i = 0; i < 3; i++) {
      const obs = observation(s, now, down);
      s = absorbObservation(s, obs);
      now += 1000;
    }
    const d = decide(s, observation(s, now, down), now);
    expect(s.gateErrors?.declines).toBe(3);
    expect(d.kind).toBe("rollback"); // --on-inconclusive rollback, long before --max-bake
    expect(d.reason).toMatch(/still inconclusive after 16s: .*limit reached/);
    // Never a pass: the same observation without the limit reached only waits.
    expect(decide({ ...s, gateErrors: { declines: 1 } }, observation(s, now, down), now).kind).toBe("wait");
  });

  it("leave plans without gates exactly as before", () => {
    const s = rollout({ gates: [] });
    expect(s.plan.gates).toBeUndefined();
    const obs = observation(s, T0 + 3000, { gray: rate(40, 200), stable: rate(6, 600) });
    expect(analyseStep(s, obs).gates.some((g) => g.gate.startsWith("custom:"))).toBe(false);
    expect(absorbObservation(s, obs).gateErrors).toBeUndefined();
  });
});
