/**
 * The decisions on the timeline: a numbered marker through every panel, and the legend under the
 * chart (a numbered line per decision, then the phase bands' key).
 */

import { el, text, truncate } from "./svg.js";
import {
  COLOR,
  elapsed,
  KIND_COLOR,
  LEFT,
  MAX_LEGEND,
  PHASE_BAND,
  type timelineData,
} from "./timeline-data.js";

export function decisionLegend(d: ReturnType<typeof timelineData>, plotBottom: number) {
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

  return { legendLines, bandItems, height };
}

export function decisionMarkers(
  d: ReturnType<typeof timelineData>,
  x: (t: number) => number,
  plotTop: number,
  plotBottom: number,
): string[] {
  const markers: string[] = [];
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
    markers.push(
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

  return markers;
}
