/**
 * Per-instance parity between gray and stable while the fleets follow the load (src/core/parity.ts,
 * src/core/capacity.ts): the rule's table, a rehearsed peak in virtual time (100 → 800 requests/s,
 * 120 per instance, the local defaults), and the relative latency gate held — not failed — while
 * gray's MaxSize keeps it short of parity.
 */
import { describe, expect, it } from "vitest";
import type { RawOptions } from "../../src/app/schema.js";
import type { Analysis, Observation } from "../../src/core/analysis.js";
import { decideCapacity, loadSize, stepCapacity } from "../../src/core/capacity.js";
import { analyseStep, decide, observationWindows } from "../../src/core/decide.js";
import { describeShortfall, parityCapacity, parityHold, perInstanceRatio } from "../../src/core/parity.js";
import type { RolloutState } from "../../src/core/state.js";
import type { FleetSizes, ParityShortfall, VersionStats } from "../../src/core/types.js";
import { rolloutState, T0 } from "./rollout-state.js";

/** Gray at 50% of a rollout whose stable began at 4 (the local target's plan, no synthetic charge). */
function state(raw: RawOptions = {}, patch: Partial<RolloutState> = {}): RolloutState {
  return rolloutState(
    { synthetic: "[]", ...raw },
    {
      phase: "shifting",
      stableCapacity: 4,
      grayCapacity: 4,
      weights: { stable: 50, gray: 50 },
      stepIndex: 2,
      stepStartedAt: T0,
      ...patch,
    },
  );
}

describe("per-instance parity (core/parity.ts)", () => {
  it("is the smallest gray at which a gray instance carries no more than a stable one", () => {
    for (const stable of [1, 2, 3, 4, 5, 7, 10, 13]) {
      for (const w of [1, 5, 10, 25, 33, 50, 60, 75, 90]) {
        const g = parityCapacity(stable, w);
        const ratio = perInstanceRatio(stable, g, w, g);
        expect(ratio, `stable ${stable} at ${w}%: gray ${g}`).toBeLessThanOrEqual(1 + 1e-12);
        if (g > 1) expect(perInstanceRatio(stable, g - 1, w, g), `${stable}@${w}`).toBeGreaterThan(1);
      }
    }
    expect([5, 25, 50, 75].map((w) => parityCapacity(7, w))).toEqual([1, 3, 7, 21]);
    expect(parityCapacity(7, 100)).toBe(7);
    expect(parityCapacity(7, 0)).toBe(0);
  });

  it("holds a relative latency fail as inconclusive, with the reason, and nothing else", () => {
    const short: ParityShortfall = { weight: 50, need: 10, max: 3, ratio: 10 / 3 };
    const a: Analysis = {
      verdict: "fail",
      gates: [
        { gate: "relative-latency", verdict: "fail", reason: "gray p95 300ms > …", values: {} },
        { gate: "error-rate", verdict: "pass", reason: "ok", values: {} },
      ],
    };
    const held = parityHold(a, short);
    expect(held.verdict).toBe("inconclusive");
    expect(held.gates[0]).toMatchObject({
      verdict: "inconclusive",
      reason: `gray p95 300ms > … — not held against the release: ${describeShortfall(short)}; the step holds`,
    });
    expect(describeShortfall(short)).toBe(
      "gray's MaxSize 3 cannot reach per-instance parity (10 needed at 50%): a gray instance carries about 3.33× a stable instance's requests",
    );
    // An absolute gate's fail still fails; without a shortfall nothing changes.
    const errors: Analysis = {
      verdict: "fail",
      gates: [...a.gates.slice(0, 1), { gate: "error-rate", verdict: "fail", reason: "5%", values: {} }],
    };
    expect(parityHold(errors, short).verdict).toBe("fail");
    expect(parityHold(a, null)).toBe(a);
    expect(parityHold(a, undefined)).toBe(a);
  });
});

const stats = (n: number, p95: number, p99: number): VersionStats => ({
  requests: n,
  errors: 0,
  p95Ms: p95,
  p99Ms: p99,
  hasData: true,
});

function observe(s: RolloutState, now: number, gray: VersionStats, stable: VersionStats): Observation {
  const w = observationWindows(s.plan, now);
  return {
    at: now,
    rollback: { ...w.rollback, gray, stable, lbErrors: null },
    promotion: { ...w.promotion, gray, stable, lbErrors: null },
    health: { stable: { healthy: 10, unhealthy: 0 }, gray: { healthy: 3, unhealthy: 0 } },
    alarms: [],
    errors: [],
  };
}

