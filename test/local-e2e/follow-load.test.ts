/**
 * A rehearsed peak on the local target (issue 17): real processes, each serving a bounded rate
 * (--instance-capacity), stable's local target tracking, and a load that climbs (--rps-ramp) while
 * gray carries 50% and then 100%. With gray following the load it grows and nothing is overloaded;
 * with --gray-capacity fixed (the behaviour before) gray keeps each step's size, its instances
 * queue and the rollout is rolled back — a good release lost to a peak.
 *
 * The model is scaled down to be light on a shared machine: 80 requests/s per instance (stable
 * tracks 48), a climb from 40 to 240 requests/s over 16 s — 5 instances' worth at 60%, where a
 * fixed 100% step has 2, whose 120 requests/s each exceed by half what they serve, so their queues
 * grow by seconds whatever the machine's load. Overload is measured where it happens, at the gray
 * instances (GET /metrics): the highest rate offered to one over any two seconds against the 80 it
 * serves — about 60 when gray follows (48 tracked, plus the follow's lag), about 100 when it is
 * fixed — rather than by the longest queue wait or the customers' latency, which a busy machine's
 * pauses also lengthen (a following gray's worst wait read 311 and 519 ms in full runs, and its
 * customers' p99 1.6 s, when an overloaded gray caught early gave its customers 0.65 s at worst).
 * The latency thresholds (slack 300 ms, promotion p95 1.5 s, the same in both runs) are about
 * control, not latency: two busy shared cores swing a process's p95 by hundreds of milliseconds.
 */
import { randomUUID } from "node:crypto";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import { systemClock } from "../../src/engine/clock.js";
import { deployGray } from "../../src/engine/verbs.js";
import type { LocalTargetRuntime } from "../../src/local/target.js";
import { openLocalTarget } from "../../src/local/target.js";

const PEAK: RawOptions = {
  target: "local",
  instances: 2,
  instanceCapacity: 80,
  rps: 40,
  rpsRamp: 240,
  steps: "50,100",
  interval: "500ms",
  metricPeriod: "500ms",
  metricsDelay: "500ms",
  rollbackWindow: "3s",
  promotionWindow: "3s",
  bake: "8s",
  maxBake: "16s",
  returnSteps: "100",
  returnBake: "4s",
  minRequests: 30,
  healthyTimeout: "15s",
  followLoadDelay: "500ms",
  // About control, not latency: two shared cores swing a process's p95 by 100 ms or more, while an
  // overloaded instance's queue adds seconds.
  latencySlack: "300ms",
  promoteP95: "1500ms",
};

interface GrayQueues {
  /** The highest rate offered to one gray instance over any two seconds (requests/s). */
  peakRps: number;
  /** The same over any five seconds: what the assertions judge (a pause bunches less of it). */
  sustainedRps: number;
  /** The longest a request waited in a gray instance's queue (ms). */
  worstWaitMs: number;
}

