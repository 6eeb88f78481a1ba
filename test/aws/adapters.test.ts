/**
 * Each AWS adapter against the emulator, on its own: what it writes, that it writes nothing when the
 * world already is as wanted, and the edge cases real traffic cannot make (scripted CloudWatch data:
 * late data, one group missing).
 */

import {
  DescribeAutoScalingGroupsCommand,
  PutScalingPolicyCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
} from "@aws-sdk/client-cloudwatch";
import { DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import {
  CreateRuleCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  ModifyListenerCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { createAwsApi } from "../../src/aws/connection.js";
import { AwsFleet } from "../../src/aws/fleet.js";
import { AwsMetricSource } from "../../src/aws/metrics.js";
import { AwsPilotRule } from "../../src/aws/pilot.js";
import { AwsTrafficRouter } from "../../src/aws/router.js";
import { TimeoutError } from "../../src/contract/errors.js";
import { FaultProxy, op } from "../safety/support/fault-proxy.js";
import { decodeUserData } from "../support/aws-fixture.js";
import { useAwsEmulator } from "./support/hooks.js";
import { forward, group } from "./support/rollout.js";
import { buildWorld, type World } from "./support/world.js";

const { emu, aws } = useAwsEmulator();

function connect(w: World) {
  return createAwsApi({ region: w.emu.region, endpoint: w.emu.endpoint, credentials: w.emu.credentials });
}

function routerOf(w: World, api: ReturnType<typeof connect>["api"], listenerOnly = false) {
  return new AwsTrafficRouter({
    api,
    listenerArn: w.fx.listenerArn,
    ruleArn: listenerOnly ? undefined : w.fx.ruleArn,
    stableTargetGroupArn: w.fx.stable.targetGroupArn,
    grayTargetGroupArn: w.fx.gray.targetGroupArn,
  });
}

function fleetOf(w: World, api: ReturnType<typeof connect>["api"]) {
  return new AwsFleet({
    api,
    stableAsg: w.fx.stable.asgName,
    grayAsg: w.fx.gray.asgName,
    stableTargetGroupArn: w.fx.stable.targetGroupArn,
    grayTargetGroupArn: w.fx.gray.targetGroupArn,
    launchTemplate: w.fx.launchTemplate.name,
    instanceWarmupMs: 0,
    refreshMinHealthy: 50,
    pollMs: 100,
  });
}

describe("the ALB router", () => {
  it("writes only the weights (and stickiness), only when they differ, and reads them back", async () => {
    const w = await buildWorld(emu(), aws());
    const c = connect(w);
    try {
      const router = routerOf(w, c.api);
      const pre = await router.preflight();
      expect(pre).toMatchObject({
        weights: { stable: 100, gray: 0 },
        stickinessSeconds: 300,
        drainDelayMs: 1000,
      });
      const ruleBefore = (await aws().elb.send(new DescribeRulesCommand({ RuleArns: [w.fx.ruleArn] })))
        .Rules![0]!;

      const mark = c.calls.snapshot();
      await router.setWeights({ stable: 100, gray: 0 }, { stickiness: "configured" });
      expect(c.calls.since(mark).operations).toEqual({ "elasticloadbalancing:DescribeRules": 1 });

      await router.setWeights({ stable: 95, gray: 5 }, { stickiness: "configured" });
      expect(await router.getWeights()).toEqual({ stable: 95, gray: 5 });
      expect(await forward(w)).toEqual({ stable: 95, gray: 5, stickiness: 300 });
      const ruleAfter = (await aws().elb.send(new DescribeRulesCommand({ RuleArns: [w.fx.ruleArn] })))
        .Rules![0]!;
      expect(ruleAfter.Conditions).toEqual(ruleBefore.Conditions);
      expect(ruleAfter.Priority).toBe(ruleBefore.Priority);

      // Rollback: stickiness off; the next "configured" write restores what preflight found.
      await router.setWeights({ stable: 100, gray: 0 }, { stickiness: "off" });
      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
      await router.setWeights({ stable: 75, gray: 25 }, { stickiness: "configured" });
      expect(await forward(w)).toEqual({ stable: 75, gray: 25, stickiness: 300 });
    } finally {
      c.destroy();
    }
  });

  it("drives the listener's default action when there is no rule", async () => {
    const w = await buildWorld(emu(), aws());
    await aws().elb.send(
      new ModifyListenerCommand({
        ListenerArn: w.fx.listenerArn,
        DefaultActions: [
          {
            Type: "forward",
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: w.fx.stable.targetGroupArn, Weight: 100 },
                { TargetGroupArn: w.fx.gray.targetGroupArn, Weight: 0 },
              ],
            },
          },
        ],
      }),
    );
    const c = connect(w);
    try {
      const router = routerOf(w, c.api, true);
      expect((await router.preflight()).stickinessSeconds).toBeNull();
      await router.setWeights({ stable: 50, gray: 50 }, { stickiness: "configured" });
      expect(await router.getWeights()).toEqual({ stable: 50, gray: 50 });
      // The rule was not touched.
      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: 300 });
    } finally {
      c.destroy();
    }
  });

  it("counts only healthy and unhealthy targets (not initial or draining)", async () => {
    const w = await buildWorld(emu(), aws());
    const ids = (
      await aws().autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [w.fx.stable.asgName] }),
      )
    ).AutoScalingGroups![0]!.Instances!.map((i) => i.InstanceId!);
    await emu().setTargetHealth([
      { targetGroupArn: w.fx.stable.targetGroupArn, targetId: ids[0]!, state: "unhealthy" },
      { targetGroupArn: w.fx.stable.targetGroupArn, targetId: ids[1]!, state: "initial" },
    ]);
    const c = connect(w);
    try {
      expect(await routerOf(w, c.api).targetHealth()).toEqual({
        stable: { healthy: 0, unhealthy: 1 },
        gray: { healthy: 0, unhealthy: 0 },
      });
    } finally {
      c.destroy();
    }
  });
});

