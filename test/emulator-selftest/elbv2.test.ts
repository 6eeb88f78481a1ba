import { DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand } from "@aws-sdk/client-auto-scaling";
import {
  type Action,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ModifyRuleCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { buildAwsFixture } from "../support/aws-fixture.js";
import { useEmulator } from "./helpers.js";

const { emu, aws } = useEmulator();

async function health(targetGroupArn: string): Promise<Record<string, { state?: string; reason?: string }>> {
  const out = await aws().elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return Object.fromEntries(
    (out.TargetHealthDescriptions ?? []).map((d) => [
      d.Target!.Id!,
      { state: d.TargetHealth?.State, reason: d.TargetHealth?.Reason },
    ]),
  );
}

async function asgInstanceIds(asgName: string): Promise<string[]> {
  const out = await aws().autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asgName] }),
  );
  return (out.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId!);
}

describe("ELBv2 weighted forward action", () => {
  it("keeps weights and group stickiness through ModifyRule -> DescribeRules", async () => {
    const fx = await buildAwsFixture(aws(), { stickiness: { enabled: true, durationSeconds: 3600 } });
    const before = await aws().elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }));
    const rule = before.Rules![0]!;
    expect(rule.Actions?.[0]?.ForwardConfig?.TargetGroups).toEqual([
      expect.objectContaining({ TargetGroupArn: fx.stable.targetGroupArn, Weight: 100 }),
      expect.objectContaining({ TargetGroupArn: fx.gray.targetGroupArn, Weight: 0 }),
    ]);

    // Change only the weights, write the whole action list back, as an adapter must.
    const actions: Action[] = (rule.Actions ?? []).map((a) =>
      a.Type !== "forward"
        ? a
        : {
            ...a,
            ForwardConfig: {
              ...a.ForwardConfig,
              TargetGroups: a.ForwardConfig!.TargetGroups!.map((tg) => ({
                ...tg,
                Weight: tg.TargetGroupArn === fx.gray.targetGroupArn ? 25 : 75,
              })),
            },
          },
    );
    await aws().elb.send(new ModifyRuleCommand({ RuleArn: fx.ruleArn, Actions: actions }));

    const after = await aws().elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }));
    const forward = after.Rules![0]!.Actions!.find((a) => a.Type === "forward")!.ForwardConfig!;
    expect(forward.TargetGroups).toEqual([
      expect.objectContaining({ TargetGroupArn: fx.stable.targetGroupArn, Weight: 75 }),
      expect.objectContaining({ TargetGroupArn: fx.gray.targetGroupArn, Weight: 25 }),
    ]);
    expect(forward.TargetGroupStickinessConfig).toEqual({ Enabled: true, DurationSeconds: 3600 });
    expect(after.Rules![0]!.Conditions).toEqual(rule.Conditions);
    expect(after.Rules![0]!.Priority).toBe("10");

    // Turning stickiness off is a write like any other and reads back.
    await aws().elb.send(
      new ModifyRuleCommand({
        RuleArn: fx.ruleArn,
        Actions: [
          { Type: "forward", ForwardConfig: { ...forward, TargetGroupStickinessConfig: { Enabled: false } } },
        ],
      }),
    );
    const off = await aws().elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }));
    expect(off.Rules![0]!.Actions![0]!.ForwardConfig!.TargetGroupStickinessConfig?.Enabled).toBe(false);
  });
});

describe("ELBv2 target health", () => {
  it("reports what the data plane set through the control endpoint", async () => {
    const fx = await buildAwsFixture(aws());
    const [a, b] = await asgInstanceIds(fx.stable.asgName);
    expect(await health(fx.stable.targetGroupArn)).toEqual({
      [a!]: { state: "healthy" },
      [b!]: { state: "healthy" },
    });

    await emu().setTargetHealth({
      targetGroupArn: fx.stable.targetGroupArn,
      targetId: a!,
      state: "unhealthy",
    });
    await emu().setTargetHealth([
      {
        targetGroupArn: fx.stable.targetGroupArn,
        targetId: b!,
        state: "unhealthy",
        reason: "Target.ResponseCodeMismatch",
        description: "Health checks failed with these codes: [503]",
      },
    ]);
    const out = await aws().elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: fx.stable.targetGroupArn }),
    );
    const byId = Object.fromEntries(
      (out.TargetHealthDescriptions ?? []).map((d) => [d.Target!.Id!, d.TargetHealth]),
    );
    expect(byId[a!]).toEqual({
      State: "unhealthy",
      Reason: "Target.FailedHealthChecks",
      Description: "Health checks failed",
    });
    expect(byId[b!]).toEqual({
      State: "unhealthy",
      Reason: "Target.ResponseCodeMismatch",
      Description: "Health checks failed with these codes: [503]",
    });

    await emu().setTargetHealth({ targetGroupArn: fx.stable.targetGroupArn, targetId: a!, state: "healthy" });
    expect((await health(fx.stable.targetGroupArn))[a!]).toEqual({ state: "healthy" });
  });

  it("starts new targets in `initial` when switched on, until reported", async () => {
    const fx = await buildAwsFixture(aws());
    const old = await asgInstanceIds(fx.stable.asgName);
    expect(await emu().configure({ newTargetsInitial: true })).toMatchObject({ newTargetsInitial: true });
    await aws().autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: fx.stable.asgName, DesiredCapacity: 3 }),
    );
    const added = (await asgInstanceIds(fx.stable.asgName)).find((id) => !old.includes(id))!;
    const h = await health(fx.stable.targetGroupArn);
    expect(h[added]).toEqual({ state: "initial", reason: "Elb.RegistrationInProgress" });
    expect(h[old[0]!]).toEqual({ state: "healthy" });

    await emu().setTargetHealth({
      targetGroupArn: fx.stable.targetGroupArn,
      targetId: added,
      state: "healthy",
    });
    expect((await health(fx.stable.targetGroupArn))[added]).toEqual({ state: "healthy" });
  });

  it("rejects reports for unknown target groups, unregistered targets and unknown states", async () => {
    const fx = await buildAwsFixture(aws());
    const [a] = await asgInstanceIds(fx.stable.asgName);
    await expect(
      emu().setTargetHealth({
        targetGroupArn: `${fx.stable.targetGroupArn}x`,
        targetId: a!,
        state: "healthy",
      }),
    ).rejects.toThrow(/404.*not found/);
    await expect(
      emu().setTargetHealth({ targetGroupArn: fx.gray.targetGroupArn, targetId: a!, state: "healthy" }),
    ).rejects.toThrow(/409.*not registered/);
    await expect(
      emu().setTargetHealth({
        targetGroupArn: fx.stable.targetGroupArn,
        targetId: a!,
        state: "sick" as unknown as "healthy",
      }),
    ).rejects.toThrow(/400.*state must be one of/);
  });

  it("forgets reported health and the initial switch on reset", async () => {
    const fx = await buildAwsFixture(aws());
    const [a] = await asgInstanceIds(fx.stable.asgName);
    await emu().setTargetHealth({
      targetGroupArn: fx.stable.targetGroupArn,
      targetId: a!,
      state: "unhealthy",
    });
    await emu().configure({ newTargetsInitial: true, refreshStepSeconds: 0.05 });

    await emu().reset();
    expect(await emu().configure({})).toEqual({
      newTargetsInitial: false,
      refreshStepSeconds: 0.2,
      refreshesPaused: false,
    });
    const again = await buildAwsFixture(aws());
    const h = await health(again.stable.targetGroupArn);
    expect(Object.values(h)).toEqual([{ state: "healthy" }, { state: "healthy" }]);
  });
});
