/**
 * The way back on the local target (issue 17), with real processes and steady real traffic:
 * - keep-previous: a rollback inside the window (here rollback-release, which is abort's one write
 *   there) is ONE weight write, and no customer request fails;
 * - rollback-release after a promotion puts the previous version back — gray on it, one write to it,
 *   stable refreshed back, traffic returned — with no failed request; a rerun changes nothing.
 * Short steps (one 100% step) keep each rollout to a few seconds of bake.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { addressOf, deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Weights } from "../../src/core/types.js";
import { systemClock } from "../../src/engine/clock.js";
import { rollbackRelease } from "../../src/engine/rollback-release.js";
import { deployGray, type VerbContext } from "../../src/engine/verbs.js";
import { type LocalTargetRuntime, openLocalTarget } from "../../src/local/target.js";

const QUICK: RawOptions = {
  target: "local",
  instances: 2,
  rps: 40,
  steps: "100",
  interval: "500ms",
  metricPeriod: "500ms",
  metricsDelay: "500ms",
  rollbackWindow: "2s",
  promotionWindow: "2s",
  bake: "3s",
  maxBake: "10s",
  returnSteps: "100",
  returnBake: "3s",
  minRequests: 20,
  healthyTimeout: "15s",
  latencySlack: "300ms",
};

const ctx = (who: string): VerbContext => ({
  clock: systemClock(),
  owner: { id: randomUUID(), host: "test", pid: process.pid, verb: who },
  newId: randomUUID,
});

/** Every weight write the local router is asked for, in order. */
function recordWrites(t: LocalTargetRuntime): Weights[] {
  const writes: Weights[] = [];
  const router = t.environment.router;
  const original = router.setWeights.bind(router);
  router.setWeights = async (w, o, signal) => {
    writes.push({ ...w });
    return original(w, o, signal);
  };
  return writes;
}

async function withTarget(
  raw: RawOptions,
  body: (t: LocalTargetRuntime, o: ReturnType<typeof resolveOptions>) => Promise<void>,
) {
  const options = resolveOptions({ ...QUICK, ...raw }, { verb: "deploy-gray" });
  const target = await openLocalTarget(options);
  try {
    await target.begin?.();
    await body(target, options);
  } finally {
    await target.dispose();
  }
}

describe("the way back on the local target", { timeout: 90_000 }, () => {
  it("keep-previous: a rollback inside the window is one weight write, with 0 failed requests", async () => {
    await withTarget({ keepPrevious: "60s" }, async (target, options) => {
      const writes = recordWrites(target);
      const run = deployGray(deployRequest(options), target.ports, ctx("deploy-gray"));
      // Wait for the window (the 100% step passed), then take the way back from another process.
      let keeping = false;
      for (let i = 0; i < 200 && !keeping; i++) {
        await new Promise((r) => setTimeout(r, 250));
        keeping = (await target.ports.store.load("local"))?.state.phase === "keeping";
      }
      expect(keeping, "the rollout never entered its keep-previous window").toBe(true);
      target.environment.load.reset();
      const before = writes.length;
      const back = await rollbackRelease(addressOf(options), target.ports, ctx("rollback-release"), {
        by: "oncall",
        reason: "late regression",
      });
      const first = await run;
      expect(back.outcome, back.reason).toBe("aborted");
      expect(first.outcome).toBe("aborted");
      expect(writes.slice(before)).toEqual([{ stable: 100, gray: 0 }]);
      // Traffic meanwhile: stable answered, nothing failed.
      await new Promise((r) => setTimeout(r, 1000));
      const load = target.environment.load.stats();
      expect(load.completed).toBeGreaterThan(20);
      expect(load.failed).toBe(0);
    });
  });

  it("rollback-release after a promotion: the previous version back with 0 failed requests; a rerun changes nothing", async () => {
    await withTarget({}, async (target, options) => {
      const promoted = await deployGray(deployRequest(options), target.ports, ctx("deploy-gray"));
      expect(promoted.outcome, promoted.reason).toBe("promoted");
      expect(promoted.rollbackReleaseUntil).toBeDefined();
      const writes = recordWrites(target);
      target.environment.load.reset();
      const started = Date.now();
      const restored = await rollbackRelease(addressOf(options), target.ports, ctx("rollback-release"), {
        by: "oncall",
        reason: "settlement mismatch",
      });
      const tookMs = Date.now() - started;
      expect(restored.outcome, restored.reason).toBe("restored");
      expect(restored.exitCode).toBe(0);
      expect(restored.restoreOf?.rolloutId).toBe(promoted.rolloutId);
      // One write to the previous version on gray, one back to stable once it runs it again.
      expect(writes).toEqual([
        { stable: 0, gray: 100 },
        { stable: 100, gray: 0 },
      ]);
      const load = target.environment.load.stats();
      expect(load.failed).toBe(0);
      expect(load.completed).toBeGreaterThan(20);
      // Every request after the restore is served by the previous version.
      expect(Object.keys(load.byVersion)).toContain(promoted.release.previousVersion);
      const again = await rollbackRelease(addressOf(options), target.ports, ctx("rollback-release"), {
        by: "oncall",
      });
      expect(again.outcome).toBe("restored");
      expect(again.reason).toMatch(/^already restored/);
      expect(writes).toHaveLength(2);
      console.info(`rollback-release on the local target took ${tookMs} ms`);
    });
  });
});
