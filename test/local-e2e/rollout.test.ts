/**
 * Full rollouts on the local target with the real proxy, real sample-gateway processes and real
 * traffic, driven by the real engine in real time (short durations so each takes seconds).
 */

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Outcome } from "../../src/contract/outcome.js";
import { systemClock } from "../../src/engine/clock.js";
import { deployGray } from "../../src/engine/verbs.js";
import { openLocalTarget } from "../../src/local/target.js";
import { LATENCY_MARGINS, REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";

/** Short but consistent with the schema's rules (bake ≥ promotion window + metrics delay, …). */
const FAST: RawOptions = {
  target: "local",
  interval: "500ms",
  metricPeriod: "500ms",
  metricsDelay: "500ms",
  rollbackWindow: "3s",
  promotionWindow: "3s",
  bake: "4s",
  maxBake: "8s",
  returnBake: "4s",
  minRequests: 30,
  // A bound: a busy machine started sample gateways in over 15 s (a crashing gray is given up on
  // as soon as it exits, whatever this is).
  healthyTimeout: "60s",
  // At 5%, gray gets ~45 requests per 3 s window: a margin over --min-requests 30 when a loaded
  // machine slows the load generator (at 200 rps it was ~30, the limit itself).
  rps: 300,
  // Latency is not what the FAST runs test (the 800 ms test below runs the default policy).
  ...LATENCY_MARGINS,
};

/** Faulty releases run with the local target's DEFAULT policy: what a user gets without options. */
async function rollout(extra: RawOptions, base: RawOptions = { target: "local" }) {
  const options = resolveOptions({ ...base, ...extra }, { verb: "deploy-gray" });
  const target = await openLocalTarget(options);
  try {
    await target.begin?.();
    const outcome = await deployGray(deployRequest(options), target.ports, {
      clock: systemClock(),
      owner: { id: randomUUID(), host: "test", pid: process.pid, verb: "deploy-gray" },
      newId: randomUUID,
    });
    await target.environment.load.stop();
    return {
      outcome,
      options,
      load: target.environment.load.stats(),
      proxy: target.environment.proxy.stats(),
    };
  } finally {
    await target.dispose();
  }
}

const forward = (o: Outcome) => o.steps.filter((s) => s.kind === "forward").map((s) => s.weight);

describe("local target: full rollouts with real traffic", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("promotes a healthy release; the clients saw no failed request", async () => {
    const { outcome, load } = await rollout({}, FAST);
    expect(outcome.outcome, outcome.reason).toBe("promoted");
    expect(forward(outcome)).toEqual([5, 25, 50, 100]);
    expect(outcome.weights).toEqual({ stable: 100, gray: 0 });
    expect(load.completed).toBeGreaterThan(2000);
    // No baseline errors configured: anything failed would be the rollout's fault.
    expect(load.failed).toBe(0);
    expect(load.byVersion["gray-deploy/sample-gateway:next"]?.requests ?? 0).toBeGreaterThan(500);
  });

  it("rolls back a release failing 5% of requests at the 5% step, within a failure bound", async () => {
    // The default policy, with more customers: the step's bake (13 s) must end with the rollback
    // decided. At 200 req/s gray gets ~10 a second, and a loaded machine's slower load generator let
    // the bake end undecided — then a window with at most one error in ~110 requests (a few percent
    // of them at 5% errors) passed the step and the rollback came at 25%. At 400 req/s the evidence
    // comes twice as fast, and the failure bound below scales with the rate.
    // The error-rate gates, not the default synthetic charge (which a 5% fault fails 1 time in 20
    // before any customer reaches gray: test/local-e2e/checks.test.ts covers that path).
    const { outcome, proxy, options } = await rollout({ grayErrorRate: "5%", rps: 400, synthetic: "[]" });
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.exitCode).toBe(3);
    expect(forward(outcome)).toEqual([5]);
    // Bound: gray receives rps × 5% requests/s, of which 5% fail, for at most the step's longest
    // life (max bake) plus one interval and the rollback write. Expected failures E = rps·w·e·T, and
    // a Poisson count stays below E + 4·√E + 2 with probability > 0.9999.
    const T = (options.maxBake + options.interval + 1000) / 1000;
    const E = options.rps * 0.05 * 0.05 * T;
    const bound = E + 4 * Math.sqrt(E) + 2;
    expect(proxy.gray.errors).toBeGreaterThan(0);
    expect(proxy.gray.errors).toBeLessThanOrEqual(bound);
  });

  it("rolls back a release that adds 800 ms of latency", async () => {
    // The default policy, with more customers: the relative latency gate judges gray only on at
    // least --min-requests (100) of its requests in the 10 s rollback window, and 200 req/s at 5%
    // makes ~100 — a coin toss, lost on a loaded machine whose load generator falls behind (the
    // step then paused as inconclusive). 400 req/s gives twice the requests the gate needs.
    const { outcome } = await rollout({ grayLatencyMs: 800, rps: 400 });
    expect(outcome.outcome, `${outcome.reason}\n${JSON.stringify(outcome.lastDecision, null, 1)}`).toBe(
      "rolled-back",
    );
    expect(outcome.reason).toMatch(/p95|p99|latency/);
  });

  it("never sends traffic to a release that crashes at start, and rolls it back", async () => {
    const { outcome, proxy } = await rollout({ grayCrash: true });
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.reason).toMatch(/never became healthy/);
    expect(proxy.gray.requests).toBe(0);
    expect(outcome.steps).toEqual([]);
  });

  it("never promotes on too little traffic to judge", async () => {
    const { outcome } = await rollout({ rps: 5 }, FAST);
    expect(outcome.outcome).toBe("paused");
    expect(outcome.pause?.reason).toBe("inconclusive");
    expect(forward(outcome)).toEqual([5]);
    expect(outcome.reason).toMatch(/fewer than 30/);
  });
});
