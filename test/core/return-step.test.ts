/**
 * The return steps' relative gates compare the pools over the step's own part of the rollback window
 * (core/analysis.ts returnStepWindow), as the forward steps do: over a window straddling the switch to
 * stable 100%, gray's requests are all from before it and stable's include its doubled share, so a
 * slowdown shared by both right after the switch was blamed on the refreshed stable (the local 800
 * requests/s ramp paused there: stable p99 153 ms against gray's 34 ms "over the same window").
 */
import { describe, expect, it } from "vitest";
import { type Observation, returnStepWindow } from "../../src/core/analysis.js";
import { analyseStep, decide, observationWindows } from "../../src/core/decide.js";
import type { RolloutState } from "../../src/core/state.js";
import type { VersionStats, WindowStats } from "../../src/core/types.js";
import { rolloutState, T0 } from "./rollout-state.js";

const stats = (n: number, p95: number, p99: number): VersionStats => ({
  requests: n,
  errors: 0,
  p95Ms: p95,
  p99Ms: p99,
  hasData: true,
});

/** The last return step (stable 100%), entered 4.5 s ago; gray's baseline from the 50% return step. */
function returning(): { s: RolloutState; now: number } {
  const now = T0 + 60_000;
  const s = rolloutState(
    { synthetic: "[]" },
    {
      phase: "returning",
      stableRefreshed: true,
      stepIndex: 1,
      weights: { stable: 100, gray: 0 },
      stepStartedAt: now - 4500,
      baseline: { pool: "gray", stats: stats(4000, 59, 96), at: now - 5000 },
    },
  );
  return { s, now };
}

describe("return steps compare the pools over the step's own part of the window", () => {
  it("is the rollback window from the step's first complete period, when the step began inside it", () => {
    const rb = { start: 50_000, end: 60_000 };
    expect(returnStepWindow("returning", 55_500, rb, 1000)).toEqual({ start: 56_000, end: 60_000 });
    expect(returnStepWindow("returning", 55_000, rb, 1000)).toEqual({ start: 55_000, end: 60_000 });
    // The step began before the window: the whole window is the step's.
    expect(returnStepWindow("returning", 49_000, rb, 1000)).toBeNull();
    // No complete period yet.
    expect(returnStepWindow("returning", 59_500, rb, 1000)).toBeNull();
    expect(returnStepWindow("shifting", 55_500, rb, 1000)).toBeNull();
    expect(returnStepWindow("returning", null, rb, 1000)).toBeNull();
  });

  it("a slowdown right after the switch, shared by both pools, does not pause a healthy refresh", () => {
    const { s, now } = returning();
    const w = observationWindows(s.plan, now);
    // Straddling: gray's 2016 requests are all from before the switch (fast); stable's 6016 include
    // the seconds after it, when the machine slowed both.
    const straddle = { stable: stats(6016, 27, 153), gray: stats(2016, 12, 34), lbErrors: null };
    const step = returnStepWindow(s.phase, s.stepStartedAt, w.rollback, s.plan.metricPeriodMs)!;
    expect(step).not.toBeNull();
    // In the step itself stable alone has traffic, as slow as gray was at the 50% return step.
    const inStep: WindowStats = {
      ...step,
      stable: stats(3000, 60, 110),
      gray: stats(0, 0, 0),
      lbErrors: null,
    };
    const obs = (returnStep?: WindowStats): Observation => ({
      at: now,
      rollback: { ...w.rollback, ...straddle },
      promotion: { ...w.promotion, ...straddle },
      health: { stable: { healthy: 7, unhealthy: 0 }, gray: { healthy: 4, unhealthy: 0 } },
      alarms: [],
      errors: [],
      ...(returnStep === undefined ? {} : { returnStep }),
    });
    // Before: compared with gray "over the same window" (its pre-switch requests): a fail, a pause.
    const before = analyseStep(s, obs());
    expect(before.gates.find((g) => g.gate === "relative-latency")?.verdict).toBe("fail");
    expect(decide(s, obs(), now).kind).toBe("pause");
    // Now: stable's own step against gray's recorded baseline (p95 59, p99 96): a pass.
    const after = analyseStep(s, obs(inStep));
    expect(after.gates.find((g) => g.gate === "relative-latency")).toMatchObject({ verdict: "pass" });
    expect(decide(s, obs(inStep), now).kind).not.toBe("pause");
    // A refreshed stable really slower than gray was is still caught in its own step.
    const slow = { ...inStep, stable: stats(3000, 400, 600) };
    expect(analyseStep(s, obs(slow)).gates.find((g) => g.gate === "relative-latency")?.verdict).toBe("fail");
    expect(decide(s, obs(slow), now).kind).toBe("pause");
  });
});
