/**
 * timeline.svg: the rollout over time, in three panels sharing one time axis —
 *   1. traffic weights of stable and gray (%), as the load balancer applied them;
 *   2. 5xx error rate of each version over the trailing rollback window, with the rollback and pass
 *      thresholds;
 *   3. p95 and p99 latency of each version, with the thresholds when they are on the scale;
 * and a numbered marker at every decision (listed under the chart with its reason). Shaded bands
 * show promotion, pauses and rollbacks.
 *
 * Scales and line geometry come from d3-scale and d3-shape (pure computation, no DOM); the SVG is
 * written by ./svg.ts. The output is static (no script, no external font or image), so it renders
 * the same in a browser and through GitHub's <img>.
 */
import { scaleLinear } from "d3-scale";
import { area, curveLinear, curveStepAfter, line } from "d3-shape";
import { formatDuration, formatRate } from "../contract/units.js";
import type { Report } from "./model.js";
import { el, svgDocument, text, truncate } from "./svg.js";

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

const COLOR = { stable: "#2b6cb0", gray: "#dd6b20", grid: "#e2e8f0", axis: "#4a5568", ink: "#1a202c" };
const KIND_COLOR: Record<string, string> = {
  rollback: "#c53030",
  pause: "#b7791f",
  "await-approval": "#b7791f",
  promote: "#2f855a",
  done: "#2f855a",
  "set-weights": "#4a5568",
  wait: "#a0aec0",
};
const PHASE_BAND: Record<string, { fill: string; label: string }> = {
  promoting: { fill: "#e6f4ea", label: "promotion" },
  returning: { fill: "#e6f4ea", label: "promotion" },
  finishing: { fill: "#e6f4ea", label: "promotion" },
  paused: { fill: "#fef3c7", label: "paused" },
  "rolling-back": { fill: "#fde2e2", label: "rolling back" },
  "rollback-failed": { fill: "#fbb6b6", label: "rollback failed" },
};

const WIDTH = 960;
const LEFT = 72;
const RIGHT = 24;
const PLOT_W = WIDTH - LEFT - RIGHT;
const MAX_LEGEND = 16;

interface Point {
  readonly t: number;
  readonly v: number | null;
}

interface Panel {
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
function elapsed(ms: number): string {
  return formatDuration(Math.round(ms / 1000) * 1000);
}

/** Tick step (ms) giving at most `max` ticks over `span`, on human boundaries. */
export function timeStep(span: number, max = 9): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  for (const s of steps) if (span / (s * 1000) <= max) return s * 1000;
  return Math.ceil(span / max / 86_400_000) * 86_400_000;
}

