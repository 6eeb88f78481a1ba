/**
 * Measures the AWS adapters against the AWS emulator with real traffic (the emulated ALB data plane of
 * test/aws): AWS API calls per evaluation, per step and per full rollout, and the rollback latency —
 * from the evaluation that fails to the verified stable 100 / gray 0 write.
 *
 *   npx tsx bench/aws/run.ts              # one healthy rollout + 3 rollbacks + the signal comparison
 *   npx tsx bench/aws/run.ts --runs 5 --json
 *   npx tsx bench/aws/run.ts --only signals   # only the signal comparison (about 6 minutes)
 *
 * The signal comparison (issue 15) runs the same bad release (5% errors) at 200 requests/s against
 * the emulator at production-like lateness — the ALB's metrics in one-minute periods written two
 * minutes after they end, the service's own (EMF, 10-second periods) stored 5 s after each is
 * written — with the AWS target's default plan, once with `--signal alb` and once with
 * `--signal service` (--interval 5s, its 10 s periods 15 s late). It reports, for each, the time
 * from gray's first request (the data plane applying gray's first weight) to the verified write of
 * stable 100%, and the requests that failed (gray's 5xx counted by the emulated load balancer).
 *
 * Timings are the emulator's (loopback, no throttling): they show what gray-deploy itself adds, not
 * what AWS's control plane takes. Call counts do not depend on the emulator; per-step counts scale with
 * bake / interval, so the report also projects them onto the AWS defaults (bake 12m, interval 30s).
 */

import { parseArgs } from "node:util";
import { deployRequest } from "../../src/app/requests.js";
import type { CallCounts } from "../../src/aws/connection.js";
import { openAwsTarget } from "../../src/aws/target.js";
import type { Outcome } from "../../src/contract/outcome.js";
import { systemClock } from "../../src/engine/clock.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { deployGray } from "../../src/engine/verbs.js";
import { NO_FAULTS } from "../../src/local/instance.js";
import { startDataPlane } from "../../test/aws/support/rollout.js";
import { buildWorld, options, type World } from "../../test/aws/support/world.js";
import { awsClients } from "../../test/support/aws-fixture.js";
import { type Emulator, startEmulator } from "../../test/support/emulator.js";

const args = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const RUNS = Number(args.values.runs);

interface Mark {
  readonly event: EngineEvent;
  readonly calls: CallCounts;
}

interface RunResult {
  readonly outcome: Outcome;
  readonly marks: Mark[];
  readonly total: CallCounts;
  readonly wallMs: number;
  readonly dataPlaneApplied: { at: number; stable: number; gray: number }[];
}

async function run(w: World, extra: Record<string, unknown>): Promise<RunResult> {
  const o = options(w, "deploy-gray", extra);
  const target = await openAwsTarget(o, { credentials: async () => w.emu.credentials });
  const marks: Mark[] = [];
  const start = Date.now();
  try {
    const before = target.calls.snapshot();
    const outcome = await deployGray(deployRequest(o), target.ports, {
      clock: systemClock(),
      owner: { id: `bench-${start}`, host: "bench", pid: process.pid, verb: "deploy-gray" },
      newId: () => `bench-${start}`,
      onEvent: (event) => marks.push({ event, calls: target.calls.since(before) }),
    });
    return {
      outcome,
      marks,
      total: target.calls.since(before),
      wallMs: Date.now() - start,
      dataPlaneApplied: [],
    };
  } finally {
    await target.dispose();
  }
}

