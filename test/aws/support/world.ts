/**
 * The AWS world of gray-deploy's AWS tests: one emulator per test file (started in beforeAll, emptied
 * before each test), the project's fixture (test/support/aws-fixture.ts) plus what these tests need on
 * top of it: the state table made by gray-deploy's own bootstrap, the release images pushed to the
 * emulator's ECR, options as a user would pass them, and a snapshot of every piece of AWS state
 * gray-deploy could touch (to prove that a refused run wrote nothing).
 */
import {
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr";
import {
  CreateRuleCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { type Options, type RawOptions, resolveOptions, type Verb } from "../../../src/app/schema.js";
import { openTarget as openRunTarget } from "../../../src/app/targets.js";
import { bootstrapStateTable } from "../../../src/aws/bootstrap.js";
import type { AwsTargetRuntime } from "../../../src/aws/target.js";
import {
  type AwsClients,
  type AwsFixture,
  type AwsFixtureOptions,
  buildAwsFixture,
} from "../../support/aws-fixture.js";
import type { Emulator } from "../../support/emulator.js";
import { LATENCY_MARGINS } from "../../support/margins.js";

export const STATE_TABLE = "gatewaypix-rollouts";

export interface World {
  readonly emu: Emulator;
  readonly aws: AwsClients;
  readonly fx: AwsFixture;
  /** The release image a test deploys (pushed to the emulator's ECR). */
  readonly release: string;
}

/** The fixture image's repository with another tag. */
export function imageWithTag(fx: AwsFixture, tag: string): string {
  return fx.image.replace(/:[^:]+$/, `:${tag}`);
}

/** Pushes image manifests to the emulator's ECR so preflight finds them (it checks ECR images exist). */
export async function pushImages(
  emu: Emulator,
  images: readonly string[],
  credentials?: Parameters<Emulator["clientConfig"]>[0],
): Promise<void> {
  const ecr = new ECRClient({ ...emu.clientConfig(credentials), maxAttempts: 2 });
  try {
    const repos = new Set<string>();
    for (const image of images) {
      const m = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/([^:@]+):(.+)$/.exec(image);
      if (!m) continue;
      const [, repo, tag] = m;
      if (!repos.has(repo!)) {
        await ecr
          .send(new CreateRepositoryCommand({ repositoryName: repo }))
          .catch((e: { name?: string }) => {
            if (e.name !== "RepositoryAlreadyExistsException") throw e;
          });
        repos.add(repo!);
      }
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config: {
          mediaType: "application/vnd.docker.container.image.v1+json",
          size: 7023,
          digest: `sha256:${"c".repeat(64)}`,
        },
        layers: [
          {
            mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
            size: 32654,
            digest: `sha256:${Buffer.from(image).toString("hex").padEnd(64, "0").slice(0, 64)}`,
          },
        ],
      });
      await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest, imageTag: tag }));
    }
  } finally {
    ecr.destroy();
  }
}

/** The fixture, the state table (created by gray-deploy's bootstrap) and the images in ECR. */
export async function buildWorld(
  emu: Emulator,
  aws: AwsClients,
  opts: AwsFixtureOptions & { releaseTag?: string; extraImages?: readonly string[] } = {},
): Promise<World> {
  const fx = await buildAwsFixture(aws, { deregistrationDelaySeconds: 1, ...opts, stateTable: false });
  const release = imageWithTag(fx, opts.releaseTag ?? "1.5.0");
  await pushImages(emu, [fx.image, release, ...(opts.extraImages ?? [])]);
  const o = resolveOptions(
    { target: "aws", region: emu.region, endpoint: emu.endpoint, stateTable: STATE_TABLE },
    { verb: "bootstrap" },
  );
  await bootstrapStateTable(o, { credentials: async () => emu.credentials });
  return { emu, aws, fx, release };
}

/**
 * The Terraform module's smoke rule: requests carrying `header: value` go straight to gray, evaluated
 * before the weighted rule. Returns the rule's ARN.
 */
export async function createSmokeRule(w: World, header: string, value: string): Promise<string> {
  const out = await w.aws.elb.send(
    new CreateRuleCommand({
      ListenerArn: w.fx.listenerArn,
      Priority: 5,
      Conditions: [{ Field: "http-header", HttpHeaderConfig: { HttpHeaderName: header, Values: [value] } }],
      Actions: [{ Type: "forward", TargetGroupArn: w.fx.gray.targetGroupArn }],
    }),
  );
  return out.Rules![0]!.RuleArn!;
}

