/**
 * Business-metric gates with source `cloudwatch`: their queries ride in the SAME GetMetricData call
 * as the built-in ALB metrics (metrics.ts adds them to its plan), and their answers become each
 * window's `business` readings.
 *
 * Per gate, per version (its dimensions with the version's identity substituted: `{asg}`,
 * `{targetGroup}` and `{loadBalancer}` as CloudWatch's ALB dimensions write them, `{version}` the
 * launch template version the pool runs), per window, with a period equal to the window (one
 * datapoint over the whole window, as the built-in percentiles; the plan's common StartTime makes
 * that bucket the window exactly when metrics.ts says the plan is exact):
 * - a value: the gate's statistic, and SampleCount (the datapoints behind it, for `minSamples`);
 * - a rate: Sum of the numerator and Sum of the denominator; an absent numerator is 0 (counters are
 *   often published only when they move), an absent denominator means no data.
 * A version whose identity lacks a placeholder's value (e.g. `{version}` before the release exists)
 * is a measurement error of that gate, not a query.
 */
import type { MetricDataQuery, MetricDataResult } from "@aws-sdk/client-cloudwatch";
import type { BusinessReading, BusinessValue, Pool, TimeWindow } from "../../core/types.js";
import { substitute } from "../../gates/spec.js";
import type { GateSpec, VersionIdentity } from "../../gates/types.js";
import { type CloudWatchMetric, isCloudWatchMetric } from "./spec.js";

const POOLS: readonly Pool[] = ["stable", "gray"];

export interface GateQueryPlan {
  readonly queries: MetricDataQuery[];
  /** Gates that could not be queried, with why (a measurement error of each). */
  readonly errors: ReadonlyMap<string, string>;
  /** The CloudWatch gates planned, in order (their index names their query ids). */
  readonly gates: readonly GateSpec<CloudWatchMetric>[];
}

/** The window lengths in seconds as metrics.ts plans them: whole seconds, at least one period. */
function lengthOf(w: TimeWindow, periodMs: number): number {
  const periodS = Math.max(1, Math.round(periodMs / 1000));
  return Math.max(periodS, Math.round((w.end - w.start) / 1000));
}

const id = (k: number, pool: Pool, part: string, i: number) => `cg${k}_${pool}_${part}_w${i}`;

/** The queries of the `cloudwatch` gates among `gates` for `windows` (pure). */
export function planGateQueries(
  gates: readonly GateSpec[],
  windows: readonly TimeWindow[],
  periodMs: number,
  identities: Readonly<Record<Pool, VersionIdentity>>,
): GateQueryPlan {
  const planned = gates.filter((g): g is GateSpec<CloudWatchMetric> => isCloudWatchMetric(g.metric));
  const queries: MetricDataQuery[] = [];
  const errors = new Map<string, string>();
  planned.forEach((g, k) => {
    const m = g.metric;
    const perPool: MetricDataQuery[] = [];
    try {
      for (const pool of POOLS) {
        const dims = Object.entries(m.dimensions).map(([Name, v]) => ({
          Name,
          Value: substitute(v, identities[pool] as Record<string, string | null | undefined>),
        }));
        const stat = (metricName: string, statName: string, part: string, i: number, period: number) => ({
          Id: id(k, pool, part, i),
          MetricStat: {
            Metric: { Namespace: m.namespace, MetricName: metricName, Dimensions: dims },
            Period: period,
            Stat: statName,
          },
          ReturnData: true,
        });
        windows.forEach((w, i) => {
          const period = lengthOf(w, periodMs);
          if (m.kind === "value") {
            perPool.push(stat(m.metricName, m.statistic, "v", i, period));
            perPool.push(stat(m.metricName, "SampleCount", "n", i, period));
          } else {
            perPool.push(stat(m.numerator, "Sum", "num", i, period));
            perPool.push(stat(m.denominator, "Sum", "den", i, period));
          }
        });
      }
      queries.push(...perPool);
    } catch (e) {
      errors.set(g.name, `dimensions of gate ${g.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return { queries, errors, gates: planned };
}

/** Each window's readings of the planned gates, from the call's results (pure). */
export function summariseGates(
  plan: GateQueryPlan,
  windows: readonly TimeWindow[],
  results: readonly MetricDataResult[],
  exact: boolean,
): Record<string, BusinessReading>[] {
  const series = new Map<string, { t: number; v: number }[]>();
  for (const r of results) {
    const points = (r.Timestamps ?? []).map((ts, i) => ({
      t: new Date(ts).getTime(),
      v: r.Values?.[i] ?? 0,
    }));
    series.set(r.Id ?? "", [...(series.get(r.Id ?? "") ?? []), ...points]);
  }
  /** The bucket that is the window (exact plan), else the one starting closest to the window's start. */
  const point = (qid: string, w: TimeWindow): number | null => {
    const best = (series.get(qid) ?? [])
      .filter((p) => p.t >= w.start - (w.end - w.start))
      .sort((a, b) => Math.abs(a.t - w.start) - Math.abs(b.t - w.start))[0];
    return best === undefined ? null : best.v;
  };
  return windows.map((w, i) => {
    const out: Record<string, BusinessReading> = {};
    plan.gates.forEach((g, k) => {
      const error = plan.errors.get(g.name);
      if (error !== undefined) {
        out[g.name] = { stable: null, gray: null, error };
        return;
      }
      const value = (pool: Pool): BusinessValue => {
        if (g.metric.kind === "value") {
          const v = point(id(k, pool, "v", i), w);
          return { value: v, samples: v === null ? 0 : (point(id(k, pool, "n", i), w) ?? 0) };
        }
        const den = point(id(k, pool, "den", i), w);
        const numerator = point(id(k, pool, "num", i), w) ?? 0;
        const denominator = den ?? 0;
        return {
          value: denominator > 0 ? numerator / denominator : null,
          samples: denominator,
          numerator,
          denominator,
        };
      };
      out[g.name] = {
        stable: value("stable"),
        gray: value("gray"),
        ...(exact ? {} : { note: "the window is approximated by the CloudWatch bucket closest to it" }),
      };
    });
    return out;
  });
}
