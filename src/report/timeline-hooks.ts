/**
 * Lifecycle hook calls on the timeline: a diamond on the traffic panel's time axis at each call
 * (green pass, amber not yet, red fail, grey overridden; hollow when the hook only notifies), and a
 * lettered line per call under the decisions' legend.
 */
import type { Report } from "./model.js";
import { el, text, truncate } from "./svg.js";
import { COLOR, elapsed, KIND_COLOR, LEFT, MAX_LEGEND } from "./timeline-data.js";

const RESULT_COLOR: Record<string, string> = {
  pass: KIND_COLOR.done!,
  "not-yet": KIND_COLOR.pause!,
  fail: KIND_COLOR.rollback!,
  skipped: COLOR.axis,
};

const label = (i: number) => `H${i + 1}`;

function diamond(cx: number, cy: number, size: number, color: string, filled: boolean): string {
  const s = size;
  return el("path", {
    d: `M${cx} ${cy - s}L${cx + s} ${cy}L${cx} ${cy + s}L${cx - s} ${cy}Z`,
    fill: filled ? color : "#ffffff",
    stroke: color,
    "stroke-width": 1.5,
  });
}

/** The diamonds, on the line at `axisY` (the traffic panel's bottom). */
export function hookMarkers(r: Report, x: (t: number) => number, axisY: number): string[] {
  return r.hooks.map((h, i) => {
    const color = RESULT_COLOR[h.result] ?? COLOR.axis;
    return el(
      "g",
      {
        class: "hook",
        "data-hook": h.hook,
        "data-stage": h.stage,
        "data-result": h.result,
        "data-index": label(i),
      },
      el(
        "title",
        {},
        text(`${label(i)} hook ${h.hook} (${h.stage}, ${h.instance}) ${h.result}: ${h.detail}`),
      ),
      diamond(x(Date.parse(h.at)), axisY, 5, color, h.gating),
    );
  });
}

/** The lettered lines under the chart, from `top`; returns them and where the chart now ends. */
export function hookLegend(r: Report, origin: number, top: number): { items: string[]; height: number } {
  if (r.hooks.length === 0) return { items: [], height: top };
  const shown = r.hooks.slice(0, MAX_LEGEND);
  const items = shown.map((h, i) => {
    const y = top + 12 + i * 17;
    const color = RESULT_COLOR[h.result] ?? COLOR.axis;
    return el(
      "g",
      { class: "hook-legend", "data-index": label(i) },
      diamond(LEFT + 6, y - 4, 5, color, h.gating),
      el(
        "text",
        { x: LEFT + 18, y, fill: COLOR.ink, "font-size": 11 },
        text(
          truncate(
            `${label(i)} ${elapsed(Date.parse(h.at) - origin)} hook ${h.hook} (${h.stage}${h.instance !== h.stage ? ` ${h.instance}` : ""}${h.gating ? "" : ", notify only"}) ${h.result}: ${h.detail}`,
            135,
          ),
        ),
      ),
    );
  });
  const more = r.hooks.length - shown.length;
  if (more > 0) {
    items.push(
      el(
        "text",
        { x: LEFT + 18, y: top + 12 + shown.length * 17, fill: COLOR.axis, "font-size": 11 },
        text(`…and ${more} more hook calls in report.json`),
      ),
    );
  }
  return { items, height: top + 12 + items.length * 17 };
}
