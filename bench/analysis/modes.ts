/**
 * The signal modes the benchmark compares, each only with itself, and the two analyses run in each:
 * this project's (default policy) and the seed's rule applied literally (naive.ts).
 *
 * - CloudWatch-like: the AWS target's defaults, unchanged: one-minute periods whose data is complete
 *   two minutes late, an observation every 30 s, 12-minute bakes, 5/10-minute windows.
 * - Fast: the same rollout plan (steps, bakes, windows: what a team would keep), but per-interval
 *   measurements: 5-second periods complete 5 s late, an observation every 5 s. That is what a team
 *   gets from CloudWatch high-resolution metrics or a scrape of its own per-target counters
 *   (Prometheus/OpenTelemetry at 5 s); 5 s is also the shortest --interval the AWS target accepts.
 *   The local target measures the same way at 1 s; its own defaults are the third mode, used by the
 *   benchmark's tests (a 5% release stopped at the 5% step within seconds, a healthy one promoted).
 */
import {
  OPTION_DEFS,
  type OptionDef,
  type OptionName,
  type RawOptions,
  rawDefault,
  SCHEMA,
} from "../../src/app/schema.js";
import { NAIVE_OPTIONS } from "./naive.js";

export type ModeName = "cloudwatch" | "fast" | "service" | "local";
export type AnalysisName = "ours" | "naive";

export interface Mode {
  readonly name: ModeName;
  readonly label: string;
  readonly periodMs: number;
  readonly dataDelayMs: number;
  /** With a service signal: the load balancer's metrics that guard it (their period and lateness). */
  readonly guard?: { readonly periodMs: number; readonly delayMs: number };
  /** Plan options on top of the local target's (everything the rollout needs except the target's ports). */
  readonly raw: RawOptions;
}

/** Every plan option with an AWS default, at that default (the AWS target's plan, run against simulated ports). */
function awsPlanDefaults(): RawOptions {
  const out: RawOptions = {};
  for (const name of Object.keys(OPTION_DEFS) as OptionName[]) {
    const def: OptionDef = OPTION_DEFS[name];
    if (SCHEMA.groupOf(name) !== "plan") continue;
    if (!def.perTarget) continue;
    out[name] = rawDefault(name, "aws");
  }
  return out;
}

export const MODES: Record<ModeName, Mode> = {
  cloudwatch: {
    name: "cloudwatch",
    label: "CloudWatch-like (60 s periods, 2 min late, AWS defaults)",
    periodMs: 60_000,
    dataDelayMs: 120_000,
    raw: awsPlanDefaults(),
  },
  fast: {
    name: "fast",
    label: "fast (5 s periods, 5 s late, 5 s interval; AWS plan otherwise)",
    periodMs: 5_000,
    dataDelayMs: 5_000,
    raw: { ...awsPlanDefaults(), interval: "5s", metricPeriod: "5s", metricsDelay: "5s" },
  },
  /**
   * --signal service on AWS (issue 15): the service's own high-resolution metrics in CloudWatch, at
   * the AWS target's service defaults (10 s periods complete 15 s late), an observation every 5 s,
   * and the ALB's metrics (60 s, 2 minutes late) guarding them; the AWS plan otherwise.
   */
  service: {
    name: "service",
    label:
      "service (10 s periods, 15 s late, 5 s interval; the ALB's guard at 60 s, 2 min late; AWS plan otherwise)",
    periodMs: 10_000,
    dataDelayMs: 15_000,
    guard: { periodMs: 60_000, delayMs: 120_000 },
    raw: {
      ...awsPlanDefaults(),
      interval: "5s",
      signal: "service",
      servicePeriod: "10s",
      serviceDelay: "15s",
    },
  },
  /** The local target's own defaults (1 s periods and looks, 13 s bakes): for its behaviour tests. */
  local: {
    name: "local",
    label: "local target defaults (1 s periods, 1 s late, 1 s interval, 13 s bake)",
    periodMs: 1_000,
    dataDelayMs: 1_000,
    raw: {},
  },
};

/**
 * The raw options of one analysis in one mode (target local: simulated ports stand in for AWS).
 * GRAY_BENCH_OURS, a JSON object of options, changes our policy for an experiment (e.g.
 * '{"sequentialAlpha":"5%"}'); the reported figures use the defaults.
 */
export function optionsFor(mode: Mode, analysis: AnalysisName): RawOptions {
  // The bench measures the analysis of metrics: its simulated world has no header route to gray, so
  // the local target's default synthetic charge (which could not be sent, and would roll back) is off.
  const base: RawOptions = {
    target: "local",
    image: "registry.example/gateway:2.0.0",
    synthetic: "[]",
    ...mode.raw,
  };
  if (analysis === "naive") return { ...base, ...NAIVE_OPTIONS };
  const extra = process.env.GRAY_BENCH_OURS;
  return extra ? { ...base, ...(JSON.parse(extra) as RawOptions) } : base;
}
