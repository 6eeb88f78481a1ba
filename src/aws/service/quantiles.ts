/**
 * Window percentiles from per-period percentiles. CloudWatch computes a percentile over one bucket
 * of raw values; a window that is not one bucket CloudWatch can serve (a 5-minute window that ends
 * on a 10-second boundary: a 300-second period starts on a whole minute) needs the periods inside it
 * merged. Percentiles cannot be added, so each period is described by its sample count and some of
 * its quantiles, read in the same call (Minimum, p50, p90, p94, p95, p96, p98, p99, p99.5, p99.9,
 * Maximum: denser where the gates look), and its distribution is taken as linear between them in
 * log(latency), each quantile placed at its rank's midpoint ((⌈q·n⌉ − ½) / n: with 20 requests in a
 * period, its "p99" is its largest value). The window's q-quantile is where the count-weighted
 * mixture of those curves reaches q (exactly, between knots, where the mixture is linear too).
 *
 * Measured against the exact nearest-rank percentile of the raw samples (test/aws/service-queries,
 * and the seeded comparison in the issue-15 note): windows of 30 periods of 20 to 1,000 log-normal or
 * heavy-tailed (3% Pareto) response times are within a few percent on average, at worst about 10%
 * for a p99 of periods with 20 requests each. A window of one period gets that period's own
 * percentile back.
 */

/** One period's latency as CloudWatch summarises it: sample count and quantiles (null when absent). */
export interface PeriodQuantiles {
  readonly count: number;
  readonly min: number | null;
  readonly max: number | null;
  /** Quantile (0..1) → value, e.g. 0.95 → p95. */
  readonly quantiles: ReadonlyMap<number, number>;
}

/** The quantiles each period is read at, as CloudWatch statistics. */
export const KNOTS: readonly { readonly q: number; readonly stat: string }[] = [
  0.5, 0.9, 0.94, 0.95, 0.96, 0.98, 0.99, 0.995, 0.999,
].map((q) => ({ q, stat: `p${Number((q * 100).toFixed(1))}` }));

/** Latencies are compared in log space (response times are roughly log-normal); 0 is kept finite. */
const toLog = (v: number) => Math.log(Math.max(v, 1e-6));

/** A period's distribution as (log value, cumulative share) points, non-decreasing in both. */
function curve(p: PeriodQuantiles): { v: number; f: number }[] {
  const n = p.count;
  const mid = (q: number) => (Math.max(1, Math.ceil(q * n)) - 0.5) / n;
  const raw: { v: number; f: number }[] = [];
  const lo = p.min ?? [...p.quantiles.values()][0];
  if (lo !== undefined) raw.push({ v: lo, f: 0 }, { v: lo, f: 0.5 / n });
  for (const k of KNOTS) {
    const v = p.quantiles.get(k.q);
    if (v !== undefined) raw.push({ v, f: mid(k.q) });
  }
  const top = p.max ?? raw.at(-1)?.v;
  if (top !== undefined) raw.push({ v: top, f: 1 - 0.5 / n }, { v: top, f: 1 });
  // Monotone (CloudWatch's percentiles are estimates, two may cross by a hair).
  let hi = Number.NEGATIVE_INFINITY;
  let fh = 0;
  return raw.map((x) => {
    hi = Math.max(hi, x.v);
    fh = Math.max(fh, x.f);
    return { v: toLog(hi), f: fh };
  });
}

/** The share of a period's values at or below `v` on its curve (right-continuous: ties jump). */
function cdf(points: readonly { v: number; f: number }[], v: number): number {
  if (points.length === 0 || v < points[0]!.v) return 0;
  if (v >= points.at(-1)!.v) return 1;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    if (v < b.v) return a.f + ((v - a.v) / (b.v - a.v)) * (b.f - a.f);
  }
  return 1;
}

/** The share strictly below `v` (the left limit: where a tie's jump starts). */
function cdfBelow(points: readonly { v: number; f: number }[], v: number): number {
  if (points.length === 0 || v <= points[0]!.v) return 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    if (v <= b.v) return a.f + ((v - a.v) / (b.v - a.v)) * (b.f - a.f);
  }
  return 1;
}

type Curve = { readonly n: number; readonly c: { v: number; f: number }[] };

/** The q-quantile (0 < q < 1) of the count-weighted mixture of the periods; null without samples. */
export function mergedQuantile(periods: readonly PeriodQuantiles[], q: number): number | null {
  const used: Curve[] = periods
    .filter((p) => p.count > 0 && (p.quantiles.size > 0 || p.max !== null))
    .map((p) => ({ n: p.count, c: curve(p) }));
  const total = used.reduce((a, p) => a + p.n, 0);
  if (total <= 0) return null;
  // A window of one period: CloudWatch's own percentile of it, when it was read.
  const single = periods.filter((p) => p.count > 0);
  if (single.length === 1 && single[0]!.quantiles.has(q)) return single[0]!.quantiles.get(q)!;
  const at = (v: number) => used.reduce((a, p) => a + p.n * cdf(p.c, v), 0) / total;
  const below = (v: number) => used.reduce((a, p) => a + p.n * cdfBelow(p.c, v), 0) / total;
  const knots = [...new Set(used.flatMap((p) => p.c.map((x) => x.v)))].sort((a, b) => a - b);
  // The mixture is linear between consecutive knots and may jump at one (tied quantiles): the
  // answer is the first knot whose jump covers q, or the point on the segment before it.
  const eps = 1e-12;
  let prev: number | null = null;
  let atPrev = 0;
  for (const v of knots) {
    if (at(v) >= q - eps) {
      const left = below(v);
      if (prev === null || left <= q + eps || left === atPrev) return Math.exp(v);
      return Math.exp(prev + ((q - atPrev) / (left - atPrev)) * (v - prev));
    }
    prev = v;
    atPrev = at(v);
  }
  const last = knots.at(-1);
  return last === undefined ? null : Math.exp(last);
}
