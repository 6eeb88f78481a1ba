/**
 * The analysis-quality benchmark (issue 8): how many failed payments a bad release causes before the
 * rollout stops it, how often a good release is rolled back, and how close that is to the statistical
 * limit. Seeded and deterministic; drives the real engine and analysis against simulated ports.
 *
 *   npm run bench:analysis                  # full run, writes bench/results.md, JSON last on stdout
 *   npx tsx bench/analysis/run.ts --quick   # a smaller run for a quick look (not the reported figures)
 *   options: --workers N  --modes cloudwatch,fast,service  --out PATH  --quick
 *
 * Per signal mode: good releases in a healthy environment (false rollback rate, time to promote),
 * bad releases failing 1–20% of requests from the first step, from a later step or from a random
 * time (failed requests, time until traffic is back on stable), latency regressions and shared
 * degradations (reported separately). Each fault run is made with our analysis and with the seed's
 * rule on the same seed; the oracle bound (oracle.ts) is calibrated to our false rollback rate.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { type Job, runPool } from "./jobs.js";
import { MODES, type ModeName } from "./modes.js";
import { type OracleRun, thresholdFor } from "./oracle.js";
import {
  degradationTable,
  errorTable,
  type GoodSummary,
  goodSummary,
  goodTable,
  groupBy,
  median,
  type ScenarioRow,
  scenarioRows,
  sideTable,
} from "./report.js";
import { BAD_RATES, buildRuns, type Counts, FULL, RATES, seedOf } from "./scenarios.js";
import type { RunResult } from "./sim.js";

const QUICK: Counts = { good: 150, naiveGood: 60, error: 4, latency: 2, degradation: 2 };

/**
 * The modes `overall` pools, as issue 8 defined it (CloudWatch-like and fast), so its figures stay
 * comparable; the service mode (issue 15) is reported beside them.
 */
const OVERALL: readonly ModeName[] = ["cloudwatch", "fast"];

export interface BenchOptions {
  readonly modes: readonly ModeName[];
  readonly counts: Counts;
  readonly calibrationRuns: number;
  readonly workers: number;
  readonly log?: (line: string) => void;
}

export interface BenchSummary {
  readonly failedRequestsRatioVsNaive: Record<ModeName | "overall", number | null>;
  /** Over good releases of the `overall` modes (CloudWatch-like and fast) pooled; per mode below. */
  readonly falseRollbackRate: number;
  readonly falseRollbackRateByMode: Record<string, number>;
  readonly ratioToSprtBound: Record<ModeName | "overall", number | null>;
  /** naive ÷ oracle, median over error-rate scenarios: the ceiling of failedRequestsRatioVsNaive at our α. */
  readonly naiveToSprtBound: Record<ModeName | "overall", number | null>;
  /** naive ÷ first-data bound, median: the ceiling for any analysis of these metrics, at any α. */
  readonly naiveToFirstDataBound: Record<ModeName | "overall", number | null>;
  /** Total failed requests over every error-rate run, naive ÷ ours (dominated by the 1% faults at 2,000 rps). */
  readonly failedRequestsTotalRatioVsNaive: Record<ModeName | "overall", number | null>;
  readonly medianTimeToRollbackS: Record<
    string,
    { ours: number | null; naive: number | null; oracle: number | null }
  >;
  readonly medianTimeToPromoteS: Record<string, { ours: number | null; naive: number | null }>;
  readonly runs: number;
}

export interface BenchResult {
  readonly summary: BenchSummary;
  readonly results: readonly RunResult[];
  readonly errorRows: readonly ScenarioRow[];
  readonly latencyRows: readonly ScenarioRow[];
  readonly good: ReadonlyMap<string, { ours: GoodSummary; naive: GoodSummary }>;
  readonly oracleAlpha: Readonly<Record<string, number>>;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const log = o.log ?? (() => {});
  const specs = buildRuns(o.modes, o.counts);
  const calib: Job[] = [];
  for (const mode of o.modes)
    for (const rps of RATES)
      for (let i = 0; i < o.calibrationRuns; i++)
        calib.push({
          type: "calibrate",
          mode,
          rps,
          seed: seedOf(`calibrate:${mode}:${rps}`, i),
          rates: BAD_RATES,
        });
  log(`${specs.length} rollouts and ${calib.length} oracle calibration rollouts on ${o.workers} worker(s)`);
  const phase1 = await runPool([...specs.map((spec) => ({ type: "run", spec }) as Job), ...calib], o.workers);
  const results = phase1.slice(0, specs.length) as RunResult[];
  const samples = phase1.slice(specs.length) as number[][];

