import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateLaunchTemplateVersionCommand, DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { type AwsFixture, buildAwsFixture, encodeUserData, userDataScript } from "../support/aws-fixture.js";
import { useEmulator } from "./helpers.js";

const { aws } = useEmulator();

async function groupInstances(asgName: string): Promise<{ id: string; version: string | undefined }[]> {
  const out = await aws().autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asgName] }),
  );
  return (out.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => ({
    id: i.InstanceId!,
    version: i.LaunchTemplate?.Version,
  }));
}

async function registeredTargets(targetGroupArn: string): Promise<string[]> {
  const out = await aws().elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (out.TargetHealthDescriptions ?? []).map((d) => d.Target!.Id!).sort();
}

async function newVersion(fx: AwsFixture, tag: string): Promise<string> {
  const v = await aws().ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: fx.launchTemplate.id,
      SourceVersion: fx.launchTemplate.version,
      LaunchTemplateData: { UserData: encodeUserData(userDataScript(fx.image.replace("1.4.2", tag))) },
    }),
  );
  return String(v.LaunchTemplateVersion!.VersionNumber);
}

describe("Auto Scaling", () => {
  it("records the launch template version each instance was launched from", async () => {
    const fx = await buildAwsFixture(aws());
    const before = await groupInstances(fx.stable.asgName);
    expect(before).toHaveLength(2);
    expect(before.every((i) => i.version === "1")).toBe(true);

    const v2 = await newVersion(fx, "1.5.0");
    // Making v2 the template's default must not change what old instances report.
    await aws().autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: fx.stable.asgName,
        LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: v2 },
      }),
    );
    await aws().autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: fx.stable.asgName, DesiredCapacity: 3 }),
    );
    const after = await groupInstances(fx.stable.asgName);
    const added = after.filter((i) => !before.some((b) => b.id === i.id));
    expect(added).toEqual([{ id: expect.stringMatching(/^i-/), version: v2 }]);
    expect(
      after
        .filter((i) => i.version === "1")
        .map((i) => i.id)
        .sort(),
    ).toEqual(before.map((i) => i.id).sort());

    const described = await aws().autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: after.map((i) => i.id) }),
    );
    const versions = Object.fromEntries(
      (described.AutoScalingInstances ?? []).map((i) => [i.InstanceId, i.LaunchTemplate?.Version]),
    );
    expect(versions[added[0]!.id]).toBe(v2);
    expect(versions[before[0]!.id]).toBe("1");

    const ec2 = await aws().ec2.send(new DescribeInstancesCommand({ InstanceIds: [added[0]!.id] }));
    const instance = ec2.Reservations?.[0]?.Instances?.[0];
    expect(instance?.Tags).toContainEqual({ Key: "aws:ec2launchtemplate:version", Value: v2 });
    expect(instance?.Tags).toContainEqual({ Key: "gray-deploy:role", Value: "stable" });

    // The group itself reports the version it launches now.
    const group = await aws().autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [fx.stable.asgName] }),
    );
    expect(group.AutoScalingGroups?.[0]?.LaunchTemplate?.Version).toBe(v2);
  });

  it("spreads instances over the group's subnets", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 4 });
    const ids = (await groupInstances(fx.stable.asgName)).map((i) => i.id);
    const ec2 = await aws().ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    const subnets = new Set(ec2.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.SubnetId));
    expect(subnets).toEqual(new Set(fx.subnetIds));
  });

  it("registers launched instances in the group's target group and deregisters them on scale-in", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 3 });
    const three = (await groupInstances(fx.stable.asgName)).map((i) => i.id).sort();
    expect(await registeredTargets(fx.stable.targetGroupArn)).toEqual(three);
    expect(await registeredTargets(fx.gray.targetGroupArn)).toEqual([]);

    await aws().autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: fx.stable.asgName, DesiredCapacity: 1 }),
    );
    const one = (await groupInstances(fx.stable.asgName)).map((i) => i.id);
    expect(one).toHaveLength(1);
    expect(await registeredTargets(fx.stable.targetGroupArn)).toEqual(one);

    // Asked by id, a terminated target is draining (deregistration in progress), never healthy.
    const gone = three.filter((id) => !one.includes(id));
    const health = await aws().elb.send(
      new DescribeTargetHealthCommand({
        TargetGroupArn: fx.stable.targetGroupArn,
        Targets: [{ Id: gone[0]! }],
      }),
    );
    expect(health.TargetHealthDescriptions?.[0]?.TargetHealth?.State).toBe("draining");
    const ec2 = await aws().ec2.send(new DescribeInstancesCommand({ InstanceIds: gone }));
    expect(ec2.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name)).toEqual([
      "terminated",
      "terminated",
    ]);
  });

  it("deregisters on TerminateInstanceInAutoScalingGroup and DetachInstances", async () => {
    const fx = await buildAwsFixture(aws(), { stableCapacity: 3 });
    const [a, b, c] = (await groupInstances(fx.stable.asgName)).map((i) => i.id);
    await aws().autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: a!,
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    expect(await registeredTargets(fx.stable.targetGroupArn)).toEqual([b!, c!].sort());

    await aws().autoScaling.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: fx.stable.asgName,
        InstanceIds: [b!],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    expect(await registeredTargets(fx.stable.targetGroupArn)).toEqual([c!]);
    const detached = await aws().elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: fx.stable.targetGroupArn, Targets: [{ Id: b! }] }),
    );
    expect(detached.TargetHealthDescriptions?.[0]?.TargetHealth?.Reason).toBe("Target.NotRegistered");
  });
});
