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
import {
  COLOR,
  elapsed,
  KIND_COLOR,
  LEFT,
  maxOf,
  msLabel,
  type Panel,
  PHASE_BAND,
  PLOT_W,
  type Point,
  SERIES,
  type SeriesName,
  shortImage,
  timelineData,
  timeStep,
  WIDTH,
} from "./timeline-data.js";
import { hookLegend, hookMarkers } from "./timeline-hooks.js";
import { decisionLegend, decisionMarkers } from "./timeline-legend.js";

export { SERIES, type SeriesName, shortImage, timelineData, timeStep } from "./timeline-data.js";

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
    // The title never runs into the legend: a bold 12px character is about 7.4px wide at most.
    const room = Math.floor((lx - 12 - LEFT) / 7.4);
    return el(
      "g",
      { class: "panel", "data-panel": p.key },
      el("text", { x: LEFT, y, "font-weight": "bold", fill: COLOR.ink }, text(truncate(title, room))),
      ...items,
    );
  };
  // Limits far above the data are named inside the panel, not in its title (which met the legend).
  if (latHidden.length > 0) {
    parts.push(
      el(
        "text",
        { x: LEFT + 6, y: panels[2]!.top + 12, fill: COLOR.axis, "font-size": 10, class: "off-scale" },
        text(`limits off scale: ${latHidden.map((l) => l.label).join(", ")}`),
      ),
    );
  }
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
    header(panels[2]!, `Latency${windowNote}`, [
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

  parts.push(...decisionMarkers(d, x, plotTop, plotBottom));
  parts.push(...hookMarkers(r, x, panels[0]!.top + panels[0]!.height));

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

  const legend = decisionLegend(d, plotBottom);
  const { legendLines, bandItems } = legend;
  const hooks = hookLegend(r, d.origin, legend.height);
  const height = hooks.height;

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
    ...hooks.items,
  );
}
