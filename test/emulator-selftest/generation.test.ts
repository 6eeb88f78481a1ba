/**
 * GET /_gray/generation: the number a test's data plane (test/aws/support/data-plane.ts) compares
 * before reading the AWS API again. A write that a data plane reads and that does NOT move it would
 * leave the emulated load balancer on a stale view (for up to its 2 s backstop), so each kind of
 * write it must see is checked here, through the real SDK; and the calls that must not move it (so
 * that the data plane's polling stays cheap) are checked too.
 */
import {
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ModifyRuleCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { buildAwsFixture } from "../support/aws-fixture.js";
import { useEmulator, waitFor } from "./helpers.js";

const { emu, aws } = useEmulator();

/** How much `act` moved the generation. */
async function moved(act: () => Promise<unknown>): Promise<number> {
  const before = await emu().generation();
  await act();
  return (await emu().generation()) - before;
}

describe("the data plane's change generation", () => {
  it("moves on every write a data plane reads, and on a reset", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 1, grayCapacity: 0 });
    const rule = (await aws().elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }))).Rules![0]!;

    // Weights (ELBv2 ModifyRule).
    expect(
      await moved(() =>
        aws().elb.send(new ModifyRuleCommand({ RuleArn: fx.ruleArn, Actions: rule.Actions })),
      ),
    ).toBeGreaterThan(0);
    // Instances and their registration (Auto Scaling).
    expect(
      await moved(() =>
        aws().autoScaling.send(
          new SetDesiredCapacityCommand({ AutoScalingGroupName: fx.gray.asgName, DesiredCapacity: 1 }),
        ),
      ),
    ).toBeGreaterThan(0);
    const grayIds = await waitFor("a gray instance registered", async () => {
      const out = await aws().elb.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: fx.gray.targetGroupArn }),
      );
      const ids = (out.TargetHealthDescriptions ?? []).map((d) => d.Target!.Id!);
      return ids.length > 0 && ids;
    });
    // Target health, as the data plane reports it (a control call).
    expect(
      await moved(() =>
        emu().setTargetHealth({
          targetGroupArn: fx.gray.targetGroupArn,
          targetId: grayIds[0]!,
          state: "unhealthy",
        }),
      ),
    ).toBeGreaterThan(0);
    // A reset empties everything a data plane read.
    expect(await moved(() => emu().reset())).toBeGreaterThan(0);
  });

  it("moves while an instance refresh replaces instances, with no call at all", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 2, grayCapacity: 0 });
    await aws().autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: fx.stable.asgName,
        Preferences: { MinHealthyPercentage: 50, SkipMatching: false },
      }),
    );
    const started = await emu().generation();
    // The worker's steps (Pending -> InProgress, launches, terminations) move it on their own.
    await waitFor("the generation to move without a call", async () => (await emu().generation()) > started);
    const ids = await aws().autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [fx.stable.asgName] }),
    );
    expect(ids.AutoScalingGroups?.[0]?.Instances?.length).toBeGreaterThan(0);
  });

  it("stays put on reads, on metrics and on the state table: what a data plane polls costs no re-read", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 1, grayCapacity: 0 });
    const table = fx.stateTableName!;
    expect(
      await moved(async () => {
        await aws().elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }));
        await aws().elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: fx.stable.targetGroupArn }));
        await aws().autoScaling.send(
          new DescribeAutoScalingGroupsCommand({
            AutoScalingGroupNames: [fx.stable.asgName, fx.gray.asgName],
          }),
        );
        await aws().ec2.send(
          new DescribeLaunchTemplateVersionsCommand({
            LaunchTemplateId: fx.launchTemplate.id,
            Versions: ["1"],
          }),
        );
        await aws().cloudWatch.send(
          new PutMetricDataCommand({
            Namespace: "AWS/ApplicationELB",
            MetricData: [{ MetricName: "RequestCount", Value: 1 }],
          }),
        );
        await aws().dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "lease" } } }));
        await aws().dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: "lease" } } }));
        await emu().generation();
      }),
    ).toBe(0);
  });
});
