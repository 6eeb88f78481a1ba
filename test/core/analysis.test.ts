import { describe, expect, it } from "vitest";
import { policyOf } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import {
  type Analysis,
  analyse,
  type GateName,
  type Observation,
  type Verdict,
} from "../../src/core/analysis.js";
import { grayCapacity, type Thresholds } from "../../src/core/policy.js";
import type { Stratum } from "../../src/core/sequential.js";
import {
  binomialLogPmf,
  binomialUpperTail,
  conditionalExcessPValue,
  normalQuantile,
  samplesAbove,
  tailProbability,
  wilsonLower,
} from "../../src/core/stats.js";
import type { VersionStats, WindowStats } from "../../src/core/types.js";

const T = policyOf(resolveOptions({ target: "local" }, { verb: "deploy-gray" })).thresholds;

const stats = (
  requests: number,
  errors: number,
  p95: number | null = 100,
  p99: number | null = 200,
): VersionStats => ({
  requests,
  errors,
  p95Ms: requests > 0 ? p95 : null,
  p99Ms: requests > 0 ? p99 : null,
  hasData: requests > 0,
});

const win = (gray: VersionStats, stable: VersionStats, lbErrors: number | null = null): WindowStats => ({
  start: 0,
  end: 60_000,
  gray,
  stable,
  lbErrors,
});

function obs(o: {
  gray: VersionStats;
  stable?: VersionStats;
  promoGray?: VersionStats;
  promoStable?: VersionStats;
  healthy?: number;
  unhealthy?: number;
  lbErrors?: number | null;
}): Observation {
  const stable = o.stable ?? stats(10_000, 10, 100, 200);
  return {
    at: 60_000,
    rollback: win(o.gray, stable, o.lbErrors ?? null),
    promotion: win(o.promoGray ?? o.gray, o.promoStable ?? stable),
    health: {
      stable: { healthy: 4, unhealthy: 0 },
      gray: { healthy: o.healthy ?? 1, unhealthy: o.unhealthy ?? 0 },
    },
    alarms: [],
    errors: [],
  };
}

const run = (
  observation: Observation,
  baseline: VersionStats | null = null,
  lbRate: number | null = null,
  thresholds: Thresholds = T,
  history: Stratum[] | null = null,
): Analysis =>
  analyse({ subject: "gray", observation, baseline, lbErrorBaselineRate: lbRate, history, thresholds });

const gate = (a: Analysis, name: GateName): Verdict | undefined =>
  a.gates.find((g) => g.gate === name)?.verdict;

describe("gates at the seed's boundaries", () => {
  it.each<[string, VersionStats, GateName, Verdict]>([
    ["error rate exactly 2% does not roll back", stats(1000, 20), "error-rate", "pass"],
    ["error rate just above 2% rolls back", stats(1000, 21), "error-rate", "fail"],
    ["error rate exactly 1% does not pass", stats(1000, 10), "promote-error-rate", "inconclusive"],
    ["error rate just below 1% passes", stats(1000, 9), "promote-error-rate", "pass"],
    ["p99 exactly 2s does not roll back", stats(1000, 0, 100, 2000), "p99", "pass"],
    ["p99 just above 2s rolls back", stats(1000, 0, 100, 2001), "p99", "fail"],
    ["p95 exactly 500ms does not pass", stats(1000, 0, 500, 600), "promote-p95", "inconclusive"],
    ["p95 just below 500ms passes", stats(1000, 0, 499, 600), "promote-p95", "pass"],
  ])("%s", (_name, gray, g, verdict) => {
    expect(gate(run(obs({ gray, stable: stats(20_000, 400, 499, 2000) })), g)).toBe(verdict);
  });

  it("between 1% and 2% a step neither passes nor rolls back: it is inconclusive", () => {
    const a = run(obs({ gray: stats(1000, 15), stable: stats(20_000, 300) }));
    expect(a.verdict).toBe("inconclusive");
  });

  it("a healthy gray with enough traffic passes every gate", () => {
    const a = run(obs({ gray: stats(1000, 1) }));
    expect(a.verdict).toBe("pass");
    expect(a.gates.every((g) => g.verdict === "pass")).toBe(true);
  });
});