/** What the gray instances' own counters say, sampled while the rollout runs (retired ones included). */
function sampleGrayQueues(t: LocalTargetRuntime): { stop: () => Promise<GrayQueues> } {
  const seen: GrayQueues = { peakRps: 0, sustainedRps: 0, worstWaitMs: 0 };
  let done = false;
  const loop = (async () => {
    while (!done) {
      const gray = t.environment.fleet.instances("gray").filter((i) => i.alive && i.port !== null);
      await Promise.all(
        gray.map(async (i) => {
          try {
            const res = await request(`http://127.0.0.1:${i.port}/metrics`, { headersTimeout: 2000 });
            const body = (await res.body.json()) as {
              capacity?: { maxWaitMs?: number; peakRps?: number; sustainedRps?: number };
            };
            seen.peakRps = Math.max(seen.peakRps, body.capacity?.peakRps ?? 0);
            seen.sustainedRps = Math.max(seen.sustainedRps, body.capacity?.sustainedRps ?? 0);
            seen.worstWaitMs = Math.max(seen.worstWaitMs, body.capacity?.maxWaitMs ?? 0);
          } catch {
            // retired meanwhile
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 400));
    }
  })();
  return {
    stop: async () => {
      done = true;
      await loop;
      return seen;
    },
  };
}

async function peak(extra: RawOptions) {
  const options = resolveOptions({ ...PEAK, ...extra }, { verb: "deploy-gray" });
  const target = await openLocalTarget(options);
  const sampler = sampleGrayQueues(target);
  try {
    await target.begin?.();
    const outcome = await deployGray(deployRequest(options), target.ports, {
      clock: systemClock(),
      owner: { id: randomUUID(), host: "test", pid: process.pid, verb: "deploy-gray" },
      newId: randomUUID,
    });
    const load = await target.environment.load.stop();
    return { outcome, load, gray: await sampler.stop() };
  } finally {
    await sampler.stop();
    await target.dispose();
  }
}

describe("a peak during 50% and 100% on the local target", { timeout: 120_000 }, () => {
  it("gray follows the load: it grows, no instance is overloaded, the release is promoted", async () => {
    const { outcome, load, gray } = await peak({});
    const why = `${outcome.reason}\n${outcome.decisions.map((d) => `${d.kind}: ${d.reason}`).join("\n")}`;
    expect(outcome.outcome, why).toBe("promoted");
    const grew = outcome.decisions.filter(
      (d) => d.kind === "scale" && d.capacity?.pool === "gray" && d.capacity.to > d.capacity.from,
    );
    expect(grew.length, why).toBeGreaterThan(0);
    // Gray went beyond the 2 instances a fixed 100% step would have had.
    expect(Math.max(...grew.map((d) => d.capacity!.to)), why).toBeGreaterThanOrEqual(4);
    // At 50% it was sized so that a gray instance carries no more than a stable one (per-instance
    // parity with stable, which is held at the whole load's size), never short of it.
    expect(
      grew.some((d) => /per-instance parity .* at gray's 50%/.test(d.reason)),
      why,
    ).toBe(true);
    expect(why).not.toMatch(/cannot reach per-instance parity/);
    expect(
      outcome.decisions.some((d) => d.kind === "scale" && d.capacity?.pool === "stable"),
      why,
    ).toBe(true);
    // No overload: no gray instance was offered more than the 80 requests/s it serves (about 60 were:
    // 48 tracked plus the follow's lag). Not the customers' latency: on a busy machine the process
    // that runs the customers, the proxy and the rollout lags by itself (a full run measured a p99 of
    // 1.6 s here while no instance was overloaded, and 0.65 s as the worst of an overloaded run).
    console.log(`[measure] follow-load following: gray ${JSON.stringify(gray)}`);
    expect(gray.sustainedRps, `${why}\ngray: ${JSON.stringify(gray)}`).toBeLessThan(80);
    expect(load.failed).toBe(0);
    expect(load.rps).toBe(240);
  });

  it("with --gray-capacity fixed (before issue 17), gray's queues grow and the good release is not promoted", async () => {
    const { outcome, gray, load } = await peak({ grayCapacity: "fixed" });
    const why = `${outcome.outcome}: ${outcome.reason} (customers: ${JSON.stringify(load.latency)}; gray: ${JSON.stringify(gray)})`;
    // The release has no fault: 2 gray instances given up to 240 requests/s queue, customers wait,
    // and the 100% step fails its latency criteria — it pauses (inconclusive) or rolls back.
    expect(["paused", "rolled-back"], why).toContain(outcome.outcome);
    expect(outcome.steps.at(-1), why).toMatchObject({ weight: 100 });
    expect(outcome.reason).toMatch(/p95|p99|latency|error/);
    expect(outcome.decisions.filter((d) => d.kind === "scale")).toEqual([]);
    // Overloaded: a gray instance was offered more than the 80 requests/s it serves (about 100 were:
    // half of up to 240). Not the customers' worst latency nor the queue's worst wait: how high they
    // climb depends on how soon the overload is caught (once, on a busy machine, it was caught with
    // customers' worst at 648 ms, and this test asked for more than 1 s).
    console.log(`[measure] follow-load fixed: gray ${JSON.stringify(gray)}`);
    expect(gray.sustainedRps, why).toBeGreaterThan(80);
  });
});
