/** The timeline's data (series, phase bands, decisions) from a Report, and its layout constants. */
import { formatDuration } from "../contract/units.js";
import type { Report } from "./model.js";

export const SERIES = [
  "weight-stable",
  "weight-gray",
  "error-rate-stable",
  "error-rate-gray",
  "p95-stable",
  "p99-stable",
  "p95-gray",
  "p99-gray",
] as const;
export type SeriesName = (typeof SERIES)[number];

export const COLOR = { stable: "#2b6cb0", gray: "#dd6b20", grid: "#e2e8f0", axis: "#4a5568", ink: "#1a202c" };
export const KIND_COLOR: Record<string, string> = {
  rollback: "#c53030",
  pause: "#b7791f",
  "await-approval": "#b7791f",
  promote: "#2f855a",
  done: "#2f855a",
  "set-weights": "#4a5568",
  wait: "#a0aec0",
};
export const PHASE_BAND: Record<string, { fill: string; label: string }> = {
  promoting: { fill: "#e6f4ea", label: "promotion" },
  returning: { fill: "#e6f4ea", label: "promotion" },
  finishing: { fill: "#e6f4ea", label: "promotion" },
  paused: { fill: "#fef3c7", label: "paused" },
  "rolling-back": { fill: "#fde2e2", label: "rolling back" },
  "rollback-failed": { fill: "#fbb6b6", label: "rollback failed" },
};

export const WIDTH = 960;
export const LEFT = 72;
export const RIGHT = 24;
export const PLOT_W = WIDTH - LEFT - RIGHT;
export const MAX_LEGEND = 16;

export interface Point {
  readonly t: number;
  readonly v: number | null;
}

export interface Panel {
  readonly key: string;
  readonly title: string;
  readonly top: number;
  readonly height: number;
}

/** The image without its registry host: `gatewaypix:1.4.2` (the full reference is in report.json). */
export function shortImage(image: string | null): string {
  if (image === null) return "(no image)";
  const [name, digest] = image.split("@");
  const last = (name ?? image).split("/").pop() ?? image;
  return digest ? `${last}@${digest.slice(0, 19)}` : last;
}

/** Elapsed time label: 0s, 30s, 1m30s, -2m. */
export function elapsed(ms: number): string {
  return formatDuration(Math.round(ms / 1000) * 1000);
}

/** Tick step (ms) giving at most `max` ticks over `span`, on human boundaries. */
export function timeStep(span: number, max = 9): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  for (const s of steps) if (span / (s * 1000) <= max) return s * 1000;
  return Math.ceil(span / max / 86_400_000) * 86_400_000;
}

export function msLabel(v: number): string {
  if (v === 0) return "0";
  return v >= 1000 ? `${Number((v / 1000).toFixed(2))}s` : `${Number(v.toFixed(1))}ms`;
}

