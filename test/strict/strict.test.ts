/**
 * Strict mode's self-test: requests real AWS would refuse, sent by the real SDK clients through the
 * strict proxy in front of the emulator, are refused with AWS's error (HTTP 400, ValidationError /
 * InvalidParameterValue, not retried), never reach the emulator, and are recorded so the test that
 * sent them fails. Valid requests of every client pass untouched. One check per documented rule.
 */

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeAutoScalingGroupsCommand, StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { GetMetricDataCommand, type MetricDataQuery, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeTableCommand,
  ListTablesCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateLaunchTemplateVersionCommand, DescribeLaunchTemplatesCommand } from "@aws-sdk/client-ec2";
import { DescribeRepositoriesCommand, ECRClient } from "@aws-sdk/client-ecr";
import {
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { scanTree } from "../iac/sdk-usage.js";
import { type AwsClients, type AwsFixture, awsClients, buildAwsFixture } from "../support/aws-fixture.js";
import { type Emulator, startEmulator } from "../support/emulator.js";
import { checkRequest, EMULATOR_ONLY, RULES, StrictProxy } from "../support/strict/index.js";

const ROOT = join(import.meta.dirname, "../..");

let emu: Emulator;
let aws: AwsClients;
let fx: AwsFixture;

beforeAll(async () => {
  emu = await startEmulator();
  aws = awsClients({ ...emu.clientConfig() });
  fx = await buildAwsFixture(aws);
}, 60_000);

afterAll(async () => {
  aws?.destroy();
  await emu?.stop();
});

interface Refusal {
  name: string;
  status: number | undefined;
  attempts: number | undefined;
  message: string;
}

/** Sends, expects a refusal, and returns it with the rules the proxy recorded (then clears them). */
async function refused(
  send: () => Promise<unknown>,
): Promise<Refusal & { rules: string[]; kinds: string[] }> {
  const error = await send().then(
    () => null,
    (e: unknown) =>
      e as { name: string; message: string; $metadata?: { httpStatusCode?: number; attempts?: number } },
  );
  expect(error, "the request was accepted").not.toBeNull();
  const violations = emu.strict!.takeViolations();
  expect(violations.length, "the proxy recorded no violation").toBeGreaterThan(0);
  return {
    name: error!.name,
    status: error!.$metadata?.httpStatusCode,
    attempts: error!.$metadata?.attempts,
    message: error!.message,
    rules: violations.flatMap((v) => v.issues.map((i) => i.rule ?? i.kind)),
    kinds: violations.flatMap((v) => v.issues.map((i) => i.kind)),
  };
}

function forward(stable: number, gray: number, stickiness?: { Enabled: boolean; DurationSeconds?: number }) {
  return [
    {
      Type: "forward" as const,
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: fx.stable.targetGroupArn, Weight: stable },
          { TargetGroupArn: fx.gray.targetGroupArn, Weight: gray },
        ],
        ...(stickiness ? { TargetGroupStickinessConfig: stickiness } : {}),
      },
    },
  ];
}

const query = (id: string, period: number): MetricDataQuery => ({
  Id: id,
  MetricStat: {
    Metric: {
      Namespace: "AWS/ApplicationELB",
      MetricName: "RequestCount",
      Dimensions: [{ Name: "TargetGroup", Value: fx.gray.targetGroupDimension }],
    },
    Period: period,
    Stat: "Sum",
  },
});

