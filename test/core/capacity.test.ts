/**
 * The fleets following the load, decided purely (src/core/capacity.ts) — and keep-previous's decisions
 * (src/core/keep.ts): tables of state + observation + now → sizes, with the reasons.
 */
import { describe, expect, it } from "vitest";
import type { RawOptions } from "../../src/app/schema.js";
import type { Analysis } from "../../src/core/analysis.js";
import {
  type CapacityInput,
  decideCapacity,
  follows,
  loadSize,
  plannedStepCapacity,
  settle,
  stepCapacity,
} from "../../src/core/capacity.js";
import { decideKeeping, keepDecision } from "../../src/core/keep.js";
import type { RolloutState } from "../../src/core/state.js";
import type { FleetSizes, WindowStats } from "../../src/core/types.js";
import { rolloutState, T0 } from "./rollout-state.js";

function state(raw: RawOptions = {}, patch: Partial<RolloutState> = {}): RolloutState {
  return rolloutState(raw, {
    phase: "shifting",
    stableCapacity: 4,
    // Per-instance parity at 50%: as many gray instances as stable's 4.
    grayCapacity: 4,
    weights: { stable: 50, gray: 50 },
    stepIndex: 2,
    stepStartedAt: T0,
    ...patch,
  });
}

/** `rps` requests/s through both pools over a two-second window. */
function recent(rps: number): WindowStats {
  const half = (rps * 2) / 2;
  const v = { requests: half, errors: 0, p95Ms: 20, p99Ms: 30, hasData: true };
  return { start: T0, end: T0 + 2000, stable: v, gray: v, lbErrors: 0 };
}

function input(o: {
  rps: number | null;
  stable?: Partial<FleetSizes["stable"]>;
  grayMax?: number;
  healthy?: number | null;
  perInstance?: number | null;
}): CapacityInput {
  return {
    sizes: {
      stable: { desired: 4, min: 4, max: 20, ...o.stable },
      gray: { desired: 4, max: o.grayMax ?? 20 },
      perInstanceRps: o.perInstance === undefined ? 100 : o.perInstance,
    },
    recent: o.rps === null ? null : recent(o.rps),
    grayHealthy: o.healthy === undefined ? 4 : o.healthy,
  };
}