const diff = (a: CallCounts, b: CallCounts): Record<string, number> =>
  Object.fromEntries(
    Object.entries(b.operations)
      .map(([k, v]) => [k.split(":")[1]!, v - (a.operations[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );
const sum = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Evaluations: from one observation to the next within the same step (observe + its save). */
function evaluations(marks: Mark[]): Record<string, number>[] {
  const out: Record<string, number>[] = [];
  const obs = marks.filter(
    (m) =>
      m.event.type === "observation" &&
      ["shifting", "returning"].includes((m.event as { phase: string }).phase),
  );
  for (let i = 1; i < obs.length; i++) {
    const a = obs[i - 1]!;
    const b = obs[i]!;
    const sameStep =
      JSON.stringify((a.event as { weights: unknown }).weights) ===
      JSON.stringify((b.event as { weights: unknown }).weights);
    const between = marks.slice(marks.indexOf(a) + 1, marks.indexOf(b));
    if (sameStep && !between.some((m) => m.event.type === "weights")) out.push(diff(a.calls, b.calls));
  }
  return out;
}

/** Steps: from one verified weight write to the next (entering the step, then all its evaluations). */
function steps(
  marks: Mark[],
  end: CallCounts,
): { weights: string; ops: Record<string, number>; evaluations: number }[] {
  const writes = marks.filter((m) => m.event.type === "weights");
  return writes.map((m, i) => {
    const next = writes[i + 1];
    const slice = marks.slice(marks.indexOf(m), next ? marks.indexOf(next) : marks.length);
    const w = (m.event as { weights: { stable: number; gray: number } }).weights;
    // From the mark before this write's own calls: the previous mark.
    const prev = marks[marks.indexOf(m) - 1] ?? m;
    return {
      weights: `${w.stable}/${w.gray}`,
      ops: diff(prev.calls, next ? marks[marks.indexOf(next) - 1]!.calls : end),
      evaluations: slice.filter((x) => x.event.type === "observation").length,
    };
  });
}

async function fresh(emu: Emulator, faults: (image: string, release: string) => typeof NO_FAULTS) {
  await emu.reset();
  const aws = awsClients(emu.clientConfig());
  const w = await buildWorld(emu, aws);
  const alb = await startDataPlane(w, { faults: (image) => faults(image, w.release) });
  return { w, alb, aws };
}

async function measureHealthy(emu: Emulator) {
  const { w, alb, aws } = await fresh(emu, () => NO_FAULTS);
  try {
    const r = await run(w, { steps: "5,25,50,100", returnSteps: "50,100", minRequests: 5 });
    const evals = evaluations(r.marks);
    const perEval = evals.map(sum);
    const stepList = steps(r.marks, r.total);
    const firstWrite = r.marks.find((m) => m.event.type === "weights");
    if (firstWrite === undefined) throw new Error(`no weight was written: ${r.outcome.reason}`);
    const before = r.marks[r.marks.indexOf(firstWrite) - 1]!;
    const phases = r.marks.filter((m) => m.event.type === "phase");
    const promoStart = phases.find((m) => m.event.type === "phase" && m.event.to === "promoting");
    const promoEnd = phases.find((m) => m.event.type === "phase" && m.event.from === "promoting");
    const o = options(w, "deploy-gray");
    const evalOps = median(perEval);
    // What entering a step costs beyond its evaluations (read, write, verify, saves), from the
    // steps that do not contain the promotion or the end.
    const entry = median(
      stepList
        .filter((s) => s.ops.StartInstanceRefresh === undefined && s.ops.DeleteTags === undefined)
        .map((s) => sum(s.ops) - s.evaluations * evalOps),
    );
    const evalsPerStep = Math.ceil((12 * 60_000) / 30_000);
    return {
      outcome: r.outcome.outcome,
      wallSeconds: r.wallMs / 1000,
      totalCalls: r.total.totalOperations,
      totalAttempts: r.total.totalAttempts,
      byOperation: Object.fromEntries(
        Object.entries(r.total.operations).map(([k, v]) => [k.split(":")[1], v]),
      ),
      perEvaluation: {
        median: evalOps,
        min: Math.min(...perEval),
        max: Math.max(...perEval),
        samples: perEval.length,
        typical: evals[Math.floor(evals.length / 2)],
      },
      stepEntry: entry,
      beforeFirstStep: before.calls.totalOperations,
      promotion:
        promoStart && promoEnd ? promoEnd.calls.totalOperations - promoStart.calls.totalOperations : null,
      steps: stepList.map((s) => ({
        weights: s.weights,
        calls: sum(s.ops),
        evaluations: s.evaluations,
        ops: s.ops,
      })),
      plan: { intervalMs: o.interval, bakeMs: o.bake },
      projectedAwsDefaults: {
        note: "bake 12m, interval 30s: 24 evaluations per step; 6 steps (5,25,50,100 then 50,100)",
        perStep: evalsPerStep * evalOps + entry,
        perRolloutExcludingRefreshPolling:
          before.calls.totalOperations + 6 * (evalsPerStep * evalOps + entry) + 8,
      },
    };
  } finally {
    await alb.stop();
    aws.destroy();
  }
}

async function measureRollback(emu: Emulator, runs: number) {
  const samples: {
    decisionToVerifiedMs: number;
    decisionToDataPlaneMs: number | null;
    calls: Record<string, number>;
  }[] = [];
  for (let i = 0; i < runs; i++) {
    const { w, alb, aws } = await fresh(emu, (image, release) =>
      image === release ? { ...NO_FAULTS, errorRate: 0.05 } : NO_FAULTS,
    );
    try {
      const r = await run(w, { steps: "25,50,100" });
      const decision = r.marks.find(
        (m) => m.event.type === "decision" && m.event.decision.kind === "rollback",
      );
      const verified = r.marks.find(
        (m) =>
          m.event.type === "weights" &&
          m.event.verified &&
          m.event.weights.stable === 100 &&
          decision !== undefined &&
          m.event.at >= decision.event.at,
      );
      if (!decision || !verified)
        throw new Error(`run ${i}: no rollback (${r.outcome.outcome}: ${r.outcome.reason})`);
      const applied = alb.weights.changes.find(
        (c) => c.at >= decision.event.at && c.config.weights.stable === 100,
      );
      samples.push({
        decisionToVerifiedMs: verified.event.at - decision.event.at,
        decisionToDataPlaneMs: applied ? applied.at - decision.event.at : null,
        calls: diff(decision.calls, verified.calls),
      });
    } finally {
      await alb.stop();
      aws.destroy();
    }
  }
  const ms = samples.map((l) => l.decisionToVerifiedMs);
  return {
    runs: samples.length,
    decisionToVerifiedMs: { median: median(ms), min: Math.min(...ms), max: Math.max(...ms) },
    decisionToDataPlaneMs: samples.map((l) => l.decisionToDataPlaneMs),
    callsInRollbackWrite: samples[0]?.calls,
    samples,
  };
}

/** The AWS target's default plan (bench/analysis uses the same), with the given signal. */
function productionPlan(signal: "alb" | "service"): Record<string, unknown> {
  const plan = {
    steps: "5,25,50,100",
    returnSteps: "50,100",
    interval: "30s",
    metricPeriod: "60s",
    metricsDelay: "2m",
    rollbackWindow: "5m",
    promotionWindow: "10m",
    bake: "12m",
    maxBake: "30m",
    returnBake: "7m",
    minRequests: 100,
  };
  return signal === "alb"
    ? plan
    : { ...plan, signal: "service", interval: "5s", servicePeriod: "10s", serviceDelay: "15s" };
}

interface SignalRun {
  readonly signal: "alb" | "service";
  readonly outcome: string;
  readonly reason: string;
  /** From the data plane applying gray's first weight to the verified write of stable 100%. */
  readonly firstGrayToStableMs: number | null;
  /** Gray's 5xx as the emulated load balancer counted them over the whole run. */
  readonly failedRequests: number;
  readonly grayRequests: number;
  /** Load-balancer periods with gray traffic written to CloudWatch before the rollback was decided. */
  readonly albPeriodsWithGrayBeforeDecision: number;
}

async function measureSignal(emu: Emulator, signal: "alb" | "service"): Promise<SignalRun> {
  await emu.reset();
  const aws = awsClients(emu.clientConfig());
  const w = await buildWorld(emu, aws);
  const alb = await startDataPlane(w, {
    rps: 200,
    periodMs: 60_000,
    albDelayMs: 120_000,
    service: { periodMs: 10_000, delayMs: 5_000 },
    faults: (image) => (image === w.release ? { ...NO_FAULTS, errorRate: 0.05 } : NO_FAULTS),
  });
  try {
    const before = alb.proxy.stats().gray;
    const r = await run(w, productionPlan(signal));
    const decision = r.marks.find((m) => m.event.type === "decision" && m.event.decision.kind === "rollback");
    const verified = r.marks.find(
      (m) =>
        m.event.type === "weights" &&
        m.event.verified &&
        m.event.weights.stable === 100 &&
        decision !== undefined &&
        m.event.at >= decision.event.at,
    );
    const first = alb.weights.changes.find((c) => c.config.weights.gray > 0);
    const after = alb.proxy.stats().gray;
    return {
      signal,
      outcome: r.outcome.outcome,
      reason: r.outcome.reason,
      firstGrayToStableMs: first && verified ? verified.event.at - first.at : null,
      failedRequests: after.errors - before.errors,
      grayRequests: after.requests - before.requests,
      albPeriodsWithGrayBeforeDecision: alb.albPeriods.filter(
        (p) => p.grayRequests > 0 && decision !== undefined && p.publishedAt <= decision.event.at,
      ).length,
    };
  } finally {
    await alb.stop();
    aws.destroy();
  }
}

async function main(): Promise<void> {
  const emu = await startEmulator();
  let healthy: Awaited<ReturnType<typeof measureHealthy>> | null = null;
  let rollback: Awaited<ReturnType<typeof measureRollback>> | null = null;
  const signals: SignalRun[] = [];
  try {
    if (args.values.only === undefined || args.values.only === "calls") {
      healthy = await measureHealthy(emu);
      rollback = await measureRollback(emu, RUNS);
    }
    if (args.values.only === undefined || args.values.only === "signals") {
      for (const signal of ["alb", "service"] as const) {
        process.stderr.write(`signal comparison: --signal ${signal}…\n`);
        signals.push(await measureSignal(emu, signal));
      }
    }
  } finally {
    await emu.stop();
  }
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify({ healthy, rollback, signals }, null, 2)}\n`);
    return;
  }
  const signalLines = signals.map(
    (s) =>
      `--signal ${s.signal}: ${s.outcome}; gray's first request → verified stable 100%: ${s.firstGrayToStableMs === null ? "–" : `${(s.firstGrayToStableMs / 1000).toFixed(1)} s`}; failed requests ${s.failedRequests} of ${s.grayRequests} sent to gray; load-balancer periods with gray traffic in CloudWatch before the decision: ${s.albPeriodsWithGrayBeforeDecision} (${s.reason})`,
  );
  if (healthy === null || rollback === null) {
    process.stdout.write(`${signalLines.join("\n")}\n`);
    return;
  }
  const h = healthy;
  const rb = rollback;
  const lines = [
    `healthy rollout (steps 5,25,50,100, return 50,100; interval ${h.plan.intervalMs} ms, bake ${h.plan.bakeMs} ms): ${h.outcome} in ${h.wallSeconds.toFixed(1)} s`,
    `  AWS calls, whole rollout: ${h.totalCalls} (${h.totalAttempts} HTTP attempts)`,
    `  by operation: ${Object.entries(h.byOperation)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `  per evaluation: median ${h.perEvaluation.median} (min ${h.perEvaluation.min}, max ${h.perEvaluation.max}, ${h.perEvaluation.samples} samples): ${JSON.stringify(h.perEvaluation.typical)}`,
    `  before the first step (preflight, release version, pin, gray up, baseline): ${h.beforeFirstStep}`,
    `  promotion (instance refresh, polled): ${h.promotion ?? "?"}`,
    ...h.steps.map(
      (s) => `  step ${s.weights}: ${s.calls} calls (${s.evaluations} evaluations) ${JSON.stringify(s.ops)}`,
    ),
    `  entering a step (read, write, read back, saves): ${h.stepEntry} calls beyond its evaluations`,
    `  projected on AWS defaults (${h.projectedAwsDefaults.note}): ~${h.projectedAwsDefaults.perStep} calls per step, ~${h.projectedAwsDefaults.perRolloutExcludingRefreshPolling} per rollout plus the instance refresh's polling (2 calls per poll, every 5 s backing off to 20 s)`,
    `rollback latency, failing evaluation → verified stable 100 / gray 0 (${rb.runs} runs): median ${rb.decisionToVerifiedMs.median} ms (min ${rb.decisionToVerifiedMs.min}, max ${rb.decisionToVerifiedMs.max}); the data plane applied it after ${rb.decisionToDataPlaneMs.join(", ")} ms (it polls DescribeRules every 100 ms)`,
    `  calls in the rollback write: ${JSON.stringify(rb.callsInRollbackWrite)}`,
    ...signalLines,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
process.exit(0);
