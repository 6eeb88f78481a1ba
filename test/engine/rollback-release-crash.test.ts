/**
 * rollback-release killed at each of its kill points (issue 17), in virtual time against in-memory
 * ports: the process dies (every call it makes from then on never returns, its lease is no longer
 * renewed), the lease expires, rollback-release runs again from another process and must converge —
 * restored, stable on the previous version, weights 100/0, gray at 0, no weight other than the two
 * the restore writes (gray 100, then stable 100), and a third run that changes nothing.
 * The same with real processes, SIGKILL and the AWS emulator: test/safety/rollback-release-crash.test.ts.
 */
import { describe, expect, it } from "vitest";
import { addressOf, deployRequest } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import type { Phase, RolloutState } from "../../src/core/state.js";
import type { Weights } from "../../src/core/types.js";
import { rollbackRelease } from "../../src/engine/rollback-release.js";
import { deployGray, type VerbContext } from "../../src/engine/verbs.js";
import { MemoryWorld, OWNER } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

type KillPoint =
  | { readonly after: "save"; readonly phase: Phase; readonly grayUp?: boolean }
  | { readonly after: "write"; readonly weights: Weights };

const KILL_POINTS: readonly [string, KillPoint][] = [
  ["prepared (stable pinned, gray not up)", { after: "save", phase: "scaling", grayUp: false }],
  [
    "gray up and healthy on the previous version, no traffic moved",
    { after: "save", phase: "scaling", grayUp: true },
  ],
  [
    "right after the one write to gray, before it was saved",
    { after: "write", weights: { stable: 0, gray: 100 } },
  ],
  ["traffic on gray, stable's refresh back not started", { after: "save", phase: "promoting" }],
  ["stable refreshed back, traffic still on gray", { after: "save", phase: "finishing" }],
  [
    "right after the write back to stable, before gray was drained",
    { after: "write", weights: { stable: 100, gray: 0 } },
  ],
];

const never = () => new Promise<never>(() => undefined);

/** Makes the victim die at the kill point: from then on each of its calls hangs forever. */
function arm(world: MemoryWorld, victim: string, kp: KillPoint) {
  let dead = false;
  let victimRunning = () => false;
  let rerunning = false;
  const save = world.store.save.bind(world.store);
  world.store.save = async (state: RolloutState, rev, owner, lease, now) => {
    if (owner?.id === victim && dead) return never();
    const stored = await save(state, rev, owner, lease, now);
    if (
      owner?.id === victim &&
      kp.after === "save" &&
      state.kind === "restore" &&
      state.phase === kp.phase &&
      (kp.grayUp === undefined || kp.grayUp === state.grayCapacity > 0)
    ) {
      dead = true;
      return never();
    }
    return stored;
  };
  const setWeights = world.router.setWeights.bind(world.router);
  world.router.setWeights = async (w, o, signal) => {
    if (dead && !rerunning) return never();
    await setWeights(w, o, signal);
    if (kp.after === "write" && !dead && !rerunning && w.gray === kp.weights.gray && victimRunning()) {
      dead = true;
      return never();
    }
  };
  return {
    dead: () => dead,
    start: () => {
      victimRunning = () => true;
    },
    rerun: () => {
      rerunning = true;
    },
  };
}

describe("rollback-release killed at each kill point resumes and converges", () => {
  it.each(KILL_POINTS)("%s", async (_name, kp) => {
    const clock = new VirtualClock();
    const world = new MemoryWorld(clock, {});
    const options = resolveOptions(
      { target: "local", image: "registry.example/gateway:2.0.0", steps: "50,100" },
      { verb: "deploy-gray" },
    );
    let n = 0;
    const ctx = (id: string): VerbContext => ({ clock, owner: { ...OWNER, id }, newId: () => `r-${++n}` });
    const promoted = await deployGray(deployRequest(options), world, ctx("deployer"));
    expect(promoted.outcome).toBe("promoted");
    const at = addressOf(options);

    const gate = arm(world, "victim", kp);
    const writesFrom = world.weightLog.length;
    gate.start();
    void rollbackRelease(at, world, ctx("victim"), { by: "oncall" });
    // Let it run until it dies (virtual time moves while it waits).
    for (let i = 0; i < 10_000 && !gate.dead(); i++) await clock.sleep(100);
    expect(gate.dead(), "the victim never reached its kill point").toBe(true);
    const atKill = (await world.store.load("local"))!;
    expect(atKill.state.kind).toBe("restore");

    // Before the lease expires, another process is refused; after, it takes over and converges.
    const early = await rollbackRelease(at, world, ctx("rescuer"), { by: "oncall" });
    expect(early.outcome).toBe("refused");
    await clock.sleep(atKill.leaseUntil - clock.now() + 1);
    gate.rerun();
    const resumed = await rollbackRelease(at, world, ctx("rescuer"), { by: "oncall" });
    expect(resumed.outcome, resumed.reason).toBe("restored");
    expect(world.fleet.stableVersion).toBe("v1");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(world.fleet.grayCapacity).toBe(0);
    // Only the restore's two weights were ever applied, in that order: a write may be repeated (the
    // resumed run writes again what the dead one may have written), never undone — traffic never
    // went back to the release being rolled back once it had left it.
    const applied = world.weightLog.slice(writesFrom).map((e) => `${e.weights.stable}/${e.weights.gray}`);
    expect(applied.filter((w, i) => w !== applied[i - 1])).toEqual(["0/100", "100/0"]);
    const again = await rollbackRelease(at, world, ctx("third"), { by: "oncall" });
    expect(again.reason).toMatch(/^already restored/);
  });
});
