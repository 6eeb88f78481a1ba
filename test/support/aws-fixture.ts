/**
 * Builds, in the AWS emulator (or any AWS-compatible endpoint), the environment gray-deploy drives:
 * VPC + 2 subnets, an ALB with an HTTP listener whose rule holds a weighted forward action over a
 * stable and a gray target group (with group stickiness), a launch template whose user data runs a
 * container image, a stable and a gray Auto Scaling group on numbered version "1" attached to their
 * target groups, and a DynamoDB table for rollout state.
 *
 * ```ts
 * const emu = await startEmulator();
 * const aws = awsClients(emu.clientConfig());
 * const fx = await buildAwsFixture(aws);
 * // fx.ruleArn, fx.stable.targetGroupArn, fx.gray.asgName, fx.launchTemplate.id, fx.image ...
 * ```
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CreateLaunchTemplateCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAvailabilityZonesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  IAMClient,
} from "@aws-sdk/client-iam";

/**
 * Creates an IAM user whose only permissions are `policyDocument`, and returns its access key.
 * With IAM enforcement (`startEmulator({ iamInitialNoAuthActionCount })`) this takes 4 calls: within
 * a budget of 4 the first call of a test can be this one (e.g. an admin user with `Action: "*"` to
 * build the fixture with, then the least-privilege user created with the admin's credentials).
 */
export async function createIamUser(
  config: ClientConfig,
  userName: string,
  policyDocument: object,
): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  // IAM is global; its endpoint is the same emulator.
  const iam = new IAMClient({ ...config, region: "us-east-1", maxAttempts: 1 });
  try {
    await iam.send(new CreateUserCommand({ UserName: userName }));
    const policy = await iam.send(
      new CreatePolicyCommand({
        PolicyName: `${userName}-policy`,
        PolicyDocument: JSON.stringify(policyDocument),
      }),
    );
    await iam.send(new AttachUserPolicyCommand({ UserName: userName, PolicyArn: policy.Policy!.Arn! }));
    const key = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
    return { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
  } finally {
    iam.destroy();
  }
}

export interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface AwsClients {
  readonly region: string;
  readonly ec2: EC2Client;
  readonly autoScaling: AutoScalingClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly cloudWatch: CloudWatchClient;
  readonly dynamo: DynamoDBClient;
  destroy(): void;
}

