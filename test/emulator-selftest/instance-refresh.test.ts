import {
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
  RollbackInstanceRefreshCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
  type StartInstanceRefreshCommandInput,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { PutMetricAlarmCommand, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { CreateLaunchTemplateVersionCommand, DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { type AwsFixture, buildAwsFixture, encodeUserData, userDataScript } from "../support/aws-fixture.js";
import { useEmulator, waitFor } from "./helpers.js";

const { emu, aws } = useEmulator();

interface Snapshot {
  refresh: InstanceRefresh;
  instances: { id: string; version: string }[];
  targets: string[];
}

async function group(asgName: string) {
  const out = await aws().autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asgName] }),
  );
  return out.AutoScalingGroups![0]!;
}

async function instances(asgName: string): Promise<{ id: string; version: string }[]> {
  return ((await group(asgName)).Instances ?? [])
    .map((i) => ({ id: i.InstanceId!, version: i.LaunchTemplate!.Version! }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

async function targets(targetGroupArn: string): Promise<string[]> {
  const out = await aws().elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (out.TargetHealthDescriptions ?? []).map((d) => d.Target!.Id!).sort();
}

async function refreshOf(asgName: string, id?: string): Promise<InstanceRefresh> {
  const out = await aws().autoScaling.send(
    new DescribeInstanceRefreshesCommand({
      AutoScalingGroupName: asgName,
      ...(id ? { InstanceRefreshIds: [id] } : {}),
    }),
  );
  return out.InstanceRefreshes![0]!;
}

async function v2(fx: AwsFixture): Promise<string> {
  const v = await aws().ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: fx.launchTemplate.id,
      SourceVersion: "1",
      LaunchTemplateData: { UserData: encodeUserData(userDataScript(fx.image.replace("1.4.2", "1.5.0"))) },
    }),
  );
  return String(v.LaunchTemplateVersion!.VersionNumber);
}

/** Starts a refresh, then records every state seen until it ends. */
async function runRefresh(
  fx: AwsFixture,
  input: Omit<StartInstanceRefreshCommandInput, "AutoScalingGroupName">,
  during?: (s: Snapshot) => Promise<void>,
): Promise<{ id: string; seen: Snapshot[]; final: Snapshot }> {
  const asgName = fx.stable.asgName;
  const started = await aws().autoScaling.send(
    new StartInstanceRefreshCommand({ AutoScalingGroupName: asgName, ...input }),
  );
  const id = started.InstanceRefreshId!;
  const seen: Snapshot[] = [];
  const final = await waitFor(`instance refresh ${id} to end`, async () => {
    const snap = {
      refresh: await refreshOf(asgName, id),
      instances: await instances(asgName),
      targets: await targets(fx.stable.targetGroupArn),
    };
    seen.push(snap);
    await during?.(snap);
    const done = ["Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"];
    return done.includes(snap.refresh.Status!) ? snap : undefined;
  });
  return { id, seen, final };
}

/**
 * A refresh step long enough for this test to see each state the refresh passes through: `base`
 * seconds, or five times what one look (the three calls of a snapshot) takes right now, whichever is
 * longer. Steps shorter than a look were a race a loaded machine lost: states between two looks
 * went unseen (no partial progress, no RollbackInProgress, a refresh done before it could be paused).
 */
async function observableStep(fx: AwsFixture, base: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all([
    aws().autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: fx.stable.asgName })),
    instances(fx.stable.asgName),
    targets(fx.stable.targetGroupArn),
  ]);
  return Math.max(base, (5 * (performance.now() - t0)) / 1000);
}

const statuses = (seen: Snapshot[]): string[] =>
  seen.map((s) => s.refresh.Status!).filter((s, i, all) => all[i - 1] !== s);

