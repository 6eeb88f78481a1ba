/**
 * The engine's side of the guard, in virtual time against in-memory ports: the guard rolls back
 * through the same `abort` verb as an operator, but its rollback is a rollback (cause `guard`, end
 * `rolled-back`, exit 3), also for the process that was running the rollout; and of two aborters at
 * once exactly one runs the rollback.
 */

import { describe, expect, it } from "vitest";
import { addressOf, deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Outcome } from "../../src/contract/outcome.js";
import { abort, deployGray, promote, type VerbContext } from "../../src/engine/verbs.js";
import type { OwnerInfo } from "../../src/ports/index.js";
import { MemoryWorld, OWNER, type Scenario } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

const GUARD: OwnerInfo = { id: "guard-1", host: "lambda", pid: 7, verb: "guard" };
const GUARD2: OwnerInfo = { id: "guard-2", host: "lambda", pid: 8, verb: "guard" };

function setup(scenario: Scenario = {}, raw: RawOptions = {}) {
  const clock = new VirtualClock();
  const world = new MemoryWorld(clock, scenario);
  const options = resolveOptions(
    { target: "local", image: "registry.example/gateway:2.0.0", ...raw },
    { verb: "deploy-gray" },
  );
  let n = 0;
  const ctx: VerbContext = { clock, owner: OWNER, newId: () => `rollout-${++n}` };
  return { clock, world, options, ctx };
}

const guardInput = {
  by: "guard",
  reason: "gray alarm gatewaypix-gray-error-rate is in ALARM",
  cause: "guard",
} as const;
const stableWrites = (w: MemoryWorld) => w.calls.filter((c) => c === "router.setWeights 100/0 off").length;

describe("a guard rollback through the abort verb", () => {
  it("ends rolled-back with cause guard (exit 3); an operator's abort still ends aborted (exit 5)", async () => {
    const a = setup({}, { approveBefore: "25" });
    expect((await deployGray(deployRequest(a.options), a.world, a.ctx)).outcome).toBe("paused");
    const byGuard = await abort(addressOf(a.options), a.world, { ...a.ctx, owner: GUARD }, guardInput);
    expect(byGuard.outcome, byGuard.reason).toBe("rolled-back");
    expect(byGuard.exitCode).toBe(3);
    expect(byGuard.reason).toMatch(
      /^rolled back: by guard: gray alarm gatewaypix-gray-error-rate is in ALARM/,
    );
    const stored = (await a.world.store.load("local"))!.state;
    expect(stored).toMatchObject({
      phase: "rolled-back",
      rollbackCause: "guard",
      weights: { stable: 100, gray: 0 },
    });
    expect(stored.abortRequested?.by).toBe("guard");
    expect(a.world.router.weights).toEqual({ stable: 100, gray: 0 });

    const b = setup({}, { approveBefore: "25" });
    await deployGray(deployRequest(b.options), b.world, b.ctx);
    const byOperator = await abort(
      addressOf(b.options),
      b.world,
      { ...b.ctx, owner: GUARD },
      { by: "oncall" },
    );
    expect(byOperator.outcome).toBe("aborted");
    expect(byOperator.exitCode).toBe(5);
  });

  it("the process running a bake notices at its next save and ends rolled-back, naming the guard", async () => {
    const { world, options, ctx, clock } = setup();
    let guard: Promise<Outcome> | undefined;
    // 20 s into the rollout: gray has 5% and the first step bakes.
    clock.at(clock.now() + 20_000, () => {
      guard = abort(addressOf(options), world, { ...ctx, owner: GUARD }, guardInput);
    });
    const run = await deployGray(deployRequest(options), world, ctx);
    expect(guard).toBeDefined();
    const byGuard = await guard!;
    expect(byGuard.outcome).toBe("rolled-back");
    expect(run.outcome, run.reason).toBe("rolled-back");
    expect(run.exitCode).toBe(3);
    expect(run.reason).toMatch(/^rolled back by guard from another process: gray alarm/);
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(stableWrites(world)).toBe(1);
  });

  it("two guards at once: exactly one runs the rollback, the other is told it is in progress", async () => {
    const { world, options, ctx } = setup({}, { approveBefore: "25" });
    await deployGray(deployRequest(options), world, ctx);
    const [one, two] = await Promise.all([
      abort(addressOf(options), world, { ...ctx, owner: GUARD }, guardInput),
      abort(addressOf(options), world, { ...ctx, owner: GUARD2 }, guardInput),
    ]);
    const outcomes = [one.outcome, two.outcome].sort();
    expect(outcomes).toEqual(["refused", "rolled-back"]);
    const refused = one.outcome === "refused" ? one : two;
    expect(refused.error?.code).toBe("INVALID_STATE");
    expect(refused.reason).toMatch(/already being rolled back by guard \(lambda pid 7,/);
    expect(stableWrites(world)).toBe(1);
    expect((await world.store.load("local"))!.state.phase).toBe("rolled-back");
  });

  it("an operator's abort while the guard's rollback runs does not take it over", async () => {
    const { world, options, ctx, clock } = setup({ drainDelayMs: 30_000 }, { approveBefore: "25" });
    await deployGray(deployRequest(options), world, ctx);
    const guard = abort(addressOf(options), world, { ...ctx, owner: GUARD }, guardInput);
    // The guard drains gray for 30 s after restoring stable: the operator comes in during the drain.
    let operator: Promise<Outcome> | undefined;
    clock.at(clock.now() + 10_000, () => {
      operator = abort(
        addressOf(options),
        world,
        { ...ctx, owner: { ...OWNER, id: "oncall" } },
        { by: "oncall" },
      );
    });
    expect((await guard).outcome).toBe("rolled-back");
    const op = await operator!;
    expect(op.outcome).toBe("refused");
    expect(op.reason).toMatch(/already being rolled back by guard/);
    expect(stableWrites(world)).toBe(1);
  });

  it("a guard that died after asking is finished as a guard rollback by whoever takes the rollout over", async () => {
    const { world, options, ctx, clock } = setup({}, { approveBefore: "25" });
    await deployGray(deployRequest(options), world, ctx);
    const stored = (await world.store.load("local"))!;
    // The guard recorded its request (and the lock), then its invocation died.
    await world.store.save(
      {
        ...stored.state,
        abortRequested: { by: "guard", at: clock.now(), reason: "gray alarm x is in ALARM" },
        rollbackCause: "guard",
      },
      stored.revision,
      GUARD,
      stored.state.plan.lockLeaseMs,
      clock.now(),
    );
    await clock.sleep(stored.state.plan.lockLeaseMs + 1000);
    const taken = await promote(
      addressOf(options),
      world,
      { ...ctx, owner: { ...OWNER, id: "oncall" } },
      { by: "oncall" },
    );
    expect(taken.outcome, taken.reason).toBe("rolled-back");
    expect((await world.store.load("local"))!.state).toMatchObject({
      phase: "rolled-back",
      rollbackCause: "guard",
    });
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
  });
});
