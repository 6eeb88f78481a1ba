import { describe, expect, it } from "vitest";
import { StateError } from "../../src/contract/errors.js";
import { type RawOptions, resolveOptions } from "../../src/contract/options.js";
import type { Observation } from "../../src/core/analysis.js";
import { type Decision, decide, observationWindows } from "../../src/core/decide.js";
import { policyFromOptions } from "../../src/core/policy.js";
import {
  canTransition,
  isTerminal,
  newRollout,
  PHASES,
  type RolloutState,
  transition,
} from "../../src/core/state.js";
import type { VersionStats } from "../../src/core/types.js";

const T0 = 1_000_000_000;

function stateAt(opts: {
  phase?: RolloutState["phase"];
  step?: number;
  elapsed?: number;
  raw?: RawOptions;
  patch?: Partial<RolloutState>;
}): { s: RolloutState; now: number } {
  const plan = policyFromOptions(resolveOptions({ target: "local", ...opts.raw }, { verb: "deploy-gray" }));
  const base = newRollout({
    id: "r1",
    scope: "local",
    target: "local",
    image: "img:2",
    commit: null,
    startedBy: "t",
    plan,
    now: T0,
  });
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
    const plan = policyFromOptions(resolveOptions({ target: "aws", ...AWS }, { verb: "deploy-gray" }));
    const now = Date.UTC(2026, 0, 1, 12, 10, 30);
    const w = observationWindows(plan, now);
    expect(new Date(w.rollback.end).toISOString()).toBe("2026-01-01T12:08:00.000Z");
    expect(w.rollback.end - w.rollback.start).toBe(5 * 60_000);
    expect(w.promotion.end - w.promotion.start).toBe(10 * 60_000);
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