// Steps scale with the machine (observableStep): the timeout only bounds a refresh that never ends.
describe("instance refresh", { timeout: 180_000 }, () => {
  it("replaces every instance with one on the desired version, then moves the group to it", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 3 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 0.1) });
    const version = await v2(fx);
    const before = await instances(fx.stable.asgName);

    const { id, seen, final } = await runRefresh(fx, {
      Strategy: "Rolling",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version } },
      Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 60, AutoRollback: true, SkipMatching: false },
    });

    // Pending lasts one step and may fall between two polls.
    expect(statuses(seen).filter((s) => s !== "Pending")).toEqual(["InProgress", "Successful"]);
    const progress = seen
      .filter((s) => s.refresh.Status === "InProgress")
      .map((s) => s.refresh.PercentageComplete!);
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true);
    // MinHealthyPercentage 50 of 3: one instance at a time, never fewer than 2 registered.
    expect(Math.min(...seen.map((s) => s.targets.length))).toBeGreaterThanOrEqual(2);

    expect(final.refresh).toMatchObject({
      InstanceRefreshId: id,
      Status: "Successful",
      PercentageComplete: 100,
      InstancesToUpdate: 0,
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version } },
      Preferences: expect.objectContaining({
        MinHealthyPercentage: 50,
        InstanceWarmup: 60,
        AutoRollback: true,
      }),
    });
    expect(final.refresh.EndTime).toBeInstanceOf(Date);
    expect(final.instances).toHaveLength(3);
    expect(final.instances.every((i) => i.version === version)).toBe(true);
    expect(final.instances.some((i) => before.some((b) => b.id === i.id))).toBe(false);
    expect(final.targets).toEqual(final.instances.map((i) => i.id));

    const old = await aws().ec2.send(new DescribeInstancesCommand({ InstanceIds: before.map((b) => b.id) }));
    expect(new Set(old.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name))).toEqual(
      new Set(["terminated"]),
    );
    expect((await group(fx.stable.asgName)).LaunchTemplate).toEqual({
      LaunchTemplateId: fx.launchTemplate.id,
      LaunchTemplateName: fx.launchTemplate.name,
      Version: version,
    });
  });

  it("holds every refresh where it stands while refreshesPaused, then goes on from there", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 2 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 0.05) });
    const version = await v2(fx);
    let paused: { at: InstanceRefresh; after: InstanceRefresh } | null = null;
    const { final } = await runRefresh(
      fx,
      {
        DesiredConfiguration: {
          LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version },
        },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0 },
      },
      async (snap) => {
        if (paused !== null || snap.refresh.Status !== "InProgress") return;
        await emu().configure({ refreshesPaused: true });
        const at = await refreshOf(fx.stable.asgName, snap.refresh.InstanceRefreshId);
        // Twenty steps' time: nothing moves.
        await new Promise((r) => setTimeout(r, 1000));
        paused = { at, after: await refreshOf(fx.stable.asgName, snap.refresh.InstanceRefreshId) };
        expect(await emu().configure({ refreshesPaused: false })).toMatchObject({ refreshesPaused: false });
      },
    );
    expect(paused).not.toBeNull();
    const { at, after } = paused!;
    expect(after.Status).toBe("InProgress");
    expect(after.PercentageComplete).toBe(at.PercentageComplete);
    expect(after.InstancesToUpdate).toBe(at.InstancesToUpdate);
    expect(final.refresh.Status).toBe("Successful");
    expect(final.instances.every((i) => i.version === version)).toBe(true);
  });

  it("launches before terminating when MaxHealthyPercentage > 100, and skips matching instances", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 2 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 0.05) });
    const version = await v2(fx);
    // One instance already on the new version: SkipMatching leaves it alone.
    await aws().autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: fx.stable.asgName,
        LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version },
        DesiredCapacity: 3,
      }),
    );
    const before = await instances(fx.stable.asgName);
    const matching = before.filter((i) => i.version === version);
    expect(matching).toHaveLength(1);

    const { seen, final } = await runRefresh(fx, {
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version } },
      Preferences: { MinHealthyPercentage: 100, MaxHealthyPercentage: 200, SkipMatching: true },
    });
    expect(seen[0]!.refresh.InstancesToUpdate).toBe(2);
    expect(Math.min(...seen.map((s) => s.targets.length))).toBeGreaterThanOrEqual(3);
    expect(final.refresh.Status).toBe("Successful");
    expect(final.instances.map((i) => i.version)).toEqual([version, version, version]);
    expect(final.instances.map((i) => i.id)).toContain(matching[0]!.id);
  });

  it("fails on demand and, with AutoRollback, returns to the previous version and instances", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 3 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 0.1) });
    const version = await v2(fx);
    const before = await instances(fx.stable.asgName);
    await emu().failNextInstanceRefresh({ autoScalingGroupName: fx.stable.asgName, afterInstances: 1 });

    const { seen, final } = await runRefresh(fx, {
      DesiredConfiguration: {
        LaunchTemplate: { LaunchTemplateName: fx.launchTemplate.name, Version: version },
      },
      Preferences: { MinHealthyPercentage: 60, AutoRollback: true },
    });

    expect(statuses(seen)).toContain("RollbackInProgress");
    expect(seen.some((s) => s.instances.some((i) => i.version === version))).toBe(true);
    expect(final.refresh.Status).toBe("RollbackSuccessful");
    expect(final.refresh.StatusReason).toMatch(/failed/i);
    expect(final.refresh.RollbackDetails).toMatchObject({
      RollbackReason: expect.stringMatching(/AutoRollback/),
      PercentageCompleteOnRollback: 33,
      InstancesToUpdateOnRollback: 2,
    });
    expect(final.refresh.RollbackDetails?.RollbackStartTime).toBeInstanceOf(Date);

    expect(final.instances).toHaveLength(3);
    expect(final.instances.every((i) => i.version === "1")).toBe(true);
    // The two instances the refresh never reached are the same instances as before.
    expect(final.instances.filter((i) => before.some((b) => b.id === i.id))).toHaveLength(2);
    expect(final.targets).toEqual(final.instances.map((i) => i.id));
    expect((await group(fx.stable.asgName)).LaunchTemplate?.Version).toBe("1");

    // The failure was for that one refresh only: the next one succeeds.
    const next = await runRefresh(fx, {
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version } },
      Preferences: { MinHealthyPercentage: 0, AutoRollback: true },
    });
    expect(next.final.refresh.Status).toBe("Successful");
    const history = await aws().autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: fx.stable.asgName }),
    );
    expect(history.InstanceRefreshes?.map((r) => r.Status)).toEqual(["Successful", "RollbackSuccessful"]);
  });

  it("without AutoRollback a failed refresh is Failed and the group keeps its launch template", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 2 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 0.05) });
    const version = await v2(fx);
    await emu().failNextInstanceRefresh({
      autoScalingGroupName: fx.stable.asgName,
      afterInstances: 1,
      reason: "Instance refresh failed: scripted by the test.",
    });
    const { final } = await runRefresh(fx, {
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version } },
      Preferences: { MinHealthyPercentage: 50 },
    });
    expect(final.refresh).toMatchObject({
      Status: "Failed",
      StatusReason: "Instance refresh failed: scripted by the test.",
      PercentageComplete: 50,
    });
    expect(final.instances.map((i) => i.version).sort()).toEqual(["1", version]);
    expect((await group(fx.stable.asgName)).LaunchTemplate?.Version).toBe("1");
  });

  it("waits for new targets to be reported healthy, and fails when one is reported unhealthy", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 2 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 0.05), newTargetsInitial: true });
    const version = await v2(fx);
    const before = await instances(fx.stable.asgName);
    await aws().autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: fx.stable.asgName,
        DesiredConfiguration: {
          LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version },
        },
        Preferences: { MinHealthyPercentage: 50, AutoRollback: true },
      }),
    );
    const fresh = await waitFor("the first replacement", async () => {
      const now = await instances(fx.stable.asgName);
      return now.find((i) => i.version === version);
    });
    // Not reported: the refresh stays at 0% however long it waits.
    await new Promise((r) => setTimeout(r, 400));
    expect(await refreshOf(fx.stable.asgName)).toMatchObject({ Status: "InProgress", PercentageComplete: 0 });

    await emu().setTargetHealth({
      targetGroupArn: fx.stable.targetGroupArn,
      targetId: fresh.id,
      state: "healthy",
    });
    await waitFor("50%", async () => (await refreshOf(fx.stable.asgName)).PercentageComplete === 50);
    const second = await waitFor("the second replacement", async () => {
      const now = await instances(fx.stable.asgName);
      return now.find((i) => i.version === version && i.id !== fresh.id);
    });
    await emu().setTargetHealth({
      targetGroupArn: fx.stable.targetGroupArn,
      targetId: second.id,
      state: "unhealthy",
      reason: "Target.ResponseCodeMismatch",
    });
    const ended = await waitFor("rollback", async () => {
      const r = await refreshOf(fx.stable.asgName);
      return r.Status === "RollbackInProgress" ? r : undefined;
    });
    expect(ended.StatusReason).toContain(
      `Instance ${second.id} failed Elastic Load Balancing health checks.`,
    );
    // Rollback instances are new targets too: report them healthy as a data plane would.
    const rolledBack = await waitFor("rollback to finish", async () => {
      const r = await refreshOf(fx.stable.asgName);
      if (r.Status !== "RollbackInProgress") return r;
      const now = await instances(fx.stable.asgName);
      const fresh1 = now.filter((i) => i.version === "1" && !before.some((b) => b.id === i.id));
      if (fresh1.length) {
        await emu().setTargetHealth(
          fresh1.map((i) => ({
            targetGroupArn: fx.stable.targetGroupArn,
            targetId: i.id,
            state: "healthy" as const,
          })),
        );
      }
      return undefined;
    });
    expect(rolledBack.Status).toBe("RollbackSuccessful");
    expect((await instances(fx.stable.asgName)).map((i) => i.version)).toEqual(["1", "1"]);
  });

  it("cancels, and rolls back on request", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 4 });
    const step = await observableStep(fx, 0.15);
    await emu().configure({ refreshStepSeconds: step });
    const version = await v2(fx);
    const input = {
      AutoScalingGroupName: fx.stable.asgName,
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version } },
      Preferences: { MinHealthyPercentage: 75 },
    };

    await aws().autoScaling.send(new StartInstanceRefreshCommand(input));
    await waitFor("25%", async () => (await refreshOf(fx.stable.asgName)).PercentageComplete! >= 25);
    await aws().autoScaling.send(
      new CancelInstanceRefreshCommand({ AutoScalingGroupName: fx.stable.asgName }),
    );
    expect((await refreshOf(fx.stable.asgName)).Status).toBe("Cancelling");
    const cancelled = await waitFor("Cancelled", async () => {
      const r = await refreshOf(fx.stable.asgName);
      return r.Status === "Cancelled" ? r : undefined;
    });
    expect(cancelled.PercentageComplete).toBeLessThan(100);
    // Cancel keeps what was replaced and leaves the group's launch template alone.
    const mixed = await instances(fx.stable.asgName);
    expect(mixed.filter((i) => i.version === version).length).toBeGreaterThan(0);
    expect((await group(fx.stable.asgName)).LaunchTemplate?.Version).toBe("1");

    // Slower steps: the rollback below must land before the refresh reaches the cancelled one's instances.
    await emu().configure({ refreshStepSeconds: 2 * step });
    await aws().autoScaling.send(new StartInstanceRefreshCommand(input));
    await waitFor("progress", async () => (await refreshOf(fx.stable.asgName)).PercentageComplete! > 0);
    const rb = await aws().autoScaling.send(
      new RollbackInstanceRefreshCommand({ AutoScalingGroupName: fx.stable.asgName }),
    );
    const done = await waitFor("RollbackSuccessful", async () => {
      const r = await refreshOf(fx.stable.asgName, rb.InstanceRefreshId);
      return r.Status === "RollbackSuccessful" ? r : undefined;
    });
    expect(done.RollbackDetails?.RollbackReason).toMatch(/user/);
    // Only what the rolled-back refresh launched is replaced; the cancelled one's are kept.
    const after = await instances(fx.stable.asgName);
    expect(after.filter((i) => i.version === version).map((i) => i.id)).toEqual(
      mixed.filter((i) => i.version === version).map((i) => i.id),
    );
  });

  it("answers with AWS's errors", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 1 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 1) });
    const version = await v2(fx);
    const asgName = fx.stable.asgName;
    const lt = { LaunchTemplateId: fx.launchTemplate.id, Version: version };
    const errorOf = async (p: Promise<unknown>) =>
      p.then(
        () => "no error",
        (e: Error) => `${e.name}: ${e.message}`,
      );

    expect(
      await errorOf(
        aws().autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: asgName })),
      ),
    ).toMatch(/^ActiveInstanceRefreshNotFound/);
    expect(
      await errorOf(
        aws().autoScaling.send(
          new StartInstanceRefreshCommand({
            AutoScalingGroupName: asgName,
            DesiredConfiguration: { LaunchTemplate: { ...lt, Version: "$Latest" } },
            Preferences: { AutoRollback: true },
          }),
        ),
      ),
    ).toMatch(/^ValidationError: AutoRollback is not supported/);
    expect(
      await errorOf(
        aws().autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: "nope" })),
      ),
    ).toMatch(/^ValidationError: AutoScalingGroup name not found/);

    await aws().autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: asgName }));
    expect(
      await errorOf(
        aws().autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: asgName })),
      ),
    ).toMatch(/^InstanceRefreshInProgress/);
    // No desired configuration: nothing to roll back to.
    expect(
      await errorOf(
        aws().autoScaling.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: asgName })),
      ),
    ).toMatch(/^IrreversibleInstanceRefresh/);
    await aws().autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: asgName }));
  });

  it("keeps capacity changes working after a refresh", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 1 });
    await emu().configure({ refreshStepSeconds: await observableStep(fx, 0.05) });
    const version = await v2(fx);
    await runRefresh(fx, {
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version } },
      Preferences: { MinHealthyPercentage: 0 },
    });
    await aws().autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: fx.stable.asgName, DesiredCapacity: 2 }),
    );
    const now = await instances(fx.stable.asgName);
    expect(now.map((i) => i.version)).toEqual([version, version]);
    expect(await targets(fx.stable.targetGroupArn)).toEqual(now.map((i) => i.id));
  });

  it("pauses at each checkpoint for CheckpointDelay, then goes on (checkpoints are validated)", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 2 });
    await emu().configure({ refreshStepSeconds: 0.05 });
    const version = await v2(fx);
    const lt = { LaunchTemplateId: fx.launchTemplate.id, Version: version };
    const refused = (prefs: Record<string, unknown>) =>
      aws()
        .autoScaling.send(
          new StartInstanceRefreshCommand({
            AutoScalingGroupName: fx.stable.asgName,
            DesiredConfiguration: { LaunchTemplate: lt },
            Preferences: prefs,
          }),
        )
        .then(
          () => "no error",
          (e: Error) => `${e.name}: ${e.message}`,
        );
    expect(await refused({ CheckpointDelay: 5 })).toMatch(/^ValidationError: CheckpointDelay requires/);
    expect(await refused({ CheckpointPercentages: [100, 50] })).toMatch(
      /^ValidationError: CheckpointPercentages/,
    );

    const { seen, final } = await runRefresh(fx, {
      DesiredConfiguration: { LaunchTemplate: lt },
      // One instance at a time: the first makes 50%, where the refresh waits one second.
      Preferences: { MinHealthyPercentage: 50, CheckpointPercentages: [50, 100], CheckpointDelay: 1 },
    });
    const atCheckpoint = seen.filter(
      (x) => x.refresh.Status === "InProgress" && x.refresh.PercentageComplete === 50,
    );
    expect(atCheckpoint[0]?.refresh.StatusReason).toMatch(/checkpoint 50%/);
    // Polled every ~50 ms, a one-second wait is seen many times.
    expect(atCheckpoint.length).toBeGreaterThan(3);
    expect(final.refresh.Status).toBe("Successful");
    expect(final.refresh.Preferences).toMatchObject({ CheckpointPercentages: [50, 100], CheckpointDelay: 1 });
    expect(final.instances.map((i) => i.version)).toEqual([version, version]);
  });

  it("fails on an alarm of its AlarmSpecification in ALARM and, with AutoRollback, rolls back", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 2 });
    await emu().configure({ refreshStepSeconds: 0.1 });
    const version = await v2(fx);
    await aws().cloudWatch.send(
      new PutMetricAlarmCommand({
        AlarmName: "gatewaypix-gray-5xx",
        Namespace: "AWS/ApplicationELB",
        MetricName: "HTTPCode_Target_5XX_Count",
        Statistic: "Sum",
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 10,
        ComparisonOperator: "GreaterThanThreshold",
      }),
    );
    let fired = false;
    const { final } = await runRefresh(
      fx,
      {
        DesiredConfiguration: {
          LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: version },
        },
        Preferences: {
          MinHealthyPercentage: 50,
          AutoRollback: true,
          AlarmSpecification: { Alarms: ["gatewaypix-gray-5xx"] },
        },
      },
      async (snap) => {
        if (fired || snap.refresh.Status !== "InProgress") return;
        fired = true;
        await aws().cloudWatch.send(
          new SetAlarmStateCommand({
            AlarmName: "gatewaypix-gray-5xx",
            StateValue: "ALARM",
            StateReason: "test: the release fails payments",
          }),
        );
      },
    );
    expect(final.refresh.Status).toBe("RollbackSuccessful");
    expect(final.refresh.RollbackDetails?.RollbackReason).toMatch(/gatewaypix-gray-5xx is in ALARM/);
    expect(final.refresh.Preferences?.AlarmSpecification).toEqual({ Alarms: ["gatewaypix-gray-5xx"] });
    expect(final.instances.map((i) => i.version)).toEqual(["1", "1"]);
  });
});
