/**
 * The benchmark's runs: every scenario in both signal modes, each fault and degradation run made
 * with both analyses on the same seed (same environment, same traffic draws until their decisions
 * differ).
 */
import type { LatencyProfile } from "./latency.js";
import type { AnalysisName, ModeName } from "./modes.js";
import { Rng } from "./rng.js";
import type { RunKind, RunSpec } from "./sim.js";
import type { EnvSpec, FaultSpec, Onset } from "./world.js";

export const RATES = [20, 200, 2000] as const;
export const BAD_RATES = [0.01, 0.02, 0.03, 0.05, 0.2] as const;
export const LATENCY_FAULTS: readonly LatencyProfile[] = ["plus200", "plus1s", "p99"];
export const ONSETS = ["first-step", "later-step", "mid-rollout"] as const;
export type OnsetName = (typeof ONSETS)[number];

export interface Counts {
  /** Good releases per mode (ours); the naive rule runs on the first `naiveGood` of them. */
  readonly good: number;
  readonly naiveGood: number;
  /** Seeds per error-rate scenario (mode × rate × bad rate × onset). */
  readonly error: number;
  /** Seeds per latency scenario (mode × rate × fault × onset). */
  readonly latency: number;
  /** Seeds per shared-degradation scenario (mode × rate × kind). */
  readonly degradation: number;
}

export const FULL: Counts = { good: 800, naiveGood: 200, error: 16, latency: 8, degradation: 12 };

/** Deterministic seed of a scenario's i-th run (independent of the order runs are made in). */
export function seedOf(key: string, i: number): number {
  let h = 0x811c9dc5;
  const s = `${key}#${i}`;
  for (let j = 0; j < s.length; j++) h = Math.imul(h ^ s.charCodeAt(j), 0x01000193) >>> 0;
  return h;
}

/** The onset of a fault: at gray's first traffic, when a later step starts, or at a random time. */
export function onsetOf(name: OnsetName, seed: number): Onset {
  const r = Rng.derive(seed, "onset");
  switch (name) {
    case "first-step":
      return { kind: "first-step" };
    case "later-step":
      return { kind: "step", weight: [25, 50, 100][Math.floor(r.uniform() * 3)]! };
    case "mid-rollout":
      // Anywhere from the second minute of the first step to the end of the 50% step.
      return { kind: "time", afterMs: Math.round(r.between(60_000, 36 * 60_000)) };
  }
}

function degradationOf(kind: string, seed: number): EnvSpec["degradation"] {
  const r = Rng.derive(seed, "degradation");
  const startMs = Math.round(r.between(2 * 60_000, 40 * 60_000));
  switch (kind) {
    case "errors-1.5%":
      return { startMs, durationMs: 10 * 60_000, errorRate: 0.015, latency: false };
    case "errors-5%":
      return { startMs, durationMs: 10 * 60_000, errorRate: 0.05, latency: false };
    default:
      return { startMs, durationMs: 10 * 60_000, errorRate: 0, latency: true };
  }
}

const pct = (x: number) => `${Number((x * 100).toPrecision(3))}%`;

export function buildRuns(modes: readonly ModeName[], counts: Counts): RunSpec[] {
  const runs: RunSpec[] = [];
  const both: readonly AnalysisName[] = ["ours", "naive"];
  const push = (
    mode: ModeName,
    analyses: readonly AnalysisName[],
    kind: RunKind,
    scenario: string,
    rps: number,
    seed: number,
    fault: FaultSpec,
    degradation: EnvSpec["degradation"] = null,
  ) => {
    for (const analysis of analyses)
      runs.push({ mode, analysis, kind, scenario, rps, seed, fault, degradation });
  };
  const none: FaultSpec = { errorRate: 0, latency: null, onset: { kind: "first-step" } };
  for (const mode of modes) {
    for (let i = 0; i < counts.good; i++) {
      const rps = RATES[i % RATES.length]!;
      const seed = seedOf(`good:${mode}`, i);
      push(mode, i < counts.naiveGood ? both : ["ours"], "good", `good · ${rps} rps`, rps, seed, none);
    }
    for (const rps of RATES) {
      for (const f of BAD_RATES) {
        for (const onset of ONSETS) {
          const scenario = `errors ${pct(f)} · ${rps} rps · ${onset}`;
          for (let i = 0; i < counts.error; i++) {
            const seed = seedOf(`${mode}:${scenario}`, i);
            push(mode, both, "error", scenario, rps, seed, {
              errorRate: f,
              latency: null,
              onset: onsetOf(onset, seed),
            });
          }
        }
      }
      for (const lat of LATENCY_FAULTS) {
        for (const onset of ["first-step", "later-step"] as const) {
          const scenario = `latency ${lat} · ${rps} rps · ${onset}`;
          for (let i = 0; i < counts.latency; i++) {
            const seed = seedOf(`${mode}:${scenario}`, i);
            push(mode, both, "latency", scenario, rps, seed, {
              errorRate: 0,
              latency: lat,
              onset: onsetOf(onset, seed),
            });
          }
        }
      }
      for (const kind of ["errors-1.5%", "errors-5%", "latency+400ms"]) {
        const scenario = `shared ${kind} · ${rps} rps`;
        for (let i = 0; i < counts.degradation; i++) {
          const seed = seedOf(`${mode}:${scenario}`, i);
          push(mode, both, "degradation", scenario, rps, seed, none, degradationOf(kind, seed));
        }
      }
    }
  }
  return runs;
}
