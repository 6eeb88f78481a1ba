/**
 * The guard's world in the AWS emulator: the AWS tests' world (test/aws/support) plus the service's
 * three gray alarms, the guard's configuration exactly as the Terraform module passes it
 * (GRAY_DEPLOY_CONFIG: the gray_deploy_config object plus maxPause; here also the emulator's
 * endpoint), and a rollout paused with traffic on gray.
 */

import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { PutMetricAlarmCommand, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { systemClock } from "../../../src/engine/clock.js";
import { type GuardDeps, type GuardLogRecord, type GuardResult, runGuard } from "../../../src/guard/run.js";
import type { Clock } from "../../../src/ports/index.js";
import { deployInProcess, type InProcessRun } from "../../aws/support/rollout.js";
import { STATE_TABLE, type World } from "../../aws/support/world.js";
import {
  type EmulatorState,
  emulatorState as snapshotState,
} from "../../bad-input/support/emulator-state.js";

export const alarmNames = (w: World) =>
  ["error-rate", "p99", "unhealthy"].map((a) => `${w.fx.gray.asgName}-${a}`);

/** The module's three gray alarms on the gray target group (moto keeps them in the state we set). */
export async function createGrayAlarms(w: World): Promise<string[]> {
  const names = alarmNames(w);
  for (const name of names) {
    await w.aws.cloudWatch.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace: "AWS/ApplicationELB",
        MetricName: name.endsWith("unhealthy") ? "UnHealthyHostCount" : "HTTPCode_Target_5XX_Count",
        Dimensions: [
          { Name: "LoadBalancer", Value: w.fx.loadBalancerDimension },
          { Name: "TargetGroup", Value: w.fx.gray.targetGroupDimension },
        ],
        Statistic: "Sum",
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: "GreaterThanThreshold",
        TreatMissingData: "notBreaching",
      }),
    );
  }
  return names;
}

export async function setAlarm(w: World, name: string, state: "OK" | "ALARM"): Promise<void> {
  await w.aws.cloudWatch.send(
    new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: `test set ${state}` }),
  );
}

/** GRAY_DEPLOY_CONFIG as guard.tf builds it: jsonencode(merge(gray_deploy_config, { maxPause })). */
export function guardConfigJson(w: World, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    target: "aws",
    region: w.emu.region,
    listenerArn: w.fx.listenerArn,
    ruleArn: w.fx.ruleArn,
    stableTargetGroupArn: w.fx.stable.targetGroupArn,
    grayTargetGroupArn: w.fx.gray.targetGroupArn,
    stableAsg: w.fx.stable.asgName,
    grayAsg: w.fx.gray.asgName,
    launchTemplate: w.fx.launchTemplate.id,
    stateTable: STATE_TABLE,
    alarms: alarmNames(w),
    maxPause: "1h",
    endpoint: w.emu.endpoint,
    ...extra,
  });
}

/** A clock `offsetMs` ahead of the real one (a guard waking up the next morning). */
export function clockAhead(offsetMs: number): Clock {
  const real = systemClock();
  return { now: () => Date.now() + offsetMs, sleep: (ms, signal) => real.sleep(ms, signal) };
}

export interface GuardRun {
  readonly result: GuardResult;
  readonly logs: GuardLogRecord[];
}

/** One guard invocation in this process, with the emulator's credentials. */
export async function invokeGuard(
  w: World,
  event: unknown,
  opts: { clock?: Clock; owner?: GuardDeps["owner"]; config?: string } = {},
): Promise<GuardRun> {
  const logs: GuardLogRecord[] = [];
  const result = await runGuard(event, {
    clock: opts.clock ?? systemClock(),
    env: { GRAY_DEPLOY_CONFIG: opts.config ?? guardConfigJson(w) },
    credentials: async () => w.emu.credentials,
    log: (r) => logs.push(r),
    ...(opts.owner === undefined ? {} : { owner: opts.owner }),
  });
  return { result, logs };
}

/**
 * A rollout paused with 25% on gray, the way a quiet night leaves one: no customer reaches the
 * emulated load balancer, so the 25% step stays inconclusive until --max-bake and the rollout pauses.
 */
export async function pausedRollout(w: World): Promise<InProcessRun> {
  const run = await deployInProcess(w, { maxBake: "4s", onInconclusive: "pause" });
  if (run.outcome.outcome !== "paused" || run.outcome.weights?.gray !== 25) {
    throw new Error(
      `expected a rollout paused at 25%, got ${run.outcome.outcome} ${JSON.stringify(run.outcome.weights)}: ${run.outcome.reason}\n${run.logs.join("\n")}`,
    );
  }
  return run;
}

export async function desired(w: World, name: string): Promise<number | undefined> {
  const out = await w.aws.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return out.AutoScalingGroups?.[0]?.DesiredCapacity;
}

/** The emulator's whole state (normalised moto dump and every table's items): compare with stateDiff. */
export function emulatorState(w: World): Promise<EmulatorState> {
  return snapshotState(w.emu.endpoint, w.emu.credentials, w.emu.region);
}
