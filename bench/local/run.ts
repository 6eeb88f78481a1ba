/**
 * Measures the local target with its DEFAULT policy and load (what `npx gray-deploy deploy-gray
 * --target local` does): wall time of a healthy rollout, and for a release failing 5% of requests
 * the time from gray's first request to the verified rollback and the failed requests gray served.
 * Usage: npx tsx bench/local/run.ts [--runs 5] [--skip-healthy]
 */

import { randomUUID } from "node:crypto";
import { deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import { systemClock } from "../../src/engine/clock.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { deployGray } from "../../src/engine/verbs.js";
import { openLocalTarget } from "../../src/local/target.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

async function once(extra: RawOptions) {
  grayHadTraffic = false;
  const options = resolveOptions({ target: "local", ...extra }, { verb: "deploy-gray" });
  const started = Date.now();
  const target = await openLocalTarget(options);
  let restoredAt: number | null = null;
  try {
    await target.begin?.();
    const outcome = await deployGray(deployRequest(options), target.ports, {
      clock: systemClock(),
      owner: { id: randomUUID(), host: "bench", pid: process.pid, verb: "deploy-gray" },
      newId: randomUUID,
      onEvent: (e: EngineEvent) => {
        // The first verified write back to gray 0 after gray had traffic is the rollback.
        if (e.type !== "weights") return;
        if (e.weights.gray > 0) grayHadTraffic = true;
        else if (grayHadTraffic && restoredAt === null) restoredAt = e.at;
      },
    });
    const load = await target.environment.load.stop();
    const proxy = target.environment.proxy.stats();
    return { outcome, wallMs: Date.now() - started, proxy, load, restoredAt };
  } finally {
    await target.dispose();
  }
}

let grayHadTraffic = false;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const runs = arg("runs", 5);
const results: Record<string, unknown> = {};

if (!process.argv.includes("--skip-healthy")) {
  grayHadTraffic = false;
  const h = await once({});
  results.healthy = {
    outcome: h.outcome.outcome,
    wallSeconds: h.wallMs / 1000,
    clientFailed: h.load.failed,
    clientCompleted: h.load.completed,
  };
  console.error(
    `healthy: ${h.outcome.outcome} in ${(h.wallMs / 1000).toFixed(1)} s, client failures ${h.load.failed}/${h.load.completed}`,
  );
}

const toRollback: number[] = [];
const failed: number[] = [];
const outcomes: string[] = [];
for (let i = 0; i < runs; i++) {
  grayHadTraffic = false;
  const r = await once({ grayErrorRate: "5%" });
  const first = r.proxy.gray.firstRequestAt;
  const secs = first !== null && r.restoredAt !== null ? (r.restoredAt - first) / 1000 : Number.NaN;
  toRollback.push(secs);
  failed.push(r.proxy.gray.errors);
  outcomes.push(`${r.outcome.outcome}@${r.outcome.steps.map((s) => s.weight).join(",")}`);
  console.error(
    `5% errors run ${i + 1}: ${outcomes.at(-1)}, gray first request → verified 100/0 ${secs.toFixed(1)} s, gray 5xx served ${r.proxy.gray.errors} of ${r.proxy.gray.requests}`,
  );
}
results.fivePercent = {
  runs,
  outcomes,
  secondsToVerifiedRollback: { median: median(toRollback), max: Math.max(...toRollback), all: toRollback },
  failedRequests: { median: median(failed), max: Math.max(...failed), all: failed },
};
console.log(JSON.stringify(results));
