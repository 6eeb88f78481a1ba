/**
 * What strict mode (test/support/strict) costs: the same SDK calls straight to the emulator and
 * through the strict proxy, and the proxy's own parse-and-check time per request, per operation.
 *
 *   npx tsx bench/strict/run.ts [--calls 300]
 *
 * The calls are the ones the suite makes most (the data plane's DescribeTargetHealth/DescribeRules
 * polling, the tool's GetMetricData, ModifyRule and UpdateItem). Loopback, one process: the numbers are
 * noisy on a shared machine; compare the medians.
 */
import { parseArgs } from "node:util";
import { GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ModifyRuleCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { type AwsClients, awsClients, buildAwsFixture } from "../../test/support/aws-fixture.js";
import { startEmulator } from "../../test/support/emulator.js";

const args = parseArgs({ options: { calls: { type: "string", default: "300" } } });
const N = Number(args.values.calls);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeCalls(aws: AwsClients, send: (aws: AwsClients) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await send(aws);
    out.push(performance.now() - t0);
  }
  return out;
}

const emu = await startEmulator();
const strictAws = awsClients(emu.clientConfig());
const directAws = awsClients({ ...emu.clientConfig(), endpoint: emu.directEndpoint });
try {
  const fx = await buildAwsFixture(strictAws);
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const calls: [string, (aws: AwsClients) => Promise<unknown>][] = [
    [
      "elbv2 DescribeTargetHealth",
      (a) => a.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: fx.gray.targetGroupArn })),
    ],
    ["elbv2 DescribeRules", (a) => a.elb.send(new DescribeRulesCommand({ RuleArns: [fx.ruleArn] }))],
    [
      "elbv2 ModifyRule",
      (a) =>
        a.elb.send(
          new ModifyRuleCommand({
            RuleArn: fx.ruleArn,
            Actions: [
              {
                Type: "forward",
                ForwardConfig: {
                  TargetGroups: [
                    { TargetGroupArn: fx.stable.targetGroupArn, Weight: 100 },
                    { TargetGroupArn: fx.gray.targetGroupArn, Weight: 0 },
                  ],
                },
              },
            ],
          }),
        ),
    ],
    [
      "ec2 DescribeLaunchTemplateVersions",
      (a) =>
        a.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: fx.launchTemplate.id })),
    ],
    [
      "cloudwatch GetMetricData (25 queries)",
      (a) =>
        a.cloudWatch.send(
          new GetMetricDataCommand({
            StartTime: new Date(end.getTime() - 600_000),
            EndTime: end,
            MetricDataQueries: Array.from({ length: 25 }, (_, i) => ({
              Id: `q${i}`,
              MetricStat: {
                Metric: {
                  Namespace: "AWS/ApplicationELB",
                  MetricName: "RequestCount",
                  Dimensions: [
                    { Name: "LoadBalancer", Value: fx.loadBalancerDimension },
                    { Name: "TargetGroup", Value: fx.gray.targetGroupDimension },
                  ],
                },
                Period: 60,
                Stat: "Sum",
              },
            })),
          }),
        ),
    ],
    [
      "dynamodb GetItem",
      (a) =>
        a.dynamo.send(new GetItemCommand({ TableName: fx.stateTableName!, Key: { pk: { S: "bench" } } })),
    ],
  ];
  console.log(`${N} calls each, median ms: direct → through the strict proxy (difference)`);
  for (const [name, send] of calls) {
    await timeCalls(directAws, send); // warm both paths (models load on the first call)
    await timeCalls(strictAws, send);
    const before = emu.strict!.stats().checkMicros;
    const direct = median(await timeCalls(directAws, send));
    const strict = median(await timeCalls(strictAws, send));
    const checkUs = (emu.strict!.stats().checkMicros - before) / N;
    console.log(
      `  ${name.padEnd(40)} ${direct.toFixed(2)} → ${strict.toFixed(2)} (+${(strict - direct).toFixed(2)}); parse+check ${(checkUs / 1000).toFixed(3)} ms`,
    );
  }
  const s = emu.strict!.stats();
  console.log(`requests checked: ${s.checked}; violations: ${s.violations}`);
} finally {
  strictAws.destroy();
  directAws.destroy();
  await emu.stop();
}
