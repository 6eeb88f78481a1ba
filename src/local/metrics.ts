/**
 * Metrics measured from the real traffic that crosses the proxy, shaped like the ALB's per-target-group
 * metrics in CloudWatch, and served through the same MetricSource port.
 *
 * - Periods are aligned to epoch multiples of `periodMs` (as CloudWatch aligns its periods), one
 *   bucket per period with, per pool: requests, target 5xx, connection errors, a latency histogram and
 *   the lowest healthy / highest unhealthy instance count seen; plus the load balancer's own 5xx.
 * - A request belongs to the period in which it finished (the ALB timestamps a request when it is
 *   logged, i.e. answered).
 * - Latency is kept in an HDR histogram in microseconds with 2 significant digits (≤1% error, ~14 KB
 *   per pool-period, allocated only for periods with traffic), so percentiles over a window are exact
 *   merges of histograms, not averages of per-period percentiles.
 * - `read(windows)` merges the COMPLETE periods lying entirely inside each window: a period still
 *   being written is never judged, and data from after a window's end never leaks in. A window whose
 *   edges are not period-aligned therefore covers fewer periods; the engine should align its windows.
 * - Memory is bounded: periods older than `retentionMs` are dropped.
 * - `onPeriod` delivers each period once it is complete, for a CloudWatch publisher (PutMetricData
 *   with Values/Counts from `latencyDistribution`).
 */

import * as hdr from "hdr-histogram-js";
import { AbortedError, InvalidInputError } from "../contract/errors.js";
import type { Pool, PoolHealth, TimeWindow, VersionStats, WindowStats } from "../core/types.js";
import { systemClock } from "../engine/clock.js";
import type { MetricSource } from "../ports/index.js";
import type { MetricSink } from "./proxy.js";

/** Highest latency kept: one hour, in microseconds. Longer answers are recorded as one hour. */
const HIGHEST_US = 3_600_000_000;

function newHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 2,
    useWebAssembly: false,
  });
}

class PoolBucket {
  requests = 0;
  target5xx = 0;
  connectionErrors = 0;
  histogram: hdr.Histogram | null = null;
  healthyMin: number | null = null;
  unhealthyMax: number | null = null;
}

class PeriodBucket {
  readonly stable = new PoolBucket();
  readonly gray = new PoolBucket();
  lbErrors = 0;
  constructor(
    readonly start: number,
    readonly end: number,
  ) {}
}

/** One pool over one complete period, for publishers and reports. */
export interface PoolPeriod {
  readonly requests: number;
  /** 5xx answered by the pool's targets (HTTPCode_Target_5XX_Count). */
  readonly target5xx: number;
  /** Requests the targets never answered (TargetConnectionErrorCount). */
  readonly connectionErrors: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  /** Lowest HealthyHostCount seen in the period; null when no health round ran in it. */
  readonly healthyMin: number | null;
  readonly unhealthyMax: number | null;
  /**
   * Response times as distinct values (ms) with counts, for CloudWatch PutMetricData
   * (`Values`/`Counts`, at most 150 per datum: chunk the list).
   */
  latencyDistribution(): { valuesMs: number[]; counts: number[] };
}

export interface PeriodSnapshot extends TimeWindow {
  readonly stable: PoolPeriod;
  readonly gray: PoolPeriod;
  /** 5xx the load balancer answered itself (HTTPCode_ELB_5XX_Count). */
  readonly lbErrors: number;
}

export interface TrafficMetricsOptions {
  /** Period length (the contract's metricPeriod). */
  readonly periodMs: number;
  /** Periods older than this are dropped. Default: 10 minutes. */
  readonly retentionMs?: number;
  /** Epoch milliseconds; injectable for tests. Default: the system clock. */
  readonly now?: () => number;
}

export class TrafficMetrics implements MetricSink, MetricSource {
  readonly periodMs: number;
  readonly retentionMs: number;
  readonly #now: () => number;
  /** Insertion order is time order: requests are recorded as they finish. */
  readonly #periods = new Map<number, PeriodBucket>();
  #current: PeriodBucket | null = null;
  readonly #listeners = new Set<(p: PeriodSnapshot) => void>();
  #delivered = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | null = null;
  /** Scratch histograms reused by read(): merging allocates nothing per call. */
  readonly #scratch: Record<Pool, hdr.Histogram | null> = { stable: null, gray: null };

  constructor(options: TrafficMetricsOptions) {
    if (!Number.isInteger(options.periodMs) || options.periodMs < 10) {
      throw new InvalidInputError([
        { field: "metricPeriod", message: "must be a whole number of ms, at least 10" },
      ]);
    }
    this.periodMs = options.periodMs;
    this.retentionMs = Math.max(options.retentionMs ?? 600_000, 2 * options.periodMs);
    this.#now = options.now ?? systemClock().now;
  }

  request(pool: Pool | null, status: number, latencyMs: number, connectionError: boolean): void {
    const period = this.#periodAt(this.#now());
    if (pool === null) {
      if (status >= 500) period.lbErrors++;
      return;
    }
    const b = period[pool];
    b.requests++;
    if (connectionError) {
      b.connectionErrors++;
      return;
    }
    if (status >= 500) b.target5xx++;
    const us = Math.round(latencyMs * 1000);
    b.histogram ??= newHistogram();
    b.histogram.recordValue(Math.min(Math.max(us, 1), HIGHEST_US));
  }

