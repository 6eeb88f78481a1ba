/**
 * From run results to the benchmark's figures: per-scenario means, the medians the targets are
 * stated in, false rollback rates with their confidence intervals, and the Markdown report.
 */
import type { ModeName } from "./modes.js";
import type { OracleRun } from "./oracle.js";
import type { RunResult } from "./sim.js";

export interface ScenarioRow {
  readonly mode: ModeName;
  readonly scenario: string;
  readonly runs: number;
  readonly ours: Side;
  readonly naive: Side;
  readonly oracle: {
    readonly failed: number;
    readonly timeS: number | null;
    readonly rolledBack: number;
    /** Mean failed requests until the first faulty data landed (no analysis can do better). */
    readonly firstData: number;
  } | null;
  /** naive ÷ ours (mean failed requests, or faulty requests for latency faults). */
  readonly ratioVsNaive: number | null;
  /** ours ÷ oracle. */
  readonly ratioToOracle: number | null;
  /** naive ÷ oracle: the most any analysis with our false rollback rate could gain on the naive rule. */
  readonly naiveToOracle: number | null;
  /** naive ÷ first-data bound: the most any analysis of these metrics could gain, at any false rollback rate. */
  readonly naiveToFirstData: number | null;
}

export interface Side {
  /** Mean caused failures (errors) or mean gray requests served under the fault (latency). */
  readonly cost: number;
  /** Median seconds from onset until the release stopped serving (as charged). */
  readonly timeS: number | null;
  readonly rolledBack: number;
  readonly promoted: number;
  readonly paused: number;
}

export const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Two-sided 95% Wilson interval of a proportion. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959964;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = p + (z * z) / (2 * n);
  const m = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [Math.max(0, (c - m) / d), Math.min(1, (c + m) / d)];
}

/** What a run cost: failed requests for error faults, gray requests under the regression for latency. */
/** Groups items by a key, keeping first-seen order. */
export function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [item]);
    else g.push(item);
  }
  return groups;
}

export function costOf(r: RunResult): number {
  return r.kind === "latency" ? r.faultyRequests : r.failedRequests;
}

function side(rs: readonly RunResult[]): Side {
  const times = rs
    .filter((r) => r.onsetMs !== null && r.exposureEndMs !== null && r.exposureEndMs >= r.onsetMs)
    .map((r) => (r.exposureEndMs! - r.onsetMs!) / 1000);
  const frac = (o: string) => rs.filter((r) => r.outcome === o).length / Math.max(1, rs.length);
  return {
    cost: mean(rs.map(costOf)),
    timeS: median(times),
    rolledBack: frac("rolled-back"),
    promoted: frac("promoted"),
    paused: frac("paused"),
  };
}

export function scenarioRows(
  results: readonly RunResult[],
  oracle: ReadonlyMap<string, OracleRun[]>,
  kind: RunResult["kind"],
): ScenarioRow[] {
  const groups = groupBy(
    results.filter((r) => r.kind === kind),
    (r) => `${r.mode}|${r.scenario}`,
  );
  const rows: ScenarioRow[] = [];
  for (const [key, rs] of groups) {
    const [mode, scenario] = key.split("|") as [ModeName, string];
    const ours = side(rs.filter((r) => r.analysis === "ours"));
    const naive = side(rs.filter((r) => r.analysis === "naive"));
    const o = oracle.get(key) ?? null;
    const oracleSide =
      o === null
        ? null
        : {
            failed: mean(o.map((x) => x.failedRequests)),
            timeS: median(
              o
                .filter((x) => x.onsetMs !== null && x.exposureEndMs >= x.onsetMs)
                .map((x) => (x.exposureEndMs - x.onsetMs!) / 1000),
            ),
            rolledBack: o.filter((x) => x.rollbackMs !== null).length / o.length,
            firstData: mean(o.map((x) => x.firstDataFailedRequests)),
          };
    rows.push({
      mode,
      scenario,
      runs: rs.filter((r) => r.analysis === "ours").length,
      ours,
      naive,
      oracle: oracleSide,
      ratioVsNaive: ours.cost > 0 ? naive.cost / ours.cost : null,
      ratioToOracle: oracleSide !== null && oracleSide.failed > 0 ? ours.cost / oracleSide.failed : null,
      naiveToOracle: oracleSide !== null && oracleSide.failed > 0 ? naive.cost / oracleSide.failed : null,
      naiveToFirstData:
        oracleSide !== null && oracleSide.firstData > 0 ? naive.cost / oracleSide.firstData : null,
    });
  }
  return rows;
}

export interface GoodSummary {
  readonly runs: number;
  readonly falseRollbacks: number;
  readonly rate: number;
  readonly ci: [number, number];
  readonly paused: number;
  readonly promoteMedianS: number | null;
  readonly promoteP90S: number | null;
  readonly gates: Readonly<Record<string, number>>;
  readonly byRate: Readonly<Record<number, { runs: number; falseRollbacks: number; paused: number }>>;
}

