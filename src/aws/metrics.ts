/**
 * The MetricSource port over CloudWatch: ONE GetMetricData call per `read()`, for both target groups
 * and every window the engine asks for, with both dimensions (LoadBalancer + TargetGroup, the ARN
 * suffixes) as ALB publishes them.
 *
 * Counts (RequestCount, HTTPCode_Target_5XX_Count, TargetConnectionErrorCount) are read per metric
 * period and summed over each window's complete periods; an absent count is 0. Percentiles cannot be
 * merged from per-period values, so each window gets its own TargetResponseTime p95/p99 query whose
 * period IS the window: one datapoint over the whole window. All queries share one StartTime, so the
 * request starts `lcm(window lengths)` before the windows' common end: every window is then a whole
 * number of its own periods from StartTime and its last bucket ends exactly at the window's end.
 * HealthyHostCount (Minimum) and UnHealthyHostCount (Maximum) per period ride along for the record;
 * the gates use DescribeTargetHealth, which sees failing instances in seconds, not minutes.
 * The load balancer's own HTTPCode_ELB_5XX_Count (no TargetGroup dimension) is `lbErrors`.
 * TargetResponseTime is in seconds; the ports speak milliseconds.
 */
import type { MetricDataQuery, MetricDataResult } from "@aws-sdk/client-cloudwatch";
import { InvalidInputError, ProviderError } from "../contract/errors.js";
import type {
  AlarmState,
  AlarmStateValue,
  Pool,
  TimeWindow,
  VersionStats,
  WindowStats,
} from "../core/types.js";
import type { BusinessQuery, VersionIdentity } from "../gates/types.js";
import type { MetricSource } from "../ports/index.js";
import type { AwsApi } from "./api.js";
import { getMetricDataPages } from "./cloudwatch/pages.js";
import { planGateQueries, summariseGates } from "./cloudwatch/queries.js";

export interface AwsMetricsOptions {
  readonly api: AwsApi;
  readonly loadBalancerArn: string;
  readonly stableTargetGroupArn: string;
  readonly grayTargetGroupArn: string;
  /** Granularity of the counts: 60 s for ALB metrics; shorter only against an emulator. */
  readonly periodMs: number;
  /** The Auto Scaling groups, for `{asg}` in business-metric gates' dimensions (custom-metrics.ts). */
  readonly asgs?: Readonly<Record<Pool, string>>;
}

/** VersionStats plus the host counts CloudWatch reported over the window (for reports). */
export interface AwsVersionStats extends VersionStats {
  readonly healthyHostsMin: number | null;
  readonly unhealthyHostsMax: number | null;
}