describe("refused like AWS, by the real SDK clients, never reaching the emulator", () => {
  test("a forward weight of 1000 (ELBv2 ModifyRule, awsQuery): ValidationError, one attempt, weights unchanged", async () => {
    const before = await aws.elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }));
    const r = await refused(() =>
      aws.elb.send(new ModifyRuleCommand({ RuleArn: fx.ruleArn, Actions: forward(0, 1000) })),
    );
    expect(r).toMatchObject({ name: "ValidationError", status: 400, attempts: 1 });
    expect(r.message).toMatch(/1 validation error detected: .*weight.*between 0 and 999/);
    expect(r.rules).toEqual(["elbv2.forward-weight"]);
    const after = await aws.elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }));
    expect(after.Rules).toEqual(before.Rules);
  });

  test("a stickiness duration of 0 and stickiness enabled without a duration", async () => {
    const zero = await refused(() =>
      aws.elb.send(
        new ModifyRuleCommand({
          RuleArn: fx.ruleArn,
          Actions: forward(100, 0, { Enabled: true, DurationSeconds: 0 }),
        }),
      ),
    );
    expect(zero.rules).toEqual(["elbv2.stickiness-duration"]);
    const none = await refused(() =>
      aws.elb.send(
        new ModifyRuleCommand({ RuleArn: fx.ruleArn, Actions: forward(100, 0, { Enabled: true }) }),
      ),
    );
    expect(none.rules).toEqual(["elbv2.stickiness-duration"]);
  });

  test("listener rule conditions: two path patterns, six values, a value over 128 characters", async () => {
    const two = await refused(() =>
      aws.elb.send(
        new ModifyRuleCommand({
          RuleArn: fx.ruleArn,
          Conditions: [
            { Field: "path-pattern", PathPatternConfig: { Values: ["/a"] } },
            { Field: "path-pattern", PathPatternConfig: { Values: ["/b"] } },
          ],
        }),
      ),
    );
    expect(two.rules).toEqual(["elbv2.rule-conditions"]);
    const six = await refused(() =>
      aws.elb.send(
        new ModifyRuleCommand({
          RuleArn: fx.ruleArn,
          Conditions: [
            {
              Field: "http-header",
              HttpHeaderConfig: { HttpHeaderName: "x-gray", Values: ["1", "2", "3", "4", "5", "6"] },
            },
          ],
        }),
      ),
    );
    expect(six.message).toMatch(/at most 5 condition values/);
    const long = await refused(() =>
      aws.elb.send(
        new ModifyRuleCommand({
          RuleArn: fx.ruleArn,
          Conditions: [{ Field: "host-header", HostHeaderConfig: { Values: ["a".repeat(129)] } }],
        }),
      ),
    );
    expect(long.message).toMatch(/at most 128 characters/);
  });

  test("a missing required parameter and an unknown one (injected into the SDK's own request)", async () => {
    const missing = await refused(() => aws.elb.send(new ModifyRuleCommand({} as never)));
    expect(missing).toMatchObject({ name: "ValidationError", status: 400 });
    expect(missing.kinds).toEqual(["missing"]);
    expect(missing.message).toMatch(
      /Value null at 'ruleArn' failed to satisfy constraint: Member must not be null/,
    );

    const elb = new ElasticLoadBalancingV2Client({ ...emu.clientConfig(), maxAttempts: 1 });
    elb.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { body: string };
        req.body = `${req.body}&Weigth=1`;
        return next(args);
      },
      { step: "build", priority: "high", name: "injectUnknownParameter" },
    );
    const unknown = await refused(() => elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] })));
    elb.destroy();
    expect(unknown.kinds).toEqual(["unknown"]);
    expect(unknown.message).toMatch(/The parameter Weigth is not recognized/);
  });

  test("a model range (ELBv2 PageSize 401, Auto Scaling MinHealthyPercentage 101)", async () => {
    const page = await refused(() =>
      aws.elb.send(new DescribeRulesCommand({ ListenerArn: fx.listenerArn, PageSize: 401 })),
    );
    expect(page.message).toMatch(/pageSize.*less than or equal to 400/);
    const pct = await refused(() =>
      aws.autoScaling.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: fx.stable.asgName,
          Preferences: { MinHealthyPercentage: 101 },
        }),
      ),
    );
    expect(pct.kinds).toContain("invalid");
  });

  test("instance refresh: MaxHealthyPercentage without Min, a range wider than 100, 11 alarms", async () => {
    const alone = await refused(() =>
      aws.autoScaling.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: fx.stable.asgName,
          Preferences: { MaxHealthyPercentage: 150 },
        }),
      ),
    );
    expect(alone.rules).toEqual(["autoscaling.refresh-preferences"]);
    const wide = await refused(() =>
      aws.autoScaling.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: fx.stable.asgName,
          Preferences: { MinHealthyPercentage: 20, MaxHealthyPercentage: 150 },
        }),
      ),
    );
    expect(wide.message).toMatch(/MaxHealthyPercentage - MinHealthyPercentage = 130; at most 100/);
    const alarms = await refused(() =>
      aws.autoScaling.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: fx.stable.asgName,
          Preferences: { AlarmSpecification: { Alarms: Array.from({ length: 11 }, (_, i) => `gray-${i}`) } },
        }),
      ),
    );
    expect(alarms.message).toMatch(/up to 10 alarms/);
    const delay = await refused(() =>
      aws.autoScaling.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: fx.stable.asgName,
          Preferences: { CheckpointDelay: 600 },
        }),
      ),
    );
    expect(delay.rules).toEqual(["autoscaling.refresh-checkpoint-delay"]);
  });

  test("EC2 (ec2 protocol): user data over 16 KB, a launch template name off its pattern, MaxResults 201", async () => {
    const big = await refused(() =>
      aws.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: fx.launchTemplate.id,
          LaunchTemplateData: { UserData: Buffer.alloc(12_300, "a").toString("base64") },
        }),
      ),
    );
    expect(big).toMatchObject({ name: "InvalidParameterValue", status: 400 });
    expect(big.rules).toEqual(["ec2.user-data-size"]);
    const name = await refused(() =>
      aws.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ["gray deploy"] })),
    );
    expect(name.message).toMatch(/launchTemplateNames\.1\.member.*regular expression pattern/);
    const max = await refused(() => aws.ec2.send(new DescribeLaunchTemplatesCommand({ MaxResults: 201 })));
    expect(max.message).toMatch(/maxResults.*less than or equal to 200/);
  });

  test("a GetMetricData Period of 7 (CloudWatch, JSON 1.0 query-compatible): InvalidParameterValue", async () => {
    const now = Date.now();
    const r = await refused(() =>
      aws.cloudWatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: [query("gray", 7)],
          StartTime: new Date(now - 60_000),
          EndTime: new Date(now),
        }),
      ),
    );
    // The code travels in x-amzn-query-error; the SDK maps it to CloudWatch's modelled exception.
    expect(r).toMatchObject({ name: "InvalidParameterValueException", status: 400, attempts: 1 });
    expect(r.rules).toEqual(["cloudwatch.period"]);
  });

  test("501 queries in one call, and two queries with one Id", async () => {
    const now = Date.now();
    const window = { StartTime: new Date(now - 120_000), EndTime: new Date(now) };
    const many = await refused(() =>
      aws.cloudWatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: Array.from({ length: 501 }, (_, i) => query(`q${i}`, 60)),
          ...window,
        }),
      ),
    );
    expect(many.rules).toEqual(["cloudwatch.queries-per-call"]);
    const twice = await refused(() =>
      aws.cloudWatch.send(
        new GetMetricDataCommand({ MetricDataQueries: [query("a", 60), query("a", 60)], ...window }),
      ),
    );
    expect(twice.rules).toEqual(["cloudwatch.query-ids"]);
  });

  test("a 10 s period over data older than 3 hours: accepted by AWS with no data, so forwarded AND recorded", async () => {
    const now = Date.now();
    await aws.cloudWatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: [query("old", 10)],
        StartTime: new Date(now - 4 * 3_600_000),
        EndTime: new Date(now - 3.5 * 3_600_000),
      }),
    );
    const v = emu.strict!.takeViolations();
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ answered: "forwarded" });
    expect(v[0]!.issues.map((i) => i.rule)).toEqual(["cloudwatch.high-resolution-age"]);
  });

  test("PutMetricData: a storage resolution of 30", async () => {
    const r = await refused(() =>
      aws.cloudWatch.send(
        new PutMetricDataCommand({
          Namespace: "GrayDeploy/Test",
          MetricData: [{ MetricName: "m", Value: 1, StorageResolution: 30 }],
        }),
      ),
    );
    expect(r.rules).toEqual(["cloudwatch.put-metric-data"]);
  });

  test("DynamoDB (JSON 1.0): an unused and an undefined placeholder, an item over 400 KB, a Limit of 0", async () => {
    const table = fx.stateTableName!;
    const key = { pk: { S: "strict" } };
    const unused = await refused(() =>
      aws.dynamo.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: "SET #a = :a",
          ExpressionAttributeNames: { "#a": "a" },
          ExpressionAttributeValues: { ":a": { S: "1" }, ":b": { S: "2" } },
        }),
      ),
    );
    expect(unused).toMatchObject({ name: "ValidationException", status: 400 });
    expect(unused.message).toMatch(/:b.*unused/);
    const undefinedName = await refused(() =>
      aws.dynamo.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: "SET #a = :a",
          ExpressionAttributeValues: { ":a": { S: "1" } },
        }),
      ),
    );
    expect(undefinedName.message).toMatch(/#a is used in an expression but not defined/);
    const big = await refused(() =>
      aws.dynamo.send(
        new PutItemCommand({ TableName: table, Item: { ...key, blob: { S: "x".repeat(401 * 1024) } } }),
      ),
    );
    expect(big.rules).toEqual(["dynamodb.item-size"]);
    const limit = await refused(() => aws.dynamo.send(new ListTablesCommand({ Limit: 0 })));
    expect(limit.message).toMatch(/limit.*greater than or equal to 1/);
  });

  test("ECR (JSON 1.1) and STS (awsQuery): a repository name and a role session name off their constraints", async () => {
    const ecr = new ECRClient({ ...emu.clientConfig(), maxAttempts: 1 });
    const sts = new STSClient({ ...emu.clientConfig(), maxAttempts: 1 });
    try {
      const repo = await refused(() =>
        ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ["Gray_Deploy"] })),
      );
      expect(repo).toMatchObject({ name: "ValidationException", status: 400 });
      const session = await refused(() =>
        sts.send(
          new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${fx.accountId}:role/gray`, RoleSessionName: "x" }),
        ),
      );
      expect(session).toMatchObject({ name: "ValidationError", status: 400 });
      // Valid calls of both pass.
      await ecr.send(new DescribeRepositoriesCommand({}));
      await sts.send(new GetCallerIdentityCommand({}));
      expect(emu.strict!.violations).toEqual([]);
    } finally {
      ecr.destroy();
      sts.destroy();
    }
  });
});

describe("valid requests pass untouched", () => {
  test("one of every client, and each is checked against its model", async () => {
    const before = emu.strict!.stats();
    await aws.elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }));
    await aws.elb.send(
      new ModifyRuleCommand({
        RuleArn: fx.ruleArn,
        Actions: forward(999, 0, { Enabled: true, DurationSeconds: 604_800 }),
      }),
    );
    await aws.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [fx.stable.asgName] }),
    );
    await aws.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [fx.launchTemplate.id] }));
    const now = Math.floor(Date.now() / 60_000) * 60_000;
    for (const p of [1, 5, 10, 20, 30, 60, 120]) {
      await aws.cloudWatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: [query("q", p)],
          StartTime: new Date(now - 600_000),
          EndTime: new Date(now),
        }),
      );
    }
    await aws.dynamo.send(new DescribeTableCommand({ TableName: fx.stateTableName! }));
    const after = emu.strict!.stats();
    expect(emu.strict!.violations).toEqual([]);
    expect(after.checked - before.checked).toBe(12);
    for (const op of [
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:ModifyRule",
      "autoscaling:DescribeAutoScalingGroups",
      "ec2:DescribeLaunchTemplates",
      "monitoring:GetMetricData",
      "dynamodb:DescribeTable",
    ]) {
      expect(after.byOperation[op] ?? 0, op).toBeGreaterThan(before.byOperation[op] ?? 0);
    }
  });

  test("the emulator's control endpoints pass through unchecked", async () => {
    const before = emu.strict!.stats().passthrough;
    const res = await fetch(`${emu.endpoint}/_gray/health`);
    expect(res.ok).toBe(true);
    expect(emu.strict!.stats().passthrough).toBe(before + 1);
  });
});

describe("the proxy fails the test that sent a violation", () => {
  test("assertClean throws listing each violation with its rule and AWS page", async () => {
    const proxy = new StrictProxy({ target: emu.directEndpoint, print: false, label: "self-test" });
    await proxy.start();
    const client = new ElasticLoadBalancingV2Client({
      ...emu.clientConfig(),
      endpoint: proxy.url,
      maxAttempts: 3,
    });
    try {
      await client
        .send(new ModifyRuleCommand({ RuleArn: fx.ruleArn, Actions: forward(100, 1000) }))
        .catch(() => undefined);
      expect(() => proxy.assertClean()).toThrow(
        /1 AWS request\(s\) that real AWS would refuse.*\n.*REFUSED \(400\) elasticloadbalancing:ModifyRule.*elbv2.forward-weight https:\/\/docs\.aws\.amazon\.com\/elasticloadbalancing\/latest\/APIReference\/API_TargetGroupTuple\.html/,
      );
      // Taken on purpose: the suite's strict report counts only violations nobody expected.
      expect(proxy.takeViolations()).toHaveLength(1);
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});

describe("protocols the SDK does not send today", () => {
  const signed = (service: string) => ({
    authorization: `AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
  });

  test("Lambda Invoke (rest-json): path, headers and payload read; a bad name and a 7 MB payload refused", () => {
    const ok = checkRequest({
      method: "POST",
      url: "/2015-03-31/functions/gatewaypix-gray-deploy-guard/invocations",
      headers: {
        ...signed("lambda"),
        "x-amz-invocation-type": "RequestResponse",
        "content-type": "application/json",
      },
      body: Buffer.from('{"source":"test"}'),
    });
    expect(ok?.call.operation).toBe("Invoke");
    expect(ok?.call.input).toMatchObject({
      FunctionName: "gatewaypix-gray-deploy-guard",
      InvocationType: "RequestResponse",
    });
    expect(ok?.issues).toEqual([]);
    const bad = checkRequest({
      method: "POST",
      url: "/2015-03-31/functions/gray%20guard/invocations",
      headers: { ...signed("lambda"), "x-amz-invocation-type": "Sometimes" },
      body: Buffer.from("{}"),
    });
    expect(bad?.issues.map((i) => i.path).sort()).toEqual(["functionName", "invocationType"]);
    const big = checkRequest({
      method: "POST",
      url: "/2015-03-31/functions/gatewaypix-gray-deploy-guard/invocations",
      headers: signed("lambda"),
      body: Buffer.alloc(7 * 1024 * 1024, 32),
    });
    expect(big?.issues.map((i) => i.rule)).toEqual(["lambda.invoke-payload"]);
  });

  test("a request in smithy-rpc-v2-cbor is refused as unreadable, not passed unchecked", () => {
    const r = checkRequest({
      method: "POST",
      url: "/service/GraniteServiceVersion20100801/operation/GetMetricData",
      headers: {
        ...signed("monitoring"),
        "smithy-protocol": "rpc-v2-cbor",
        "content-type": "application/cbor",
      },
      body: Buffer.from([0xa0]),
    });
    expect(r?.issues.map((i) => i.kind)).toEqual(["unsupported"]);
  });
});