describe("the relative latency gate while gray is short of parity (core/decide.ts)", () => {
  // Gray busier per instance than stable: p95 300 ms against stable's 100 ms (limit 100 × 1.5 + 50).
  const slowGray = stats(4000, 300, 400);
  const stable = stats(4000, 100, 150);

  it("rolls back when gray is at parity (a slower gray is the release's)", () => {
    const s = state({}, { follow: { ...noFollow(), parity: null } });
    const now = T0 + 5000;
    const a = analyseStep(s, observe(s, now, slowGray, stable));
    expect(a.gates.find((g) => g.gate === "relative-latency")?.verdict).toBe("fail");
    expect(decide(s, observe(s, now, slowGray, stable), now).kind).toBe("rollback");
  });

  it("holds the step when gray's MaxSize keeps it short of parity, and the absolute gates still roll back", () => {
    const parity: ParityShortfall = { weight: 50, need: 10, max: 3, ratio: 10 / 3 };
    const s = state({}, { grayCapacity: 3, follow: { ...noFollow(), parity } });
    const now = T0 + 5000;
    const a = analyseStep(s, observe(s, now, slowGray, stable));
    expect(a.gates.find((g) => g.gate === "relative-latency")).toMatchObject({
      verdict: "inconclusive",
      reason: expect.stringMatching(
        /not held against the release: gray's MaxSize 3 cannot reach per-instance parity/,
      ),
    });
    const d = decide(s, observe(s, now, slowGray, stable), now);
    expect(d.kind).not.toBe("rollback");
    expect(d.kind).not.toBe("set-weights");
    // Past the bake's end it is still not passed: the step holds until --max-bake, then the
    // inconclusive policy (pause by default) decides.
    const late = T0 + s.plan.maxBakeMs + 1;
    expect(decide(s, observe(s, late, slowGray, stable), late)).toMatchObject({ kind: "pause" });
    // Errors are not excused by a shortfall.
    const failing = { ...slowGray, errors: 400 };
    expect(decide(s, observe(s, now, failing, stable), now).kind).toBe("rollback");
  });
});

function noFollow() {
  return { pending: { stable: null, gray: null }, grayGrew: null, loadSize: null, requestRate: null };
}

describe("a rehearsed peak in virtual time: 100 → 800 requests/s over 5/25/50/100, 120 per instance", () => {
  it("gray keeps per-instance parity with stable at every evaluation of 5/25/50%, and the whole load at 100%", () => {
    const STEPS = [5, 25, 50, 100];
    const STEP_MS = 13_000;
    const PER_INSTANCE = 120;
    const rate = (t: number) => 100 + 700 * Math.min(1, t / (STEPS.length * STEP_MS));
    let s = state(
      { followLoadDelay: "2s", steps: STEPS.join(",") },
      { grayCapacity: 1, weights: { stable: 95, gray: 5 }, stepIndex: 0 },
    );
    const fleet = { stableMin: 4, stableDesired: 4, gray: 1, grayHealthy: 1 };
    const sizes = (): FleetSizes => ({
      stable: { desired: fleet.stableDesired, min: fleet.stableMin, max: 32 },
      gray: { desired: fleet.gray, max: 32 },
      perInstanceRps: PER_INSTANCE,
    });
    const seen: string[] = [];
    let grayChanges = 0;
    for (let t = 1000; t < STEPS.length * STEP_MS + 8000; t += 1000) {
      const step = Math.min(STEPS.length - 1, Math.floor(t / STEP_MS));
      const w = STEPS[step]!;
      if (w !== s.weights.gray) {
        // Entering a step: gray's size for it first (as the engine does), healthy before the write.
        const enter = stepCapacity(s, w, sizes());
        if (enter > fleet.gray) fleet.gray = fleet.grayHealthy = enter;
        s = { ...s, weights: { stable: 100 - w, gray: w }, stepIndex: step, grayCapacity: fleet.gray };
      }
      // The load over the last two seconds, by the weights; new gray instances healthy a second on.
      const r = rate(t - 1000);
      const split = (share: number) => stats(Math.round(r * 2 * share), 20, 30);
      const recent = {
        start: T0 + t - 2000,
        end: T0 + t,
        stable: split((100 - w) / 100),
        gray: split(w / 100),
        lbErrors: null,
      };
      const d = decideCapacity(s, { sizes: sizes(), recent, grayHealthy: fleet.grayHealthy }, T0 + t);
      fleet.grayHealthy = fleet.gray;
      for (const c of d.changes) {
        if (c.pool === "stable") {
          fleet.stableMin = c.to;
          fleet.stableDesired = Math.max(fleet.stableDesired, c.to);
        } else {
          expect(c.to, `gray only grows during the climb (t=${t}): ${c.reason}`).toBeGreaterThan(c.from);
          fleet.gray = c.to;
          grayChanges++;
        }
      }
      s = { ...s, grayCapacity: fleet.gray, follow: d.follow };
      expect(d.follow.parity, d.note).toBeNull();
      if (w < 100) {
        // Stable's own policy (target tracking on its share) may only add to the pinned minimum.
        const ratio = perInstanceRatio(fleet.stableDesired, fleet.gray, w, 0);
        expect(
          ratio,
          `t=${t}s at ${w}%: gray ${fleet.gray}, stable ${fleet.stableDesired}`,
        ).toBeLessThanOrEqual(1);
      } else if (t >= STEPS.length * STEP_MS + 3000) {
        // At 100%, once the top of the ramp has held for the follow delay: the whole load by the target.
        expect(fleet.gray).toBeGreaterThanOrEqual(loadSize(800, PER_INSTANCE)!);
      }
      seen.push(`${t / 1000}s ${w}% ${Math.round(r)}/s stable ${fleet.stableDesired} gray ${fleet.gray}`);
    }
    // The sizes the local 800 command meets: stable held at 7 for 800/s, gray 7 at 50% and 100%.
    expect(fleet.stableDesired, seen.join("\n")).toBe(7);
    expect(fleet.gray, seen.join("\n")).toBe(7);
    // Few, stepwise changes (no flapping): at most one per instance added.
    expect(grayChanges, seen.join("\n")).toBeLessThanOrEqual(7);
  });
});