describe("evidence", () => {
  it("no data at all is inconclusive, never pass", () => {
    const a = run(obs({ gray: stats(0, 0) }));
    expect(a.verdict).toBe("inconclusive");
    expect(gate(a, "evidence")).toBe("inconclusive");
  });

  it("too little traffic is inconclusive even when it looks perfect", () => {
    const a = run(obs({ gray: stats(T.minRequests - 1, 0) }));
    expect(a.verdict).toBe("inconclusive");
  });

  it("a few errors among a few requests are not enough to roll back", () => {
    const a = run(obs({ gray: stats(20, 1) }));
    expect(gate(a, "error-rate")).toBe("inconclusive");
  });

  it("a release failing every request is stopped after a handful, not after the minimum count", () => {
    const a = run(obs({ gray: stats(8, 8) }));
    expect(gate(a, "error-rate")).toBe("fail");
  });

  // The 2% limit is judged once it means --evidence-events (10) failures: 500 requests. Before,
  // only an excess a 2% rate would produce with probability below 0.1% (exact binomial tail).
  it.each<[string, number, number, Verdict]>([
    ["3 failures in 100 requests (3%): a healthy 0.5% service does that too often", 100, 3, "inconclusive"],
    ["12 failures in 300 requests (4%)", 300, 12, "inconclusive"],
    ["11 failures in 500 requests (2.2%): judged, above the limit", 500, 11, "fail"],
    ["1 failure in 3 requests: far from significant (Wilson's bound said otherwise)", 3, 1, "inconclusive"],
    ["25 failures in 100 requests: overwhelming", 100, 25, "fail"],
  ])("%s → %s", (_name, requests, errors, verdict) => {
    expect(gate(run(obs({ gray: stats(requests, errors) })), "error-rate")).toBe(verdict);
  });

  it("with --evidence-events 0 the limit is judged on any window (the seed's rule literally)", () => {
    const literal = { ...T, evidenceEvents: 0, minRequests: 1 };
    expect(gate(run(obs({ gray: stats(100, 3) }), null, null, literal), "error-rate")).toBe("fail");
    expect(gate(run(obs({ gray: stats(3, 1) }), null, null, literal), "error-rate")).toBe("fail");
    expect(gate(run(obs({ gray: stats(300, 0, 100, 2500) }), null, null, literal), "p99")).toBe("fail");
  });

  it.each<[string, VersionStats, Verdict]>([
    ["p99 2.5 s on 300 requests: 3 slow requests are not a p99", stats(300, 0, 200, 2500), "inconclusive"],
    ["p99 2.5 s on 1,000 requests: judged", stats(1000, 0, 200, 2500), "fail"],
    [
      "p95 and p99 above 2 s on 300 requests: 15 slow requests are evidence",
      stats(300, 0, 2100, 2500),
      "fail",
    ],
  ])("%s → %s", (_name, gray, verdict) => {
    expect(gate(run(obs({ gray })), "p99")).toBe(verdict);
  });

  it("metrics that could not be read are inconclusive, with the reason", () => {
    const o: Observation = {
      ...obs({ gray: stats(1000, 0) }),
      rollback: null,
      promotion: null,
      errors: ["throttled"],
    };
    const a = run(o);
    expect(a.verdict).toBe("inconclusive");
    expect(a.gates.find((g) => g.gate === "metrics")?.reason).toMatch(/throttled/);
  });
});

