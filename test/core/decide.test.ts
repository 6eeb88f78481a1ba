import { describe, expect, it } from "vitest";
import { policyOf } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import { StateError } from "../../src/contract/errors.js";
import type { Observation } from "../../src/core/analysis.js";
import {
  absorbObservation,
  currentStepWindow,
  type Decision,
  decide,
  historyStrata,
  historyWindows,
  nextLookAt,
  observationWindows,
} from "../../src/core/decide.js";
import { canTransition, isTerminal, PHASES, type RolloutState, transition } from "../../src/core/state.js";
import type { VersionStats } from "../../src/core/types.js";
import { rolloutState, T0 } from "./rollout-state.js";

function stateAt(opts: {
  phase?: RolloutState["phase"];
  step?: number;
  elapsed?: number;
  raw?: RawOptions;
  patch?: Partial<RolloutState>;
}): { s: RolloutState; now: number } {
  // Without the local target's default synthetic charge: these tables are about the other gates
  // (test/core/checks.test.ts covers the checks).
  const base = rolloutState({ synthetic: "[]", ...opts.raw });
  const plan = base.plan;
  const step = opts.step ?? 0;
  const phase = opts.phase ?? "shifting";
  const weights =
    phase === "returning"
      ? { stable: plan.returnSteps[step]!, gray: 100 - plan.returnSteps[step]! }
      : { stable: 100 - plan.steps[step]!, gray: plan.steps[step]! };
  const s: RolloutState = {
    ...base,
    phase,
    stepIndex: step,
    weights,
    stepStartedAt: T0,
    stableRefreshed: phase === "returning",
    ...opts.patch,
  };
  return { s, now: T0 + (opts.elapsed ?? 0) };
}

const good = (n = 1000): VersionStats => ({ requests: n, errors: 0, p95Ms: 50, p99Ms: 90, hasData: true });
const bad = (n = 1000): VersionStats => ({
  requests: n,
  errors: n / 10,
  p95Ms: 50,
  p99Ms: 90,
  hasData: true,
});

function observe(
  s: RolloutState,
  now: number,
  gray: VersionStats,
  stable: VersionStats = good(20_000),
): Observation {
  const w = observationWindows(s.plan, now);
  return {
    at: now,
    rollback: { ...w.rollback, gray, stable, lbErrors: null },
    promotion: { ...w.promotion, gray, stable, lbErrors: null },
    health: { stable: { healthy: 4, unhealthy: 0 }, gray: { healthy: 1, unhealthy: 0 } },
    alarms: [],
    errors: [],
  };
}

const kind = (d: Decision) => d.kind;