describe("the launch template and Auto Scaling fleet", () => {
  it("creates the release version from stable's, changing only the image; a rerun reuses it", async () => {
    const w = await buildWorld(emu(), aws());
    const c = connect(w);
    try {
      const fleet = fleetOf(w, c.api);
      const release = { image: w.release, commit: null, startedBy: "t" };
      const first = await fleet.prepare(release, null);
      expect(first).toEqual({ version: "2", previousVersion: "1", stableCapacity: 2 });
      const versions = await aws().ec2.send(
        new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: w.fx.launchTemplate.id }),
      );
      const byNumber = new Map(versions.LaunchTemplateVersions!.map((v) => [v.VersionNumber, v]));
      const v1 = byNumber.get(1)!.LaunchTemplateData!;
      const v2 = byNumber.get(2)!;
      expect(v2.VersionDescription).toBe(`gray-deploy ${w.release} from v1`);
      expect(decodeUserData(v2.LaunchTemplateData!.UserData!)).toBe(
        decodeUserData(v1.UserData!).replace(w.fx.image, w.release),
      );
      expect({ ...v2.LaunchTemplateData, UserData: undefined }).toEqual({ ...v1, UserData: undefined });

      const again = await fleetOf(w, c.api).prepare(release, null);
      expect(again.version).toBe("2");
      const count = await aws().ec2.send(
        new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: w.fx.launchTemplate.id }),
      );
      expect(count.LaunchTemplateVersions).toHaveLength(2);
    } finally {
      c.destroy();
    }
  });

  it("pins stable and restores exactly what was there, leaving an operator's suspension alone", async () => {
    const w = await buildWorld(emu(), aws());
    await aws().autoScaling.send(
      new SuspendProcessesCommand({
        AutoScalingGroupName: w.fx.stable.asgName,
        ScalingProcesses: ["AZRebalance"],
      }),
    );
    const c = connect(w);
    try {
      const fleet = fleetOf(w, c.api);
      await fleet.prepare({ image: w.release, commit: null, startedBy: "t" }, null);
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({
        min: 2,
        pinned: true,
        suspended: ["AZRebalance", "ScheduledActions"],
      });
      // A second prepare (a resumed run) keeps the original values recorded the first time.
      await fleet.prepare(
        { image: w.release, commit: null, startedBy: "t" },
        { version: "2", previousVersion: "1", stableCapacity: 2 },
      );
      await fleetOf(w, c.api).releaseStable();
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({
        min: 0,
        pinned: false,
        suspended: ["AZRebalance"],
      });
      const mark = c.calls.snapshot();
      await fleet.releaseStable();
      expect(c.calls.since(mark).totalOperations).toBe(1); // a read, no write
    } finally {
      c.destroy();
    }
  });

  it("follows the load (issue 17): sizes in one read, stable's per-instance target from its policy, writes only when different, the pin restored after", async () => {
    const w = await buildWorld(emu(), aws());
    const tg = w.fx.stable.targetGroupArn.split(":").pop()!;
    const lb = (
      await aws().elb.send(new DescribeListenersCommand({ ListenerArns: [w.fx.listenerArn] }))
    ).Listeners![0]!.LoadBalancerArn!.split(":loadbalancer/")[1]!;
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
          TargetValue: 6000, // requests per target per minute: 100 requests/s
        },
      }),
    );
    const c = connect(w);
    try {
      const fleet = fleetOf(w, c.api);
      const prepared = await fleet.prepare({ image: w.release, commit: null, startedBy: "t" }, null);
      const mark = c.calls.snapshot();
      const sizes = await fleet.sizes();
      expect(sizes).toMatchObject({
        stable: { desired: 2, min: 2 },
        gray: { desired: 0 },
        perInstanceRps: 100,
      });
      await fleet.sizes(); // the policy is read once per process
      expect(c.calls.since(mark).operations).toEqual({
        "autoscaling:DescribeAutoScalingGroups": 2,
        "autoscaling:DescribePolicies": 1,
      });
      // Gray on the release version, as scaleGray leaves it.
      await aws().autoScaling.send(
        new UpdateAutoScalingGroupCommand({
          AutoScalingGroupName: w.fx.gray.asgName,
          LaunchTemplate: { LaunchTemplateId: w.fx.launchTemplate.id, Version: prepared.version },
        }),
      );
      await fleet.resize({ stableMin: 3, gray: { version: prepared.version, desired: 2 } });
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({ min: 3, desired: 3, pinned: true });
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 2, version: prepared.version });
      const again = c.calls.snapshot();
      await fleet.resize({ stableMin: 3, gray: { version: prepared.version, desired: 2 } });
      expect(c.calls.since(again).totalOperations).toBe(1); // a read, no write
      // Gray on another version is never resized.
      await expect(fleet.resize({ gray: { version: "1", desired: 3 } })).rejects.toThrow(/not resizing it/);
      // The end of the rollout restores stable's own minimum, not the one the follow raised.
      await fleet.releaseStable();
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({ min: 0, pinned: false });
    } finally {
      c.destroy();
    }
  });

  it("waits for healthy gray targets on the release version, and times out saying what it saw", async () => {
    const w = await buildWorld(emu(), aws());
    await emu().configure({ newTargetsInitial: true });
    const c = connect(w);
    try {
      const fleet = fleetOf(w, c.api);
      const { version } = await fleet.prepare({ image: w.release, commit: null, startedBy: "t" }, null);
      const err = await fleet.scaleGray(version, 1, 1500).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as TimeoutError).message).toMatch(/0\/1 healthy: i-[0-9a-f]+ initial/);
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 1, version });

      const ids = (await group(w, w.fx.gray.asgName)).instanceVersions;
      expect(ids).toEqual([version]);
      const gray = (
        await aws().autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [w.fx.gray.asgName] }),
        )
      ).AutoScalingGroups![0]!.Instances!;
      await emu().setTargetHealth({
        targetGroupArn: w.fx.gray.targetGroupArn,
        targetId: gray[0]!.InstanceId!,
        state: "healthy",
      });
      await fleet.scaleGray(version, 1, 5000);
      await fleet.retireGray("1");
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 0, version: "1" });
    } finally {
      c.destroy();
    }
  });

  it("promotes by instance refresh and does nothing when stable already runs the version", async () => {
    const w = await buildWorld(emu(), aws());
    await emu().configure({ refreshStepSeconds: 0.05 });
    const c = connect(w);
    try {
      const fleet = fleetOf(w, c.api);
      const { version } = await fleet.prepare({ image: w.release, commit: null, startedBy: "t" }, null);
      expect(await fleet.promote(version, 20_000)).toEqual({ ok: true });
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({
        version,
        instanceVersions: [version, version],
      });
      const mark = c.calls.snapshot();
      expect(await fleet.promote(version, 20_000)).toEqual({ ok: true });
      expect(Object.keys(c.calls.since(mark).operations).filter((op) => !op.includes("Describe"))).toEqual(
        [],
      );

      await fleet.revertStable("1", 20_000);
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({
        version: "1",
        instanceVersions: ["1", "1"],
      });
    } finally {
      c.destroy();
    }
  });

  it("a refresh past its deadline is rolled back, or cancelled when AWS refuses the rollback", async () => {
    const w = await buildWorld(emu(), aws());
    // Slow refreshes: each promotion below outlives its 300 ms deadline.
    await emu().configure({ refreshStepSeconds: 1 });
    const c = connect(w);
    try {
      const fleet = fleetOf(w, c.api);
      const { version } = await fleet.prepare({ image: w.release, commit: null, startedBy: "t" }, null);
      const mark = c.calls.snapshot();
      const r = await fleet.promote(version, 300);
      expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/did not finish within/) });
      expect(c.calls.since(mark).operations["autoscaling:RollbackInstanceRefresh"]).toBe(1);
      expect((await group(w, w.fx.stable.asgName)).version).toBe("1");
    } finally {
      c.destroy();
    }

    // AWS refuses the rollback (the fault proxy answers it): the refresh is cancelled instead, and
    // stable is put back on the version its group still names.
    const proxy = new FaultProxy({ target: emu().endpoint });
    await proxy.start();
    proxy.persistent(op("autoscaling", "RollbackInstanceRefresh"), "5xx");
    const refused = createAwsApi({
      region: w.emu.region,
      endpoint: proxy.url,
      credentials: w.emu.credentials,
      maxAttempts: 1,
    });
    try {
      const fleet = fleetOf(w, refused.api);
      const { version } = await fleet.prepare({ image: w.release, commit: null, startedBy: "t" }, null);
      const r = await fleet.promote(version, 300);
      expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/did not finish within/) });
      const cancels = refused.calls.snapshot().operations["autoscaling:CancelInstanceRefresh"] ?? 0;
      expect(cancels).toBeGreaterThanOrEqual(1);
      expect(proxy.count({ operation: "RollbackInstanceRefresh", result: "5xx" })).toBe(cancels);
      expect(proxy.count({ operation: "CancelInstanceRefresh", result: "forwarded" })).toBe(cancels);
      expect((await group(w, w.fx.stable.asgName)).version).toBe("1");
    } finally {
      refused.destroy();
      await proxy.close();
    }
  });
});