describe("health", () => {
  it.each<[number, number, Verdict]>([
    [0, 0, "fail"],
    [0, 1, "fail"],
    [1, 1, "pass"],
    [3, 1, "pass"],
    [2, 2, "fail"],
  ])("%i healthy and %i unhealthy gray instances → %s", (healthy, unhealthy, verdict) => {
    expect(gate(run(obs({ gray: stats(1000, 0), healthy, unhealthy })), "health")).toBe(verdict);
  });

  it("an alarm in ALARM fails; unreadable alarms are inconclusive", () => {
    const o = obs({ gray: stats(1000, 0) });
    expect(gate(run({ ...o, alarms: [{ name: "a", state: "ALARM" }] }), "alarms")).toBe("fail");
    expect(gate(run({ ...o, alarms: [{ name: "a", state: "INSUFFICIENT_DATA" }] }), "alarms")).toBe("pass");
    expect(gate(run({ ...o, alarms: null }), "alarms")).toBe("inconclusive");
  });
});

describe("relative gates", () => {
  it("gray clearly worse than stable fails even under the absolute limits", () => {
    // 1.5% against 0.1%: below the 2% rollback limit, but significantly and materially worse.
    const a = run(obs({ gray: stats(4000, 60), stable: stats(40_000, 40) }));
    expect(gate(a, "error-rate")).toBe("pass");
    expect(gate(a, "relative-error-rate")).toBe("fail");
    expect(a.verdict).toBe("fail");
  });

  it("gray slightly worse than stable (within the margin) does not fail", () => {
    const a = run(obs({ gray: stats(4000, 12), stable: stats(40_000, 40) }));
    expect(gate(a, "relative-error-rate")).toBe("pass");
  });

  it("when stable is degraded too, gray is not blamed by the relative gate, and the step holds", () => {
    const a = run(obs({ gray: stats(2000, 30), stable: stats(20_000, 300) }));
    expect(gate(a, "relative-error-rate")).toBe("pass");
    expect(gate(a, "error-rate")).toBe("pass");
    expect(a.verdict).toBe("inconclusive");
    expect(a.gates.find((g) => g.gate === "promote-error-rate")?.reason).toMatch(
      /other version is at 1.5% too/,
    );
  });

  it("above the absolute limit with stable as bad, it still rolls back, and says the environment may be at fault", () => {
    const a = run(obs({ gray: stats(2000, 60), stable: stats(20_000, 600) }));
    expect(a.verdict).toBe("fail");
    expect(a.gates.find((g) => g.gate === "error-rate")?.reason).toMatch(/environment may be degraded/);
  });

  it("gray much slower than stable fails the latency comparison", () => {
    const a = run(obs({ gray: stats(1000, 0, 850, 900), stable: stats(20_000, 0, 20, 40) }));
    expect(gate(a, "relative-latency")).toBe("fail");
  });

  it("gray a little slower, within tolerance and slack, passes", () => {
    const a = run(obs({ gray: stats(1000, 0, 60, 90), stable: stats(20_000, 0, 20, 40) }));
    expect(gate(a, "relative-latency")).toBe("pass");
  });

  it.each<[string, VersionStats, VersionStats, Verdict]>([
    // p99 550 ms → 1.6 s: only the slowest 2% got slower; 5,000 requests make that certain.
    [
      "a p99-only regression with enough requests fails",
      stats(5000, 0, 230, 1600),
      stats(95_000, 0, 200, 550),
      "fail",
    ],
    [
      "the same p99 on 300 requests is only a hint",
      stats(300, 0, 230, 1600),
      stats(5700, 0, 200, 550),
      "inconclusive",
    ],
    [
      "+200 ms on every request, 6,000 requests",
      stats(6000, 0, 420, 760),
      stats(114_000, 0, 200, 550),
      "fail",
    ],
    [
      "+200 ms on 1,500 requests: above the limit, not yet significant",
      stats(1500, 0, 420, 760),
      stats(28_500, 0, 200, 550),
      "inconclusive",
    ],
    ["a noisy p99 within the tolerance passes", stats(300, 0, 210, 800), stats(5700, 0, 200, 550), "pass"],
    [
      "a reference p99 from too few requests is not extrapolated",
      stats(3000, 0, 230, 1600),
      stats(500, 0, 200, 550),
      "inconclusive",
    ],
  ])("%s → %s", (_name, gray, stable, verdict) => {
    expect(gate(run(obs({ gray, stable })), "relative-latency")).toBe(verdict);
  });

  it("at 100%, with no stable traffic, the relative gates use the recorded baseline", () => {
    const baseline = stats(40_000, 40, 20, 40);
    const worse = run(obs({ gray: stats(4000, 60), stable: stats(0, 0) }), baseline);
    expect(gate(worse, "relative-error-rate")).toBe("fail");
    expect(worse.gates.find((g) => g.gate === "relative-error-rate")?.reason).toMatch(/recorded baseline/);
    const fine = run(obs({ gray: stats(4000, 4, 20, 40), stable: stats(0, 0) }), baseline);
    expect(fine.verdict).toBe("pass");
    const none = run(obs({ gray: stats(4000, 4), stable: stats(0, 0) }), null);
    expect(gate(none, "relative-error-rate")).toBe("pass");
  });

  it("load-balancer 5xx above its own baseline count against gray", () => {
    const o = obs({ gray: stats(1000, 5), stable: stats(19_000, 0), lbErrors: 40 });
    expect(gate(run(o, null, 0), "error-rate")).toBe("fail");
    // The same 40 are the load balancer's usual 0.2%: nothing extra.
    expect(gate(run(o, null, 0.002), "error-rate")).toBe("pass");
  });
});