  // The oracle's false rollback rate is ours, per mode (at least one run's worth when ours is 0).
  const good = new Map<string, { ours: GoodSummary; naive: GoodSummary }>();
  const alpha: Record<string, number> = {};
  for (const mode of o.modes) {
    const g = results.filter((r) => r.mode === mode && r.kind === "good");
    const ours = goodSummary(g.filter((r) => r.analysis === "ours"));
    good.set(mode, { ours, naive: goodSummary(g.filter((r) => r.analysis === "naive")) });
    alpha[mode] = Math.max(ours.rate, 1 / Math.max(1, ours.runs));
  }
  const thresholds = new Map<string, number>();
  let c = 0;
  for (const mode of o.modes)
    for (const rps of RATES) {
      const mine = samples.slice(c, c + o.calibrationRuns);
      c += o.calibrationRuns;
      BAD_RATES.forEach((f, j) => {
        thresholds.set(
          `${mode}|${rps}|${f}`,
          thresholdFor(
            mine.map((s) => s[j]!),
            alpha[mode]!,
          ),
        );
      });
    }
  const oracleJobs: Job[] = [];
  const oracleKeys: string[] = [];
  for (const r of results) {
    if (r.kind !== "error" || r.analysis !== "ours") continue;
    const spec = specs.find((s) => s.seed === r.seed && s.mode === r.mode && s.scenario === r.scenario)!;
    const h = thresholds.get(`${r.mode}|${r.rps}|${spec.fault.errorRate}`)!;
    oracleJobs.push({ type: "oracle", mode: r.mode, rps: r.rps, seed: r.seed, fault: spec.fault, h });
    oracleKeys.push(`${r.mode}|${r.scenario}`);
  }
  const oracleOut = (await runPool(oracleJobs, o.workers)) as OracleRun[];
  const oracle = new Map<string, OracleRun[]>();
  for (const [k, list] of groupBy(
    oracleOut.map((x, i) => ({ x, k: oracleKeys[i]! })),
    (e) => e.k,
  )) {
    oracle.set(
      k,
      list.map((e) => e.x),
    );
  }

  const errorRows = scenarioRows(results, oracle, "error");
  const latencyRows = scenarioRows(results, new Map(), "latency");
  const byMode = <T>(f: (rows: readonly ScenarioRow[]) => T) => {
    const out: Record<string, T> = {};
    for (const mode of o.modes) out[mode] = f(errorRows.filter((r) => r.mode === mode));
    const pooled = errorRows.filter((r) => OVERALL.includes(r.mode as ModeName));
    out.overall = f(pooled.length > 0 ? pooled : errorRows);
    return out as Record<ModeName | "overall", T>;
  };
  const finite = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null && Number.isFinite(x));
  const timeOf = (rs: readonly RunResult[]) =>
    median(
      rs
        .filter(
          (r) =>
            r.outcome === "rolled-back" &&
            r.onsetMs !== null &&
            r.backOnStableMs !== null &&
            r.backOnStableMs >= r.onsetMs,
        )
        .map((r) => (r.backOnStableMs! - r.onsetMs!) / 1000),
    );
  const medianTimeToRollbackS: BenchSummary["medianTimeToRollbackS"] = {};
  const medianTimeToPromoteS: BenchSummary["medianTimeToPromoteS"] = {};
  for (const mode of o.modes) {
    const errs = results.filter((r) => r.mode === mode && r.kind === "error");
    const orc = [...oracle.entries()].filter(([k]) => k.startsWith(`${mode}|`)).flatMap(([, v]) => v);
    medianTimeToRollbackS[mode] = {
      ours: timeOf(errs.filter((r) => r.analysis === "ours")),
      naive: timeOf(errs.filter((r) => r.analysis === "naive")),
      oracle: median(
        orc
          .filter((x) => x.rollbackMs !== null && x.onsetMs !== null && x.rollbackMs >= x.onsetMs)
          .map((x) => (x.rollbackMs! - x.onsetMs!) / 1000),
      ),
    };
    const g = good.get(mode)!;
    medianTimeToPromoteS[mode] = { ours: g.ours.promoteMedianS, naive: g.naive.promoteMedianS };
  }
  const pooledModes = [...good.keys()].filter((m) => OVERALL.includes(m as ModeName));
  const oursGood = (pooledModes.length > 0 ? pooledModes : [...good.keys()]).map((m) => good.get(m)!.ours);
  const summary: BenchSummary = {
    failedRequestsRatioVsNaive: byMode((rows) => median(finite(rows.map((r) => r.ratioVsNaive)))),
    falseRollbackRate:
      oursGood.reduce((a, g) => a + g.falseRollbacks, 0) /
      Math.max(
        1,
        oursGood.reduce((a, g) => a + g.runs, 0),
      ),
    falseRollbackRateByMode: Object.fromEntries([...good].map(([m, g]) => [m, g.ours.rate])),
    ratioToSprtBound: byMode((rows) => median(finite(rows.map((r) => r.ratioToOracle)))),
    naiveToSprtBound: byMode((rows) => median(finite(rows.map((r) => r.naiveToOracle)))),
    naiveToFirstDataBound: byMode((rows) => median(finite(rows.map((r) => r.naiveToFirstData)))),
    failedRequestsTotalRatioVsNaive: byMode((rows) => {
      const ours = rows.reduce((a, r) => a + r.ours.cost * r.runs, 0);
      const naive = rows.reduce((a, r) => a + r.naive.cost * r.runs, 0);
      return ours > 0 ? naive / ours : null;
    }),
    medianTimeToRollbackS,
    medianTimeToPromoteS,
    runs: results.length,
  };
  return { summary, results, errorRows, latencyRows, good, oracleAlpha: alpha };
}

