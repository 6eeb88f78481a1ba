import { describe, expect, it } from "vitest";
import {
  ALTERNATIVES,
  type Cut,
  historyCuts,
  PRIOR_FIRST_STEP,
  PRIOR_GRID,
  PRIOR_LATER_STEPS,
  rateUpperBound,
  type Stratum,
  sequentialTest,
  strataFromSuffixes,
  stratumLogRatio,
} from "../../src/core/sequential.js";

const P = { alpha: 0.01, tolerance: 0.5, fallbackMargin: 0.005 };

const stratum = (
  requests: number,
  errors: number,
  refRequests: number,
  refErrors: number,
  prior = 0,
  start = 0,
): Stratum => ({ start, end: start + 60_000, requests, errors, refRequests, refErrors, prior });

/** Deterministic Poisson draws for the calibration test (xorshift, inversion). */
function poissonStream(seed: number) {
  let x = seed >>> 0 || 1;
  const u = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return (x + 0.5) / 4294967296;
  };
  return (mean: number) => {
    let k = 0;
    let p = Math.exp(-mean);
    let cdf = p;
    const v = u();
    while (v > cdf && k < 500) {
      k++;
      p *= mean / k;
      cdf += p;
    }
    return k;
  };
}

describe("stratum log-likelihood ratio", () => {
  it.each<[string, Stratum, number, "zero" | "positive" | "negative"]>([
    ["no errors anywhere: no evidence", stratum(1000, 0, 19_000, 0), 4, "zero"],
    ["no gray requests: no evidence", stratum(0, 0, 19_000, 40), 4, "zero"],
    [
      "gray's share of the errors far above its share of traffic",
      stratum(1000, 30, 19_000, 40),
      4,
      "positive",
    ],
    ["gray's share of the errors at its share of traffic", stratum(1000, 2, 19_000, 38), 4, "negative"],
    ["stable had no traffic: Poisson against the null rate", stratum(10_000, 200, 0, 0), 2, "positive"],
  ])("%s", (_name, s, r, sign) => {
    const l = stratumLogRatio(s, r, 1.5, 0.01);
    if (sign === "zero") expect(l).toBe(0);
    else if (sign === "positive") expect(l).toBeGreaterThan(0);
    else expect(l).toBeLessThan(0);
  });

  it("is the exact conditional binomial log-ratio", () => {
    // q0 = 1.5·1000/(1.5·1000 + 19000), q1 = 6·1000/(6·1000 + 19000), r = 4.
    const q0 = 1500 / 20_500;
    const q1 = 6000 / 25_000;
    const expected = 30 * Math.log(q1 / q0) + 40 * Math.log((1 - q1) / (1 - q0));
    expect(stratumLogRatio(stratum(1000, 30, 19_000, 40), 4, 1.5, 0)).toBeCloseTo(expected, 12);
  });
});

describe("sequential test", () => {
  it.each<[string, boolean, Stratum[]]>([
    ["gray as good as stable at 5%", false, [stratum(6000, 18, 114_000, 342, 1)]],
    ["gray failing 5% against stable's 0.3%, 600 requests", true, [stratum(600, 32, 11_400, 34, 1)]],
    ["gray failing 1% against 0.3% on 6,000 requests", true, [stratum(6000, 60, 114_000, 342, 1)]],
    ["gray failing 1% against 0.3% on 300 requests: not yet", false, [stratum(300, 3, 5700, 17, 1)]],
    // A dependency outage: both versions fail 3%; errors split as traffic does.
    ["both versions degraded together (shared 3%)", false, [stratum(6000, 180, 114_000, 3420, 1)]],
    ["gray 1.4× stable: within the 50% tolerance", false, [stratum(50_000, 210, 950_000, 2850, 1)]],
  ])("%s → rolls back: %s", (_name, reject, strata) => {
    expect(sequentialTest(strata, P).reject).toBe(reject);
  });

  it("a stricter α needs more evidence", () => {
    const s = [stratum(600, 12, 11_400, 34, 1)];
    const loose = sequentialTest(s, { ...P, alpha: 0.2 });
    const strict = sequentialTest(s, { ...P, alpha: 1e-6 });
    expect(loose.logStatistic).toBeCloseTo(strict.logStatistic, 12);
    expect(loose.reject).toBe(true);
    expect(strict.reject).toBe(false);
  });

  it("a change point in the recent past finds a fault that a long healthy history dilutes", () => {
    const healthy = stratum(40_000, 120, 760_000, 2280, 0, 0);
    const bad = stratum(600, 30, 11_400, 34, 0, 60_000);
    const firstOnly = sequentialTest([{ ...healthy, prior: 0.5 }, bad], P);
    const withRecent = sequentialTest(
      [
        { ...healthy, prior: 0.5 },
        { ...bad, prior: 0.01 },
      ],
      P,
    );
    expect(firstOnly.reject).toBe(false);
    expect(withRecent.reject).toBe(true);
    expect(withRecent.since).toBe(60_000);
    expect(withRecent.errors).toBe(30);
  });

  it("at 100% it compares gray with stable's earlier rate plus the margin", () => {
    const before = stratum(100_000, 300, 1_900_000, 5700, 0.5, 0); // 0.3%
    // Gray at 0.6% at 100%: twice stable's earlier rate, but within 1.5 × 0.3% + 0.5%.
    const noisy = sequentialTest([before, stratum(120_000, 720, 0, 0, 0.1, 60_000)], P);
    expect(noisy.reject).toBe(false);
    expect(noisy.fallbackRate).toBeGreaterThan(0.0095);
    // Gray at 3%: a fault.
    const bad = sequentialTest([before, stratum(20_000, 600, 0, 0, 0.1, 60_000)], P);
    expect(bad.reject).toBe(true);
  });

  it("uses the recorded baseline when the history has no stable traffic at all", () => {
    const onlyGray = [stratum(20_000, 600, 0, 0, 1)];
    expect(sequentialTest(onlyGray, P).reject).toBe(false);
    expect(sequentialTest(onlyGray, P, { errors: 60, requests: 20_000 }).reject).toBe(true);
  });

  it("keeps its false-rollback budget over many looks (Ville), with shared noise", () => {
    // 2,000 good rollouts, 40 looks each: gray 5% of traffic, a shared rate that moves every period;
    // the null exactly (no tolerance), so the budget is all there is between them and a rollback.
    const draw = poissonStream(12345);
    const alpha = 0.05;
    let rejected = 0;
    const runs = 2000;
    for (let r = 0; r < runs; r++) {
      const strata: Stratum[] = [];
      for (let k = 0; k < 40; k++) {
        const rate = 0.003 * Math.exp(0.5 * Math.sin(r + k / 7));
        const n = draw(60);
        const m = draw(1140);
        strata.push(stratum(n, draw(n * rate), m, draw(m * rate), k === 0 ? 1 : 0, k * 60_000));
        if (sequentialTest(strata, { ...P, alpha, tolerance: 0 }).reject) {
          rejected++;
          break;
        }
      }
    }
    expect(rejected / runs).toBeLessThan(alpha);
    expect(rejected).toBeGreaterThan(0); // the test is not vacuous: the statistic does move
  });

  it("reports where the evidence starts and what it counts", () => {
    const r = sequentialTest(
      [stratum(100, 0, 1900, 5, 0.5, 0), stratum(600, 30, 11_400, 34, 0.1, 60_000)],
      P,
    );
    expect(r.reject).toBe(true);
    expect(r.since).toBe(60_000);
    expect(ALTERNATIVES).toContain(r.ratio);
    expect([r.requests, r.errors, r.refRequests, r.refErrors]).toEqual([600, 30, 11_400, 34]);
  });
});

