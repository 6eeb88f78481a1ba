/**
 * Evaluation of business-metric gates: one GateResult per declared gate and observation, with the
 * built-in gates' verdicts (pass / inconclusive / fail), the numbers in `values` and a sentence in
 * `reason`. Pure: the readings come from the metric sources, the baselines and error counts from the
 * rollout state.
 *
 * - Absent data, too few samples (below `minSamples`: datapoints, or the denominator of a rate) and
 *   measurement errors are inconclusive, never pass.
 * - The reference is the other pool over the same window; while it has no traffic (gray at 100%, or
 *   stable back at 100%) it is the other pool's value recorded at the last observation where it had
 *   traffic (absorbReadings: stable's before gray took everything; on the way back, gray's while it
 *   served 100% — the release the refreshed stable now runs), and without one the relative rules are
 *   inconclusive.
 * - A measurement error counts against the gate's `maxErrors`: below it the gate is inconclusive and
 *   the step waits; at it the gate says so (`errorLimit: "reached"`) and the step is judged
 *   inconclusive at once (--on-inconclusive), since a source down that long will not judge it.
 */

import { conditionalExcessPValue } from "../core/stats.js";
import type { BusinessReading, BusinessValue, Pool } from "../core/types.js";
import { describeGate } from "./spec.js";
import { type GateSpec, gateName } from "./types.js";
import type { GateResult } from "./verdict.js";

export interface RecordedValue {
  readonly value: BusinessValue;
  readonly at: number;
}

/** Each pool's value at the last observation where it had traffic. */
export type RecordedBaseline = Readonly<Partial<Record<Pool, RecordedValue>>>;

export interface GateContext {
  readonly subject: Pool;
  /** The reference pool gets no traffic now: relative rules use the recorded baseline. */
  readonly referenceIdle: boolean;
  /** By gate name. */
  readonly baselines: Readonly<Record<string, RecordedBaseline>>;
  /** Measurement errors in a row, by gate name, including this observation's. */
  readonly errors: Readonly<Record<string, number>>;
  /** The analysis' --relative-significance, for the rate test. */
  readonly significance: number;
}

const pct = (r: number | null): string => (r === null ? "n/a" : `${Number((r * 100).toFixed(3))}%`);
const num = (v: number | null): string => (v === null ? "n/a" : String(Number(v.toPrecision(4))));

/** The reading of a gate's own window in an observation's windows, or why there is none. */
export function readingOf(
  spec: GateSpec,
  windows: {
    rollback: { business?: Readonly<Record<string, BusinessReading>> } | null;
    promotion: { business?: Readonly<Record<string, BusinessReading>> } | null;
  },
  errors: readonly string[],
): BusinessReading {
  const w = spec.window === "promotion" ? windows.promotion : windows.rollback;
  if (w === null) {
    return {
      stable: null,
      gray: null,
      error: `metrics could not be read: ${errors.join("; ") || "no data"}`,
    };
  }
  return (
    w.business?.[spec.name] ?? { stable: null, gray: null, error: "the metric source did not measure it" }
  );
}

