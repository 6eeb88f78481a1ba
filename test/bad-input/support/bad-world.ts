/**
 * One world for the whole bad-input catalogue: the AWS tests' world plus, built once, everything the
 * catalogue's wrong inputs point at — a target group outside the forward action, one of another load
 * balancer, a group attached to no target group, a group on `$Latest`, and a launch template (with
 * its two groups) whose user data names no image.
 */
import { CreateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { CreateLaunchTemplateCommand } from "@aws-sdk/client-ec2";
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeLoadBalancersCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import type { World } from "../../aws/support/world.js";
import { encodeUserData } from "../../support/aws-fixture.js";

export interface BadWorld {
  /** In the load balancer's VPC, not in the weighted rule's forward action. */
  readonly otherTargetGroupArn: string;
  /** Forwarded to by another load balancer. */
  readonly elsewhereTargetGroupArn: string;
  /** A rule of another load balancer's listener (a well-formed ARN that is not --listener-arn's). */
  readonly elsewhereRuleArn: string;
  /** On the fixture's launch template, attached to no target group. */
  readonly looseAsg: string;
  /** Attached to the gray target group, on launch template version $Latest. */
  readonly latestAsg: string;
  /** A launch template whose user data names no image, and its stable and gray groups. */
  readonly noImage: { readonly template: string; readonly stableAsg: string; readonly grayAsg: string };
}

export async function buildBadWorld(w: World): Promise<BadWorld> {
  const { elb, autoScaling, ec2 } = w.aws;
  const fx = w.fx;
  const tg = async (name: string) =>
    (
      await elb.send(
        new CreateTargetGroupCommand({ Name: name, Protocol: "HTTP", Port: 8080, VpcId: fx.vpcId }),
      )
    ).TargetGroups![0]!.TargetGroupArn!;
  const otherTargetGroupArn = await tg("gatewaypix-other");

  const lb = await elb.send(
    new CreateLoadBalancerCommand({ Name: "elsewhere-alb", Subnets: fx.subnetIds, Type: "application" }),
  );
  const elsewhereTargetGroupArn = await tg("elsewhere");
  const listener = await elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancers![0]!.LoadBalancerArn,
      Protocol: "HTTP",
      Port: 80,
      DefaultActions: [{ Type: "forward", TargetGroupArn: elsewhereTargetGroupArn }],
    }),
  );
  const rule = await elb.send(
    new CreateRuleCommand({
      ListenerArn: listener.Listeners![0]!.ListenerArn,
      Priority: 5,
      Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: ["/x"] } }],
      Actions: [{ Type: "forward", TargetGroupArn: elsewhereTargetGroupArn }],
    }),
  );

  const group = (
    name: string,
    template: { id: string; version: string },
    targetGroups: string[],
    desired = 0,
  ) =>
    autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        MinSize: 0,
        MaxSize: 4,
        DesiredCapacity: desired,
        LaunchTemplate: { LaunchTemplateId: template.id, Version: template.version },
        VPCZoneIdentifier: fx.subnetIds.join(","),
        TargetGroupARNs: targetGroups,
      }),
    );
  await group("gatewaypix-loose", { id: fx.launchTemplate.id, version: "1" }, []);
  await group("gatewaypix-latest", { id: fx.launchTemplate.id, version: "$Latest" }, [
    fx.gray.targetGroupArn,
  ]);

  const lt = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "gatewaypix-noimage",
      LaunchTemplateData: {
        ImageId: fx.launchTemplate.imageId,
        InstanceType: "t3.small",
        UserData: encodeUserData("#!/bin/bash\nset -euo pipefail\n/opt/gateway/start.sh --port 8080\n"),
      },
    }),
  );
  const noImageTemplate = { id: lt.LaunchTemplate!.LaunchTemplateId!, version: "1" };
  await group("noimg-stable", noImageTemplate, [fx.stable.targetGroupArn], 1);
  await group("noimg-gray", noImageTemplate, [fx.gray.targetGroupArn]);
  // A load balancer is `provisioning` until it is first described: settle both before any snapshot.
  await elb.send(new DescribeLoadBalancersCommand({}));
  return {
    otherTargetGroupArn,
    elsewhereTargetGroupArn,
    elsewhereRuleArn: rule.Rules![0]!.RuleArn!,
    looseAsg: "gatewaypix-loose",
    latestAsg: "gatewaypix-latest",
    noImage: { template: "gatewaypix-noimage", stableAsg: "noimg-stable", grayAsg: "noimg-gray" },
  };
}