describe("CloudWatch metrics (scripted data for what traffic cannot make)", () => {
  async function put(
    w: World,
    pool: "stable" | "gray",
    at: number,
    metrics: Record<string, number | number[]>,
  ) {
    const side = pool === "stable" ? w.fx.stable : w.fx.gray;
    const dims = [
      { Name: "LoadBalancer", Value: w.fx.loadBalancerDimension },
      { Name: "TargetGroup", Value: side.targetGroupDimension },
    ];
    await aws().cloudWatch.send(
      new PutMetricDataCommand({
        Namespace: "AWS/ApplicationELB",
        MetricData: Object.entries(metrics).map(([name, v]) =>
          Array.isArray(v)
            ? {
                MetricName: name,
                Dimensions: dims,
                Timestamp: new Date(at),
                Values: v,
                Counts: v.map(() => 1),
              }
            : { MetricName: name, Dimensions: dims, Timestamp: new Date(at), Value: v },
        ),
      }),
    );
  }

  function source(w: World, api: ReturnType<typeof connect>["api"]) {
    return new AwsMetricSource({
      api,
      loadBalancerArn: w.fx.loadBalancerArn,
      stableTargetGroupArn: w.fx.stable.targetGroupArn,
      grayTargetGroupArn: w.fx.gray.targetGroupArn,
      periodMs: 60_000,
    });
  }

  it("reads both groups and both windows in one call; percentiles are over the whole window", async () => {
    const w = await buildWorld(emu(), aws());
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    // Gray: one slow minute early in the promotion window, a fast one in the rollback window.
    await put(w, "gray", end - 240_000, {
      RequestCount: 100,
      HTTPCode_Target_5XX_Count: 5,
      TargetResponseTime: Array.from({ length: 100 }, (_, i) => (i < 20 ? 2 : 0.1)),
    });
    await put(w, "gray", end - 60_000, {
      RequestCount: 100,
      TargetResponseTime: Array.from({ length: 100 }, () => 0.05),
    });
    await put(w, "stable", end - 60_000, { RequestCount: 400, TargetConnectionErrorCount: 1 });
    const c = connect(w);
    try {
      const mark = c.calls.snapshot();
      const [rollback, promotion] = await source(w, c.api).read([
        { start: end - 120_000, end },
        { start: end - 300_000, end },
      ]);
      expect(c.calls.since(mark).operations).toEqual({ "cloudwatch:GetMetricData": 1 });
      expect(rollback!.gray).toMatchObject({ requests: 100, errors: 0, p95Ms: 50, p99Ms: 50, hasData: true });
      // 20 of 200 responses took 2 s: p95 over the window is 2 s; per-minute p95s say 2 s and 50 ms, and
      // no mix of those two numbers is the window's p95 (its p50 is 50 ms).
      expect(promotion!.gray).toMatchObject({ requests: 200, errors: 5, p95Ms: 2000, hasData: true });
      expect(promotion!.stable).toMatchObject({ requests: 400, errors: 1, p95Ms: null, hasData: true });
      expect(promotion!.lbErrors).toBe(0);
    } finally {
      c.destroy();
    }
  });

  it("one group missing: no data point means hasData false and zero counts, never an error", async () => {
    const w = await buildWorld(emu(), aws());
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    await put(w, "stable", end - 60_000, { RequestCount: 50 });
    const c = connect(w);
    try {
      const [win] = await source(w, c.api).read([{ start: end - 120_000, end }]);
      expect(win!.gray).toEqual({
        requests: 0,
        errors: 0,
        p95Ms: null,
        p99Ms: null,
        hasData: false,
        healthyHostsMin: null,
        unhealthyHostsMax: null,
      });
      expect(win!.stable.requests).toBe(50);
    } finally {
      c.destroy();
    }
  });

  it("reads alarm states for the alarm gate", async () => {
    const w = await buildWorld(emu(), aws());
    for (const name of ["gw-gray-5xx", "gw-gray-p99"]) {
      await aws().cloudWatch.send(
        new PutMetricAlarmCommand({
          AlarmName: name,
          Namespace: "AWS/ApplicationELB",
          MetricName: "HTTPCode_Target_5XX_Count",
          Statistic: "Sum",
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: "GreaterThanThreshold",
        }),
      );
    }
    await aws().cloudWatch.send(
      new SetAlarmStateCommand({ AlarmName: "gw-gray-5xx", StateValue: "ALARM", StateReason: "5xx above 1" }),
    );
    await aws().cloudWatch.send(
      new SetAlarmStateCommand({ AlarmName: "gw-gray-p99", StateValue: "OK", StateReason: "p99 fine" }),
    );
    const c = connect(w);
    try {
      const states = await source(w, c.api).alarms(["gw-gray-5xx", "gw-gray-p99"]);
      expect(states.map((a) => [a.name, a.state])).toEqual([
        ["gw-gray-5xx", "ALARM"],
        ["gw-gray-p99", "OK"],
      ]);
      await expect(source(w, c.api).alarms(["gw-missing"])).rejects.toThrow(/gw-missing do not exist/);
    } finally {
      c.destroy();
    }
  });

  it("late data: a minute published after the window was first read appears in the next read", async () => {
    const w = await buildWorld(emu(), aws());
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    await put(w, "gray", end - 120_000, { RequestCount: 30 });
    const c = connect(w);
    try {
      const windows = [{ start: end - 120_000, end }];
      expect((await source(w, c.api).read(windows))[0]!.gray.requests).toBe(30);
      await put(w, "gray", end - 60_000, { RequestCount: 70, HTTPCode_Target_5XX_Count: 7 });
      // A point after the window's end is not counted in it.
      await put(w, "gray", end, { RequestCount: 1000 });
      expect((await source(w, c.api).read(windows))[0]!.gray).toMatchObject({ requests: 100, errors: 7 });
    } finally {
      c.destroy();
    }
  });
});

