/**
 * The MetricSource port over the service's own high-resolution metrics in CloudWatch (--signal
 * service): one GetMetricData call per read (queries.ts), with the `cloudwatch` business gates
 * riding in the same call as they do beside the ALB metrics (cloudwatch/queries.ts), and the
 * preflight that refuses a rollout whose service metrics cannot be found for stable (preflight.ts).
 */
import type { MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { ProviderError } from "../../contract/errors.js";
import type { ServiceMetrics } from "../../core/policy.js";
import type { Pool, TimeWindow, WindowStats } from "../../core/types.js";
import type { BusinessQuery, VersionIdentity } from "../../gates/types.js";
import type { AlarmState, Clock, MetricSource } from "../../ports/index.js";
import type { AwsApi } from "../api.js";
import { getMetricDataPages } from "../cloudwatch/pages.js";
import { planGateQueries, summariseGates } from "../cloudwatch/queries.js";
import { preflightServiceMetrics } from "./preflight.js";
import { planServiceQueries, summariseService } from "./queries.js";

export interface ServiceSourceOptions {
  readonly api: AwsApi;
  readonly clock: Clock;
  readonly metrics: ServiceMetrics;
  /** The period the service's metrics are read at (a legal high-resolution period). */
  readonly periodMs: number;
  /** Each pool's identity but its version (`{asg}`, `{targetGroup}`, `{loadBalancer}`). */
  readonly identities: Readonly<Record<Pool, VersionIdentity>>;
  /** The alarms of the load balancer's source (alarms are not a matter of signal). */
  readonly alarms?: (names: readonly string[], signal?: AbortSignal) => Promise<AlarmState[]>;
}

export class ServiceMetricSource implements MetricSource {
  readonly #o: ServiceSourceOptions;

  constructor(o: ServiceSourceOptions) {
    this.#o = o;
    if (o.alarms) this.alarms = o.alarms;
  }

  alarms?: (names: readonly string[], signal?: AbortSignal) => Promise<AlarmState[]>;

  async read(
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
    query?: BusinessQuery,
  ): Promise<WindowStats[]> {
    const o = this.#o;
    const identities = this.#identities(query);
    const plan = planServiceQueries(windows, o.metrics, identities, o.periodMs, o.clock.now());
    if (plan.unresolved.size > 0) {
      // A version whose metrics cannot even be named is a measurement error, not "no traffic".
      throw new ProviderError(`the service's metrics: ${[...plan.unresolved.values()].join("; ")}`);
    }
    const custom = query?.gates.some((g) => g.metric.source === "cloudwatch")
      ? planGateQueries(query.gates, windows, o.periodMs, identities)
      : null;
    const queries: MetricDataQuery[] = custom ? [...plan.queries, ...custom.queries] : plan.queries;
    const results = await getMetricDataPages(
      o.api,
      { queries, start: plan.startTime, end: plan.endTime },
      signal,
    );
    const stats = summariseService(windows, results, plan, o.metrics.latencyUnit);
    if (custom === null) return stats;
    // Business gates ask for one bucket per window; the service's windows need not start on the
    // minute CloudWatch rounds such a bucket's start to: the nearest bucket stands for the window.
    const readings = summariseGates(custom, windows, results, false);
    return stats.map((w, i) => ({ ...w, business: readings[i]! }));
  }

  async preflight(stableVersion: string, signal?: AbortSignal): Promise<readonly string[]> {
    const o = this.#o;
    return preflightServiceMetrics({
      api: o.api,
      metrics: o.metrics,
      periodMs: o.periodMs,
      identity: { ...o.identities.stable, version: stableVersion },
      now: o.clock.now(),
      ...(signal ? { signal } : {}),
    });
  }

  #identities(query?: BusinessQuery): Record<Pool, VersionIdentity> {
    const of = (pool: Pool): VersionIdentity => ({
      ...this.#o.identities[pool],
      version: query?.versions[pool] ?? null,
    });
    return { stable: of("stable"), gray: of("gray") };
  }
}
