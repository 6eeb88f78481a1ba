import {
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateVersionCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { buildAwsFixture, decodeUserData, encodeUserData, userDataScript } from "../support/aws-fixture.js";
import { useEmulator } from "./helpers.js";

const { aws } = useEmulator();

describe("EC2 CreateLaunchTemplateVersion", () => {
  it("stores UserData as AWS returns it, and an ASG can launch the new version", async () => {
    const fx = await buildAwsFixture(aws());
    const next = fx.image.replace(":1.4.2", ":1.5.0");
    const created = await aws().ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: fx.launchTemplate.id,
        SourceVersion: "1",
        VersionDescription: "release 1.5.0",
        LaunchTemplateData: { UserData: encodeUserData(userDataScript(next)) },
      }),
    );
    expect(created.LaunchTemplateVersion?.VersionNumber).toBe(2);

    const v2 = await aws().ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: fx.launchTemplate.id, Versions: ["2"] }),
    );
    const data = v2.LaunchTemplateVersions?.[0]?.LaunchTemplateData;
    expect(decodeUserData(data?.UserData ?? "")).toContain(`IMAGE=${next}`);

    // The ASG launch that moto 5.2.4 answered with HTTP 500.
    await aws().autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: fx.gray.asgName,
        LaunchTemplate: { LaunchTemplateId: fx.launchTemplate.id, Version: "2" },
        DesiredCapacity: 1,
      }),
    );
    const group = await aws().autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [fx.gray.asgName] }),
    );
    const instanceId = group.AutoScalingGroups?.[0]?.Instances?.[0]?.InstanceId;
    expect(instanceId).toMatch(/^i-/);
    const instances = await aws().ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId!] }));
    const tags = instances.Reservations?.[0]?.Instances?.[0]?.Tags ?? [];
    expect(tags).toContainEqual({ Key: "aws:ec2launchtemplate:version", Value: "2" });
  });

  it("copies the SourceVersion's data and overrides only the given fields", async () => {
    const fx = await buildAwsFixture(aws());
    await aws().ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: fx.launchTemplate.id,
        SourceVersion: "1",
        LaunchTemplateData: { UserData: encodeUserData(userDataScript("registry.example/app:2")) },
      }),
    );
    await aws().ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateName: fx.launchTemplate.name,
        SourceVersion: "2",
        LaunchTemplateData: { ImageId: "ami-00000000000000003" },
      }),
    );
    // Without SourceVersion nothing is inherited, as on AWS.
    await aws().ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: fx.launchTemplate.id,
        LaunchTemplateData: { InstanceType: "t3.micro" },
      }),
    );
    const all = await aws().ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: fx.launchTemplate.id }),
    );
    const byNumber = new Map(
      (all.LaunchTemplateVersions ?? []).map((v) => [v.VersionNumber, v.LaunchTemplateData]),
    );
    const v1 = byNumber.get(1)!;
    const v2 = byNumber.get(2)!;
    const v3 = byNumber.get(3)!;
    const v4 = byNumber.get(4)!;

    expect(v2.ImageId).toBe(v1.ImageId);
    expect(v2.InstanceType).toBe("t3.small");
    expect(v2.SecurityGroupIds).toEqual([fx.securityGroupId]);
    expect(decodeUserData(v2.UserData!)).toContain("IMAGE=registry.example/app:2");
    expect(decodeUserData(v1.UserData!)).toContain(`IMAGE=${fx.image}`);

    expect(v3.ImageId).toBe("ami-00000000000000003");
    expect(decodeUserData(v3.UserData!)).toContain("IMAGE=registry.example/app:2");

    expect(v4.InstanceType).toBe("t3.micro");
    expect(v4.ImageId).toBeUndefined();
    expect(v4.UserData).toBeUndefined();
  });
});