export function markdown(b: BenchResult, meta: { wallS: number; command: string; workers: number }): string {
  const s = b.summary;
  const fmt = (x: number | null) => (x === null ? "–" : x.toFixed(2));
  const whole = (x: number | null) => (x === null ? "–" : x.toFixed(0));
  const modes = Object.keys(s.falseRollbackRateByMode) as ModeName[];
  const lines: string[] = [];
  lines.push("# Analysis benchmark results", "");
  lines.push(
    `Generated by \`${meta.command}\` in ${meta.wallS.toFixed(0)} s on ${meta.workers} worker thread(s); ${s.runs} rollouts through the real engine and analysis against simulated ports, plus the oracle's. Seeded: the same command gives the same numbers. How the benchmark works: bench/analysis/README.md.`,
    "",
  );
  lines.push("## Summary", "");
  lines.push("| measure | target | " + modes.join(" | ") + " | overall |");
  lines.push("|---|---|" + modes.map(() => "---|").join("") + "---|");
  lines.push(
    `| failed requests, naive ÷ ours (median over error-rate scenarios) | ≥ 2 CloudWatch-like, ≥ 5 overall | ${modes.map((m) => fmt(s.failedRequestsRatioVsNaive[m])).join(" | ")} | ${fmt(s.failedRequestsRatioVsNaive.overall)} |`,
  );
  lines.push(
    `| false rollback rate (good releases, healthy environment; overall: CloudWatch-like and fast) | ≤ 1% | ${modes.map((m) => `${(s.falseRollbackRateByMode[m]! * 100).toFixed(2)}%`).join(" | ")} | ${(s.falseRollbackRate * 100).toFixed(2)}% |`,
  );
  lines.push(
    `| failed requests, ours ÷ oracle SPRT (median over error-rate scenarios) | ≤ 2 | ${modes.map((m) => fmt(s.ratioToSprtBound[m])).join(" | ")} | ${fmt(s.ratioToSprtBound.overall)} |`,
  );
  lines.push(
    `| total failed requests over all error-rate runs, naive ÷ ours (dominated by 1% faults the seed's rule never stops) | – | ${modes.map((m) => fmt(s.failedRequestsTotalRatioVsNaive[m])).join(" | ")} | ${fmt(s.failedRequestsTotalRatioVsNaive.overall)} |`,
  );
  lines.push(
    `| failed requests, naive ÷ oracle (the ceiling of naive ÷ ours at this false rollback rate) | – | ${modes.map((m) => fmt(s.naiveToSprtBound[m])).join(" | ")} | ${fmt(s.naiveToSprtBound.overall)} |`,
  );
  lines.push(
    `| failed requests, naive ÷ first-data bound (rolling back on the first faulty datapoint, whatever the false rollbacks) | – | ${modes.map((m) => fmt(s.naiveToFirstDataBound[m])).join(" | ")} | ${fmt(s.naiveToFirstDataBound.overall)} |`,
  );
  lines.push(
    `| median time from onset to verified rollback: ours / naive / oracle (s) | – | ${modes.map((m) => ["ours", "naive", "oracle"].map((k) => whole(s.medianTimeToRollbackS[m]![k as "ours"])).join(" / ")).join(" | ")} | |`,
  );
  lines.push(
    `| median time to promote a good release: ours / naive (min) | – | ${modes.map((m) => [s.medianTimeToPromoteS[m]!.ours, s.medianTimeToPromoteS[m]!.naive].map((x) => (x === null ? "–" : (x / 60).toFixed(1))).join(" / ")).join(" | ")} | |`,
  );
  lines.push("");
  lines.push("### Targets (issue 8)", "");
  const mark = (ok: boolean) => (ok ? "met" : "**not met**");
  const ceiling = (m: ModeName | "overall", target: number) => {
    const at = s.naiveToSprtBound[m];
    const any = s.naiveToFirstDataBound[m];
    if (any !== null && any < target)
      return ` No analysis of these metrics can reach it: rolling back on the first faulty datapoint, whatever the false rollbacks, gives ${fmt(any)}; the oracle at our false rollback rate gives ${fmt(at)}.`;
    if (at !== null && at < target)
      return ` Beyond the statistical limit at this false rollback rate: the oracle gives ${fmt(at)} (only rolling back on the first faulty datapoint, whatever the false rollbacks, would give ${fmt(any)}).`;
    return "";
  };
  const cw = s.failedRequestsRatioVsNaive.cloudwatch;
  const all = s.failedRequestsRatioVsNaive.overall;
  if (cw !== undefined)
    lines.push(
      `- naive ÷ ours ≥ 2 in the CloudWatch-like mode: ${fmt(cw)}, ${mark((cw ?? 0) >= 2)}.${(cw ?? 0) >= 2 ? "" : ceiling("cloudwatch", 2)}`,
    );
  lines.push(
    `- naive ÷ ours ≥ 5 overall: ${fmt(all)}, ${mark((all ?? 0) >= 5)}.${(all ?? 0) >= 5 ? "" : ceiling("overall", 5)}`,
  );
  lines.push(
    `- false rollback rate ≤ 1%: ${(s.falseRollbackRate * 100).toFixed(2)}%, ${mark(s.falseRollbackRate <= 0.01)}.`,
  );
  lines.push(
    `- ours ÷ oracle ≤ 2: ${fmt(s.ratioToSprtBound.overall)}, ${mark((s.ratioToSprtBound.overall ?? 99) <= 2)}.`,
  );
  lines.push(`- under 5 minutes on this machine: ${meta.wallS.toFixed(0)} s, ${mark(meta.wallS < 300)}.`);
  if (s.failedRequestsRatioVsNaive.service !== undefined) {
    const sv = s.failedRequestsRatioVsNaive.service;
    const so = s.ratioToSprtBound.service ?? null;
    const sf = s.falseRollbackRateByMode.service ?? 0;
    lines.push("", "### Targets (issue 15, mode service)", "");
    lines.push(
      `- naive ÷ ours ≥ 5: ${fmt(sv)}, ${mark((sv ?? 0) >= 5)}.${(sv ?? 0) >= 5 ? "" : ceiling("service", 5)}`,
    );
    lines.push(`- ours ÷ oracle ≤ 1.2: ${fmt(so)}, ${mark((so ?? 99) <= 1.2)}.`);
    lines.push(`- false rollbacks ≤ 0.5%: ${(sf * 100).toFixed(2)}%, ${mark(sf <= 0.005)}.`);
  }
  lines.push("");
  lines.push(
    `Oracle calibrated to the false rollback rate α of our analysis in each mode (at least 1/runs): ${Object.entries(
      b.oracleAlpha,
    )
      .map(([m, a]) => `${m} α = ${(a * 100).toFixed(2)}%`)
      .join(", ")}.`,
    "",
  );
  lines.push("## Good releases", "", goodTable(b.good), "");
  for (const mode of modes) {
    lines.push(`## Error-rate faults — ${MODES[mode].label}`, "");
    lines.push(
      "Failed requests = 5xx caused by the release, from the fault's onset until traffic is verified back on stable (a pause: until the guard's rollback after --max-pause; a promotion: one hour at 100%). Means over the runs; time to off = median seconds from onset until the release stopped serving, as charged; rb = rolled back.",
      "",
    );
    lines.push(errorTable(b.errorRows.filter((r) => r.mode === mode)), "");
  }
  lines.push("## Latency regressions (reported separately)", "");
  lines.push("Cost = gray requests served under the regression, as charged above.", "");
  lines.push(sideTable(b.latencyRows, "requests under regression"), "");
  lines.push(
    "## Shared degradation (reported separately; good releases, both versions degrade for 10 minutes)",
    "",
  );
  lines.push(degradationTable(b.results), "");
  return lines.join("\n");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i === -1 ? undefined : args[i + 1];
  };
  const quick = args.includes("--quick");
  const workers = Number(arg("workers") ?? Math.max(1, cpus().length));
  const modes = (arg("modes")?.split(",") ?? ["cloudwatch", "fast", "service"]) as ModeName[];
  const out = arg("out") ?? (quick ? undefined : fileURLToPath(new URL("../results.md", import.meta.url)));
  const started = performance.now();
  const b = await runBench({
    modes,
    counts: quick ? QUICK : FULL,
    calibrationRuns: quick ? 300 : 1500,
    workers,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const wallS = (performance.now() - started) / 1000;
  const md = markdown(b, { wallS, command: `npm run bench:analysis${quick ? " -- --quick" : ""}`, workers });
  if (out !== undefined) {
    writeFileSync(out, md);
    process.stderr.write(`wrote ${out}\n`);
  } else process.stderr.write(`${md}\n`);
  process.stdout.write(`${JSON.stringify({ ...b.summary, wallSeconds: Number(wallS.toFixed(1)), quick })}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
