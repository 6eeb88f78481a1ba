/**
 * End to end against the AWS emulator with real traffic: a healthy release goes 25% → 100%, is
 * promoted by an instance refresh of the stable group, traffic returns to stable, and gray is retired.
 */
import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "../../src/local/instance.js";
import { deployInProcess, forward, group, startDataPlane, storedState } from "./support/rollout.js";
import { buildWorld, useAwsEmulator } from "./support/world.js";

const { emu, aws } = useAwsEmulator();

describe("a healthy release on AWS", () => {
  it("is promoted: stable on the new launch template version, gray at 0, weights 100/0", async () => {
    const w = await buildWorld(emu(), aws());
    const alb = await startDataPlane(w, { faults: () => NO_FAULTS });
    try {
      const run = await deployInProcess(w);
      expect(run.outcome.outcome, `${run.outcome.reason}\n${run.logs.join("\n")}`).toBe("promoted");
      expect(run.outcome.exitCode).toBe(0);
      const version = run.outcome.release.version!;
      expect(version).toBe("2");
      expect(run.outcome.release.previousVersion).toBe("1");

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
    } finally {
      await alb.stop();
    }
  }, 90_000);
});
