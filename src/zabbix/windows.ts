/**
 * Where each part of a window is read from (history or trends; metrics.ts explains why) and how the
 * samples and hourly trends of a version's items aggregate into one value per window.
 */
import type { Pool, TimeWindow } from "../core/types.js";
import type { ZabbixItem } from "./client.js";
import type { Aggregation } from "./model.js";
import { ValueType } from "./value-type.js";

export const HOUR = 3_600_000;

/** A part of a window and where it is read from. [start, end) in ms; trends parts are hour-aligned. */
export interface ReadSegment {
  readonly source: "history" | "trends";
  readonly start: number;
  readonly end: number;
}

/**
 * Where each part of a window is read from (see the module comment): history for windows up to
 * `historyMaxMs` and for `last`; otherwise trends for the whole hours that ended at least
 * `trendLagMs` before `now`, history for the rest.
 */
export function planWindow(
  window: TimeWindow,
  opts: { historyMaxMs: number; trendLagMs: number; now: number; historyOnly?: boolean },
): ReadSegment[] {
  const { start, end } = window;
  if (opts.historyOnly || end - start <= opts.historyMaxMs) return [{ source: "history", start, end }];
  const trendStart = Math.ceil(start / HOUR) * HOUR;
  const trendEnd = Math.min(
    Math.floor(end / HOUR) * HOUR,
    Math.floor((opts.now - opts.trendLagMs) / HOUR) * HOUR,
  );
  if (trendEnd <= trendStart) return [{ source: "history", start, end }];
  const parts: ReadSegment[] = [];
  if (start < trendStart) parts.push({ source: "history", start, end: trendStart });
  parts.push({ source: "trends", start: trendStart, end: trendEnd });
  if (trendEnd < end) parts.push({ source: "history", start: trendEnd, end });
  return parts;
}

export interface Sample {
  /** Epoch ms, whole: clock·1000 + ⌊ns/1e6⌋ (window membership is decided to the millisecond). */
  readonly t: number;
  /** Nanoseconds within the second, to order samples of the same millisecond. */
  readonly ns: number;
  readonly v: number;
}

export interface Trend {
  /** Hour start, epoch ms. */
  readonly hour: number;
  readonly num: number;
  readonly min: number;
  readonly avg: number;
  readonly max: number;
}

export interface ItemData {
  readonly item: ZabbixItem;
  readonly valueType: ValueType;
  readonly samples: Sample[];
  readonly trends: Trend[];
}

export interface Resolved {
  readonly hosts: Record<Pool, readonly string[]>;
  /** By pool, then by key. */
  readonly items: Record<Pool, Map<string, ItemData[]>>;
}

export const POOLS: readonly Pool[] = ["stable", "gray"];

export interface Accumulator {
  count: number;
  sum: number;
  min: number;
  max: number;
  exact: boolean;
  /** Latest sample of each item that had one (history only). */
  lasts: number[];
}

export function accumulate(items: readonly ItemData[], plan: readonly ReadSegment[]): Accumulator {
  const acc: Accumulator = { count: 0, sum: 0, min: Infinity, max: -Infinity, exact: true, lasts: [] };
  for (const d of items) {
    let last: Sample | null = null;
    for (const seg of plan) {
      if (seg.source === "history") {
        for (const s of d.samples) {
          if (s.t < seg.start || s.t >= seg.end) continue;
          acc.count++;
          acc.sum += s.v;
          if (s.v < acc.min) acc.min = s.v;
          if (s.v > acc.max) acc.max = s.v;
          if (last === null || s.t > last.t || (s.t === last.t && s.ns >= last.ns)) last = s;
        }
      } else {
        for (const tr of d.trends) {
          if (tr.hour < seg.start || tr.hour >= seg.end || tr.num <= 0) continue;
          acc.count += tr.num;
          acc.sum += tr.avg * tr.num;
          if (tr.min < acc.min) acc.min = tr.min;
          if (tr.max > acc.max) acc.max = tr.max;
          if (d.valueType === ValueType.Unsigned && tr.num > 1) acc.exact = false;
        }
      }
    }
    if (last !== null) acc.lasts.push(last.v);
  }
  return acc;
}

export function aggregate(
  acc: Accumulator,
  aggregation: Aggregation,
): { value: number | null; samples: number } {
  if (aggregation === "last") {
    const n = acc.lasts.length;
    return { value: n === 0 ? null : acc.lasts.reduce((a, b) => a + b, 0) / n, samples: n };
  }
  if (acc.count === 0) return { value: null, samples: 0 };
  const value =
    aggregation === "sum"
      ? acc.sum
      : aggregation === "avg"
        ? acc.sum / acc.count
        : aggregation === "min"
          ? acc.min
          : aggregation === "max"
            ? acc.max
            : acc.count;
  return { value, samples: acc.count };
}

export function sourceOf(plan: readonly ReadSegment[]): "history" | "trends+history" {
  return plan.some((s) => s.source === "trends") ? "trends+history" : "history";
}

export function mergeRanges(segments: readonly ReadSegment[]): { start: number; end: number }[] {
  const sorted = [...segments].sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}
