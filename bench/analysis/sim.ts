/**
 * One benchmark run: a seeded world, the real engine (`deployGray`) with the real analysis under one
 * policy, and what the run cost: failed requests caused by the release, time until traffic was
 * verified back on stable, time to promote.
 *
 * Measurement ends when promotion starts (the simulated fleet declines the refresh so the engine
 * stops there); a bad release that got that far is charged one more hour at 100%. A run that pauses
 * keeps its traffic until the guard rolls it back after --max-pause, and is charged for that wait.
 */
import { deployRequest } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import { deployGray } from "../../src/engine/verbs.js";
import { type AnalysisName, MODES, type ModeName, optionsFor } from "./modes.js";
import { Rng } from "./rng.js";
import { type EnvSpec, type FaultSpec, OWNER, SimWorld } from "./world.js";

export type RunKind = "good" | "error" | "latency" | "degradation";

export interface RunSpec {
  readonly mode: ModeName;
  readonly analysis: AnalysisName;
  readonly kind: RunKind;
  /** Groups runs whose results are averaged together (same mode, kind, rate, fault, onset). */
  readonly scenario: string;
  readonly rps: number;
  readonly seed: number;
  readonly fault: FaultSpec;
  readonly degradation: EnvSpec["degradation"];
  /** Changes to the seed's environment (tests: e.g. the local target's 0% baseline). */
  readonly env?: Partial<EnvSpec>;
}

export interface RunResult {
  readonly mode: ModeName;
  readonly analysis: AnalysisName;
  readonly kind: RunKind;
  readonly scenario: string;
  readonly rps: number;
  readonly seed: number;
  /** rolled-back, promoted (promotion started), paused, or another engine outcome. */
  readonly outcome: string;
  readonly failingGates: readonly string[];
  /** Times in ms from gray's first traffic; null when it did not happen. */
  readonly onsetMs: number | null;
  readonly backOnStableMs: number | null;
  readonly promotedMs: number | null;
  readonly pausedMs: number | null;
  /** When the release stopped serving customers, as charged (rollback, guard after a pause, 1 h after promotion). */
  readonly exposureEndMs: number | null;
  /** 5xx caused by the release's fault. */
  readonly failedRequests: number;
  /** Gray requests served while the fault was active (the measure for latency faults). */
  readonly faultyRequests: number;
  readonly baseline: number;
  /** The highest weight gray reached while the engine ran. */
  readonly maxGrayWeight: number;
}

/** The shared environment of a seed: baseline 0.1%–0.5% (log-uniform), slow drift, correlated noise. */
export function envFor(seed: number, rps: number, degradation: EnvSpec["degradation"]): EnvSpec {
  const r = Rng.derive(seed, "env");
  return {
    rps,
    baseline: 0.001 * 5 ** r.uniform(),
    driftAmplitude: r.between(0, 0.3),
    driftPeriodMs: r.between(2, 6) * 3_600_000,
    driftPhase: r.between(0, 2 * Math.PI),
    noiseSigma: 0.25,
    noiseTauMs: 5 * 60_000,
    degradation,
  };
}

const PROMOTION_CHARGE_MS = 3_600_000;

/** The rollout's start: a fixed day, at a seeded millisecond within its first minute (so steps do not line up with periods). */
export function startTime(seed: number): number {
  return Date.UTC(2026, 0, 5, 10, 0, 0) + Math.floor(Rng.derive(seed, "start").uniform() * 60_000);
}

export async function runOne(spec: RunSpec): Promise<RunResult> {
  const mode = MODES[spec.mode];
  const options = resolveOptions(optionsFor(mode, spec.analysis), { verb: "deploy-gray" });
  const env = { ...envFor(spec.seed, spec.rps, spec.degradation), ...spec.env };
  const world = new SimWorld({
    env,
    fault: spec.fault,
    periodMs: mode.periodMs,
    dataDelayMs: mode.dataDelayMs,
    ...(mode.guard === undefined ? {} : { guardDelayMs: mode.guard.delayMs }),
    seed: spec.seed,
    t0: startTime(spec.seed),
  });
  const outcome = await deployGray(deployRequest(options), world, {
    clock: world.clock,
    owner: OWNER,
    newId: () => `bench-${spec.seed}`,
  });
  const endedAt = world.clock.now();
  const maxGrayWeight = Math.max(...world.weightLog.map((e) => e.gray));
  const rollback = outcome.decisions.find((d) => d.kind === "rollback");
  const failingGates = rollback
    ? rollback.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate)
    : [];

  let kind: string = outcome.outcome;
  let exposureEnd: number | null = null;
  let pausedAt: number | null = null;
  if (world.promotedAt !== null) {
    kind = "promoted";
    exposureEnd = world.promotedAt + PROMOTION_CHARGE_MS;
  } else if (outcome.outcome === "paused") {
    pausedAt = endedAt;
    exposureEnd = endedAt + options.maxPause;
  } else if (world.backOnStableAt !== null) {
    exposureEnd = world.backOnStableAt;
  }

  const faulty = spec.fault.errorRate > 0 || spec.fault.latency !== null;
  if (faulty && exposureEnd !== null) {
    // Charge the traffic the release keeps after the engine stopped (promotion's hour, a pause's
    // wait), then draw every period up to the end of the exposure.
    if (kind === "promoted") world.extendWeights(Math.max(endedAt, world.promotedAt!), 100);
    world.extendWeights(Math.max(exposureEnd, endedAt), 0);
    world.generateUpTo(Math.max(exposureEnd, endedAt) + 2 * mode.periodMs, true);
  } else if (faulty) {
    world.generateUpTo(endedAt + mode.dataDelayMs + mode.periodMs, true);
  }

  const first = world.grayFirstAt;
  const rel = (t: number | null) => (t === null || first === null ? null : t - first);
  return {
    mode: spec.mode,
    analysis: spec.analysis,
    kind: spec.kind,
    scenario: spec.scenario,
    rps: spec.rps,
    seed: spec.seed,
    outcome: kind,
    failingGates,
    onsetMs: rel(world.onsetAt()),
    backOnStableMs: rel(world.backOnStableAt),
    promotedMs: rel(world.promotedAt),
    pausedMs: rel(pausedAt),
    exposureEndMs: rel(exposureEnd),
    failedRequests: world.causedFailures,
    faultyRequests: world.faultyRequests,
    baseline: env.baseline,
    maxGrayWeight,
  };
}