describe("sequential error-rate gate", () => {
  const st = (
    requests: number,
    errors: number,
    refRequests: number,
    refErrors: number,
    prior: number,
  ): Stratum => ({
    start: 0,
    end: 60_000,
    requests,
    errors,
    refRequests,
    refErrors,
    prior,
  });

  it("fails on gray's history even when the rollback window alone says nothing yet", () => {
    // 32 failures in 600 gray requests against stable's 34 in 11,400: 5% against 0.3%.
    const a = run(obs({ gray: stats(60, 3), stable: stats(1140, 3) }), null, null, T, [
      st(600, 32, 11_400, 34, 1),
    ]);
    expect(gate(a, "error-rate")).toBe("inconclusive");
    expect(gate(a, "sequential-error-rate")).toBe("fail");
    expect(a.verdict).toBe("fail");
    expect(a.gates.find((g) => g.gate === "sequential-error-rate")?.reason).toMatch(
      /gray fails more often than stable × 1.25 since .*32 of 600 requests vs stable's 34 of 11400/,
    );
  });

  it.each<[string, Stratum[] | null, Thresholds, Verdict]>([
    ["a healthy history passes", [st(6000, 18, 114_000, 342, 1)], T, "pass"],
    ["no history yet: not applied", null, T, "pass"],
    ["switched off (α 0): not applied", [st(600, 32, 11_400, 34, 1)], { ...T, sequentialAlpha: 0 }, "pass"],
  ])("%s", (_name, history, thresholds, verdict) => {
    const a = run(obs({ gray: stats(1000, 1) }), null, null, thresholds, history);
    expect(gate(a, "sequential-error-rate")).toBe(verdict);
  });
});

describe("capacity rule", () => {
  it.each([
    [4, 5, 1, 1],
    [4, 25, 1, 1],
    [4, 50, 1, 2],
    [4, 100, 1, 4],
    [10, 5, 1, 1],
    [10, 25, 1, 3],
    [10, 5, 2, 2],
    [2, 5, 3, 2],
    [1, 100, 1, 1],
  ])("stable %i at %i%% with minimum %i → %i gray", (stable, weight, min, expected) => {
    expect(grayCapacity(stable, weight, min)).toBe(expected);
  });
});