/** The data the chart draws, derived from the report. Exported for tests. */
export function timelineData(r: Report) {
  const o = r.outcome;
  const times: number[] = [];
  const t0 =
    o.startedAt !== null
      ? Date.parse(o.startedAt)
      : r.coverage.firstEventAt !== null
        ? Date.parse(r.coverage.firstEventAt)
        : null;

  // Weights: every verified write, every observation's weights and every step start, as a step line.
  // At equal times a verified write wins over a step record, which wins over an observation made
  // just before the write (rank orders them so the write comes last and holds).
  const weightPoints: { t: number; stable: number; gray: number; rank: number }[] = [];
  for (const ob of r.observations) weightPoints.push({ t: Date.parse(ob.at), ...ob.weights, rank: 0 });
  for (const s of o.steps) {
    // The chosen-customers step leaves the weighted split at stable 100 / gray 0.
    const gray = s.kind === "forward" ? s.weight : s.kind === "pilot" ? 0 : 100 - s.weight;
    weightPoints.push({ t: Date.parse(s.startedAt), stable: 100 - gray, gray, rank: 1 });
  }
  for (const w of r.weightChanges)
    weightPoints.push({ t: Date.parse(w.at), stable: w.stable, gray: w.gray, rank: 2 });
  weightPoints.sort((a, b) => a.t - b.t || a.rank - b.rank);

  // Metrics: each observation's rollback window, placed at the window's end (when it was measured).
  const byEnd = new Map<number, (typeof r.observations)[number]>();
  for (const ob of r.observations) {
    if (ob.rollbackWindow === null) continue;
    byEnd.set(Date.parse(ob.rollbackWindow.end), ob);
  }
  const metricTimes = [...byEnd.keys()].sort((a, b) => a - b);
  const metric = (pick: (ob: (typeof r.observations)[number]) => number | null): Point[] =>
    metricTimes.map((t) => ({ t, v: pick(byEnd.get(t)!) }));
  const has = (pool: "stable" | "gray") => (ob: (typeof r.observations)[number]) =>
    (ob.rollbackWindow?.[pool].requests ?? 0) > 0;

  const decisions = r.decisions.map((d, i) => ({ ...d, t: Date.parse(d.at), n: i + 1 }));

  times.push(...weightPoints.map((p) => p.t), ...metricTimes, ...decisions.map((d) => d.t));
  if (t0 !== null) times.push(t0);
  if (o.endedAt !== null) times.push(Date.parse(o.endedAt));
  if (r.coverage.lastEventAt !== null) times.push(Date.parse(r.coverage.lastEventAt));
  const start = times.length > 0 ? Math.min(...times) : 0;
  let end = times.length > 0 ? Math.max(...times) : 60_000;
  if (end - start < 10_000) end = start + 10_000;
  // A little room on the right, so a change at the very end (the rollback's write) stays visible.
  end += Math.round((end - start) * 0.02);
  const origin = t0 ?? start;

  // Before the first recorded point the weights were stable 100 / gray 0 (deploy-gray refuses
  // anything else); after the last, they are the Outcome's last verified weights.
  const initial = { t: start, stable: 100, gray: 0, rank: 0 };
  const last = weightPoints[weightPoints.length - 1];
  const finalW = o.weights ?? (last ? { stable: last.stable, gray: last.gray } : null);
  const nothing = weightPoints.length === 0 && o.weights === null; // refused: no weights to draw
  const weights = nothing
    ? []
    : [
        ...(weightPoints.length === 0 || weightPoints[0]!.t > start ? [initial] : []),
        ...weightPoints,
        ...(finalW ? [{ t: end, ...finalW, rank: 3 }] : []),
      ];

  const phaseBands: { from: number; to: number; phase: string }[] = [];
  for (let i = 0; i < r.timings.phases.length; i++) {
    const p = r.timings.phases[i]!;
    if (!(p.phase in PHASE_BAND)) continue;
    const from = Date.parse(p.startedAt);
    const to = p.endedAt !== null ? Date.parse(p.endedAt) : end;
    phaseBands.push({ from, to: Math.max(to, from), phase: p.phase });
  }

  return {
    start,
    end,
    origin,
    weights,
    series: {
      "weight-stable": weights.map((p) => ({ t: p.t, v: p.stable })),
      "weight-gray": weights.map((p) => ({ t: p.t, v: p.gray })),
      "error-rate-stable": metric((ob) => (has("stable")(ob) ? ob.rollbackWindow!.stable.errorRate : null)),
      "error-rate-gray": metric((ob) => (has("gray")(ob) ? ob.rollbackWindow!.gray.errorRate : null)),
      "p95-stable": metric((ob) => (has("stable")(ob) ? ob.rollbackWindow!.stable.p95Ms : null)),
      "p99-stable": metric((ob) => (has("stable")(ob) ? ob.rollbackWindow!.stable.p99Ms : null)),
      "p95-gray": metric((ob) => (has("gray")(ob) ? ob.rollbackWindow!.gray.p95Ms : null)),
      "p99-gray": metric((ob) => (has("gray")(ob) ? ob.rollbackWindow!.gray.p99Ms : null)),
    } satisfies Record<SeriesName, Point[]>,
    decisions,
    phaseBands,
  };
}

export const maxOf = (points: readonly Point[]) =>
  points.reduce((m, p) => (p.v !== null && p.v > m ? p.v : m), 0);