function msLabel(v: number): string {
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
    const gray = s.kind === "forward" ? s.weight : 100 - s.weight;
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

const maxOf = (points: readonly Point[]) => points.reduce((m, p) => (p.v !== null && p.v > m ? p.v : m), 0);

/** Renders timeline.svg. */
export function renderTimeline(r: Report): string {
  const d = timelineData(r);
  const o = r.outcome;
  const x = scaleLinear()
    .domain([d.start, d.end])
    .range([LEFT, LEFT + PLOT_W]);
  const plan = r.plan;

  const panels: Panel[] = [
    { key: "weight", title: "Traffic weight (%)", top: 130, height: 120 },
    { key: "error-rate", title: "5xx error rate", top: 304, height: 130 },
    { key: "latency", title: "Latency (ms)", top: 488, height: 150 },
  ];
  const plotTop = panels[0]!.top;
  const plotBottom = panels[2]!.top + panels[2]!.height;

  // ── y scales ───────────────────────────────────────────────────────────────────────────────
  const yWeight = scaleLinear()
    .domain([0, 100])
    .range([panels[0]!.top + panels[0]!.height, panels[0]!.top]);
  const errMax = Math.max(
    maxOf(d.series["error-rate-stable"]),
    maxOf(d.series["error-rate-gray"]),
    plan?.thresholds.rollbackErrorRate ?? 0.02,
  );
  const yErr = scaleLinear()
    .domain([0, errMax * 1.1])
    .nice(4)
    .range([panels[1]!.top + panels[1]!.height, panels[1]!.top]);
  const latData = Math.max(
    maxOf(d.series["p95-stable"]),
    maxOf(d.series["p99-stable"]),
    maxOf(d.series["p95-gray"]),
    maxOf(d.series["p99-gray"]),
  );
  const latLimits = plan
    ? [
        {
          v: plan.thresholds.promoteP95Ms,
          label: `pass: p95 < ${msLabel(plan.thresholds.promoteP95Ms)}`,
          color: KIND_COLOR.pause!,
        },
        {
          v: plan.thresholds.rollbackP99Ms,
          label: `roll back: p99 > ${msLabel(plan.thresholds.rollbackP99Ms)}`,
          color: KIND_COLOR.rollback!,
        },
      ]
    : [];
  // A limit far above the data would flatten every line; it is then named in the panel title instead.
  const latShown = latLimits.filter((l) => latData === 0 || l.v <= latData * 4);
  const latHidden = latLimits.filter((l) => !latShown.includes(l));
  const latMax = Math.max(latData, ...latShown.map((l) => l.v), latData === 0 ? 100 : 0);
  const yLat = scaleLinear()
    .domain([0, latMax * 1.1])
    .nice(4)
    .range([panels[2]!.top + panels[2]!.height, panels[2]!.top]);

  // ── pieces ─────────────────────────────────────────────────────────────────────────────────
  const parts: string[] = [];

  // Title and subtitle.
  const when = o.startedAt ? `started ${o.startedAt.slice(0, 19).replace("T", " ")} UTC` : "not started";
  const took = o.durationMs !== null ? ` · took ${elapsed(o.durationMs)}` : "";
  parts.push(
    el(
      "text",
      { x: LEFT, y: 26, "font-size": 17, "font-weight": "bold", fill: COLOR.ink, class: "title" },
      text(`gray-deploy · ${o.outcome.toUpperCase()} · ${truncate(shortImage(o.release.image), 48)}`),
    ),
    el(
      "text",
      { x: LEFT, y: 46, fill: COLOR.axis, class: "subtitle" },
      text(`${when}${took} · ${o.target}${o.rolloutId ? ` · rollout ${o.rolloutId}` : ""}`),
    ),
    el("text", { x: LEFT, y: 64, fill: COLOR.ink, class: "reason" }, text(truncate(o.reason, 118))),
  );

  // Phase bands behind every panel.
  for (const band of d.phaseBands) {
    const x0 = x(band.from);
    const x1 = Math.max(x(band.to), x0 + 1);
    for (const p of panels) {
      parts.push(
        el("rect", {
          class: "phase-band",
          "data-phase": band.phase,
          x: x0,
          y: p.top,
          width: x1 - x0,
          height: p.height,
          fill: PHASE_BAND[band.phase]!.fill,
        }),
      );
    }
  }

  // Grid and x axis per panel.
  const step = timeStep(d.end - d.start);
  const firstTick = Math.ceil((d.start - d.origin) / step) * step;
  const ticks: number[] = [];
  for (let t = firstTick; d.origin + t <= d.end; t += step) ticks.push(t);
  for (const p of panels) {
    const bottom = p.top + p.height;
    parts.push(
      el(
        "g",
        { class: "axis", "data-axis": `x-${p.key}`, stroke: COLOR.axis },
        el("line", { x1: LEFT, y1: bottom, x2: LEFT + PLOT_W, y2: bottom }),
        ...ticks.map((t) =>
          el(
            "g",
            { class: "tick" },
            el("line", {
              x1: x(d.origin + t),
              y1: p.top,
              x2: x(d.origin + t),
              y2: bottom,
              stroke: COLOR.grid,
            }),
            el("line", { x1: x(d.origin + t), y1: bottom, x2: x(d.origin + t), y2: bottom + 4 }),
            el(
              "text",
              {
                x: x(d.origin + t),
                y: bottom + 16,
                "text-anchor": "middle",
                stroke: "none",
                fill: COLOR.axis,
                "font-size": 11,
              },
              text(elapsed(t)),
            ),
          ),
        ),
      ),
    );
  }
  parts.push(
    el(
      "text",
      {
        x: LEFT + PLOT_W,
        y: plotBottom + 32,
        "text-anchor": "end",
        fill: COLOR.axis,
        "font-size": 11,
        class: "x-title",
      },
      text("time since the rollout started"),
    ),
  );

  // y axes.
  const yAxis = (
    key: string,
    p: Panel,
    scale: (v: number) => number,
    values: number[],
    fmt: (v: number) => string,
  ) =>
    el(
      "g",
      { class: "axis", "data-axis": `y-${key}`, stroke: COLOR.axis },
      el("line", { x1: LEFT, y1: p.top, x2: LEFT, y2: p.top + p.height }),
      ...values.map((v) =>
        el(
          "g",
          { class: "tick" },
          el("line", { x1: LEFT, y1: scale(v), x2: LEFT + PLOT_W, y2: scale(v), stroke: COLOR.grid }),
          el("line", { x1: LEFT - 4, y1: scale(v), x2: LEFT, y2: scale(v) }),
          el(
            "text",
            {
              x: LEFT - 7,
              y: scale(v) + 4,
              "text-anchor": "end",
              stroke: "none",
              fill: COLOR.axis,
              "font-size": 11,
            },
            text(fmt(v)),
          ),
        ),
      ),
    );
  const errFmt = yErr.tickFormat(4, "~%");
  parts.push(
    yAxis("weight", panels[0]!, yWeight, [0, 25, 50, 75, 100], (v) => `${v}%`),
    yAxis("error-rate", panels[1]!, yErr, yErr.ticks(4), (v) => errFmt(v)),
    yAxis("latency", panels[2]!, yLat, yLat.ticks(4), msLabel),
  );

  // Threshold lines.
  const threshold = (y: number, label: string, color: string, below = false) =>
    el(
      "g",
      { class: "threshold" },
      el("line", {
        x1: LEFT,
        y1: y,
        x2: LEFT + PLOT_W,
        y2: y,
        stroke: color,
        "stroke-dasharray": "6 4",
        "stroke-width": 1.2,
      }),
      el(
        "text",
        {
          x: LEFT + PLOT_W - 4,
          y: below ? y + 11 : y - 4,
          "text-anchor": "end",
          fill: color,
          "font-size": 10,
        },
        text(label),
      ),
    );
  if (plan) {
    const t = plan.thresholds;
    parts.push(
      threshold(
        yErr(t.rollbackErrorRate),
        `roll back > ${formatRate(t.rollbackErrorRate)}`,
        KIND_COLOR.rollback!,
      ),
      threshold(
        yErr(t.promoteErrorRate),
        `pass < ${formatRate(t.promoteErrorRate)}`,
        KIND_COLOR.pause!,
        yErr(t.promoteErrorRate) - yErr(t.rollbackErrorRate) < 14,
      ),
      ...latShown.map((l) => threshold(yLat(l.v), l.label, l.color)),
    );
  }

  // Series: one path each (gaps where a version had no traffic).
  const stepLine = (scale: (v: number) => number) =>
    line<Point>()
      .defined((p) => p.v !== null)
      .x((p) => x(p.t))
      .y((p) => scale(p.v ?? 0))
      .curve(curveStepAfter);
  const plainLine = (scale: (v: number) => number) =>
    line<Point>()
      .defined((p) => p.v !== null)
      .x((p) => x(p.t))
      .y((p) => scale(p.v ?? 0))
      .curve(curveLinear);
  const grayArea = area<Point>()
    .x((p) => x(p.t))
    .y0(yWeight(0))
    .y1((p) => yWeight(p.v ?? 0))
    .curve(curveStepAfter);
  parts.push(
    el("path", {
      class: "area",
      "data-series": "weight-gray",
      d: grayArea(d.series["weight-gray"]) ?? "",
      fill: COLOR.gray,
      "fill-opacity": 0.12,
      stroke: "none",
    }),
  );
  const styles: Record<SeriesName, { color: string; dash?: string; draw: (pts: Point[]) => string | null }> =
    {
      "weight-stable": { color: COLOR.stable, draw: (p) => stepLine(yWeight)(p) },
      "weight-gray": { color: COLOR.gray, draw: (p) => stepLine(yWeight)(p) },
      "error-rate-stable": { color: COLOR.stable, draw: (p) => plainLine(yErr)(p) },
      "error-rate-gray": { color: COLOR.gray, draw: (p) => plainLine(yErr)(p) },
      "p95-stable": { color: COLOR.stable, draw: (p) => plainLine(yLat)(p) },
      "p99-stable": { color: COLOR.stable, dash: "5 3", draw: (p) => plainLine(yLat)(p) },
      "p95-gray": { color: COLOR.gray, draw: (p) => plainLine(yLat)(p) },
      "p99-gray": { color: COLOR.gray, dash: "5 3", draw: (p) => plainLine(yLat)(p) },
    };
  // A point with no defined neighbour draws no line segment: it gets a dot instead.
  const isolated = (pts: readonly Point[]) =>
    pts.filter(
      (p, i) => p.v !== null && (pts[i - 1]?.v ?? null) === null && (pts[i + 1]?.v ?? null) === null,
    );
  const scaleOf: Record<SeriesName, (v: number) => number> = {
    "weight-stable": yWeight,
    "weight-gray": yWeight,
    "error-rate-stable": yErr,
    "error-rate-gray": yErr,
    "p95-stable": yLat,
    "p99-stable": yLat,
    "p95-gray": yLat,
    "p99-gray": yLat,
  };
  for (const name of SERIES) {
    const s = styles[name];
    const dots = isolated(d.series[name]);
    if (dots.length > 0) {
      parts.push(
        el(
          "g",
          { class: "points", "data-series": name, fill: s.color },
          ...dots.map((p) => el("circle", { cx: x(p.t), cy: scaleOf[name](p.v ?? 0), r: 3 })),
        ),
      );
    }
    parts.push(
      el("path", {
        class: "series",
        "data-series": name,
        d: s.draw(d.series[name]) ?? "",
        fill: "none",
        stroke: s.color,
        "stroke-width": 2,
        "stroke-dasharray": s.dash,
        "stroke-linejoin": "round",
      }),
    );
  }

  // Panel titles and legends.
  const swatch = (lx: number, y: number, color: string, label: string, dash?: string) => [
    el("line", {
      x1: lx,
      y1: y - 4,
      x2: lx + 18,
      y2: y - 4,
      stroke: color,
      "stroke-width": 2,
      "stroke-dasharray": dash,
    }),
    el("text", { x: lx + 22, y, fill: COLOR.ink, "font-size": 11 }, text(label)),
  ];
  const header = (p: Panel, title: string, legend: [string, string, string?][]) => {
    // The weights panel leaves room above it for the decision markers.
    const y = p.key === "weight" ? p.top - 38 : p.top - 12;
    const items: string[] = [];
    let lx = LEFT + PLOT_W;
    for (const [color, label, dash] of [...legend].reverse()) {
      lx -= 26 + label.length * 6.2;
      items.push(...swatch(lx, y, color, label, dash));
    }
    return el(
      "g",
      { class: "panel", "data-panel": p.key },
      el("text", { x: LEFT, y, "font-weight": "bold", fill: COLOR.ink }, text(title)),
      ...items,
    );
  };
  const hiddenNote =
    latHidden.length > 0 ? ` (limits off scale: ${latHidden.map((l) => l.label).join(", ")})` : "";
  const windowNote = plan ? ` over the trailing ${formatDuration(plan.rollbackWindowMs)}` : "";
  parts.push(
    header(panels[0]!, "Traffic weight (%)", [
      [COLOR.stable, "stable"],
      [COLOR.gray, "gray (new)"],
    ]),
    header(panels[1]!, `5xx error rate${windowNote}`, [
      [COLOR.stable, "stable"],
      [COLOR.gray, "gray (new)"],
    ]),
    header(panels[2]!, `Latency${windowNote}${hiddenNote}`, [
      [COLOR.stable, "stable p95"],
      [COLOR.stable, "stable p99", "5 3"],
      [COLOR.gray, "gray p95"],
      [COLOR.gray, "gray p99", "5 3"],
    ]),
  );

  if (r.observations.length === 0) {
    parts.push(
      el(
        "text",
        {
          x: LEFT + PLOT_W / 2,
          y: panels[1]!.top + panels[1]!.height / 2,
          "text-anchor": "middle",
          fill: COLOR.axis,
        },
        text(
          truncate(
            o.rolloutId === null ? (r.coverage.note ?? "no rollout ran") : "no observations in this run",
            110,
          ),
        ),
      ),
    );
  }

  // Decision markers: a line through every panel and a numbered dot above the weights.
  let lastX = Number.NEGATIVE_INFINITY;
  let row = 0;
  for (const dec of d.decisions) {
    const dx = x(dec.t);
    row = dx - lastX < 16 ? (row + 1) % 2 : 0;
    lastX = dx;
    // Markers closer than their size alternate between two rows so each number stays readable.
    const cy = plotTop - 11 - row * 15;
    const color = KIND_COLOR[dec.kind] ?? COLOR.axis;
    parts.push(
      el(
        "g",
        { class: "decision", "data-kind": dec.kind, "data-at": dec.at, "data-index": dec.n },
        el("title", {}, text(`${dec.n}. ${dec.kind}: ${dec.reason}`)),
        el("line", {
          x1: dx,
          y1: plotTop - 2,
          x2: dx,
          y2: plotBottom,
          stroke: color,
          "stroke-width": 1,
          "stroke-dasharray": "2 3",
        }),
        el("circle", { cx: dx, cy, r: 7.5, fill: color }),
        el(
          "text",
          {
            x: dx,
            y: cy + 3.5,
            "text-anchor": "middle",
            fill: "#ffffff",
            "font-size": 9,
            "font-weight": "bold",
          },
          text(String(dec.n)),
        ),
      ),
    );
  }

  // Where the rollout ended (an operator's abort is not a decision of the engine, so mark the end).
  if (o.endedAt !== null) {
    const ex = x(Date.parse(o.endedAt));
    const color =
      o.outcome === "promoted"
        ? KIND_COLOR.done!
        : o.outcome === "paused"
          ? KIND_COLOR.pause!
          : KIND_COLOR.rollback!;
    parts.push(
      el(
        "g",
        { class: "end", "data-outcome": o.outcome },
        el("line", { x1: ex, y1: plotTop, x2: ex, y2: plotBottom, stroke: color, "stroke-width": 1.5 }),
        el(
          "text",
          {
            x: ex - 4,
            y: plotBottom - 6,
            "text-anchor": "end",
            fill: color,
            "font-size": 11,
            "font-weight": "bold",
          },
          text(o.outcome),
        ),
      ),
    );
  }

  // Decision legend under the chart.
  const legendTop = plotBottom + 58;
  const shown = d.decisions.slice(0, MAX_LEGEND);
  const legendLines = shown.map((dec, i) =>
    el(
      "g",
      { class: "decision-legend", "data-index": dec.n },
      el("circle", {
        cx: LEFT + 6,
        cy: legendTop + i * 17 - 4,
        r: 6,
        fill: KIND_COLOR[dec.kind] ?? COLOR.axis,
      }),
      el(
        "text",
        {
          x: LEFT + 6,
          y: legendTop + i * 17 - 0.5,
          "text-anchor": "middle",
          fill: "#ffffff",
          "font-size": 8,
          "font-weight": "bold",
        },
        text(String(dec.n)),
      ),
      el(
        "text",
        { x: LEFT + 18, y: legendTop + i * 17, fill: COLOR.ink, "font-size": 11 },
        text(truncate(`${elapsed(dec.t - d.origin)} ${dec.kind}: ${dec.reason}`, 135)),
      ),
    ),
  );
  const more = d.decisions.length - shown.length;
  if (more > 0) {
    legendLines.push(
      el(
        "text",
        { x: LEFT + 18, y: legendTop + shown.length * 17, fill: COLOR.axis, "font-size": 11 },
        text(`…and ${more} more decisions in report.json`),
      ),
    );
  }
  const bands = [...new Set(d.phaseBands.map((b) => b.phase))]
    .map((p) => PHASE_BAND[p]!)
    .filter((b, i, all) => all.findIndex((a) => a.label === b.label) === i);
  const legendRows = legendLines.length;
  const bandY = legendTop + legendRows * 17 + 6;
  const bandItems = bands.flatMap((b, i) => [
    el("rect", { x: LEFT + i * 150, y: bandY - 10, width: 14, height: 12, fill: b.fill, stroke: COLOR.grid }),
    el(
      "text",
      { x: LEFT + i * 150 + 20, y: bandY, fill: COLOR.ink, "font-size": 11 },
      text(`shaded: ${b.label}`),
    ),
  ]);
  const height = bandY + (bands.length > 0 ? 16 : 0) + 8;

  const description =
    `Rollout ${o.rolloutId ?? "(none)"}: ${o.outcome}. ${o.reason}. ` +
    `Weights over time for stable and gray, 5xx error rate and p95/p99 latency per version, ` +
    `${d.decisions.length} decision marker(s).`;
  return svgDocument(
    WIDTH,
    Math.ceil(height),
    `gray-deploy timeline: ${o.outcome} (${o.release.image ?? "no image"})`,
    description,
    ...parts,
    ...legendLines,
    ...bandItems,
  );
}
