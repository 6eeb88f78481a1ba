/**
 * Heavy-tailed response times as histograms: log-spaced buckets (5% wide, 10 ms to 60 s), bucket
 * probabilities tabulated once per latency profile, counts drawn per period as independent Poisson
 * variables (Poissonisation: when the number of requests is itself Poisson, the bucket counts are
 * exactly independent Poissons, so no per-request sampling is needed). Window percentiles are read
 * from merged histograms, as CloudWatch and the local metrics merge samples rather than averaging
 * per-period percentiles.
 */

const LOW_MS = 10;
const GROWTH = 1.05;
/** Bucket i (i ≥ 1) covers [LOW·G^(i-1), LOW·G^i); bucket 0 covers [0, LOW); the last is open-ended. */
export const BUCKETS = Math.ceil(Math.log(60_000 / LOW_MS) / Math.log(GROWTH)) + 2;

/** Upper edge of bucket i in ms (the last bucket's nominal edge). */
export function bucketUpper(i: number): number {
  return LOW_MS * GROWTH ** i;
}

/** Lower edge of bucket i in ms. */
export function bucketLower(i: number): number {
  return i === 0 ? 0 : LOW_MS * GROWTH ** (i - 1);
}

/** The healthy response-time distribution: a log-normal body and a Pareto tail. */
const BODY_MEDIAN_MS = 80;
const BODY_SIGMA = 0.45;
const TAIL_SHARE = 0.03;
const TAIL_SCALE_MS = 250;
const TAIL_SHAPE = 1.6;

function normalCdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 on erf; |error| < 1.5e-7, plenty for bucket probabilities.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** CDF of the healthy distribution at x ms. */
export function healthyCdf(x: number): number {
  if (x <= 0) return 0;
  const body = normalCdf(Math.log(x / BODY_MEDIAN_MS) / BODY_SIGMA);
  const tail = x <= TAIL_SCALE_MS ? 0 : 1 - (TAIL_SCALE_MS / x) ** TAIL_SHAPE;
  return (1 - TAIL_SHARE) * body + TAIL_SHARE * tail;
}

export type LatencyProfile = "healthy" | "plus200" | "plus1s" | "p99" | "shared400";

/** CDF of a profile: the healthy distribution shifted, for all requests or for a share of them. */
export function profileCdf(profile: LatencyProfile, x: number): number {
  switch (profile) {
    case "healthy":
      return healthyCdf(x);
    case "plus200":
      return healthyCdf(x - 200);
    case "plus1s":
      return healthyCdf(x - 1000);
    case "shared400":
      return healthyCdf(x - 400);
    case "p99":
      // 2% of requests take 1.5 s longer (a slow path): p99 moves, p95 barely does.
      return 0.98 * healthyCdf(x) + 0.02 * healthyCdf(x - 1500);
  }
}

const tables = new Map<LatencyProfile, Float64Array>();

/** Probability of each bucket under a profile. */
export function bucketProbabilities(profile: LatencyProfile): Float64Array {
  let t = tables.get(profile);
  if (t === undefined) {
    t = new Float64Array(BUCKETS);
    let prev = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const c = i === BUCKETS - 1 ? 1 : profileCdf(profile, bucketUpper(i));
      t[i] = Math.max(0, c - prev);
      prev = c;
    }
    tables.set(profile, t);
  }
  return t;
}

/**
 * The value at quantile q of a histogram with `n` samples: the sample of rank ceil(q·n), placed
 * inside its bucket by geometric interpolation.
 */
export function histogramQuantile(counts: ArrayLike<number>, n: number, q: number): number | null {
  if (n <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * n));
  // Walk down from the top: p95 and p99 sit in the last few percent of the mass.
  let above = 0;
  for (let i = counts.length - 1; i >= 0; i--) {
    const c = counts[i]!;
    if (c <= 0) continue;
    const fromBottom = n - above - c; // samples strictly below this bucket
    if (fromBottom < rank) {
      const within = (rank - fromBottom) / c;
      const lo = Math.max(bucketLower(i), 1);
      const hi = bucketUpper(i);
      return lo * (hi / lo) ** within;
    }
    above += c;
  }
  return bucketUpper(0);
}
