import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/contract/options.js";
import {
  type Analysis,
  analyse,
  type GateName,
  type Observation,
  type Verdict,
} from "../../src/core/analysis.js";
import { grayCapacity, policyFromOptions } from "../../src/core/policy.js";
import {
  binomialUpperTail,
  conditionalExcessPValue,
  normalQuantile,
  wilsonLower,
} from "../../src/core/stats.js";
import type { VersionStats, WindowStats } from "../../src/core/types.js";

const T = policyFromOptions(resolveOptions({ target: "local" }, { verb: "deploy-gray" })).thresholds;

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
): Analysis =>
  analyse({ subject: "gray", observation, baseline, lbErrorBaselineRate: lbRate, thresholds: T });

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

  it("the conditional test is not significant for equal rates and significant for a real difference", () => {
    expect(conditionalExcessPValue(10, 10_000, 10, 10_000, 0)).toBeGreaterThan(0.3);
    expect(conditionalExcessPValue(60, 4000, 40, 40_000, 0.005)).toBeLessThan(1e-4);
  });
});