describe("statistics", () => {
  it("binomial tails match known values", () => {
    expect(binomialUpperTail(1, 10, 0.5)).toBeCloseTo(1 - 1 / 1024, 10);
    expect(binomialUpperTail(10, 10, 0.5)).toBeCloseTo(1 / 1024, 12);
    expect(binomialUpperTail(0, 5, 0.3)).toBe(1);
    // P(X ≥ 5 | n=1000, p=0.001) = 1 - Σ_{k<5} C(n,k) p^k (1-p)^(n-k) = 0.0036369 (exact, by math.comb)
    expect(binomialUpperTail(5, 1000, 0.001)).toBeCloseTo(0.0036369, 6);
  });

  it("normal quantile and Wilson bound", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 5);
    expect(wilsonLower(0, 100, 0.95)).toBe(0);
    expect(wilsonLower(50, 100, 0.975)).toBeCloseTo(0.4038, 3);
  });

  it("binomial tails by recurrence agree with the direct sum", () => {
    for (const [k, n, p] of [
      [3, 100, 0.005],
      [30, 3000, 0.0048],
      [151, 3000, 0.05],
      [600, 20_000, 0.03],
      [2, 10, 0.4],
    ] as const) {
      let direct = 0;
      for (let i = k; i <= n; i++) direct += Math.exp(binomialLogPmf(i, n, p));
      expect(binomialUpperTail(k, n, p)).toBeCloseTo(Math.min(1, direct), 10);
    }
  });

  it.each([
    [1000, 0.99, 11],
    [300, 0.99, 4],
    [100, 0.95, 6],
    [1, 0.99, 1],
    [0, 0.99, 0],
  ])("%i samples: at least this many above the %f quantile", (n, q, above) => {
    expect(samplesAbove(n, q)).toBe(above);
  });

  it.each<[string, number, { p95Ms: number | null; p99Ms: number | null; requests: number }, number]>([
    ["at the p95", 200, { p95Ms: 200, p99Ms: 550, requests: 20_000 }, 0.05],
    ["at the p99", 550, { p95Ms: 200, p99Ms: 550, requests: 20_000 }, 0.01],
    ["beyond the p99: index-1 power law", 1100, { p95Ms: 200, p99Ms: 550, requests: 20_000 }, 0.005],
    [
      "between: log-linear",
      Math.sqrt(200 * 550),
      { p95Ms: 200, p99Ms: 550, requests: 20_000 },
      Math.sqrt(0.05 * 0.01),
    ],
    ["p99 of too few requests: from the p95", 1000, { p95Ms: 200, p99Ms: 550, requests: 500 }, 0.01],
    ["below the p95: no evidence", 150, { p95Ms: 200, p99Ms: 550, requests: 20_000 }, 1],
    ["too little reference data", 1000, { p95Ms: 200, p99Ms: 550, requests: 100 }, 1],
  ])("tail probability %s", (_name, x, ref, expected) => {
    expect(tailProbability(x, ref)).toBeCloseTo(expected, 10);
  });

  it("the tail probability errs towards slow requests being common for real response-time tails", () => {
    // The benchmark's healthy distribution: log-normal body, 3% Pareto(250 ms, 1.6) tail.
    const sf = (x: number) => 0.03 * (250 / x) ** 1.6;
    const ref = { p95Ms: 200, p99Ms: 250 * (0.03 / 0.01) ** (1 / 1.6), requests: 50_000 };
    for (const x of [800, 1200, 3000, 10_000]) expect(tailProbability(x, ref)).toBeGreaterThanOrEqual(sf(x));
  });

  it("the conditional test is not significant for equal rates and significant for a real difference", () => {
    expect(conditionalExcessPValue(10, 10_000, 10, 10_000, 0)).toBeGreaterThan(0.3);
    expect(conditionalExcessPValue(60, 4000, 40, 40_000, 0.005)).toBeLessThan(1e-4);
  });
});
