/**
 * Running a rollout against the emulated AWS world with real traffic, and reading back what AWS looks
 * like afterwards.
 */

import { spawn } from "node:child_process";
import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeRulesCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { deployRequest } from "../../../src/app/requests.js";
import type { RawOptions } from "../../../src/app/schema.js";
import { PIN_TAG } from "../../../src/aws/fleet.js";
import type { Outcome } from "../../../src/contract/outcome.js";
import type { RolloutState } from "../../../src/core/state.js";
import { systemClock } from "../../../src/engine/clock.js";
import type { EngineEvent } from "../../../src/engine/events.js";
import { deployGray } from "../../../src/engine/verbs.js";
import { EmulatedAlb } from "./data-plane.js";
import { cliEnv, openTarget, options, STATE_TABLE, type World } from "./world.js";

export interface GroupView {
  readonly version: string | undefined;
  readonly desired: number | undefined;
  readonly min: number | undefined;
  readonly instanceVersions: string[];
  readonly suspended: string[];
  readonly pinned: boolean;
}

export async function group(w: World, name: string): Promise<GroupView> {
  const out = await w.aws.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const g = out.AutoScalingGroups![0]!;
  return {
    version: g.LaunchTemplate?.Version,
    desired: g.DesiredCapacity,
    min: g.MinSize,
    instanceVersions: (g.Instances ?? []).map((i) => i.LaunchTemplate?.Version ?? "?").sort(),
    suspended: (g.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? "").sort(),
    pinned: (g.Tags ?? []).some((t) => t.Key === PIN_TAG),
  };
}

export async function forward(
  w: World,
): Promise<{ stable: number; gray: number; stickiness: number | null }> {
  const out = await w.aws.elb.send(new DescribeRulesCommand({ RuleArns: [w.fx.ruleArn] }));
  const f = out.Rules![0]!.Actions!.find((a) => a.Type === "forward")!.ForwardConfig!;
  const weight = (arn: string) => f.TargetGroups!.find((t) => t.TargetGroupArn === arn)!.Weight!;
  return {
    stable: weight(w.fx.stable.targetGroupArn),
    gray: weight(w.fx.gray.targetGroupArn),
    stickiness: f.TargetGroupStickinessConfig?.Enabled
      ? (f.TargetGroupStickinessConfig.DurationSeconds ?? null)
      : null,
  };
}

export async function storedState(w: World): Promise<RolloutState | null> {
  const out = await w.aws.dynamo.send(
    new GetItemCommand({ TableName: STATE_TABLE, Key: { scope: { S: w.fx.ruleArn } }, ConsistentRead: true }),
  );
  return out.Item?.state?.S ? (JSON.parse(out.Item.state.S) as RolloutState) : null;
}

/** Starts the emulated data plane and waits until stable serves. */
export async function startDataPlane(
  w: World,
  opts: { faults?: ConstructorParameters<typeof EmulatedAlb>[0]["faults"]; rps?: number } = {},
): Promise<EmulatedAlb> {
  // A real ALB starts new targets in `initial` until its health checks pass: so does the emulator now.
  await w.emu.configure({ newTargetsInitial: true, refreshStepSeconds: 0.2 });
  const alb = new EmulatedAlb({
    emu: w.emu,
    aws: w.aws,
    fx: w.fx,
    periodMs: 1000,
    rps: opts.rps ?? 150,
    ...opts,
  });
  await alb.start();
  await alb.waitHealthy("stable", 2);
  alb.startLoad();
  // A few periods of traffic on stable alone, as before any real rollout.
  await new Promise((r) => setTimeout(r, 1500));
  return alb;
}

export interface InProcessRun {
  readonly outcome: Outcome;
  readonly events: EngineEvent[];
  readonly logs: string[];
}

/** deploy-gray in this process, through the AWS target (so the test can see the events). */
export async function deployInProcess(w: World, extra: RawOptions = {}): Promise<InProcessRun> {
  const o = options(w, "deploy-gray", extra);
  const logs: string[] = [];
  const target = await openTarget(w, o, (l) => logs.push(l));
  const events: EngineEvent[] = [];
  try {
    const outcome = await deployGray(deployRequest(o), target.ports, {
      clock: systemClock(),
      owner: { id: `test-${Date.now()}`, host: "test", pid: process.pid, verb: "deploy-gray" },
      newId: () => `rollout-${Date.now()}`,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "log") logs.push(`${e.level}: ${e.message}`);
      },
    });
    return { outcome, events, logs };
  } finally {
    await target.dispose();
  }
}

/** The CLI as a child process, the way a pipeline runs it. */
export function cli(
  w: World,
  verb: string,
  flags: RawOptions,
  env: Record<string, string> = {},
): Promise<{ code: number | null; outcome: Outcome | null; stdout: string; stderr: string }> {
  const args = [verb, "--json"];
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined) continue;
    args.push(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(v));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/gray-deploy.mjs", ...args], {
      env: { ...cliEnv(w), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.once("error", reject);
    // "close", not "exit": only then has all of stdout and stderr been read.
    child.once("close", (code) => {
      let outcome: Outcome | null = null;
      try {
        outcome = JSON.parse(stdout) as Outcome;
      } catch {
        // not JSON: the test will show stdout/stderr
      }
      resolve({ code, outcome, stdout, stderr });
    });
  });
}