describe("decide", () => {
  const BAKE = 13_000;
  const MAX_BAKE = 30_000;

  it.each<
    [
      string,
      { step?: number; elapsed: number; gray: VersionStats; raw?: RawOptions },
      Decision["kind"],
      unknown,
    ]
  >([
    ["waits while the step bakes", { elapsed: 5000, gray: good() }, "wait", undefined],
    ["rolls back at once on a failure, even mid-bake", { elapsed: 2000, gray: bad() }, "rollback", undefined],
    [
      "advances after the bake when every gate passes",
      { elapsed: BAKE + 1000, gray: good() },
      "set-weights",
      25,
    ],
    [
      "promotes after the 100% step passes",
      { step: 3, elapsed: BAKE + 1000, gray: good() },
      "promote",
      undefined,
    ],
    ["extends the bake while inconclusive", { elapsed: BAKE + 1000, gray: good(20) }, "wait", undefined],
    ["pauses when inconclusive at max bake", { elapsed: MAX_BAKE, gray: good(20) }, "pause", undefined],
    [
      "rolls back when inconclusive at max bake and the policy says so",
      { elapsed: MAX_BAKE, gray: good(20), raw: { onInconclusive: "rollback" } },
      "rollback",
      undefined,
    ],
    [
      "asks for approval before a gated step",
      { elapsed: BAKE + 1000, gray: good(), raw: { approveBefore: "25" } },
      "await-approval",
      "step:25",
    ],
    [
      "asks for approval before promotion",
      { step: 3, elapsed: BAKE + 1000, gray: good(), raw: { approveBefore: "promotion" } },
      "await-approval",
      "promotion",
    ],
  ])("%s", (_name, c, expected, detail) => {
    const { s, now } = stateAt({ step: c.step, elapsed: c.elapsed, raw: c.raw });
    const d = decide(s, observe(s, now, c.gray), now);
    expect(kind(d)).toBe(expected);
    if (d.kind === "set-weights") expect(d.weights.gray).toBe(detail);
    if (d.kind === "await-approval") expect(d.gate).toBe(detail);
    expect(d.reason.length).toBeGreaterThan(5);
  });

  it("does not pass on a promotion window that reaches back before the step began", () => {
    // Bake done, but the aligned window starts a moment before the step: wait one more period.
    const { s } = stateAt({ elapsed: 0, patch: { stepStartedAt: T0 + 500 } });
    const now = T0 + 500 + 13_000;
    const d = decide(s, observe(s, now, good()), now);
    expect(d.kind).toBe("wait");
    expect(d.reason).toMatch(/window that lies entirely inside this step/);
  });

  it("carries the evidence of every gate with its numbers", () => {
    const { s, now } = stateAt({ elapsed: 2000 });
    const d = decide(s, observe(s, now, bad()), now);
    const errorGate = d.evidence.find((g) => g.gate === "error-rate");
    expect(errorGate).toMatchObject({
      verdict: "fail",
      values: { requests: 1000, errors: 100, errorRate: 0.1 },
    });
  });

  it("an abort request rolls back whatever the metrics say", () => {
    const { s, now } = stateAt({
      elapsed: 1000,
      patch: { abortRequested: { by: "oncall", at: T0, reason: "pager" } },
    });
    const d = decide(s, observe(s, now, good()), now);
    expect(d).toMatchObject({ kind: "rollback", reason: expect.stringContaining("oncall") });
  });

  it("on the way back, a failing refreshed stable hands traffic back to gray and pauses", () => {
    const { s, now } = stateAt({ phase: "returning", step: 0, elapsed: 2000 });
    const d = decide(s, observe(s, now, good(20_000), bad(10_000)), now);
    expect(d).toMatchObject({
      kind: "pause",
      pauseReason: "promotion-failed",
      weights: { stable: 0, gray: 100 },
    });
  });

  it("the last return step passing finishes the rollout", () => {
    const { s, now } = stateAt({ phase: "returning", step: 1, elapsed: 12_000 });
    const d = decide(s, observe(s, now, good(0), good(2000)), now);
    expect(d.kind).toBe("done");
  });

  it("promote --full skips to 100% from any passing moment", () => {
    const { s, now } = stateAt({ step: 1, elapsed: 1000, patch: { skipToFull: true } });
    const d = decide(s, observe(s, now, good()), now);
    expect(d).toMatchObject({ kind: "set-weights", weights: { gray: 100 } });
  });

  it("a paused rollout stays paused until its own gate is approved", () => {
    const { s, now } = stateAt({
      phase: "paused",
      step: 1,
      patch: { pause: { reason: "awaiting-approval", gate: "step:50", since: T0, detail: "needs approval" } },
    });
    expect(decide(s, null, now).kind).toBe("await-approval");
    const approved: RolloutState = {
      ...s,
      release: { ...s.release, approvals: [{ gate: "step:50", by: "alice", at: T0 }] },
    };
    expect(decide(approved, null, now)).toMatchObject({ kind: "set-weights", weights: { gray: 50 } });
  });

  it("an approval given for one pause does not release a later one", () => {
    const { s, now } = stateAt({
      phase: "paused",
      step: 1,
      patch: {
        pause: { reason: "inconclusive", since: T0 + 5, detail: "inconclusive" },
        release: {
          image: "img:2",
          ami: null,
          commit: null,
          startedBy: "t",
          version: "2",
          previousVersion: "1",
          approvals: [{ gate: `inconclusive@${T0}`, by: "alice", at: T0 }],
        },
      },
    });
    expect(decide(s, null, now).kind).toBe("pause");
  });

  it("refuses to decide in phases the engine sequences itself", () => {
    const { s, now } = stateAt({ phase: "promoting" });
    expect(() => decide(s, null, now)).toThrow(StateError);
  });

  it("windows end metrics-delay ago, aligned to whole periods", () => {
    const plan = policyOf(resolveOptions({ target: "aws", ...AWS }, { verb: "deploy-gray" }));
    const now = Date.UTC(2026, 0, 1, 12, 10, 30);
    const w = observationWindows(plan, now);
    expect(new Date(w.rollback.end).toISOString()).toBe("2026-01-01T12:08:00.000Z");
    expect(w.rollback.end - w.rollback.start).toBe(5 * 60_000);
    expect(w.promotion.end - w.promotion.start).toBe(10 * 60_000);
  });
});