export function goodSummary(rs: readonly RunResult[]): GoodSummary {
  const rolled = rs.filter((r) => r.outcome === "rolled-back");
  const gates: Record<string, number> = {};
  for (const r of rolled) for (const g of r.failingGates) gates[g] = (gates[g] ?? 0) + 1;
  const promoted = rs.filter((r) => r.promotedMs !== null).map((r) => r.promotedMs! / 1000);
  const byRate: Record<number, { runs: number; falseRollbacks: number; paused: number }> = {};
  for (const r of rs) {
    const b = byRate[r.rps] ?? { runs: 0, falseRollbacks: 0, paused: 0 };
    byRate[r.rps] = b;
    b.runs++;
    if (r.outcome === "rolled-back") b.falseRollbacks++;
    if (r.outcome === "paused") b.paused++;
  }
  return {
    runs: rs.length,
    falseRollbacks: rolled.length,
    rate: rolled.length / Math.max(1, rs.length),
    ci: wilson(rolled.length, rs.length),
    paused: rs.filter((r) => r.outcome === "paused").length,
    promoteMedianS: median(promoted),
    promoteP90S: quantile(promoted, 0.9),
    gates,
    byRate,
  };
}

const f1 = (x: number | null) =>
  x === null ? "–" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
const pc = (x: number) => `${Number((x * 100).toFixed(1))}%`;
const secs = (x: number | null) =>
  x === null
    ? "–"
    : x >= 3600
      ? `${(x / 3600).toFixed(1)} h`
      : x >= 120
        ? `${(x / 60).toFixed(1)} min`
        : `${Math.round(x)} s`;

function outcomeCell(s: Side): string {
  const parts = [];
  if (s.rolledBack > 0) parts.push(`${pc(s.rolledBack)} rb`);
  if (s.paused > 0) parts.push(`${pc(s.paused)} paused`);
  if (s.promoted > 0) parts.push(`${pc(s.promoted)} promoted`);
  return parts.join(", ");
}

export function errorTable(rows: readonly ScenarioRow[]): string {
  const head =
    "| scenario | runs | failed: ours | naive | oracle | first data | naive ÷ ours | ours ÷ oracle | time to off: ours | naive | oracle | outcome: ours | naive |\n" +
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${r.runs} | ${f1(r.ours.cost)} | ${f1(r.naive.cost)} | ${f1(r.oracle?.failed ?? null)} | ${f1(r.oracle?.firstData ?? null)} | ${f1(r.ratioVsNaive)} | ${f1(r.ratioToOracle)} | ${secs(r.ours.timeS)} | ${secs(r.naive.timeS)} | ${secs(r.oracle?.timeS ?? null)} | ${outcomeCell(r.ours)} | ${outcomeCell(r.naive)} |`,
  );
  return [head, ...lines].join("\n");
}

export function sideTable(rows: readonly ScenarioRow[], costLabel: string): string {
  const head = `| scenario | runs | ${costLabel}: ours | naive | naive ÷ ours | time to off: ours | naive | outcome: ours | naive |\n|---|---|---|---|---|---|---|---|---|`;
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${r.runs} | ${f1(r.ours.cost)} | ${f1(r.naive.cost)} | ${f1(r.ratioVsNaive)} | ${secs(r.ours.timeS)} | ${secs(r.naive.timeS)} | ${outcomeCell(r.ours)} | ${outcomeCell(r.naive)} |`,
  );
  return [head, ...lines].join("\n");
}

export function degradationTable(results: readonly RunResult[]): string {
  const groups = groupBy(
    results.filter((r) => r.kind === "degradation"),
    (r) => `${r.mode}|${r.scenario}`,
  );
  const head =
    "| mode | scenario | runs | ours: rolled back | paused | promoted | naive: rolled back | paused | promoted |\n|---|---|---|---|---|---|---|---|---|";
  const lines: string[] = [];
  for (const [key, rs] of groups) {
    const [mode, scenario] = key.split("|");
    const o = side(rs.filter((r) => r.analysis === "ours"));
    const n = side(rs.filter((r) => r.analysis === "naive"));
    lines.push(
      `| ${mode} | ${scenario} | ${rs.length / 2} | ${pc(o.rolledBack)} | ${pc(o.paused)} | ${pc(o.promoted)} | ${pc(n.rolledBack)} | ${pc(n.paused)} | ${pc(n.promoted)} |`,
    );
  }
  return [head, ...lines].join("\n");
}

export function goodTable(byMode: ReadonlyMap<string, { ours: GoodSummary; naive: GoodSummary }>): string {
  const head =
    "| mode | analysis | runs | false rollbacks | rate (95% CI) | by rate 20/200/2000 rps | paused | time to promote: median | p90 | gates of false rollbacks |\n|---|---|---|---|---|---|---|---|---|---|";
  const lines: string[] = [];
  for (const [mode, s] of byMode) {
    for (const [name, g] of [
      ["ours", s.ours],
      ["naive", s.naive],
    ] as const) {
      const byRate = [20, 200, 2000]
        .map((r) => `${g.byRate[r]?.falseRollbacks ?? 0}/${g.byRate[r]?.runs ?? 0}`)
        .join(" · ");
      const gates = Object.entries(g.gates)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ");
      lines.push(
        `| ${mode} | ${name} | ${g.runs} | ${g.falseRollbacks} | ${pc(g.rate)} (${pc(g.ci[0])}–${pc(g.ci[1])}) | ${byRate} | ${g.paused} | ${secs(g.promoteMedianS)} | ${secs(g.promoteP90S)} | ${gates || "–"} |`,
      );
    }
  }
  return [head, ...lines].join("\n");
}
