/**
 * The oracle bound: a sequential probability ratio test on gray's requests that knows what no real
 * analysis knows — the true shared error rate of every period (baseline, drift and noise) and the
 * release's true bad rate — under the same traffic schedule (the plan's steps, one bake each), the
 * same metric periods and the same data delay, looking at every period the moment it arrives.
 *
 * The fault's onset is not known to it either, so it is the SPRT in Page's CUSUM form: the
 * log-likelihood ratio of "gray fails at p + f(1-p)" against "gray fails at p", restarted whenever it
 * falls below zero; it rolls back when it reaches h. h is calibrated, per mode, traffic rate and bad
 * rate, so that the oracle rolls back good releases exactly as often as our analysis did: the
 * maximum of the statistic over good rollouts (same environment model) has an exponential tail
 * (exp(S) is a martingale under "good"), so h = its 95th percentile + ln(5% / α).
 */
import { resolveOptions } from "../../src/app/schema.js";
import { MODES, type ModeName, optionsFor } from "./modes.js";
import { envFor, startTime } from "./sim.js";
import { type FaultSpec, NO_FAULT, SimWorld } from "./world.js";

export interface OracleRun {
  /** ms from gray's first traffic; null when the oracle never rolled back before promotion. */
  readonly rollbackMs: number | null;
  readonly exposureEndMs: number;
  readonly onsetMs: number | null;
  readonly failedRequests: number;
  /**
   * Failed requests if traffic went back to stable the moment the first period holding any faulty
   * request landed: what even an analysis that needs no evidence at all (and so rolls back every
   * release) would cause. No analysis of these metrics can do better.
   */
  readonly firstDataFailedRequests: number;
}

interface Schedule {
  readonly stepMs: number;
  readonly weights: readonly number[];
}

function scheduleOf(mode: ModeName): Schedule {
  const o = resolveOptions(optionsFor(MODES[mode], "ours"), { verb: "deploy-gray" });
  return { stepMs: o.bake, weights: o.steps };
}

/** A world driven by the nominal schedule (no analysis): step i starts at t0 + i·bake; promotion after the last. */
function nominalWorld(
  mode: ModeName,
  rps: number,
  seed: number,
  fault: FaultSpec,
  stopAt: number | null,
): SimWorld {
  const m = MODES[mode];
  const t0 = startTime(seed);
  const world = new SimWorld({
    env: envFor(seed, rps, null),
    fault,
    periodMs: m.periodMs,
    dataDelayMs: m.dataDelayMs,
    seed,
    t0,
  });
  const s = scheduleOf(mode);
  s.weights.forEach((w, i) => {
    const at = t0 + i * s.stepMs;
    if (stopAt === null || at < stopAt) {
      if (i === 0) world.grayFirstAt = at;
      world.extendWeights(at, w);
    }
  });
  if (stopAt !== null) world.extendWeights(stopAt, 0);
  return world;
}

/**
 * Per-period CUSUM increments for a bad rate f, in arrival order, with each period's arrival time;
 * only periods that arrive before promotion count.
 */
function increments(world: SimWorld, mode: ModeName, f: number): { at: number; llr: number }[] {
  const m = MODES[mode];
  const s = scheduleOf(mode);
  const promotionAt = world.t0 + s.weights.length * s.stepMs;
  world.generateUpTo(promotionAt, true);
  const out: { at: number; llr: number }[] = [];
  const g = world.gray;
  for (let k = 0; ; k++) {
    const arrival = world.origin + (k + 1) * m.periodMs + m.dataDelayMs;
    if (arrival > promotionAt) break;
    const n = g.requests[k + 1]! - g.requests[k]!;
    if (n <= 0) continue;
    const e = g.errors[k + 1]! - g.errors[k]!;
    const p0 = Math.max(world.sharedRate(k).rate, 1e-9);
    const p1 = Math.min(p0 + f * (1 - p0), 1 - 1e-9);
    out.push({ at: arrival, llr: e * Math.log(p1 / p0) + (n - e) * Math.log((1 - p1) / (1 - p0)) });
  }
  return out;
}

/** Largest CUSUM value over a good rollout, for each bad rate (the calibration sample). */
export function maxCusumOnGood(
  mode: ModeName,
  rps: number,
  seed: number,
  rates: readonly number[],
): number[] {
  const world = nominalWorld(mode, rps, seed, NO_FAULT, null);
  return rates.map((f) => {
    let c = 0;
    let max = 0;
    for (const x of increments(world, mode, f)) {
      c = Math.max(0, c + x.llr);
      if (c > max) max = c;
    }
    return max;
  });
}

/** h such that the oracle's false rollback rate is α, from the calibration sample's tail. */
export function thresholdFor(sample: readonly number[], alpha: number): number {
  const sorted = [...sample].sort((a, b) => a - b);
  const q = 0.05;
  if (alpha >= q) return sorted[Math.min(sorted.length - 1, Math.floor((1 - alpha) * sorted.length))]!;
  const q95 = sorted[Math.min(sorted.length - 1, Math.floor((1 - q) * sorted.length))]!;
  return q95 + Math.log(q / alpha);
}

export function oracleRun(mode: ModeName, rps: number, seed: number, fault: FaultSpec, h: number): OracleRun {
  const m = MODES[mode];
  const probe = nominalWorld(mode, rps, seed, fault, null);
  let c = 0;
  let rollbackAt: number | null = null;
  for (const x of increments(probe, mode, fault.errorRate)) {
    c = Math.max(0, c + x.llr);
    if (c >= h) {
      rollbackAt = x.at;
      break;
    }
  }
  const s = scheduleOf(mode);
  const promotionEnd = probe.t0 + s.weights.length * s.stepMs + 3_600_000;
  const end = rollbackAt ?? promotionEnd;
  // Same seed, same draws up to the rollback; gray gets nothing after it (or 100% for an hour after promotion).
  const failedUntil = (t: number) => {
    const world = nominalWorld(mode, rps, seed, fault, t);
    world.generateUpTo(t + 2 * m.periodMs, true);
    return world.causedFailures;
  };
  const first = probe.grayFirstAt!;
  const onset = probe.onsetAt();
  const onsetPeriodEnd =
    onset === null ? null : probe.origin + (Math.floor((onset - probe.origin) / m.periodMs) + 1) * m.periodMs;
  return {
    rollbackMs: rollbackAt === null ? null : rollbackAt - first,
    exposureEndMs: end - first,
    onsetMs: onset === null ? null : onset - first,
    failedRequests: failedUntil(end),
    firstDataFailedRequests:
      onsetPeriodEnd === null ? 0 : failedUntil(Math.min(promotionEnd, onsetPeriodEnd + m.dataDelayMs)),
  };
}