describe("the chosen-customers rule (aws/pilot.ts)", () => {
  it("preflights the Terraform-shaped rule, switches it to gray and back with ModifyRule, and reads each switch back", async () => {
    const w = await buildWorld(emu(), aws());
    // As pilot.tf creates it: before the weighted rule, an http-header condition, off (stable 100 / gray 0).
    const created = await w.aws.elb.send(
      new CreateRuleCommand({
        ListenerArn: w.fx.listenerArn,
        Priority: 7,
        Conditions: [
          { Field: "http-header", HttpHeaderConfig: { HttpHeaderName: "X-Tenant", Values: ["acme"] } },
        ],
        Actions: [
          {
            Type: "forward",
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: w.fx.stable.targetGroupArn, Weight: 100 },
                { TargetGroupArn: w.fx.gray.targetGroupArn, Weight: 0 },
              ],
            },
          },
        ],
      }),
    );
    const ruleArn = created.Rules![0]!.RuleArn!;
    const c = connect(w);
    try {
      const targets = {
        stableTargetGroupArn: w.fx.stable.targetGroupArn,
        grayTargetGroupArn: w.fx.gray.targetGroupArn,
      };
      const pilot = new AwsPilotRule({
        api: c.api,
        ruleArn,
        targets,
        expect: { header: "X-Tenant", values: ["acme"] },
      });
      await expect(pilot.preflight(50)).resolves.toMatch(/requests with X-Tenant: acme go to stable/);
      await expect(
        new AwsPilotRule({
          api: c.api,
          ruleArn,
          targets,
          expect: { header: "X-Tenant", values: ["other"] },
        }).preflight(50),
      ).rejects.toThrow(/does not match X-Tenant: other/);
      await expect(pilot.preflight(5)).rejects.toThrow(/evaluated after the weighted rule/);
      const weightsOf = async () => {
        const out = await w.aws.elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }));
        return out.Rules![0]!.Actions![0]!.ForwardConfig!.TargetGroups!.map((g) => g.Weight);
      };
      const before = c.calls.snapshot();
      await pilot.set(true);
      expect(await pilot.get()).toBe(true);
      expect(await weightsOf()).toEqual([0, 100]);
      await pilot.set(true); // already on: no write
      await pilot.set(false);
      expect(await pilot.get()).toBe(false);
      expect(await weightsOf()).toEqual([100, 0]);
      // Two switches, one write each; the conditions were never written.
      expect(c.calls.since(before).operations["elasticloadbalancing:ModifyRule"]).toBe(2);
      const rule = (await w.aws.elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules![0]!;
      expect(rule.Conditions?.[0]?.HttpHeaderConfig?.Values).toEqual(["acme"]);
      // The weighted rule was not touched.
      expect(await forward(w)).toMatchObject({ stable: 100, gray: 0 });
    } finally {
      c.destroy();
    }
  });
});