/** `arn:…:loadbalancer/app/n/id` → `app/n/id`; `arn:…:targetgroup/n/id` → `targetgroup/n/id`. */
export function arnSuffix(arn: string): string {
  const m = /:(?:loadbalancer\/)?((?:app|net)\/[^/]+\/[^/]+|targetgroup\/[^/]+\/[^/]+)$/.exec(arn);
  if (!m?.[1])
    throw new InvalidInputError([{ field: "arn", message: `${arn} is not an ALB or target group ARN` }]);
  return m[1];
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Ids CloudWatch accepts: a lower-case letter, then letters, digits and underscores. */
const POOLS: readonly Pool[] = ["stable", "gray"];
const COUNT_METRICS = [
  ["req", "RequestCount", "Sum"],
  ["e5xx", "HTTPCode_Target_5XX_Count", "Sum"],
  ["conn", "TargetConnectionErrorCount", "Sum"],
  ["hh", "HealthyHostCount", "Minimum"],
  ["uh", "UnHealthyHostCount", "Maximum"],
] as const;

export interface MetricQueryPlan {
  readonly queries: MetricDataQuery[];
  readonly startTime: Date;
  readonly endTime: Date;
  /** Windows whose percentiles come from a bucket that is exactly the window. */
  readonly exact: boolean;
}

/** Builds the one request for `windows` (pure). */
export function planMetricQueries(
  windows: readonly TimeWindow[],
  o: Pick<AwsMetricsOptions, "loadBalancerArn" | "stableTargetGroupArn" | "grayTargetGroupArn" | "periodMs">,
): MetricQueryPlan {
  if (windows.length === 0) throw new InvalidInputError([{ field: "windows", message: "no window to read" }]);
  const periodS = Math.max(1, Math.round(o.periodMs / 1000));
  const end = Math.max(...windows.map((w) => w.end));
  const lengths = windows.map((w) => Math.max(periodS, Math.round((w.end - w.start) / 1000)));
  const sameEnd = windows.every((w) => w.end === end);
  let span = lengths.reduce((a, b) => (a * b) / gcd(a, b));
  // A silly lcm (two windows of coprime odd lengths) would fetch days of data: fall back to the
  // longest window; percentiles of the others then come from the bucket that ends closest to their end.
  const exact = sameEnd && span <= 6 * Math.max(...lengths) && span <= 86_400;
  if (!exact) span = Math.max(...lengths);
  const start = end - span * 1000;
  const lb = arnSuffix(o.loadBalancerArn);
  const dims = (tg: string) => [
    { Name: "LoadBalancer", Value: lb },
    { Name: "TargetGroup", Value: arnSuffix(tg) },
  ];
  const metric = (name: string, dimensions: { Name: string; Value: string }[]) => ({
    Namespace: "AWS/ApplicationELB",
    MetricName: name,
    Dimensions: dimensions,
  });
  const queries: MetricDataQuery[] = [];
  for (const pool of POOLS) {
    const tg = pool === "stable" ? o.stableTargetGroupArn : o.grayTargetGroupArn;
    for (const [id, name, stat] of COUNT_METRICS) {
      queries.push({
        Id: `${pool}_${id}`,
        MetricStat: { Metric: metric(name, dims(tg)), Period: periodS, Stat: stat },
        ReturnData: true,
      });
    }
    windows.forEach((_, i) => {
      for (const p of ["p95", "p99"] as const) {
        queries.push({
          Id: `${pool}_${p}_w${i}`,
          MetricStat: { Metric: metric("TargetResponseTime", dims(tg)), Period: lengths[i]!, Stat: p },
          ReturnData: true,
        });
      }
    });
  }
  queries.push({
    Id: "lb_e5xx",
    MetricStat: {
      Metric: metric("HTTPCode_ELB_5XX_Count", [{ Name: "LoadBalancer", Value: lb }]),
      Period: periodS,
      Stat: "Sum",
    },
    ReturnData: true,
  });
  return { queries, startTime: new Date(start), endTime: new Date(end), exact };
}

type Series = { readonly t: number; readonly v: number }[];

/** Turns the results into per-window statistics (pure). */
export function summarise(
  windows: readonly TimeWindow[],
  results: readonly MetricDataResult[],
  periodMs: number,
): WindowStats[] {
  const series = new Map<string, Series>();
  for (const r of results) {
    const points = (r.Timestamps ?? []).map((ts, i) => ({
      t: new Date(ts).getTime(),
      v: r.Values?.[i] ?? 0,
    }));
    series.set(r.Id ?? "", [...(series.get(r.Id ?? "") ?? []), ...points]);
  }
  const periodS = Math.max(1, Math.round(periodMs / 1000)) * 1000;
  const inside = (w: TimeWindow, id: string) =>
    (series.get(id) ?? []).filter((p) => p.t >= w.start && p.t + periodS <= w.end);
  const sum = (points: Series) => points.reduce((a, p) => a + p.v, 0);

  return windows.map((w, i) => {
    const pool = (name: Pool): AwsVersionStats => {
      const req = inside(w, `${name}_req`);
      const e5xx = inside(w, `${name}_e5xx`);
      const conn = inside(w, `${name}_conn`);
      const hh = inside(w, `${name}_hh`);
      const uh = inside(w, `${name}_uh`);
      const pct = (p: "p95" | "p99") => {
        const points = series.get(`${name}_${p}_w${i}`) ?? [];
        // The bucket that is the window (exact plan), else the one ending closest to the window's end.
        const best = points
          .filter((x) => x.t >= w.start - (w.end - w.start))
          .sort((a, b) => Math.abs(a.t - w.start) - Math.abs(b.t - w.start))[0];
        return best === undefined ? null : best.v * 1000;
      };
      const hasData = req.length + e5xx.length + conn.length > 0;
      return {
        requests: sum(req),
        errors: sum(e5xx) + sum(conn),
        p95Ms: pct("p95"),
        p99Ms: pct("p99"),
        hasData,
        healthyHostsMin: hh.length === 0 ? null : Math.min(...hh.map((p) => p.v)),
        unhealthyHostsMax: uh.length === 0 ? null : Math.max(...uh.map((p) => p.v)),
      };
    };
    return {
      start: w.start,
      end: w.end,
      stable: pool("stable"),
      gray: pool("gray"),
      lbErrors: sum(inside(w, "lb_e5xx")),
    };
  });
}

export class AwsMetricSource implements MetricSource {
  readonly #o: AwsMetricsOptions;

  constructor(options: AwsMetricsOptions) {
    this.#o = options;
  }

  async read(
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
    business?: BusinessQuery,
  ): Promise<WindowStats[]> {
    const plan = planMetricQueries(windows, this.#o);
    // Business-metric gates on CloudWatch ride in the same call (custom-metrics.ts).
    const custom = business?.gates.some((g) => g.metric.source === "cloudwatch")
      ? planGateQueries(business.gates, windows, this.#o.periodMs, this.#identities(business))
      : null;
    const queries = custom ? [...plan.queries, ...custom.queries] : plan.queries;
    const results = await getMetricDataPages(
      this.#o.api,
      { queries, start: plan.startTime, end: plan.endTime },
      signal,
    );
    const stats = summarise(windows, results, this.#o.periodMs);
    if (custom === null) return stats;
    const readings = summariseGates(custom, windows, results, plan.exact);
    return stats.map((w, i) => ({ ...w, business: readings[i]! }));
  }

  #identities(business: BusinessQuery): Record<Pool, VersionIdentity> {
    const lb = arnSuffix(this.#o.loadBalancerArn);
    const of = (pool: Pool): VersionIdentity => ({
      asg: this.#o.asgs?.[pool] ?? null,
      targetGroup: arnSuffix(pool === "stable" ? this.#o.stableTargetGroupArn : this.#o.grayTargetGroupArn),
      loadBalancer: lb,
      version: business.versions[pool],
    });
    return { stable: of("stable"), gray: of("gray") };
  }

  async alarms(names: readonly string[], signal?: AbortSignal): Promise<AlarmState[]> {
    if (names.length === 0) return [];
    const found = new Map<string, AlarmState>();
    for (let i = 0; i < names.length; i += 100) {
      const out = await this.#o.api.cloudWatch.describeAlarms(
        { AlarmNames: names.slice(i, i + 100), AlarmTypes: ["MetricAlarm", "CompositeAlarm"] },
        signal,
      );
      for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
        const name = a.AlarmName ?? "";
        found.set(name, {
          name,
          state: (a.StateValue ?? "INSUFFICIENT_DATA") as AlarmStateValue,
          ...(a.StateReason ? { reason: a.StateReason } : {}),
        });
      }
    }
    const missing = names.filter((n) => !found.has(n));
    if (missing.length > 0) {
      // A gate that cannot be read must not pass silently.
      throw new ProviderError(`alarm(s) ${missing.join(", ")} do not exist`, {
        fix: "correct --alarms (names of CloudWatch alarms in the load balancer's region)",
      });
    }
    return names.map((n) => found.get(n)!);
  }
}
