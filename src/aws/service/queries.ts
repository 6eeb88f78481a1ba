/**
 * The service signal's GetMetricData request (pure): the service's own request count, 5xx count and
 * latency for both pools, per period, for every window a read asks for, in ONE call whose query
 * count does not depend on the number of windows.
 *
 * Periods are legal for high-resolution metrics (API_MetricStat: 1, 5, 10, 20, 30 s or a multiple
 * of 60; --service-period is checked to be one). Data older than 3 hours is only kept at one
 * minute: a read reaching further back asks for a multiple of 60 s instead, or CloudWatch returns
 * nothing for it. StartTime is aligned down to a whole minute that is also a whole number of
 * periods: CloudWatch rounds a StartTime down to the minute (to a 5/10/20/30-second division for
 * those periods), so an aligned one is kept as is and every bucket starts where the windows'
 * periods start.
 *
 * Per period: Sum of requests, Sum of 5xx, and of the latency SampleCount, Minimum, Maximum and
 * p50/p90/p95/p99/p99.9; a window sums the counts of the periods inside it and merges their
 * latency quantiles (quantiles.ts). An absent count is 0; a pool with no datapoint at all in a
 * window has `hasData: false`. The service cannot see load-balancer 5xx: `lbErrors` is null.
 */
import type { MetricDataQuery, MetricDataResult } from "@aws-sdk/client-cloudwatch";
import { InvalidInputError } from "../../contract/errors.js";
import type { ServiceMetrics } from "../../core/policy.js";
import type { Pool, TimeWindow, VersionStats, WindowStats } from "../../core/types.js";
import { substitute } from "../../gates/spec.js";
import type { VersionIdentity } from "../../gates/types.js";
import { KNOTS, mergedQuantile, type PeriodQuantiles } from "./quantiles.js";

/** High-resolution datapoints are kept 3 hours (API_MetricStat); beyond, only whole minutes. */
export const HIGH_RESOLUTION_RETENTION_MS = 3 * 3_600_000;

const POOLS: readonly Pool[] = ["stable", "gray"];

const LATENCY_STATS: readonly { readonly id: string; readonly stat: string }[] = [
  { id: "n", stat: "SampleCount" },
  { id: "min", stat: "Minimum" },
  { id: "max", stat: "Maximum" },
  ...KNOTS.map((k) => ({ id: `q${String(k.q).replace("0.", "")}`, stat: k.stat })),
];

export interface ServiceQueryPlan {
  readonly queries: MetricDataQuery[];
  readonly startTime: Date;
  readonly endTime: Date;
  /** The period every query asks for, in ms. */
  readonly periodMs: number;
  /** Pools whose dimensions could not be written (e.g. `{version}` before the release exists), with why. */
  readonly unresolved: ReadonlyMap<Pool, string>;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The dimensions of one pool's metrics, with its identity substituted; throws when one is missing. */
export function serviceDimensions(
  m: ServiceMetrics,
  identity: VersionIdentity,
): { Name: string; Value: string }[] {
  return Object.entries(m.dimensions).map(([Name, v]) => ({
    Name,
    Value: substitute(v, identity as Record<string, string | null | undefined>),
  }));
}

/** The request for `windows` at `periodMs` (a legal high-resolution period), read at `now`. */
export function planServiceQueries(
  windows: readonly TimeWindow[],
  m: ServiceMetrics,
  identities: Readonly<Record<Pool, VersionIdentity>>,
  periodMs: number,
  now: number,
): ServiceQueryPlan {
  if (windows.length === 0) throw new InvalidInputError([{ field: "windows", message: "no window to read" }]);
  const first = Math.min(...windows.map((w) => w.start));
  const last = Math.max(...windows.map((w) => w.end));
  // Older than the high-resolution retention: whole minutes only.
  const period = now - first > HIGH_RESOLUTION_RETENTION_MS ? lcm(periodMs, 60_000) : periodMs;
  const align = lcm(period, 60_000);
  const start = Math.floor(first / align) * align;
  const end = Math.ceil(last / period) * period;
  const queries: MetricDataQuery[] = [];
  const unresolved = new Map<Pool, string>();
  const periodS = period / 1000;
  for (const pool of POOLS) {
    let dims: { Name: string; Value: string }[];
    try {
      dims = serviceDimensions(m, identities[pool]);
    } catch (e) {
      unresolved.set(pool, `${pool}'s dimensions: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    const q = (id: string, name: string, stat: string): MetricDataQuery => ({
      Id: `${pool}_${id}`,
      MetricStat: {
        Metric: { Namespace: m.namespace, MetricName: name, Dimensions: dims },
        Period: periodS,
        Stat: stat,
      },
      ReturnData: true,
    });
    queries.push(q("req", m.requests, "Sum"), q("err", m.errors, "Sum"));
    for (const s of LATENCY_STATS) queries.push(q(`lat_${s.id}`, m.latency, s.stat));
  }
  return { queries, startTime: new Date(start), endTime: new Date(end), periodMs: period, unresolved };
}

function lcm(a: number, b: number): number {
  return (a * b) / gcd(a, b);
}

type Series = Map<number, number>;

/** Each window's statistics from the call's results (pure). */
export function summariseService(
  windows: readonly TimeWindow[],
  results: readonly MetricDataResult[],
  plan: Pick<ServiceQueryPlan, "periodMs" | "unresolved">,
  latencyUnit: ServiceMetrics["latencyUnit"],
): WindowStats[] {
  const series = new Map<string, Series>();
  for (const r of results) {
    const s = series.get(r.Id ?? "") ?? new Map<number, number>();
    (r.Timestamps ?? []).forEach((ts, i) => {
      s.set(new Date(ts).getTime(), r.Values?.[i] ?? 0);
    });
    series.set(r.Id ?? "", s);
  }
  const toMs = latencyUnit === "seconds" ? 1000 : 1;
  const P = plan.periodMs;
  return windows.map((w) => {
    const pool = (name: Pool): VersionStats => {
      if (plan.unresolved.has(name)) {
        return { requests: 0, errors: 0, p95Ms: null, p99Ms: null, hasData: false };
      }
      const get = (id: string) => series.get(`${name}_${id}`) ?? new Map<number, number>();
      const inside = (s: Series) => [...s].filter(([t]) => t >= w.start && t + P <= w.end);
      const req = inside(get("req"));
      const err = inside(get("err"));
      const sum = (xs: [number, number][]) => xs.reduce((a, [, v]) => a + v, 0);
      const n = inside(get("lat_n"));
      const periods: PeriodQuantiles[] = n.map(([t, count]) => {
        const value = (id: string) => {
          const v = get(id).get(t);
          return v === undefined ? null : v * toMs;
        };
        const quantiles = new Map<number, number>();
        for (const k of KNOTS) {
          const v = value(`lat_q${String(k.q).replace("0.", "")}`);
          if (v !== null) quantiles.set(k.q, v);
        }
        return { count, min: value("lat_min"), max: value("lat_max"), quantiles };
      });
      return {
        requests: sum(req),
        errors: sum(err),
        p95Ms: mergedQuantile(periods, 0.95),
        p99Ms: mergedQuantile(periods, 0.99),
        hasData: req.length + err.length + n.length > 0,
      };
    };
    return { start: w.start, end: w.end, stable: pool("stable"), gray: pool("gray"), lbErrors: null };
  });
}
