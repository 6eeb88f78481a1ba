/**
 * Issue 17's figures, against the AWS emulator with real traffic (the emulated ALB data plane of
 * test/aws), through the real AWS adapters:
 * - the extra AWS calls per evaluation for following the load: the same healthy rollout with
 *   --gray-capacity fixed and follow (stable has an ALBRequestCountPerTarget policy), per-operation
 *   median over the evaluations without a resize, and what a resize costs;
 * - rollback-release after the promotion: time from the command to traffic on the previous version
 *   (the verified stable 0 / gray 100 write) and its total time.
 *
 *   npx tsx bench/way-back/run.ts [--json]
 *
 * Timings are the emulator's (loopback; instances healthy at once, refresh steps of 0.2 s): they
 * show what gray-deploy itself adds, not what AWS's control plane and instance boot take.
 */
import { parseArgs } from "node:util";
import { PutScalingPolicyCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeListenersCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { addressOf, deployRequest } from "../../src/app/requests.js";
import type { CallCounts } from "../../src/aws/connection.js";
import { openAwsTarget } from "../../src/aws/target.js";
import { systemClock } from "../../src/engine/clock.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { rollbackRelease } from "../../src/engine/rollback-release.js";
import { deployGray } from "../../src/engine/verbs.js";
import { NO_FAULTS } from "../../src/local/instance.js";
import { startDataPlane } from "../../test/aws/support/rollout.js";
import { buildWorld, options, type World } from "../../test/aws/support/world.js";
import { awsClients } from "../../test/support/aws-fixture.js";
import { type Emulator, startEmulator } from "../../test/support/emulator.js";

const args = parseArgs({ options: { json: { type: "boolean", default: false } } });

interface Mark {
  readonly event: EngineEvent;
  readonly calls: CallCounts;
  readonly at: number;
}

const ops = (a: CallCounts, b: CallCounts): Record<string, number> =>
  Object.fromEntries(
    Object.entries(b.operations)
      .map(([k, v]) => [k.split(":")[1]!, v - (a.operations[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function targetTracking(w: World): Promise<void> {
  const tg = w.fx.stable.targetGroupArn.split(":").pop()!;
  const out = await w.aws.elb.send(new DescribeListenersCommand({ ListenerArns: [w.fx.listenerArn] }));
  const lb = out.Listeners![0]!.LoadBalancerArn!.split(":loadbalancer/")[1]!;
  await w.aws.autoScaling.send(
    new PutScalingPolicyCommand({
      AutoScalingGroupName: w.fx.stable.asgName,
      PolicyName: "requests-per-target",
      PolicyType: "TargetTrackingScaling",
      TargetTrackingConfiguration: {
        PredefinedMetricSpecification: {
          PredefinedMetricType: "ALBRequestCountPerTarget",
          ResourceLabel: `${lb}/${tg}`,
        },
        TargetValue: 6000,
      },
    }),
  );
}

async function rollout(emu: Emulator, grayCapacity: "fixed" | "follow", thenRestore: boolean) {
  await emu.reset();
  const aws = awsClients(emu.clientConfig());
  const w = await buildWorld(emu, aws);
  await targetTracking(w);
  const alb = await startDataPlane(w, { faults: () => NO_FAULTS });
  const o = options(w, "deploy-gray", { grayCapacity, followLoadDelay: "1s", steps: "25,50,100" });
  const target = await openAwsTarget(o, { credentials: async () => w.emu.credentials });
  try {
    const before = target.calls.snapshot();
    const marks: Mark[] = [];
    const ctx = (verb: string) => ({
      clock: systemClock(),
      owner: { id: `bench-${verb}-${Date.now()}`, host: "bench", pid: process.pid, verb },
      newId: () => `bench-${verb}-${Date.now()}`,
      onEvent: (event: EngineEvent) =>
        marks.push({ event, calls: target.calls.since(before), at: Date.now() }),
    });
    const outcome = await deployGray(deployRequest(o), target.ports, ctx("deploy-gray"));
    // Evaluations: consecutive observations in the same forward step, with no write between them.
    const perEval: Record<string, number>[] = [];
    const obs = marks.filter(
      (m) => m.event.type === "observation" && (m.event as { phase: string }).phase === "shifting",
    );
    for (let i = 1; i < obs.length; i++) {
      const a = obs[i - 1]!;
      const b = obs[i]!;
      const between = marks.slice(marks.indexOf(a) + 1, marks.indexOf(b));
      if (between.some((m) => m.event.type === "weights")) continue;
      const resized = between.some(
        (m) => m.event.type === "decision" && m.event.decision.kind === ("scale" as never),
      );
      perEval.push({ ...ops(a.calls, b.calls), ...(resized ? { resized: 1 } : {}) });
    }
    const plain = perEval.filter((e) => e.resized === undefined);
    const names = [...new Set(plain.flatMap((e) => Object.keys(e)))].sort();
    const typical = Object.fromEntries(names.map((n) => [n, median(plain.map((e) => e[n] ?? 0))]));
    const withResize = perEval.filter((e) => e.resized !== undefined);
    const result: Record<string, unknown> = {
      grayCapacity,
      outcome: outcome.outcome,
      scaleDecisions: outcome.decisions.filter((d) => d.kind === "scale").length,
      evaluations: perEval.length,
      perEvaluation: typical,
      evaluationsWithAResize: withResize.length,
      totalByOperation: ops(
        { operations: {}, attempts: {}, totalOperations: 0, totalAttempts: 0 } as unknown as CallCounts,
        target.calls.since(before),
      ),
    };
    if (thenRestore && outcome.outcome === "promoted") {
      const from = marks.length;
      const start = Date.now();
      const restored = await rollbackRelease(addressOf(o), target.ports, ctx("rollback-release"), {
        by: "bench",
      });
      const end = Date.now();
      const onPrevious = marks
        .slice(from)
        .find((m) => m.event.type === "weights" && m.event.weights.gray === 100 && m.event.verified);
      result.rollbackRelease = {
        outcome: restored.outcome,
        commandToTrafficOnPreviousMs: onPrevious ? onPrevious.at - start : null,
        totalMs: end - start,
        calls: ops(marks[from - 1]!.calls, target.calls.since(before)),
        failedRequests: alb.load.stats().failed,
      };
    }
    return result;
  } finally {
    await target.dispose();
    await alb.stop();
    aws.destroy();
  }
}

const emu = await startEmulator({});
try {
  const fixed = await rollout(emu, "fixed", false);
  const follow = await rollout(emu, "follow", true);
  if (args.values.json) console.log(JSON.stringify({ fixed, follow }, null, 2));
  else {
    console.log("fixed :", JSON.stringify(fixed, null, 1));
    console.log("follow:", JSON.stringify(follow, null, 1));
  }
} finally {
  await emu.stop();
}
