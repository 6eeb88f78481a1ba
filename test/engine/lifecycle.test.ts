/**
 * Lifecycle scenarios of the engine against in-memory ports, in virtual time: each runs a rollout of
 * minutes (or, with AWS durations, an hour) in milliseconds.
 */

import { describe, expect, it } from "vitest";
import { addressOf, deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Outcome } from "../../src/contract/outcome.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { abort, deployGray, promote, status, type VerbContext } from "../../src/engine/verbs.js";
import { MemoryWorld, OWNER, type Scenario } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

function setup(scenario: Scenario = {}, raw: RawOptions = {}) {
  const clock = new VirtualClock();
  const world = new MemoryWorld(clock, scenario);
  const options = resolveOptions(
    { target: "local", image: "registry.example/gateway:2.0.0", ...raw },
    { verb: "deploy-gray" },
  );
  const events: EngineEvent[] = [];
  let n = 0;
  const ctx: VerbContext = {
    clock,
    owner: OWNER,
    newId: () => `rollout-${++n}`,
    onEvent: (e) => events.push(e),
  };
  return { clock, world, options, events, ctx };
}

const forwardWeights = (o: Outcome) => o.steps.filter((s) => s.kind === "forward").map((s) => s.weight);

describe("engine lifecycle", () => {
  it("promotes a healthy release through every step, refreshes stable and retires gray", async () => {
    const { world, options, ctx, clock } = setup();
    const t0 = clock.now();
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("promoted");
    expect(outcome.exitCode).toBe(0);
    expect(forwardWeights(outcome)).toEqual([5, 25, 50, 100]);
    expect(outcome.steps.filter((s) => s.kind === "return").map((s) => s.weight)).toEqual([50, 100]);
    expect(outcome.steps.every((s) => s.verdict === "pass")).toBe(true);
    expect(outcome.weights).toEqual({ stable: 100, gray: 0 });
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(world.fleet.stableVersion).toBe("v2:registry.example/gateway:2.0.0");
    expect(world.fleet.grayCapacity).toBe(0);
    expect(world.fleet.pinned).toBe(false);
    // Gray's capacity followed its weight: ceil(4 × w / 100) → 1, 1, 2, 4.
    expect(world.calls.filter((c) => c.startsWith("fleet.scaleGray"))).toEqual([
      "fleet.scaleGray 1",
      "fleet.scaleGray 2",
      "fleet.scaleGray 4",
    ]);
    // Each forward step baked at least --bake (13s locally).
    for (const s of outcome.steps.filter((x) => x.kind === "forward"))
      expect(s.durationMs).toBeGreaterThanOrEqual(13_000);
    const stored = await world.store.load("local");
    expect(stored?.state.phase).toBe("promoted");
    expect(stored?.owner).toBeNull();
    expect(clock.now() - t0).toBeLessThan(5 * 60_000);
  });

  it("rolls back a release failing 5% of requests at the 5% step, before 25%", async () => {
    const { world, options, ctx } = setup({ errorRate: (v) => (v.startsWith("v2") ? 0.05 : 0) });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.exitCode).toBe(3);
    expect(world.maxGrayWeight()).toBe(5);
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(world.router.stickiness).toBe("off");
    expect(world.fleet.grayCapacity).toBe(0);
    expect(world.fleet.stableVersion).toBe("v1");
    expect(world.fleet.pinned).toBe(false);
    // The sequential test (gray 5% against stable's 0%) stops it within seconds of gray traffic,
    // before the rollback window holds the 500 requests the absolute 2% limit is judged on.
    const rollback = outcome.decisions.find((d) => d.kind === "rollback");
    expect(rollback?.evidence.find((g) => g.gate === "sequential-error-rate")?.verdict).toBe("fail");
    expect(outcome.reason).toMatch(/gray fails more often than stable/);
    expect(outcome.steps[0]?.durationMs).toBeLessThan(10_000);
  });

  it("rolls back when a fault appears at the 50% step", async () => {
    const { world, options, ctx } = setup({
      errorRate: (v, _p, _t) => (v.startsWith("v2") && world.router.weights.gray >= 50 ? 0.1 : 0),
    });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(world.maxGrayWeight()).toBe(50);
    expect(forwardWeights(outcome)).toEqual([5, 25, 50]);
    expect(outcome.steps.at(-1)?.verdict).toBe("fail");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
  });

  it("extends an inconclusive step, then pauses, and a rerun of the same release reports the pause", async () => {
    // 20 requests/s: gray at 5% sees 12 requests per promotion window, far below --min-requests 100.
    const { world, options, ctx } = setup({ rps: 20 });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("paused");
    expect(outcome.exitCode).toBe(4);
    expect(outcome.pause?.reason).toBe("inconclusive");
    expect(world.maxGrayWeight()).toBe(5);
    expect(outcome.reason).toMatch(/fewer than 100/);
    // The bake was extended up to --max-bake (30s locally) before pausing.
    const step = outcome.steps[0]!;
    expect(step.verdict).toBe("inconclusive");
    expect(step.durationMs).toBeGreaterThanOrEqual(30_000);
    const again = await deployGray(deployRequest(options), world, ctx);
    expect(again.outcome).toBe("paused");
    expect(again.rolloutId).toBe(outcome.rolloutId);
  });

  it("rolls back an inconclusive step when --on-inconclusive rollback", async () => {
    const { world, options, ctx } = setup({ rps: 20 }, { onInconclusive: "rollback" });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.reason).toMatch(/inconclusive/);
  });

  it("pauses at a manual gate, then promote continues the stored rollout to promotion", async () => {
    const { world, options, ctx } = setup({}, { approveBefore: "50,promotion" });
    const first = await deployGray(deployRequest(options), world, ctx);
    expect(first.outcome).toBe("paused");
    expect(first.pause).toMatchObject({ reason: "awaiting-approval", gate: "step:50" });
    expect(world.router.weights).toEqual({ stable: 75, gray: 25 });
    const stored = await world.store.load("local");
    expect(stored?.owner).toBeNull(); // the lock belongs to the rollout, not to a process

    // Another process approves: it finds the state in the store and continues from there.
    const ctx2: VerbContext = { ...ctx, owner: { ...OWNER, id: "owner-2", pid: 2, verb: "promote" } };
    const second = await promote(addressOf(options), world, ctx2, { by: "alice" });
    expect(second.outcome).toBe("paused");
    expect(second.pause).toMatchObject({ reason: "awaiting-approval", gate: "promotion" });
    expect(second.rolloutId).toBe(first.rolloutId);
    const third = await promote(addressOf(options), world, ctx2, { by: "bob", reason: "metrics look fine" });
    expect(third.outcome).toBe("promoted");
    expect(forwardWeights(third)).toEqual([5, 25, 50, 100]);
    expect(third.release.approvals.map((a) => [a.gate, a.by])).toEqual([
      ["step:50", "alice"],
      ["promotion", "bob"],
    ]);
  });

  it("asks an interactive approver instead of pausing when one is present", async () => {
    const { world, options, ctx } = setup({}, { approveBefore: "25" });
    const gates: string[] = [];
    const outcome = await deployGray(deployRequest(options), world, {
      ...ctx,
      approver: async (gate) => {
        gates.push(gate);
        return { by: "terminal-user" };
      },
    });
    expect(outcome.outcome).toBe("promoted");
    expect(gates).toEqual(["step:25"]);
  });

  it("aborts mid-bake on the signal: stable 100% verified, outcome aborted", async () => {
    const { world, options, ctx, clock } = setup();
    const controller = new AbortController();
    clock.at(clock.now() + 20_000, () => controller.abort());
    const outcome = await deployGray(deployRequest(options), world, { ...ctx, signal: controller.signal });
    expect(outcome.outcome).toBe("aborted");
    expect(outcome.exitCode).toBe(5);
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(world.fleet.grayCapacity).toBe(0);
    expect(outcome.steps.at(-1)?.verdict).toBe("aborted");
  });

  it("ends in rollback-failed when the load balancer refuses every write back to stable", async () => {
    const { world, options, ctx } = setup({
      errorRate: (v) => (v.startsWith("v2") ? 0.2 : 0),
      routerWriteFails: (w) => w.gray === 0,
    });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("rollback-failed");
    expect(outcome.exitCode).toBe(7);
    expect(outcome.reason).toMatch(/A person must act/);
    expect(world.router.weights.gray).toBe(5);
    const stored = await world.store.load("local");
    expect(stored?.state.phase).toBe("rollback-failed"); // still holds the lock
    // Once the load balancer accepts writes again, abort finishes the job.
    world.scenario.routerWriteFails = false;
    const fixed = await abort(
      addressOf(options),
      world,
      { ...ctx, owner: { ...OWNER, id: "op" } },
      { by: "oncall" },
    );
    expect(fixed.outcome).toBe("aborted");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
  });

  it("rolls back a gray fleet that never becomes healthy without ever giving it traffic", async () => {
    const { world, options, ctx } = setup({ grayCrash: true });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.exitCode).toBe(3);
    expect(outcome.reason).toMatch(/gray never became healthy/);
    expect(world.maxGrayWeight()).toBe(0);
    expect(outcome.reason).toMatch(/0 of 1 gray instances healthy/);
  });

  it("rolls back when more than one gray instance fails health checks", async () => {
    const { world, options, ctx } = setup({ stableCapacity: 8 });
    // Two of gray's four instances (at 50%) start failing health checks.
    world.scenario.grayUnhealthy = () => (world.fleet.grayCapacity >= 4 ? 2 : 0);
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.reason).toMatch(/2 gray instances fail health checks/);
  });

  it("fails a step on a firing alarm gate", async () => {
    const { world, options, ctx } = setup(
      { alarms: (t) => [{ name: "gray-5xx", state: t > 30_000 ? "ALARM" : "OK" }] },
      {},
    );
    const withAlarm = { ...options, alarms: ["gray-5xx"] };
    const outcome = await deployGray(deployRequest(withAlarm), world, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.reason).toMatch(/gray-5xx in ALARM/);
  });

  it("pauses with promotion-failed when the refresh fails; abort returns to the old stable version", async () => {
    const { world, options, ctx } = setup({
      promotionFails: "instance refresh failed: 2 instances unhealthy",
    });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("paused");
    expect(outcome.pause?.reason).toBe("promotion-failed");
    expect(world.router.weights).toEqual({ stable: 0, gray: 100 });
    expect(world.fleet.stableVersion).toBe("v1");
    const aborted = await abort(
      addressOf(options),
      world,
      { ...ctx, owner: { ...OWNER, id: "op" } },
      { by: "oncall" },
    );
    expect(aborted.outcome).toBe("aborted");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(world.fleet.stableVersion).toBe("v1");
    expect(world.fleet.grayCapacity).toBe(0);
  });

  it("promote retries a failed promotion", async () => {
    const { world, options, ctx } = setup({ promotionFails: "refresh failed" });
    const first = await deployGray(deployRequest(options), world, ctx);
    expect(first.pause?.reason).toBe("promotion-failed");
    world.scenario.promotionFails = undefined;
    const second = await promote(addressOf(options), world, ctx, { by: "oncall" });
    expect(second.outcome).toBe("promoted");
    expect(world.fleet.stableVersion).toMatch(/^v2/);
  });

  it("promote --full skips the remaining steps but still analyses 100% and the way back", async () => {
    const { world, options, ctx } = setup({}, { approveBefore: "25" });
    const first = await deployGray(deployRequest(options), world, ctx);
    expect(first.pause?.gate).toBe("step:25");
    const outcome = await promote(addressOf(options), world, ctx, { by: "lead", full: true });
    expect(outcome.outcome).toBe("promoted");
    expect(forwardWeights(outcome)).toEqual([5, 100]);
  });

  it("refuses a second rollout of another release while one holds the lock (exit 6)", async () => {
    const { world, options, ctx } = setup({}, { approveBefore: "25" });
    const first = await deployGray(deployRequest(options), world, ctx);
    expect(first.outcome).toBe("paused");
    const other = { ...options, image: "registry.example/gateway:3.0.0" };
    const refused = await deployGray(deployRequest(other), world, { ...ctx, owner: { ...OWNER, id: "x" } });
    expect(refused.outcome).toBe("refused");
    expect(refused.exitCode).toBe(6);
    expect(refused.error?.code).toBe("LOCKED");
    expect(refused.reason).toContain(first.rolloutId!);
    expect(refused.reason).toContain("paused");
    // --supersede aborts the paused rollout first, then deploys.
    const superseded = await deployGray(deployRequest({ ...other, supersede: true }), world, {
      ...ctx,
      owner: { ...OWNER, id: "x" },
    });
    expect(superseded.release.image).toBe("registry.example/gateway:3.0.0");
    expect(superseded.rolloutId).not.toBe(first.rolloutId);
    expect(superseded.outcome).toBe("paused"); // its own gate before 25%
    expect(superseded.pause?.gate).toBe("step:25");
  });

  it("abort from a second process during a bake: the first process notices and ends aborted", async () => {
    const { world, options, ctx, clock } = setup();
    const runP = deployGray(deployRequest(options), world, ctx);
    let abortOutcome: Outcome | undefined;
    clock.at(clock.now() + 25_000, () => {
      void abort(
        addressOf(options),
        world,
        { ...ctx, owner: { ...OWNER, id: "op", verb: "abort" } },
        { by: "oncall", reason: "pager" },
      ).then((o) => {
        abortOutcome = o;
      });
    });
    const first = await runP;
    await new Promise((r) => setTimeout(r, 10));
    expect(abortOutcome?.outcome).toBe("aborted");
    expect(first.outcome).toBe("aborted");
    expect(first.reason).toMatch(/oncall/);
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(world.maxGrayWeight()).toBeLessThanOrEqual(25);
  });

  it("status reports a paused rollout with its last decision", async () => {
    const { world, options, ctx, clock } = setup({}, { approveBefore: "50" });
    await deployGray(deployRequest(options), world, ctx);
    const s = await status(addressOf(options), world, clock.now());
    expect(s.outcome).toBe("paused");
    expect(s.weights).toEqual({ stable: 75, gray: 25 });
    expect(s.lastDecision?.kind).toBe("await-approval");
    expect(s.lastDecision?.evidence.length).toBeGreaterThan(0);
  });

  it("runs an hour-long AWS plan in virtual time with CloudWatch-like late data", async () => {
    const { world, ctx } = setup({ periodMs: 60_000, dataDelayMs: 120_000 });
    const o = resolveOptions(
      {
        target: "local",
        image: "registry.example/gateway:2.0.0",
        interval: "30s",
        bake: "12m",
        maxBake: "30m",
        rollbackWindow: "5m",
        promotionWindow: "10m",
        metricPeriod: "60s",
        metricsDelay: "2m",
        returnBake: "7m",
      },
      { verb: "deploy-gray" },
    );
    const outcome = await deployGray(deployRequest(o), world, ctx);
    expect(outcome.outcome).toBe("promoted");
    expect(outcome.durationMs).toBeGreaterThan(60 * 60_000);
  });

  it("never leaves a window of traffic on gray after a rollback: stickiness is switched off", async () => {
    const { world, options, ctx } = setup({ errorRate: (v) => (v.startsWith("v2") ? 0.5 : 0) });
    await deployGray(deployRequest(options), world, ctx);
    const last = world.calls.filter((c) => c.startsWith("router.setWeights")).at(-1);
    expect(last).toBe("router.setWeights 100/0 off");
  });

  it("a listener that throws never breaks a rollout or its rollback", async () => {
    const { world, options, ctx } = setup({ errorRate: (v) => (v.startsWith("v2") ? 0.2 : 0) });
    const outcome = await deployGray(deployRequest(options), world, {
      ...ctx,
      onEvent: () => {
        throw new Error("broken progress printer");
      },
    });
    expect(outcome.outcome).toBe("rolled-back");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
  });

  it("a write that is refused before gray ever had traffic is not a failed rollback", async () => {
    // E.g. a pipeline role without ModifyRule: preflight reads pass, the first write is denied.
    const { world, options, ctx } = setup({ routerWriteFails: true });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(world.maxGrayWeight()).toBe(0);
    expect(outcome.outcome).toBe("failed");
    expect(outcome.exitCode).toBe(1);
    expect(outcome.warnings.join(" ")).toMatch(/gray never had traffic/);
    expect(outcome.reason).toMatch(/traffic is back on stable/);
  });
});