/** One client per service, all pointed at the same endpoint, with few retries (fast failures in tests). */
export function awsClients(config: ClientConfig): AwsClients {
  const c = { ...config, maxAttempts: 2 };
  const clients = {
    ec2: new EC2Client(c),
    autoScaling: new AutoScalingClient(c),
    elb: new ElasticLoadBalancingV2Client(c),
    cloudWatch: new CloudWatchClient(c),
    dynamo: new DynamoDBClient(c),
  };
  return {
    region: config.region,
    ...clients,
    destroy() {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

export interface AwsFixtureOptions {
  /** Prefix of every resource name. Default "gatewaypix". */
  name?: string;
  /** Container image the launch template's user data runs. Default `<acct>.dkr.ecr.<region>.amazonaws.com/gatewaypix:1.4.2`. */
  image?: string;
  /** Desired capacity of the stable ASG (default 2) and the gray ASG (default 0). */
  stableCapacity?: number;
  grayCapacity?: number;
  /** Max size of both ASGs. Default 6. */
  maxSize?: number;
  /** Weights of the rule's forward action. Default stable 100, gray 0. */
  weights?: { stable: number; gray: number };
  /** Target-group stickiness of the forward action. Default enabled, 300 s. */
  stickiness?: { enabled: boolean; durationSeconds: number };
  /** Deregistration delay of both target groups, seconds. Default 30. */
  deregistrationDelaySeconds?: number;
  /** The rollout state table; `false` to skip it. Default `${name}-gray-deploy-state`, key `pk` (S). */
  stateTable?: { name: string; partitionKey?: string; sortKey?: string } | false;
}

export interface FleetSide {
  targetGroupArn: string;
  /** `targetgroup/<name>/<id>`, the CloudWatch `TargetGroup` dimension. */
  targetGroupDimension: string;
  asgName: string;
}

export interface AwsFixture {
  region: string;
  accountId: string;
  vpcId: string;
  subnetIds: [string, string];
  securityGroupId: string;
  loadBalancerArn: string;
  /** `app/<name>/<id>`, the CloudWatch `LoadBalancer` dimension. */
  loadBalancerDimension: string;
  listenerArn: string;
  /** The rule whose forward action holds the two weighted target groups. */
  ruleArn: string;
  stable: FleetSide;
  gray: FleetSide;
  launchTemplate: { id: string; name: string; version: string; imageId: string };
  /** The container image in version 1's user data. */
  image: string;
  stateTableName: string | undefined;
}

export const ACCOUNT_ID = "123456789012";

/** The user data gray-deploy's releases edit: the image reference is the `IMAGE=` line. */
export function userDataScript(image: string): string {
  return [
    "#!/bin/bash",
    "set -euo pipefail",
    `IMAGE=${image}`,
    'docker pull "$IMAGE"',
    'docker run -d --restart=always --name app -p 8080:8080 "$IMAGE"',
    "",
  ].join("\n");
}

export const encodeUserData = (script: string): string => Buffer.from(script, "utf8").toString("base64");
export const decodeUserData = (b64: string): string => Buffer.from(b64, "base64").toString("utf8");

/** `arn:...:loadbalancer/app/n/id` → `app/n/id`; `arn:...:targetgroup/n/id` → `targetgroup/n/id`. */
export function arnDimension(arn: string): string {
  const m = /:(?:loadbalancer\/)?((?:app|net)\/[^/]+\/[^/]+|targetgroup\/[^/]+\/[^/]+)$/.exec(arn);
  if (!m?.[1]) throw new Error(`not an ALB or target group ARN: ${arn}`);
  return m[1];
}

export async function buildAwsFixture(aws: AwsClients, opts: AwsFixtureOptions = {}): Promise<AwsFixture> {
  const name = opts.name ?? "gatewaypix";
  const region = aws.region;
  const image = opts.image ?? `${ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com/gatewaypix:1.4.2`;
  const weights = opts.weights ?? { stable: 100, gray: 0 };
  const stickiness = opts.stickiness ?? { enabled: true, durationSeconds: 300 };
  const imageId = "ami-0a1b2c3d4e5f60718";

  const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: "10.20.0.0/16" }));
  const vpcId = vpc.Vpc!.VpcId!;
  const zones = await aws.ec2.send(new DescribeAvailabilityZonesCommand({}));
  const [az1, az2] = (zones.AvailabilityZones ?? []).map((z) => z.ZoneName!);
  if (!az1 || !az2) throw new Error(`region ${region} has fewer than 2 availability zones in the emulator`);
  const subnetIds = (await Promise.all(
    [
      { cidr: "10.20.1.0/24", az: az1 },
      { cidr: "10.20.2.0/24", az: az2 },
    ].map(async ({ cidr, az }) => {
      const s = await aws.ec2.send(
        new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }),
      );
      return s.Subnet!.SubnetId!;
    }),
  )) as [string, string];
  const sg = await aws.ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: `${name}-app`,
      Description: `${name} instances`,
      VpcId: vpcId,
    }),
  );
  const securityGroupId = sg.GroupId!;

  const lb = await aws.elb.send(
    new CreateLoadBalancerCommand({
      Name: `${name}-alb`,
      Subnets: subnetIds,
      SecurityGroups: [securityGroupId],
      Scheme: "internet-facing",
      Type: "application",
    }),
  );
  const loadBalancerArn = lb.LoadBalancers![0]!.LoadBalancerArn!;

  const targetGroup = async (side: "stable" | "gray"): Promise<string> => {
    const tg = await aws.elb.send(
      new CreateTargetGroupCommand({
        Name: `${name}-${side}`,
        Protocol: "HTTP",
        Port: 8080,
        VpcId: vpcId,
        TargetType: "instance",
        HealthCheckPath: "/health",
        HealthCheckIntervalSeconds: 10,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 2,
      }),
    );
    const arn = tg.TargetGroups![0]!.TargetGroupArn!;
    await aws.elb.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: arn,
        Attributes: [
          {
            Key: "deregistration_delay.timeout_seconds",
            Value: String(opts.deregistrationDelaySeconds ?? 30),
          },
        ],
      }),
    );
    return arn;
  };
  const [stableTg, grayTg] = await Promise.all([targetGroup("stable"), targetGroup("gray")]);

  const listener = await aws.elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: loadBalancerArn,
      Protocol: "HTTP",
      Port: 80,
      DefaultActions: [{ Type: "forward", TargetGroupArn: stableTg }],
    }),
  );
  const listenerArn = listener.Listeners![0]!.ListenerArn!;
  const rule = await aws.elb.send(
    new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: 10,
      Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: ["/*"] } }],
      Actions: [
        {
          Type: "forward",
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: stableTg, Weight: weights.stable },
              { TargetGroupArn: grayTg, Weight: weights.gray },
            ],
            TargetGroupStickinessConfig: {
              Enabled: stickiness.enabled,
              ...(stickiness.enabled ? { DurationSeconds: stickiness.durationSeconds } : {}),
            },
          },
        },
      ],
    }),
  );
  const ruleArn = rule.Rules![0]!.RuleArn!;

  const lt = await aws.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${name}-app`,
      VersionDescription: `release ${image}`,
      LaunchTemplateData: {
        ImageId: imageId,
        InstanceType: "t3.small",
        SecurityGroupIds: [securityGroupId],
        UserData: encodeUserData(userDataScript(image)),
        TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "app", Value: name }] }],
      },
    }),
  );
  const launchTemplate = {
    id: lt.LaunchTemplate!.LaunchTemplateId!,
    name: lt.LaunchTemplate!.LaunchTemplateName!,
    version: "1",
    imageId,
  };

  const asg = async (side: "stable" | "gray", tgArn: string, capacity: number): Promise<string> => {
    const asgName = `${name}-${side}`;
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: asgName,
        MinSize: 0,
        MaxSize: opts.maxSize ?? 6,
        DesiredCapacity: capacity,
        LaunchTemplate: { LaunchTemplateId: launchTemplate.id, Version: launchTemplate.version },
        VPCZoneIdentifier: subnetIds.join(","),
        TargetGroupARNs: [tgArn],
        HealthCheckType: "ELB",
        HealthCheckGracePeriod: 60,
        Tags: [{ Key: "gray-deploy:role", Value: side, PropagateAtLaunch: true }],
      }),
    );
    return asgName;
  };
  const [stableAsg, grayAsg] = await Promise.all([
    asg("stable", stableTg, opts.stableCapacity ?? 2),
    asg("gray", grayTg, opts.grayCapacity ?? 0),
  ]);
  // Creation is synchronous in the emulator; describing proves both groups exist before returning.
  const described = await aws.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [stableAsg, grayAsg] }),
  );
  if (described.AutoScalingGroups?.length !== 2)
    throw new Error("fixture: Auto Scaling groups were not created");

  let stateTableName: string | undefined;
  if (opts.stateTable !== false) {
    const table = opts.stateTable ?? { name: `${name}-gray-deploy-state` };
    const pk = table.partitionKey ?? "pk";
    await aws.dynamo.send(
      new CreateTableCommand({
        TableName: table.name,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: pk, AttributeType: "S" },
          ...(table.sortKey ? [{ AttributeName: table.sortKey, AttributeType: "S" as const }] : []),
        ],
        KeySchema: [
          { AttributeName: pk, KeyType: "HASH" },
          ...(table.sortKey ? [{ AttributeName: table.sortKey, KeyType: "RANGE" as const }] : []),
        ],
      }),
    );
    stateTableName = table.name;
  }

  return {
    region,
    accountId: ACCOUNT_ID,
    vpcId,
    subnetIds,
    securityGroupId,
    loadBalancerArn,
    loadBalancerDimension: arnDimension(loadBalancerArn),
    listenerArn,
    ruleArn,
    stable: { targetGroupArn: stableTg, targetGroupDimension: arnDimension(stableTg), asgName: stableAsg },
    gray: { targetGroupArn: grayTg, targetGroupDimension: arnDimension(grayTg), asgName: grayAsg },
    launchTemplate,
    image,
    stateTableName,
  };
}
