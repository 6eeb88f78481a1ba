/**
 * The few statistics the analysis needs, exact enough for rare events (error rates of 0.1%–5%)
 * and cheap enough to run every interval. No I/O, no randomness.
 */

/** ln Γ(x) by the Lanczos approximation (g = 7, n = 9); relative error below 1e-13 for x > 0. */
export function logGamma(x: number): number {
  const c = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
    12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const xx = x - 1;
  let a = c[0]!;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** log P(X = k) for X ~ Binomial(n, p). */
export function binomialLogPmf(k: number, n: number, p: number): number {
  if (k < 0 || k > n) return Number.NEGATIVE_INFINITY;
  if (p <= 0) return k === 0 ? 0 : Number.NEGATIVE_INFINITY;
  if (p >= 1) return k === n ? 0 : Number.NEGATIVE_INFINITY;
  return logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

/**
 * P(X ≥ k) for X ~ Binomial(n, p), summed from the smaller tail so it stays accurate for the tiny
 * p-values the gates compare against (1e-3 and below). One log-pmf, then the ratio of consecutive
 * terms: cheap enough to run on every window at every look.
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const r = p / (1 - p);
  if (k > n * p) {
    // Sum the upper tail directly; terms fall off quickly past the mean.
    let term = Math.exp(binomialLogPmf(k, n, p));
    let sum = term;
    for (let i = k; i < n && term > sum * 1e-17; i++) {
      term *= ((n - i) / (i + 1)) * r;
      sum += term;
    }
    return Math.min(1, sum);
  }
  let term = Math.exp(binomialLogPmf(k - 1, n, p));
  let lower = term;
  for (let i = k - 1; i > 0 && term > lower * 1e-17; i--) {
    term *= i / (n - i + 1) / r;
    lower += term;
  }
  return Math.max(0, 1 - lower);
}

/** Standard normal quantile (Acklam's algorithm, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** Lower bound of the Wilson score interval for a proportion, one-sided at `confidence`. */
export function wilsonLower(successes: number, n: number, confidence: number): number {
  if (n <= 0) return 0;
  const z = normalQuantile(confidence);
  const phat = successes / n;
  const denom = 1 + (z * z) / n;
  const centre = phat + (z * z) / (2 * n);
  const margin = z * Math.sqrt((phat * (1 - phat)) / n + (z * z) / (4 * n * n));
  return Math.max(0, (centre - margin) / denom);
}

/**
 * One-sided test that group A's failure rate exceeds group B's by more than `margin`, conditional on
 * the total number of failures (exact for rare events, where normal approximations misbehave).
 *
 * Under H0 (rate_A = rate_B + margin at most), given e = eA + eB failures, eA is Binomial(e, q) with
 * q = nA·pA / (nA·pA + nB·pB), where pB is B's observed rate and pA = pB + margin. Returns the p-value
 * P(X ≥ eA); a small value means A is worse than B by more than the margin.
 */
export function conditionalExcessPValue(
  errorsA: number,
  requestsA: number,
  errorsB: number,
  requestsB: number,
  margin: number,
): number {
  if (requestsA <= 0 || requestsB <= 0) return 1;
  const total = errorsA + errorsB;
  if (total === 0 || errorsA === 0) return 1;
  // Use B's rate with a continuity floor so that "B saw no failures" does not make any failure in A
  // look infinitely significant.
  const pB = Math.max(errorsB, 0.5) / requestsB;
  const pA = Math.min(pB + margin, 1);
  const q = (requestsA * pA) / (requestsA * pA + requestsB * pB);
  return binomialUpperTail(errorsA, total, q);
}

/**
 * How many of `n` samples lie above a window's q-quantile at least, when that quantile is the sample
 * of rank ceil(q·n): every sample ranked after it.
 */
export function samplesAbove(n: number, q: number): number {
  if (n <= 0) return 0;
  return n - Math.max(1, Math.ceil(q * n)) + 1;
}

/**
 * The probability that one request of a reference distribution takes longer than `x`, read off the
 * reference's p95 and p99 (from `requests` samples) conservatively, i.e. erring towards "slow requests
 * are common": log-linear between 5% at the p95 and 1% at the p99, and beyond the p99 a power-law
 * tail of index 1 (0.01 × p99/x), heavier than response-time tails are in practice. The p99 is used
 * only when at least 1,000 samples stand behind it (ten beyond it); otherwise the p95 with the same
 * heavy tail. Below the p95 (or without data): 1, no evidence either way.
 */
export function tailProbability(
  x: number,
  ref: { p95Ms: number | null; p99Ms: number | null; requests: number },
): number {
  const p95 = ref.p95Ms;
  if (p95 === null || !(p95 > 0) || !(x > p95) || ref.requests < 200) return x === p95 ? 0.05 : 1;
  const p99 = ref.requests >= 1000 && ref.p99Ms !== null && ref.p99Ms > p95 ? ref.p99Ms : null;
  if (p99 === null) return Math.min(0.05, (0.05 * p95) / x);
  if (x >= p99) return (0.01 * p99) / x;
  return 0.05 * 5 ** (-Math.log(x / p95) / Math.log(p99 / p95));
}