export function evaluateGate(spec: GateSpec, reading: BusinessReading, ctx: GateContext): GateResult {
  const gate = gateName(spec);
  const { subject } = ctx;
  const other: Pool = subject === "gray" ? "stable" : "gray";
  const m = spec.metric;
  const isRate = m.kind === "rate";
  const show = isRate ? pct : num;
  const base = { source: m.source, window: spec.window, minSamples: spec.minSamples };

  if (reading.error !== undefined) {
    const n = Math.max(1, ctx.errors[spec.name] ?? 0);
    const reached = n >= spec.maxErrors;
    return {
      gate,
      verdict: "inconclusive",
      reason: `${m.source} measurement error ${n} in a row (limit ${spec.maxErrors})${reached ? ": limit reached, the step is judged inconclusive now" : ""}: ${reading.error}`,
      values: {
        ...base,
        consecutiveErrors: n,
        maxErrors: spec.maxErrors,
        errorLimit: reached ? "reached" : null,
      },
    };
  }

  const s = reading[subject];
  const live = reading[other];
  const recorded = ctx.baselines[spec.name]?.[other];
  const useBaseline = ctx.referenceIdle || live === null || live.value === null;
  const ref: BusinessValue | null = useBaseline ? (recorded?.value ?? null) : live;
  const refLabel = useBaseline
    ? recorded
      ? `${other}'s value recorded at ${new Date(recorded.at).toISOString()}`
      : `${other} (no value recorded)`
    : `${other} over the same window`;
  const note = reading.note ? `; ${reading.note}` : "";
  const values: Record<string, number | string | null> = {
    ...base,
    value: s?.value ?? null,
    samples: s?.samples ?? 0,
    referenceValue: ref?.value ?? null,
    referenceSamples: ref?.samples ?? null,
    reference: useBaseline ? (ref ? "baseline" : null) : "live",
    ...(isRate
      ? {
          numerator: s?.numerator ?? null,
          denominator: s?.denominator ?? null,
          referenceNumerator: ref?.numerator ?? null,
          referenceDenominator: ref?.denominator ?? null,
        }
      : {}),
    ...(reading.note ? { note: reading.note } : {}),
  };
  const what = `${subject} ${describeMetric(spec)}`;

  if (s === null || s.value === null || s.samples < spec.minSamples) {
    const samples = s?.samples ?? 0;
    return {
      gate,
      verdict: "inconclusive",
      reason:
        s === null || s.value === null
          ? `no ${subject} data for ${describeMetric(spec)} in the ${spec.window} window${note}`
          : `${what} ${show(s.value)} on ${samples} ${isRate ? "in the denominator" : "samples"}, fewer than ${spec.minSamples}${note}`,
      values,
    };
  }
  const v = s.value;
  const r = spec.rule;
  switch (r.kind) {
    case "max":
    case "min": {
      values.limit = r.limit;
      const bad = r.kind === "max" ? v > r.limit : v < r.limit;
      const op = r.kind === "max" ? (bad ? ">" : "≤") : bad ? "<" : "≥";
      return {
        gate,
        verdict: bad ? "fail" : "pass",
        reason: `${what} ${show(v)} ${op} ${show(r.limit)}${counts(s)}${note}`,
        values,
      };
    }
    case "ratio": {
      if (ref === null || ref.value === null || ref.samples < 1) {
        return {
          gate,
          verdict: "inconclusive",
          reason: `${what} ${show(v)}: no reference value from ${refLabel} to compare with${note}`,
          values,
        };
      }
      const factor = r.worse === "higher" ? 1 + r.tolerance : 1 - r.tolerance;
      const limit = ref.value * factor;
      values.limit = limit;
      values.tolerance = r.tolerance;
      const bad = r.worse === "higher" ? v > limit : v < limit;
      const op = r.worse === "higher" ? (bad ? ">" : "≤") : bad ? "<" : "≥";
      return {
        gate,
        verdict: bad ? "fail" : "pass",
        reason: `${what} ${show(v)} ${op} ${refLabel} ${show(ref.value)} × ${Number(factor.toFixed(4))} = ${show(limit)}${counts(s)}${note}`,
        values,
      };
    }
    case "test": {
      const sn = s.numerator ?? 0;
      const sd = s.denominator ?? 0;
      if (ref === null || ref.value === null || (ref.denominator ?? 0) <= 0) {
        return {
          gate,
          verdict: "inconclusive",
          reason: `${what} ${show(v)}${counts(s)}: no reference counts from ${refLabel} to test against${note}`,
          values,
        };
      }
      const rn = ref.numerator ?? 0;
      const rd = ref.denominator ?? 0;
      const p = conditionalExcessPValue(
        Math.round(sn),
        Math.round(sd),
        Math.round(rn),
        Math.round(rd),
        r.margin,
      );
      values.pValue = p;
      values.significance = ctx.significance;
      values.margin = r.margin;
      const worse = v - ref.value > r.margin && p < ctx.significance;
      const cmp = `${what} ${show(v)} (${fmtCount(sn)} of ${fmtCount(sd)}) vs ${refLabel} ${show(ref.value)} (${fmtCount(rn)} of ${fmtCount(rd)})`;
      return worse
        ? {
            gate,
            verdict: "fail",
            reason: `${cmp}: worse by more than ${pct(r.margin)} (p=${p.toPrecision(2)} < ${ctx.significance})${note}`,
            values,
          }
        : {
            gate,
            verdict: "pass",
            reason: `${cmp}: not significantly worse by more than ${pct(r.margin)} (p=${p.toPrecision(2)})${note}`,
            values,
          };
    }
  }
}

function fmtCount(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function counts(s: BusinessValue): string {
  return s.denominator !== undefined
    ? ` (${fmtCount(s.numerator ?? 0)} of ${fmtCount(s.denominator)})`
    : ` (${s.samples} samples)`;
}

/** As the source's parser described it (a spec stored by an older version has no label). */
function describeMetric(spec: GateSpec): string {
  return spec.metric.label ?? `${spec.metric.source} ${spec.metric.kind}`;
}

/** A gate whose measurement errors reached its limit: the step stops waiting for it. */
export function errorLimitReached(gates: readonly GateResult[]): GateResult | undefined {
  return gates.find((g) => g.verdict === "inconclusive" && g.values.errorLimit === "reached");
}

/**
 * State updates from an observation's readings: consecutive measurement errors per gate (reset by a
 * successful read), and each pool's value while the weights send it traffic (`serving`).
 */
export function absorbReadings(
  gates: readonly GateSpec[],
  read: (g: GateSpec) => BusinessReading,
  serving: readonly Pool[],
  at: number,
  prev: { errors: Readonly<Record<string, number>>; baselines: Readonly<Record<string, RecordedBaseline>> },
): { errors: Record<string, number>; baselines: Record<string, RecordedBaseline> } {
  const errors: Record<string, number> = {};
  const baselines: Record<string, RecordedBaseline> = { ...prev.baselines };
  for (const g of gates) {
    const r = read(g);
    errors[g.name] = r.error !== undefined ? (prev.errors[g.name] ?? 0) + 1 : 0;
    if (r.error !== undefined) continue;
    for (const pool of serving) {
      const v = r[pool];
      if (v !== null && v.value !== null && v.samples > 0) {
        baselines[g.name] = { ...baselines[g.name], [pool]: { value: v, at } };
      }
    }
  }
  return { errors, baselines };
}

export { describeGate };