describe("when to look, and what history to read", () => {
  const planOf = (raw: RawOptions) =>
    policyOf(resolveOptions({ target: "local", ...raw }, { verb: "deploy-gray" }));
  const cw = {
    interval: "30s",
    metricPeriod: "60s",
    metricsDelay: "2m",
    bake: "12m",
    maxBake: "30m",
    rollbackWindow: "5m",
    promotionWindow: "10m",
    returnBake: "7m",
  };
  const M = Date.UTC(2026, 0, 1, 12, 0, 0);

  it.each<[string, RawOptions, number, number]>([
    // CloudWatch-like: data lands at every minute + 2 min; looks at 30 s, or when data lands first.
    ["30 s interval, minute data landing in 10 s: look when it lands", cw, M + 50_000, M + 60_000],
    ["30 s interval, no data within 30 s: one interval", cw, M + 5_000, M + 35_000],
    [
      "period = interval: every landing",
      { ...cw, interval: "5s", metricPeriod: "5s", metricsDelay: "5s" },
      M + 2_000,
      M + 5_000,
    ],
    // The seed's rule looks each minute over 5 s data: the last landing within the minute.
    [
      "60 s interval over 5 s data: each minute, on a landing",
      { ...cw, interval: "60s", metricPeriod: "5s", metricsDelay: "5s" },
      M + 2_000,
      M + 60_000,
    ],
    ["local: each second", {}, M, M + 1_000],
  ])("%s", (_name, raw, now, expected) => {
    expect(nextLookAt(planOf(raw), now)).toBe(expected);
  });

  it("reads gray's history from its first step to the rollback window's end, only on the way up", () => {
    const { s } = stateAt({
      step: 1,
      raw: cw,
      patch: {
        stepStartedAt: M + 12 * 60_000 + 20_000,
        steps: [
          {
            kind: "forward",
            weight: 5,
            startedAt: M + 7_000,
            endedAt: M + 12 * 60_000 + 20_000,
            verdict: "pass",
          },
          {
            kind: "forward",
            weight: 25,
            startedAt: M + 12 * 60_000 + 20_000,
            endedAt: null,
            verdict: "pending",
          },
        ],
      },
    });
    const now = M + 20 * 60_000 + 10_000;
    const end = observationWindows(s.plan, now).rollback.end;
    const h = historyWindows(s, now);
    expect(h.every((w) => w.end === end)).toBe(true);
    expect(h[0]!.start).toBe(M);
    expect(h.map((w) => w.start)).toContain(M + 12 * 60_000); // the 25% step's first (partial) period
    expect(h.map((w) => w.start)).toContain(M + 13 * 60_000);
    expect(new Set(h.map((w) => w.start)).size).toBe(h.length);
    expect(historyWindows({ ...s, phase: "returning" }, now)).toEqual([]);
    expect(
      historyWindows(
        { ...s, plan: { ...s.plan, thresholds: { ...s.plan.thresholds, sequentialAlpha: 0 } } },
        now,
      ),
    ).toEqual([]);
  });

  it("a sequential failure on the history rolls back at once, mid-bake", () => {
    const { s } = stateAt({
      raw: cw,
      patch: {
        stepStartedAt: M,
        steps: [{ kind: "forward", weight: 5, startedAt: M, endedAt: null, verdict: "pending" }],
      },
    });
    const now = M + 5 * 60_000;
    const windows = historyWindows(s, now);
    const bad: VersionStats = { requests: 600, errors: 32, p95Ms: 50, p99Ms: 90, hasData: true };
    const ref: VersionStats = { requests: 11_400, errors: 34, p95Ms: 50, p99Ms: 90, hasData: true };
    const o = observe(s, now, { ...bad, requests: 60, errors: 2 }, { ...ref, requests: 1140, errors: 3 });
    const history = windows.map((w) => ({ ...w, gray: bad, stable: ref, lbErrors: null }));
    // One window per cut, all the same counts: only the oldest stratum holds data.
    const withHistory: Observation = { ...o, history };
    expect(historyStrata(s, withHistory)?.filter((x) => x.requests > 0)).toHaveLength(1);
    const d = decide(s, withHistory, now);
    expect(d.kind).toBe("rollback");
    expect(d.reason).toMatch(/fails more often than stable/);
    // History windows that do not match the state's cuts are ignored, not misread.
    expect(historyStrata(s, { ...o, history: history.slice(1) })).toBeNull();
  });

  it("compares the pools over the current step only while the rollback window straddles the step's start", () => {
    // A shared degradation in the last 2 minutes, where gray has 25% instead of 5%: over the whole
    // rollback window gray looks 3× worse than stable; within the step they are alike.
    const stepStart = M + 12 * 60_000 + 20_000;
    const { s } = stateAt({
      step: 1,
      raw: cw,
      patch: {
        stepStartedAt: stepStart,
        steps: [
          { kind: "forward", weight: 5, startedAt: M, endedAt: stepStart, verdict: "pass" },
          { kind: "forward", weight: 25, startedAt: stepStart, endedAt: null, verdict: "pending" },
        ],
      },
    });
    const now = M + 17 * 60_000 + 5_000;
    const stats = (requests: number, errors: number): VersionStats => ({
      requests,
      errors,
      p95Ms: 50,
      p99Ms: 90,
      hasData: true,
    });
    const o = observe(s, now, stats(3000, 60), stats(27_000, 180));
    const history = historyWindows(s, now).map((w) =>
      w.start >= stepStart
        ? { ...w, gray: stats(2400, 58), stable: stats(7200, 170), lbErrors: null }
        : { ...w, gray: stats(3000, 60), stable: stats(27_000, 180), lbErrors: null },
    );
    const inStep = currentStepWindow(s, { ...o, history });
    expect(inStep?.start).toBe(M + 13 * 60_000);
    const d = decide(s, { ...o, history }, now);
    expect(d.evidence.find((g) => g.gate === "relative-error-rate")?.values.referenceRequests).toBe(7200);
    expect(d.kind).not.toBe("rollback");
    // Once the rollback window lies inside the step, it is the comparison.
    const later = M + 20 * 60_000;
    expect(
      currentStepWindow(s, {
        ...observe(s, later, stats(3000, 6)),
        history: historyWindows(s, later).map((w) => ({
          ...w,
          gray: stats(1, 0),
          stable: stats(1, 0),
          lbErrors: null,
        })),
      }),
    ).toBeNull();
  });

  it("keeps the reference's baseline from when it still had traffic", () => {
    const { s, now } = stateAt({ step: 3, elapsed: 60_000 });
    const before = { pool: "stable" as const, stats: good(20_000), at: T0 };
    const o = observe({ ...s, weights: { stable: 0, gray: 100 } }, now, good(1000), good(50));
    const at100 = absorbObservation({ ...s, weights: { stable: 0, gray: 100 }, baseline: before }, o);
    expect(at100.baseline).toBe(before);
    const at50 = absorbObservation({ ...s, weights: { stable: 50, gray: 50 }, baseline: before }, o);
    expect(at50.baseline?.stats.requests).toBe(50);
  });
});

