/**
 * A rehearsed peak on the local target (issue 17): real processes, each serving a bounded rate
 * (--instance-capacity), stable's local target tracking, and a load that climbs (--rps-ramp) while
 * gray carries 50% and then 100%. With gray following the load it grows and nothing is overloaded;
 * with --gray-capacity fixed (the behaviour before) gray keeps each step's size, its instances queue
 * and the rollout is rolled back — a good release lost to a peak.
 *
 * The model is scaled down to be light on a shared machine: 80 requests/s per instance (stable
 * tracks 48), a climb from 40 to 240 requests/s over 16 s — 5 instances' worth at 60%, where a
 * fixed 100% step has 2, whose 120 requests/s each exceed by half what they serve, so their queues
 * grow by seconds whatever the machine's load. Overload is measured where it happens, in the gray
 * instances' own queues (GET /metrics: the longest wait of a request), not by client latency alone.
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

/** The longest a request waited in any gray instance's queue, sampled while the rollout runs. */
function sampleGrayQueues(t: LocalTargetRuntime): { stop: () => Promise<number> } {
  let worst = 0;
  let done = false;
  const loop = (async () => {
    while (!done) {
      const gray = t.environment.fleet.instances("gray").filter((i) => i.alive && i.port !== null);
      await Promise.all(
        gray.map(async (i) => {
          try {
            const res = await request(`http://127.0.0.1:${i.port}/metrics`, { headersTimeout: 2000 });
            const body = (await res.body.json()) as { capacity?: { maxWaitMs?: number } };
            worst = Math.max(worst, body.capacity?.maxWaitMs ?? 0);
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
      return worst;
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
    return { outcome, load, worstWaitMs: await sampler.stop() };
  } finally {
    await sampler.stop();
    await target.dispose();
  }
}

describe("a peak during 50% and 100% on the local target", { timeout: 120_000 }, () => {
  it("gray follows the load: it grows, no instance is overloaded, the release is promoted", async () => {
    const { outcome, load, worstWaitMs } = await peak({});
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
    // No overload: at 60% of capacity per instance (plus the follow's lag), a queue stays short and
    // customers see tens of milliseconds (measured here: p99 ~250 ms on a loaded machine).
    expect(worstWaitMs, why).toBeLessThan(300);
    expect(load.latency!.p99Ms, why).toBeLessThan(1000);
    expect(load.failed).toBe(0);
    expect(load.rps).toBe(240);
  });

  it("with --gray-capacity fixed (before issue 17), gray's queues grow and the good release is not promoted", async () => {
    const { outcome, worstWaitMs, load } = await peak({ grayCapacity: "fixed" });
    const why = `${outcome.outcome}: ${outcome.reason} (customers: ${JSON.stringify(load.latency)})`;
    // The release has no fault: 2 gray instances given 240 requests/s queue, customers wait seconds,
    // and the 100% step fails its latency criteria — it pauses (inconclusive) or rolls back.
    expect(["paused", "rolled-back"], why).toContain(outcome.outcome);
    expect(outcome.steps.at(-1), why).toMatchObject({ weight: 100 });
    expect(outcome.reason).toMatch(/p95|p99|latency|error/);
    expect(outcome.decisions.filter((d) => d.kind === "scale")).toEqual([]);
    // Queued at the instances (up to the proxy's 64 connections × 10 ms each) and behind them.
    expect(worstWaitMs, why).toBeGreaterThan(300);
    // Customers waited over a second at the worst. (Not the p99 of the whole run: how many requests the
    // overload reaches depends on how soon it is caught — once, on a busy machine (load average 12),
    // this case ended after 16 s instead of ~30 s and the run's p99 was 676 ms.)
    expect(load.latency!.maxMs, why).toBeGreaterThan(1000);
  });
});
