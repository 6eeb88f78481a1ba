/**
 * The local target's service signal (--signal service): what the sample gateway processes publish
 * about themselves, read the way CloudWatch serves it. Each process writes Embedded Metric Format
 * documents (instance.ts hands their data here, playing the CloudWatch agent); a datum becomes
 * readable `ingestDelayMs` after it arrived (the agent's flush and CloudWatch's ingestion), so the
 * signal is as late as its publisher makes it: a period is only written once it ends.
 *
 * Metrics are found by namespace, name and the exact dimension set, as CloudWatch identifies them:
 * each pool's dimensions are --service-dimensions with its identity substituted (`{asg}` is
 * `local-stable` or `local-gray`, `{version}` the version it runs), the same text its processes were
 * started with. A window sums the datapoints of the periods lying entirely inside it (periods aligned
 * to the epoch, as CloudWatch's); its percentiles are nearest-rank over the merged Values/Counts, as
 * CloudWatch computes them over raw values.
 */
import { AbortedError, PreflightError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import type { ServiceMetrics } from "../core/policy.js";
import type { Pool, TimeWindow, VersionStats, WindowStats } from "../core/types.js";
import { substitute } from "../gates/spec.js";
import type { BusinessQuery, VersionIdentity } from "../gates/types.js";
import type { Clock, MetricSource } from "../ports/index.js";
import type { EmfDatum } from "./emf.js";

/** Each local pool's identity in a service metric's dimensions. */
export const LOCAL_IDENTITIES: Readonly<Record<Pool, VersionIdentity>> = {
  stable: { asg: "local-stable", targetGroup: "local-stable", loadBalancer: "local" },
  gray: { asg: "local-gray", targetGroup: "local-gray", loadBalancer: "local" },
};

/** The agent's flush plus CloudWatch's ingestion, as modelled here. */
export const LOCAL_INGEST_DELAY_MS = 250;

export interface LocalServiceMetricsOptions {
  readonly metrics: ServiceMetrics;
  readonly periodMs: number;
  readonly clock: Clock;
  /** Default LOCAL_INGEST_DELAY_MS. */
  readonly ingestDelayMs?: number;
  /** Datapoints older than this are dropped. */
  readonly retentionMs: number;
}

interface Point {
  readonly t: number;
  readonly arrivedAt: number;
  readonly values: readonly number[];
  readonly counts: readonly number[];
}

const keyOf = (namespace: string, name: string, dims: Readonly<Record<string, string>>) =>
  JSON.stringify([namespace, name, Object.entries(dims).sort(([a], [b]) => a.localeCompare(b))]);

export class LocalServiceMetrics implements MetricSource {
  readonly #o: LocalServiceMetricsOptions;
  readonly #series = new Map<string, Point[]>();

  constructor(o: LocalServiceMetricsOptions) {
    this.#o = o;
  }

  /** The dimensions a process of `pool` running `version` publishes with. */
  dimensionsOf(pool: Pool, version: string): Record<string, string> {
    const identity = { ...LOCAL_IDENTITIES[pool], version } as Record<string, string>;
    return Object.fromEntries(
      Object.entries(this.#o.metrics.dimensions).map(([k, v]) => [k, substitute(v, identity)]),
    );
  }

  /** What the agent received from a process. */
  receive(data: readonly EmfDatum[]): void {
    const now = this.#o.clock.now();
    for (const d of data) {
      const key = keyOf(d.namespace, d.name, d.dimensions);
      const points = this.#series.get(key) ?? [];
      points.push({ t: d.timestamp, arrivedAt: now, values: d.values, counts: d.counts });
      const oldest = now - this.#o.retentionMs;
      while (points.length > 0 && points[0]!.t < oldest) points.shift();
      this.#series.set(key, points);
    }
  }

  async read(
    windows: readonly TimeWindow[],
    _signal?: AbortSignal,
    query?: BusinessQuery,
  ): Promise<WindowStats[]> {
    const visible = this.#o.clock.now() - (this.#o.ingestDelayMs ?? LOCAL_INGEST_DELAY_MS);
    const m = this.#o.metrics;
    const P = this.#o.periodMs;
    const pool = (name: Pool, w: TimeWindow): VersionStats => {
      const version = query?.versions[name] ?? null;
      const dims = Object.fromEntries(
        Object.entries(m.dimensions).map(([k, v]) => [
          k,
          substitute(v, { ...LOCAL_IDENTITIES[name], version } as Record<string, string | null>),
        ]),
      );
      const points = (metric: string) =>
        (this.#series.get(keyOf(m.namespace, metric, dims)) ?? []).filter((p) => {
          const start = Math.floor(p.t / P) * P;
          return p.arrivedAt <= visible && start >= w.start && start + P <= w.end;
        });
      const total = (ps: Point[]) =>
        ps.reduce((a, p) => a + p.values.reduce((x, v, i) => x + v * p.counts[i]!, 0), 0);
      const req = points(m.requests);
      const err = points(m.errors);
      const lat = points(m.latency);
      const scale = m.latencyUnit === "seconds" ? 1000 : 1;
      const pairs = lat
        .flatMap((p) => p.values.map((v, i) => [v * scale, p.counts[i]!] as const))
        .filter(([, c]) => c > 0)
        .sort((a, b) => a[0] - b[0]);
      return {
        requests: total(req),
        errors: total(err),
        p95Ms: nearestRank(pairs, 0.95),
        p99Ms: nearestRank(pairs, 0.99),
        hasData: req.length + err.length + lat.length > 0,
      };
    };
    return windows.map((w) => ({
      start: w.start,
      end: w.end,
      stable: pool("stable", w),
      gray: pool("gray", w),
      lbErrors: null,
    }));
  }

  /**
   * Stable's requests and 5xx must be there (latency too once it served requests). The processes
   * publish from their first period on, so this waits up to three periods (plus ingestion) for the
   * first datapoints of freshly started instances before it refuses.
   */
  async preflight(stableVersion: string, signal?: AbortSignal): Promise<readonly string[]> {
    const m = this.#o.metrics;
    const clock = this.#o.clock;
    const P = this.#o.periodMs;
    const deadline = clock.now() + 3 * P + 2 * (this.#o.ingestDelayMs ?? LOCAL_INGEST_DELAY_MS) + 1000;
    const dims = this.dimensionsOf("stable", stableVersion);
    const versions = { stable: stableVersion, gray: null };
    for (;;) {
      if (signal?.aborted) throw new AbortedError("interrupted during the service signal's preflight");
      const now = clock.now();
      const [w] = await this.read([{ start: now - 10 * 60_000, end: Math.ceil(now / P) * P }], signal, {
        gates: [],
        versions,
      });
      const visible = (name: string) =>
        (this.#series.get(keyOf(m.namespace, name, dims)) ?? []).some(
          (p) => p.arrivedAt <= now - (this.#o.ingestDelayMs ?? LOCAL_INGEST_DELAY_MS),
        );
      const missing = [m.requests, m.errors, ...(w!.stable.requests > 0 ? [m.latency] : [])].filter(
        (name) => !visible(name),
      );
      if (missing.length === 0) {
        return [
          `service signal: ${m.namespace} ${m.requests}/${m.errors}/${m.latency} of the local stable pool (${Object.entries(
            dims,
          )
            .map(([k, v]) => `${k}=${v}`)
            .join(", ")}), published by its processes every ${formatDuration(P)}`,
        ];
      }
      if (now >= deadline) {
        const known = [...this.#series.keys()]
          .map((k) => JSON.parse(k) as [string, string, [string, string][]])
          .filter(([ns, name]) => ns === m.namespace && name === missing[0])
          .map(([, , d]) => d.map(([k, v]) => `${k}=${v}`).join(", "));
        throw new PreflightError(
          `--signal service: no datapoint of ${m.namespace} ${missing.join(", ")} for the local stable pool (${Object.entries(
            dims,
          )
            .map(([k, v]) => `${k}=${v}`)
            .join(
              ", ",
            )})${known.length > 0 ? `; ${missing[0]} exists with ${[...new Set(known)].join("; ")}` : ""}`,
          {
            field:
              missing[0] === m.errors
                ? "serviceErrors"
                : missing[0] === m.latency
                  ? "serviceLatency"
                  : "serviceRequests",
            fix: "the sample gateway publishes Requests, Errors and Latency in GrayDeploy/Service: leave --service-namespace and the metric names at their defaults locally",
          },
        );
      }
      await clock.sleep(Math.min(200, P), signal);
    }
  }
}

/** The smallest value whose cumulative count reaches q of the total (CloudWatch's over raw values). */
function nearestRank(pairs: readonly (readonly [number, number])[], q: number): number | null {
  const total = pairs.reduce((a, [, c]) => a + c, 0);
  if (total <= 0) return null;
  let seen = 0;
  for (const [v, c] of pairs) {
    seen += c;
    if (seen >= q * total - 1e-9) return v;
  }
  return pairs.at(-1)![0];
}