/** Options a user passes for `verb` against the world, with fast timings (allowed with --endpoint). */
export function rawOptions(w: World, verb: Verb, extra: RawOptions = {}): RawOptions {
  const control: RawOptions = {
    target: "aws",
    region: w.emu.region,
    endpoint: w.emu.endpoint,
    listenerArn: w.fx.listenerArn,
    ruleArn: w.fx.ruleArn,
    stateTable: STATE_TABLE,
    startedBy: "aws-test",
    lockLease: "30s",
  };
  if (verb !== "deploy-gray" && verb !== "plan") return { ...control, ...extra };
  return {
    ...control,
    image: w.release,
    stableTargetGroupArn: w.fx.stable.targetGroupArn,
    grayTargetGroupArn: w.fx.gray.targetGroupArn,
    stableAsg: w.fx.stable.asgName,
    grayAsg: w.fx.gray.asgName,
    launchTemplate: w.fx.launchTemplate.id,
    steps: "25,100",
    metricPeriod: "1s",
    metricsDelay: "1s",
    rollbackWindow: "2s",
    promotionWindow: "3s",
    interval: "500ms",
    bake: "4s",
    maxBake: "12s",
    returnSteps: "100",
    returnBake: "3s",
    healthyTimeout: "20s",
    instanceWarmup: "0s",
    minRequests: 10,
    // No test of this world is about latency (see LATENCY_MARGINS).
    ...LATENCY_MARGINS,
    ...extra,
  };
}

export function options(w: World, verb: Verb, extra: RawOptions = {}): Options {
  return resolveOptions(rawOptions(w, verb, extra), { verb, env: {} });
}

/** Opens the AWS target in-process as every front end does (src/app), with the emulator's credentials. */
export async function openTarget(
  w: World,
  o: Options,
  log?: (line: string) => void,
): Promise<AwsTargetRuntime> {
  // The application layer keeps the AWS runtime's own fields (calls, connection, resources).
  return (await openRunTarget(o, {
    credentials: async () => w.emu.credentials,
    ...(log ? { log } : {}),
  })) as AwsTargetRuntime;
}

/** Environment for the CLI as a child process: credentials from the standard chain, nothing else of ours. */
export function cliEnv(w: World): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    AWS_ACCESS_KEY_ID: w.emu.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: w.emu.credentials.secretAccessKey,
    AWS_REGION: w.emu.region,
    AWS_EC2_METADATA_DISABLED: "true",
    NO_COLOR: "1",
  };
}

function clean<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (k, v) => (k === "$metadata" || k === "ResponseMetadata" ? undefined : v)),
  ) as T;
}

/** Every piece of AWS state gray-deploy could change, as plain JSON (compare before/after). */
export async function snapshot(w: World): Promise<unknown> {
  const { aws, fx } = w;
  const tgs = [fx.stable.targetGroupArn, fx.gray.targetGroupArn];
  const [lbs, listeners, rules, groups, asgs, templates, versions, table, alarms] = await Promise.all([
    aws.elb.send(new DescribeLoadBalancersCommand({})),
    aws.elb.send(new DescribeListenersCommand({ LoadBalancerArn: fx.loadBalancerArn })),
    aws.elb.send(new DescribeRulesCommand({ ListenerArn: fx.listenerArn })),
    aws.elb.send(new DescribeTargetGroupsCommand({})),
    aws.autoScaling.send(new DescribeAutoScalingGroupsCommand({})),
    aws.ec2.send(new DescribeLaunchTemplatesCommand({})),
    aws.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: fx.launchTemplate.id })),
    aws.dynamo.send(new ScanCommand({ TableName: STATE_TABLE, ConsistentRead: true })),
    aws.cloudWatch.send(new DescribeAlarmsCommand({})),
  ]);
  const perTg = await Promise.all(
    tgs.map(async (arn) => ({
      arn,
      attributes: await aws.elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })),
      health: await aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
    })),
  );
  const refreshes = await Promise.all(
    [fx.stable.asgName, fx.gray.asgName].map((name) =>
      aws.autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: name })),
    ),
  );
  return clean({ lbs, listeners, rules, groups, perTg, asgs, refreshes, templates, versions, table, alarms });
}