describe("history cuts", () => {
  const hp = { periodMs: 60_000, gridMs: 60_000, lookbackMs: 10 * 60_000, horizonMs: 120 * 60_000 };
  const T = 1_800_000_000_000; // a period boundary

  it("cuts at each step (its first, partial period on its own) and on the grid in the recent past", () => {
    const steps = [T + 15_000, T + 720_000 + 30_000];
    const end = T + 30 * 60_000;
    const cuts = historyCuts(hp, steps, end);
    const starts = cuts.map((c) => (c.start - T) / 60_000);
    // Step 1 starts inside period 0, step 2 inside period 12; the grid covers minutes 20–29.
    expect(starts).toEqual([0, 1, 12, 13, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    const prior = (m: number) => cuts.find((c) => c.start === T + m * 60_000)!.prior;
    expect(prior(0)).toBe(PRIOR_FIRST_STEP);
    expect(prior(12)).toBe(PRIOR_LATER_STEPS);
    expect(prior(1)).toBe(0);
    expect(prior(25)).toBeCloseTo(PRIOR_GRID / 120, 12);
  });

  it("puts no more than 1 of prior mass on a whole rollout", () => {
    const steps = [T, T + 720_000, T + 1_440_000, T + 2_160_000];
    let mass = 0;
    const seen = new Set<number>();
    for (let end = T + 60_000; end <= T + 150 * 60_000; end += 60_000) {
      for (const c of historyCuts(hp, steps, end)) {
        if (!seen.has(c.start)) {
          seen.add(c.start);
          mass += c.prior;
        }
      }
    }
    expect(mass).toBeLessThanOrEqual(1 + 1e-9);
    expect(mass).toBeGreaterThan(0.99);
  });

  it("is empty before gray's first complete period", () => {
    expect(historyCuts(hp, [T + 15_000], T)).toEqual([]);
    expect(historyCuts(hp, [], T + 60_000)).toEqual([]);
  });

  it("turns windows that share one end into strata", () => {
    const cuts: Cut[] = [
      { start: 0, prior: 0.5 },
      { start: 10, prior: 0 },
      { start: 20, prior: 0.1 },
    ];
    const s = strataFromSuffixes(
      [
        { start: 0, end: 30, requests: 300, errors: 9, refRequests: 3000, refErrors: 10 },
        { start: 10, end: 30, requests: 200, errors: 8, refRequests: 2000, refErrors: 7 },
        { start: 20, end: 30, requests: 100, errors: 6, refRequests: 1000, refErrors: 3 },
      ],
      cuts,
    );
    expect(s.map((x) => [x.start, x.end, x.requests, x.errors, x.refRequests, x.refErrors, x.prior])).toEqual(
      [
        [0, 10, 100, 1, 1000, 3, 0.5],
        [10, 20, 100, 2, 1000, 4, 0],
        [20, 30, 100, 6, 1000, 3, 0.1],
      ],
    );
  });
});

describe("rate upper bound", () => {
  it.each([
    [0, 1000, 0.003],
    [9, 1000, 0.01632456],
    [100, 10_000, 0.01210998],
  ])("%i of %i → %f", (e, n, bound) => {
    expect(rateUpperBound(e, n)).toBeCloseTo(bound, 6);
  });
  it("is null without requests", () => expect(rateUpperBound(0, 0)).toBeNull());
});
