/**
 * End to end against the AWS emulator with real traffic: the release passes every step, but the
 * instance refresh that promotes it fails (the emulator fails it on demand) and AWS rolls it back.
 * The rollout pauses with `promotion-failed`, traffic staying on gray (which passed analysis); `status`
 * reads it; `promote` retries the refresh (which fails again here); then an operator's `abort` — from
 * another process, with only the listener, rule and state table — returns traffic to the old stable
 * and retires gray.
 */

import { DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "../../src/local/instance.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { useAwsEmulator } from "./support/hooks.js";
import { cli, deployInProcess, forward, group, startDataPlane, storedState } from "./support/rollout.js";
import { buildWorld, rawOptions } from "./support/world.js";

const { emu, aws } = useAwsEmulator();

describe("a failed promotion on AWS", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("pauses with promotion-failed; abort returns stable on the old version to 100%", async () => {
    const w = await buildWorld(emu(), aws());
    const alb = await startDataPlane(w, { faults: () => NO_FAULTS });
    try {
      await w.emu.failNextInstanceRefresh({ autoScalingGroupName: w.fx.stable.asgName, afterInstances: 1 });
      const run = await deployInProcess(w);
      expect(run.outcome.outcome, `${run.outcome.reason}\n${run.logs.join("\n")}`).toBe("paused");
      expect(run.outcome.exitCode).toBe(4);
      expect(run.outcome.pause?.reason).toBe("promotion-failed");
      expect(run.outcome.reason).toMatch(/rolled back/);

      // Gray passed analysis and keeps the traffic; stable was refreshed back onto version 1.
      expect(await forward(w)).toMatchObject({ stable: 0, gray: 100 });
      const stable = await group(w, w.fx.stable.asgName);
      expect(stable).toMatchObject({ version: "1", instanceVersions: ["1", "1"], pinned: true, min: 2 });
      expect((await storedState(w))?.phase).toBe("paused");

      const status = await cli(w, "status", rawOptions(w, "status"));
      expect(status.code).toBe(0);
      expect(status.outcome).toMatchObject({ outcome: "paused", pause: { reason: "promotion-failed" } });

      // `promote` retries the promotion: a second refresh, which fails (and is rolled back) again.
      await w.emu.failNextInstanceRefresh({ autoScalingGroupName: w.fx.stable.asgName, afterInstances: 1 });
      const retried = await cli(w, "promote", rawOptions(w, "promote", { reason: "retry the refresh" }));
      expect(retried.outcome?.outcome, `${retried.outcome?.reason}\n${retried.stderr}`).toBe("paused");
      expect(retried.outcome?.pause?.reason).toBe("promotion-failed");
      const refreshes = await aws().autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: w.fx.stable.asgName }),
      );
      expect(refreshes.InstanceRefreshes?.map((r) => r.Status)).toEqual([
        "RollbackSuccessful",
        "RollbackSuccessful",
      ]);

      const aborted = await cli(w, "abort", rawOptions(w, "abort", { reason: "refresh keeps failing" }));
      expect(aborted.outcome?.outcome, `${aborted.outcome?.reason}\n${aborted.stderr}`).toBe("aborted");
      expect(aborted.code).toBe(5);

      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({
        version: "1",
        instanceVersions: ["1", "1"],
        pinned: false,
        min: 0,
        suspended: [],
      });
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 0, version: "1" });
      const state = await storedState(w);
      expect(state?.phase).toBe("aborted");
      expect(state?.abortRequested?.reason).toBe("refresh keeps failing");

      // Customers are served by stable's old version again.
      await alb.weights.poll();
      alb.load.reset();
      await new Promise((r) => setTimeout(r, 1000));
      const load = alb.load.stats();
      expect(load.byPool.stable?.requests ?? 0).toBeGreaterThan(50);
      expect(load.byPool.gray?.requests ?? 0).toBe(0);
      expect(Object.keys(load.byVersion).filter((v) => v !== "none")).toEqual([w.fx.image]);
      expect(alb.errors).toEqual([]);
    } finally {
      await alb.stop();
    }
  });
});