  health(pool: Pool, health: PoolHealth): void {
    const b = this.#periodAt(this.#now())[pool];
    b.healthyMin = b.healthyMin === null ? health.healthy : Math.min(b.healthyMin, health.healthy);
    b.unhealthyMax = b.unhealthyMax === null ? health.unhealthy : Math.max(b.unhealthyMax, health.unhealthy);
  }

  /**
   * Per-pool statistics over each window, from the complete periods inside it. A pool with no
   * request in any of those periods has `hasData: false`.
   */
  async read(windows: readonly TimeWindow[], signal?: AbortSignal): Promise<WindowStats[]> {
    if (signal?.aborted) throw new AbortedError("metrics read aborted", { cause: signal.reason });
    const now = this.#now();
    return windows.map((w) => {
      const inside: PeriodBucket[] = [];
      for (const p of this.#periods.values()) {
        if (p.start >= w.start && p.end <= w.end && p.end <= now) inside.push(p);
      }
      return {
        start: w.start,
        end: w.end,
        stable: this.#merge("stable", inside),
        gray: this.#merge("gray", inside),
        lbErrors: inside.reduce((n, p) => n + p.lbErrors, 0),
      };
    });
  }

  /** Complete periods whose start lies in [from, to), oldest first. */
  periods(from = Number.NEGATIVE_INFINITY, to = Number.POSITIVE_INFINITY): PeriodSnapshot[] {
    const now = this.#now();
    const out: PeriodSnapshot[] = [];
    for (const p of this.#periods.values()) {
      if (p.start >= from && p.start < to && p.end <= now) out.push(snapshot(p));
    }
    return out;
  }

  /**
   * Calls `listener` with each period once it is complete (shortly after its end), in order. Periods
   * with neither traffic nor a health round are not delivered. Returns an unsubscribe function.
   */
  onPeriod(listener: (period: PeriodSnapshot) => void): () => void {
    this.#listeners.add(listener);
    if (this.#timer === null) {
      this.#delivered = Math.max(this.#delivered, this.#alignedStart(this.#now()));
      this.#schedule();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.close();
    };
  }

  /** Stops period delivery. Recorded data stays readable. */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    const now = this.#now();
    // A few ms after the boundary, so a request finishing exactly at it is already recorded.
    const wait = this.#alignedStart(now) + this.periodMs - now + 5;
    this.#timer = setTimeout(() => {
      this.#deliver();
      if (this.#listeners.size > 0) this.#schedule();
    }, wait);
    this.#timer.unref();
  }

  #deliver(): void {
    const now = this.#now();
    for (const p of this.#periods.values()) {
      if (p.start < this.#delivered || p.end > now) continue;
      this.#delivered = p.end;
      const snap = snapshot(p);
      for (const l of this.#listeners) l(snap);
    }
  }

  #alignedStart(t: number): number {
    return t - (((t % this.periodMs) + this.periodMs) % this.periodMs);
  }

  #periodAt(t: number): PeriodBucket {
    const start = this.#alignedStart(t);
    const current = this.#current;
    if (current !== null && current.start === start) return current;
    let p = this.#periods.get(start);
    if (p === undefined) {
      p = new PeriodBucket(start, start + this.periodMs);
      this.#periods.set(start, p);
      this.#prune(t);
    }
    if (current === null || start > current.start) this.#current = p;
    return p;
  }

  #prune(now: number): void {
    const oldest = now - this.retentionMs;
    for (const [start, p] of this.#periods) {
      if (p.end >= oldest) break;
      this.#periods.delete(start);
    }
  }

  #merge(pool: Pool, periods: readonly PeriodBucket[]): VersionStats {
    let requests = 0;
    let errors = 0;
    let latencies = 0;
    this.#scratch[pool] ??= newHistogram();
    const h = this.#scratch[pool];
    h.reset();
    for (const p of periods) {
      const b = p[pool];
      requests += b.requests;
      errors += b.target5xx + b.connectionErrors;
      if (b.histogram !== null) {
        h.add(b.histogram);
        latencies += b.histogram.totalCount;
      }
    }
    return {
      requests,
      errors,
      p95Ms: latencies === 0 ? null : h.getValueAtPercentile(95) / 1000,
      p99Ms: latencies === 0 ? null : h.getValueAtPercentile(99) / 1000,
      hasData: requests > 0,
    };
  }
}

function snapshot(p: PeriodBucket): PeriodSnapshot {
  return {
    start: p.start,
    end: p.end,
    stable: poolPeriod(p.stable),
    gray: poolPeriod(p.gray),
    lbErrors: p.lbErrors,
  };
}

function poolPeriod(b: PoolBucket): PoolPeriod {
  const h = b.histogram;
  const pct = (q: number) => (h === null || h.totalCount === 0 ? null : h.getValueAtPercentile(q) / 1000);
  return {
    requests: b.requests,
    target5xx: b.target5xx,
    connectionErrors: b.connectionErrors,
    p50Ms: pct(50),
    p95Ms: pct(95),
    p99Ms: pct(99),
    maxMs: h === null || h.totalCount === 0 ? null : h.maxValue / 1000,
    healthyMin: b.healthyMin,
    unhealthyMax: b.unhealthyMax,
    latencyDistribution: () => distribution(h),
  };
}

function distribution(h: hdr.Histogram | null): { valuesMs: number[]; counts: number[] } {
  const valuesMs: number[] = [];
  const counts: number[] = [];
  if (h === null || !(h instanceof hdr.JsHistogram)) return { valuesMs, counts };
  const it = h.recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    valuesMs.push(v.valueIteratedTo / 1000);
    counts.push(v.countAddedInThisIterationStep);
  }
  return { valuesMs, counts };
}