const AWS: RawOptions = {
  region: "sa-east-1",
  image: "repo/img:1",
  listenerArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gw/0123456789abcdef/0123456789abcdef",
  stableTargetGroupArn: "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/s/0123456789abcdef",
  grayTargetGroupArn: "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/g/0123456789abcdef",
  stableAsg: "s",
  grayAsg: "g",
  launchTemplate: "lt-0123456789abcdef0",
  stateTable: "t1234",
};

describe("rollout state machine", () => {
  it("allows the documented path and forbids jumps", () => {
    const { s } = stateAt({ phase: "preflight" });
    const path: RolloutState["phase"][] = [
      "preparing",
      "scaling",
      "shifting",
      "shifting",
      "promoting",
      "returning",
      "finishing",
      "promoted",
    ];
    let cur = { ...s, phase: "preflight" as const } as RolloutState;
    for (const p of path) cur = transition(cur, p, T0);
    expect(cur.phase).toBe("promoted");
    expect(cur.endedAt).toBe(T0);
    expect(() => transition(cur, "shifting", T0)).toThrow(StateError);
    expect(() => transition({ ...s, phase: "preflight" }, "promoting", T0)).toThrow(
      /cannot go from preflight to promoting/,
    );
  });

  it("ended phases have no way out; rollback-failed keeps the lock and can only be rolled back again", () => {
    for (const p of PHASES) {
      if (isTerminal(p)) expect(PHASES.filter((q) => canTransition(p, q))).toEqual([]);
    }
    expect(isTerminal("rollback-failed")).toBe(false);
    expect(PHASES.filter((q) => canTransition("rollback-failed", q))).toEqual(["rolling-back"]);
  });

  it("every non-terminal phase can reach a rollback", () => {
    for (const p of PHASES) {
      if (isTerminal(p) || p === "rolling-back") continue;
      expect(canTransition(p, "rolling-back") || canTransition(p, "failed"), p).toBe(true);
    }
  });

  it("is plain JSON: a stored state round-trips unchanged", () => {
    const { s } = stateAt({});
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
