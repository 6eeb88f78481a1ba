/**
 * Following the load against the emulator (issue 17), with real traffic through the emulated ALB:
 * stable has a target-tracking policy of 50 requests/s per instance (ALBRequestCountPerTarget 3000 a
 * minute); the load climbs from 75 to 200 requests/s once gray carries 50%. Stable's minimum is held
 * at the whole load's size and gray follows stable's desired capacity — the emulated groups grow, the
 * new gray instances become healthy in their target group, and the release is promoted.
 *
 * The rates are what one test process sends and proxies on a loaded machine: at 400 requests/s (and
 * 100 per instance) a full run under load delivered only 241, too few for stable's 4 instances, and
 * the product rightly held stable at less.
 */
import { PutScalingPolicyCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeListenersCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "../../src/local/instance.js";
import { useAwsEmulator } from "./support/hooks.js";
import { deployInProcess, forward, group, startDataPlane } from "./support/rollout.js";
import { buildWorld } from "./support/world.js";

const { emu, aws } = useAwsEmulator();

describe("a load that climbs during 50% and 100% on AWS", () => {
  it("grows stable's minimum and gray with it; promoted, stable's own minimum restored", async () => {
    const w = await buildWorld(emu(), aws());
    const tg = w.fx.stable.targetGroupArn.split(":").pop()!;
    const listener = await aws().elb.send(new DescribeListenersCommand({ ListenerArns: [w.fx.listenerArn] }));
    const lb = listener.Listeners![0]!.LoadBalancerArn!.split(":loadbalancer/")[1]!;
    await aws().autoScaling.send(
      new PutScalingPolicyCommand({
        AutoScalingGroupName: w.fx.stable.asgName,
        PolicyName: "requests-per-target",
        PolicyType: "TargetTrackingScaling",
        TargetTrackingConfiguration: {
          PredefinedMetricSpecification: {
            PredefinedMetricType: "ALBRequestCountPerTarget",
            ResourceLabel: `${lb}/${tg}`,
          },
          TargetValue: 3000,
        },
      }),
    );
    const alb = await startDataPlane(w, { faults: () => NO_FAULTS, rps: 75 });
    let climbed = false;
    const watch = setInterval(() => {
      void forward(w)
        .then((f) => {
          if (!climbed && f.gray >= 50) {
            climbed = true;
            alb.load.setRate(200);
          }
        })
        .catch(() => undefined);
    }, 200);
    try {
      const run = await deployInProcess(w, {
        steps: "50,100",
        followLoadDelay: "1s",
        bake: "6s",
        maxBake: "15s",
        // About control, not latency: 200 requests/s through the emulated ALB on two shared cores
        // swing a process's p95 by tens of milliseconds.
        latencySlack: "300ms",
      });
      const why = `${run.outcome.reason}\n${run.outcome.decisions.map((d) => `${d.kind}: ${d.reason}`).join("\n")}`;
      expect(climbed).toBe(true);
      expect(run.outcome.outcome, why).toBe("promoted");
      const scales = run.outcome.decisions.filter((d) => d.kind === "scale").map((d) => d.capacity!);
      // Stable held at the whole load's size (200/s ÷ 50/s per instance), gray after it.
      expect(
        Math.max(...scales.filter((c) => c.pool === "stable").map((c) => c.to)),
        why,
      ).toBeGreaterThanOrEqual(4);
      expect(
        scales.some((c) => c.pool === "gray" && c.to > c.from),
        why,
      ).toBe(true);
      expect(run.outcome.steps.filter((s) => s.kind === "forward").map((s) => s.verdict)).toEqual([
        "pass",
        "pass",
      ]);
      // The pin (and the minimum following raised) is released: stable's own minimum is back.
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({ min: 0, pinned: false });
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 0 });
      expect(alb.load.stats().failed).toBe(0);
      expect(alb.errors).toEqual([]);
    } finally {
      clearInterval(watch);
      await alb.stop();
    }
  }, 150_000);
});
