/**
 * The benchmark's units of work, plain data so they cross to worker threads, and a pool that spreads
 * them over the cores (or runs them in this thread when asked for one worker, as the tests do).
 */
import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import type { ModeName } from "./modes.js";
import { maxCusumOnGood, type OracleRun, oracleRun } from "./oracle.js";
import { type RunResult, type RunSpec, runOne } from "./sim.js";
import type { FaultSpec } from "./world.js";

export type Job =
  | { readonly type: "run"; readonly spec: RunSpec }
  | {
      readonly type: "calibrate";
      readonly mode: ModeName;
      readonly rps: number;
      readonly seed: number;
      readonly rates: readonly number[];
    }
  | {
      readonly type: "oracle";
      readonly mode: ModeName;
      readonly rps: number;
      readonly seed: number;
      readonly fault: FaultSpec;
      readonly h: number;
    };

export type JobOutput = RunResult | number[] | OracleRun;

export async function runJob(job: Job): Promise<JobOutput> {
  switch (job.type) {
    case "run":
      return runOne(job.spec);
    case "calibrate":
      return maxCusumOnGood(job.mode, job.rps, job.seed, job.rates);
    case "oracle":
      return oracleRun(job.mode, job.rps, job.seed, job.fault, job.h);
  }
}

/**
 * A worker thread on worker.ts. Loader hooks are per thread, so the worker first registers tsx's
 * (the benchmark runs from TypeScript sources, like the tests).
 */
function spawnWorker(): Worker {
  const api = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true });
}

/** Runs jobs on `workers` threads (≤ 1: in this thread), preserving their order in the output. */
export async function runPool(jobs: readonly Job[], workers = cpus().length): Promise<JobOutput[]> {
  const out: JobOutput[] = new Array(jobs.length);
  if (workers <= 1) {
    for (let i = 0; i < jobs.length; i++) out[i] = await runJob(jobs[i]!);
    return out;
  }
  const chunk = Math.max(1, Math.min(64, Math.ceil(jobs.length / (workers * 16))));
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, () => {
      const w = spawnWorker();
      return new Promise<void>((resolve, reject) => {
        let current: number[] = [];
        const feed = () => {
          if (next >= jobs.length) {
            w.postMessage({ stop: true });
            return;
          }
          const from = next;
          next = Math.min(jobs.length, next + chunk);
          current = [];
          for (let i = from; i < next; i++) current.push(i);
          w.postMessage({ jobs: current.map((i) => jobs[i]) });
        };
        w.on("message", (msg: { ready?: true; outputs?: JobOutput[] }) => {
          if (msg.outputs) {
            for (let j = 0; j < msg.outputs.length; j++) out[current[j]!] = msg.outputs[j]!;
          }
          feed();
        });
        w.on("error", reject);
        w.on("exit", () => resolve());
      });
    }),
  );
  return out;
}
