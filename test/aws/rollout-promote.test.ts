/**
 * End to end against the AWS emulator with real traffic: a healthy release goes 25% → 100%, is
 * promoted by an instance refresh of the stable group, traffic returns to stable, and gray is retired.
 * Before any customer reaches gray, smoke checks pass through the load balancer's header route.
 * (The data plane's proxy routes its pool header to gray as the module's smoke rule does.)
 */

import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "../../src/local/instance.js";
import { POOL_HEADER } from "../../src/local/proxy.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { useAwsEmulator } from "./support/hooks.js";
import { cli, deployInProcess, forward, group, startDataPlane, storedState } from "./support/rollout.js";
import { buildWorld, createSmokeRule, rawOptions } from "./support/world.js";

const { emu, aws } = useAwsEmulator();

describe("a healthy release on AWS", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("is promoted: stable on the new launch template version, gray at 0, weights 100/0", async () => {
    const w = await buildWorld(emu(), aws());
    const alb = await startDataPlane(w, { faults: () => NO_FAULTS });
    try {
      await createSmokeRule(w, POOL_HEADER, "gray");
      const run = await deployInProcess(w, {
        smokeHeader: `${POOL_HEADER}: gray`,
        smokeUrl: alb.url,
        smokePaths: "/health,/v1/payments/pay_smoke0001",
      });
      expect(run.outcome.outcome, `${run.outcome.reason}\n${run.logs.join("\n")}`).toBe("promoted");
      expect(run.outcome.exitCode).toBe(0);
      const version = run.outcome.release.version!;
      expect(version).toBe("2");
      expect(run.outcome.release.previousVersion).toBe("1");
      const smoke = run.logs.find((l) => l.includes("smoke test passed"));
      expect(smoke).toMatch(
        /GET .*\/health with the x-gray-deploy-pool header → 200; GET .*\/v1\/payments\/pay_smoke0001 .*→ 200/,
      );
      // The smoke checks ran before the first weight reached gray.
      const phases = run.events.flatMap((e) => (e.type === "phase" ? [e.to] : []));
      expect(phases.indexOf("smoke")).toBeLessThan(phases.indexOf("shifting"));

      const stable = await group(w, w.fx.stable.asgName);
      expect(stable.version).toBe(version);
      expect(stable.instanceVersions).toEqual([version, version]);
      // The pin is gone: MinSize back to 0, processes resumed, tag removed.
      expect(stable).toMatchObject({ min: 0, desired: 2, suspended: [], pinned: false });
      const gray = await group(w, w.fx.gray.asgName);
      expect(gray).toMatchObject({ desired: 0, version });
      // Weights back on stable, stickiness as configured.
      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: 300 });

      // Real customers reached gray at both forward steps, then the refreshed stable.
      const load = alb.load.stats();
      expect(load.byPool.gray?.requests ?? 0).toBeGreaterThan(100);
      expect(load.byVersion[w.release]?.requests ?? 0).toBeGreaterThan(200);
      expect(alb.weights.changes.map((c) => c.config.weights)).toEqual(
        expect.arrayContaining([
          { stable: 75, gray: 25 },
          { stable: 0, gray: 100 },
          { stable: 100, gray: 0 },
        ]),
      );
      const state = await storedState(w);
      expect(state?.phase).toBe("promoted");
      expect(state?.steps.map((s) => `${s.kind}:${s.weight}:${s.verdict}`)).toEqual([
        "forward:25:pass",
        "forward:100:pass",
        "return:100:pass",
      ]);
      expect(alb.errors).toEqual([]);

      // Issue 17: rollback-release through the CLI, traffic still flowing, puts version 1 back.
      alb.load.reset();
      const writesBefore = alb.weights.changes.length;
      const back = await cli(
        w,
        "rollback-release",
        rawOptions(w, "rollback-release", {
          reason: "late regression",
          smokeHeader: `${POOL_HEADER}: gray`,
          smokeUrl: alb.url,
        }),
      );
      expect(back.outcome?.outcome, `${back.outcome?.reason}\n${back.stderr}`).toBe("restored");
      expect(back.code).toBe(0);
      expect(back.outcome?.restoreOf).toMatchObject({ rolloutId: run.outcome.rolloutId, version });
      expect(alb.weights.changes.slice(writesBefore).map((c) => c.config.weights)).toEqual([
        { stable: 0, gray: 100 },
        { stable: 100, gray: 0 },
      ]);
      const restoredStable = await group(w, w.fx.stable.asgName);
      expect(restoredStable.version).toBe("1");
      expect(restoredStable.instanceVersions).toEqual(["1", "1"]);
      expect(restoredStable).toMatchObject({ min: 0, desired: 2, suspended: [], pinned: false });
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 0 });
      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: 300 });
      expect((await storedState(w))?.phase).toBe("restored");
      expect(alb.load.stats().failed).toBe(0);
      expect(alb.errors).toEqual([]);
    } finally {
      await alb.stop();
    }
  });
});