describe("gray follows the load (core/capacity.ts)", () => {
  it("follows only while gray carries traffic, with --gray-capacity follow", () => {
    expect(follows(state())).toBe(true);
    expect(follows(state({ grayCapacity: "fixed" }))).toBe(false);
    expect(follows(state({}, { weights: { stable: 100, gray: 0 } }))).toBe(false);
    expect(follows(state({}, { phase: "scaling" }))).toBe(false);
    expect(follows(state({}, { phase: "keeping", weights: { stable: 0, gray: 100 } }))).toBe(true);
    expect(follows(state({}, { kind: "restore" }))).toBe(false);
  });

  it("sizes stable for the whole load: requests/s over its per-instance target, rounded up", () => {
    expect(loadSize(650, 120)).toBe(6);
    expect(loadSize(600, 120)).toBe(5);
    expect(loadSize(null, 120)).toBeNull();
    expect(loadSize(600, null)).toBeNull();
  });

  it("grows both fleets once the difference has held --follow-load-delay, and not before", () => {
    const s = state({ followLoadDelay: "2s" });
    // 800 requests/s at 100 per instance: stable held at 8 for the whole load, gray at 50% → 8
    // (per-instance parity: 400 requests/s over 8 instances on each side).
    const first = decideCapacity(s, input({ rps: 800 }), T0);
    expect(first.changes).toEqual([]);
    expect(first.follow.pending).toEqual({ stable: { to: 8, since: T0 }, gray: { to: 8, since: T0 } });
    expect(first.note).toMatch(/stable 4 → 8 once it persists; gray 4 → 8 once it persists/);

    const held = { ...s, follow: first.follow };
    expect(decideCapacity(held, input({ rps: 800 }), T0 + 1999).changes).toEqual([]);
    const later = decideCapacity(held, input({ rps: 800 }), T0 + 2000);
    expect(later.changes.map(({ pool, from, to }) => ({ pool, from, to }))).toEqual([
      { pool: "stable", from: 4, to: 8 },
      { pool: "gray", from: 4, to: 8 },
    ]);
    expect(later.changes[0]!.reason).toMatch(
      /stable held at 8 instance\(s\) \(was 4\): the whole load is 800 requests\/s, 100 requests\/s per instance .* rollback sends all of it back to stable at once; the difference held for 2s/,
    );
    expect(later.changes[1]!.reason).toMatch(
      /gray 4 → 8: per-instance parity \(a gray instance carries no more requests than a stable one\) with stable's desired capacity 8 \(4 when the rollout began\) at gray's 50%: ⌈8 × 50 ÷ 50⌉ gives 8; the difference held for 2s/,
    );
    expect(later.follow.grayGrew).toEqual({ to: 8, at: T0 + 2000 });
    expect(later.follow.parity).toBeNull();
  });

  it("a burst that does not persist changes nothing (no flapping)", () => {
    const s = state({ followLoadDelay: "2s" });
    const burst = decideCapacity(s, input({ rps: 800 }), T0);
    const back = decideCapacity({ ...s, follow: burst.follow }, input({ rps: 300 }), T0 + 1000);
    expect(back.follow.pending).toEqual({ stable: null, gray: null });
    const again = decideCapacity({ ...s, follow: back.follow }, input({ rps: 800 }), T0 + 2500);
    expect(again.changes).toEqual([]);
    expect(again.follow.pending.stable).toEqual({ to: 8, since: T0 + 2500 });
  });

  it("shrinks three times as slowly, with a 10% band, and never below the step's need or stable's start", () => {
    const s = state({ followLoadDelay: "2s" }, { grayCapacity: 8 });
    const big = input({ rps: 800, stable: { desired: 8, min: 8 }, healthy: 8 });
    expect(decideCapacity(s, big, T0).changes).toEqual([]);
    // 720 requests/s: 10% more is 792 → 8, no change; 700: 770 → 8 (band holds).
    expect(
      decideCapacity(s, input({ rps: 700, stable: { desired: 8, min: 8 }, healthy: 8 }), T0).follow.pending,
    ).toEqual({
      stable: null,
      gray: null,
    });
    // 100 requests/s: stable back to its start (4), after 6 s; gray to parity with it (4).
    const low = input({ rps: 100, stable: { desired: 8, min: 8 }, healthy: 8 });
    const seen = decideCapacity(s, low, T0);
    expect(seen.follow.pending.stable).toEqual({ to: 4, since: T0 });
    const s1 = { ...s, follow: seen.follow };
    expect(decideCapacity(s1, low, T0 + 5999).changes).toEqual([]);
    const down = decideCapacity(s1, low, T0 + 6000);
    expect(down.changes.map(({ pool, to }) => `${pool}:${to}`)).toEqual(["stable:4"]);
    // Gray follows stable's DESIRED capacity, which its own policy lowers: not before.
    const after = decideCapacity(
      { ...s, follow: down.follow },
      input({ rps: 100, stable: { desired: 4, min: 4 }, healthy: 8 }),
      T0 + 7000,
    );
    expect(after.follow.pending.gray).toEqual({ to: 4, since: T0 + 7000 });
    // At 25% the step needs ⌈4 × 25%⌉ = 1 on stable's start, parity ⌈4 × 25 ÷ 75⌉ = 2: never below.
    const quarter = state({ followLoadDelay: "0s" }, { grayCapacity: 3, weights: { stable: 75, gray: 25 } });
    const q = decideCapacity(quarter, input({ rps: 10, healthy: 3 }), T0);
    expect(q.changes.map((c) => `${c.pool}:${c.to}`)).toEqual(["gray:2"]);
  });

  it("never above gray's MaxSize; short of parity, it says so and remembers it for the gates", () => {
    const s = state({ followLoadDelay: "0s" }, { grayCapacity: 2 });
    const d = decideCapacity(s, input({ rps: 1000, grayMax: 3, healthy: 2 }), T0);
    expect(d.changes.find((c) => c.pool === "gray")).toMatchObject({
      to: 3,
      reason: expect.stringMatching(
        /capped at gray's MaxSize 3: gray's MaxSize 3 cannot reach per-instance parity \(10 needed at 50%\): a gray instance carries about 3\.33× a stable instance's requests, so the relative latency gate holds the step instead of failing it/,
      ),
    });
    expect(d.follow.parity).toEqual({ weight: 50, need: 10, max: 3, ratio: 10 / 3 });
    // The next evaluation (nothing to change) keeps saying it in its note.
    const next = decideCapacity(
      { ...s, grayCapacity: 3, follow: d.follow },
      input({ rps: 1000, grayMax: 3, healthy: 3, stable: { desired: 10, min: 10 } }),
      T0 + 1000,
    );
    expect(next.changes).toEqual([]);
    expect(next.note).toMatch(/cannot reach per-instance parity \(10 needed at 50%\).*holds the step/);
    expect(next.follow.parity).toMatchObject({ need: 10, max: 3 });
    // Once gray's MaxSize is raised (what the warning advises), gray reaches parity: no shortfall.
    const raised = decideCapacity(
      { ...s, grayCapacity: 3, follow: next.follow },
      input({ rps: 1000, grayMax: 12, healthy: 3, stable: { desired: 10, min: 10 } }),
      T0 + 2000,
    );
    expect(raised.follow.parity).toBeNull();
    expect(raised.changes.map((c) => `${c.pool}:${c.to}`)).toEqual(["gray:10"]);
  });

  it("new gray instances count once healthy: no other change of gray until they are", () => {
    const s = state(
      { followLoadDelay: "0s" },
      {
        grayCapacity: 4,
        follow: {
          pending: { stable: null, gray: null },
          grayGrew: { to: 4, at: T0 },
          loadSize: 8,
          requestRate: 800,
        },
      },
    );
    const waiting = decideCapacity(
      s,
      input({ rps: 1200, stable: { desired: 12, min: 12 }, healthy: 2 }),
      T0 + 1000,
    );
    expect(waiting.changes).toEqual([]);
    expect(waiting.note).toMatch(/waiting for gray's new instances: 2 of 4 healthy/);
    const ready = decideCapacity(
      s,
      input({ rps: 1200, stable: { desired: 12, min: 12 }, healthy: 4 }),
      T0 + 1000,
    );
    expect(ready.changes.map((c) => `${c.pool}:${c.to}`)).toEqual(["gray:12"]);
    // Health that could not be read is not health: still waiting.
    const unread = decideCapacity(
      s,
      input({ rps: 1200, stable: { desired: 12, min: 12 }, healthy: null }),
      T0 + 1000,
    );
    expect(unread.changes).toEqual([]);
    expect(unread.note).toMatch(/waiting for gray's new instances: unknown of 4 healthy/);
    // …or once the healthy timeout has passed (the health gates judge what never came up).
    const late = decideCapacity(
      s,
      input({ rps: 1200, stable: { desired: 12, min: 12 }, healthy: 2 }),
      T0 + 31_000,
    );
    expect(late.changes.map((c) => `${c.pool}:${c.to}`)).toEqual(["gray:12"]);
  });

  it("without a per-instance target it follows stable's desired capacity alone, at parity", () => {
    const s = state({ followLoadDelay: "0s" });
    // Stable's own policy sized it for its half (10): gray gets as many for the other half.
    const d = decideCapacity(s, input({ rps: 1000, perInstance: null, stable: { desired: 10, min: 4 } }), T0);
    expect(d.changes.map((c) => `${c.pool}:${c.to}`)).toEqual(["gray:10"]);
    expect(decideCapacity(s, input({ rps: 1000, perInstance: null }), T0).changes).toEqual([]);
  });

  it("leaves stable to the refresh during promotion, still following with gray", () => {
    const s = state(
      { followLoadDelay: "0s" },
      { phase: "promoting", weights: { stable: 0, gray: 100 }, grayCapacity: 4 },
    );
    // At 100% gray is sized for the whole load by stable's per-instance target: 800 ÷ 100 = 8,
    // whatever the refresh does with stable's size meanwhile.
    const d = decideCapacity(s, input({ rps: 800, stable: { desired: 4, min: 4 }, healthy: 4 }), T0);
    expect(d.changes.map((c) => `${c.pool}:${c.to}`)).toEqual(["gray:8"]);
    expect(d.changes[0]!.reason).toMatch(
      /gray 4 → 8: the whole load at 100%, 800 requests\/s at 100 requests\/s per instance \(stable's scaling policy\), gives 8/,
    );
    // Without a per-instance target: stable's desired capacity (the capacity rule at 100%).
    const none = (desired: number) =>
      decideCapacity(s, input({ rps: 800, perInstance: null, stable: { desired, min: 4 }, healthy: 4 }), T0);
    expect(none(4).changes).toEqual([]);
    expect(none(8).changes.map((c) => `${c.pool}:${c.to}`)).toEqual(["gray:8"]);
  });

  it("a step is entered at what it needs, or more when stable has grown and gray follows", () => {
    const s = state();
    const sizes = {
      stable: { desired: 9, min: 9, max: 20 },
      gray: { desired: 3, max: 6 },
      perInstanceRps: 100,
    };
    expect(stepCapacity(s, 100, null)).toBe(4);
    expect(stepCapacity(s, 100, sizes)).toBe(6);
    // Parity with stable's 9 at 50% is 9: capped at gray's MaxSize 6.
    expect(stepCapacity(s, 50, sizes)).toBe(6);
    const roomy = { ...sizes, gray: { desired: 3, max: 20 } };
    expect(stepCapacity(s, 50, roomy)).toBe(9);
    expect(stepCapacity(s, 25, roomy)).toBe(3);
    expect(stepCapacity(s, 5, roomy)).toBe(1);
    expect(stepCapacity(state({ grayCapacity: "fixed" }), 100, sizes)).toBe(4);
    expect(stepCapacity(state({ grayCapacity: "fixed" }), 50, roomy)).toBe(2);
    // What `plan` prints for stable's 4 now: per-instance parity with follow, the capacity rule fixed.
    const planned = (raw: RawOptions) =>
      [5, 25, 50, 100].map((w) => plannedStepCapacity(state(raw).plan, 4, 4, w));
    expect(planned({})).toEqual([1, 2, 4, 4]);
    expect(planned({ grayCapacity: "fixed" })).toEqual([1, 1, 2, 4]);
  });

  it("settle: a difference in one direction that held long enough", () => {
    expect(settle(4, 4, { to: 6, since: T0 }, T0, 10, 30)).toEqual({
      pending: null,
      change: false,
      heldMs: 0,
    });
    expect(settle(4, 6, null, T0, 10, 30)).toMatchObject({ pending: { to: 6, since: T0 }, change: false });
    expect(settle(4, 7, { to: 6, since: T0 }, T0 + 10, 10, 30)).toMatchObject({ change: true, heldMs: 10 });
    // The direction changed: the clock restarts.
    expect(settle(4, 3, { to: 6, since: T0 }, T0 + 10, 10, 30)).toMatchObject({
      pending: { to: 3, since: T0 + 10 },
    });
  });
});

const PASS: Analysis = { verdict: "pass", gates: [] };
const FAIL: Analysis = {
  verdict: "fail",
  gates: [{ gate: "error-rate", verdict: "fail", reason: "gray 5% > 2%", values: {} }],
};

describe("keep-previous (core/keep.ts)", () => {
  const keeping = (raw: RawOptions = {}) =>
    state(
      { keepPrevious: "30m", ...raw },
      {
        phase: "keeping",
        weights: { stable: 0, gray: 100 },
        stepIndex: 3,
        keepUntil: T0 + 1_800_000,
      },
    );

  it("a passed 100% step keeps the previous version warm instead of promoting", () => {
    const s = state(
      { keepPrevious: "30m", steps: "50,100" },
      { weights: { stable: 0, gray: 100 }, stepIndex: 1 },
    );
    expect(keepDecision(s, T0 + 60_000, [])).toMatchObject({
      kind: "keep",
      until: T0 + 60_000 + 1_800_000,
      reason: expect.stringMatching(
        /100% passed: the previous version stays warm on stable \(serving 0%\) for 30m/,
      ),
    });
    expect(state().plan.keepPreviousMs).toBeUndefined();
    expect(keepDecision(state(), T0, [])).toBeNull();
  });

  it("waits until the window ends, rolls back on a failed criterion, then promotes", () => {
    const s = keeping();
    expect(decideKeeping(s, PASS, T0 + 1000, T0 + 2000)).toMatchObject({
      kind: "wait",
      until: T0 + 2000,
      reason: expect.stringMatching(/stays warm on stable until .*\(29m59s left\)/),
    });
    expect(decideKeeping(s, FAIL, T0 + 1000, T0 + 2000)).toMatchObject({
      kind: "rollback",
      reason: "in the keep-previous window: gray 5% > 2%",
    });
    expect(decideKeeping(s, PASS, T0 + 1_800_000, T0 + 1_801_000)).toMatchObject({ kind: "promote" });
    expect(decideKeeping(s, null, T0, T0 + 1000)).toMatchObject({ kind: "wait" });
  });

  it("asks for the promotion's approval once the window ends, when the plan needs one", () => {
    expect(
      decideKeeping(keeping({ approveBefore: "promotion" }), PASS, T0 + 1_800_000, T0 + 1_801_000),
    ).toMatchObject({
      kind: "await-approval",
      gate: "promotion",
    });
  });
});