describe("the rule book", () => {
  test("every documented rule names an AWS documentation page and a service the proxy loads", () => {
    const ids = new Set<string>();
    for (const r of RULES) {
      expect(r.doc).toMatch(/^https:\/\/docs\.aws\.amazon\.com\//);
      expect(r.says.length).toBeGreaterThan(20);
      expect(ids.has(r.id), r.id).toBe(false);
      ids.add(r.id);
    }
  });

  test("emulator-only exemptions name known rules, existing test files and a reason", () => {
    for (const e of EMULATOR_ONLY) {
      expect(RULES.map((r) => r.id)).toContain(e.rule);
      expect(e.why.length).toBeGreaterThan(40);
      if (e.files !== "all") for (const f of e.files) expect(existsSync(join(ROOT, f)), f).toBe(true);
    }
  });

  test("gray-deploy never calls PutMetricData (so publishing into AWS/ namespaces is the data plane's alone)", () => {
    const actions = scanTree(ROOT).uses.map((u) => u.action);
    expect(actions.length).toBeGreaterThan(20);
    expect(actions).not.toContain("cloudwatch:PutMetricData");
  });

  test("the self-test's own emulator saw only what this file sent on purpose", () => {
    expect(readFileSync(import.meta.filename, "utf8")).toContain("takeViolations");
    expect(emu.strict!.violations).toEqual([]);
  });
});
