/**
 * The sequential error-rate test: is gray failing more often than stable, judged on all of gray's
 * traffic since it got any, at every look, with one false-rollback budget for the whole rollout?
 *
 * Why this shape:
 * - Conditional on the errors both pools made over a span where gray's share of traffic was
 *   constant, the number that were gray's is Binomial(errors, q) with q = θn/(θn + m) (n, m: gray's
 *   and stable's requests; θ: gray's error rate ÷ stable's). Whatever the shared error rate did in
 *   that span — noise, drift, an outage of a dependency — it cancels: a bad day for everyone is not
 *   evidence against gray. Spans are therefore cut at every step (and the period a step starts in
 *   is its own span), and the likelihood ratios of the spans multiply.
 * - The null is θ ≤ 1 + tolerance; the alternative is a mixture over θ on a log grid (the bad rate
 *   is unknown), so the statistic is a likelihood-ratio martingale under the null and, by Ville's
 *   inequality, crosses 1/α with probability at most α however often it is looked at.
 * - A fault may start at gray's first traffic, when a step raises gray's share, or at any time
 *   (a leak, a cron, a dependency gray calls differently). The statistic is also a mixture over the
 *   change point: prior mass at gray's first traffic, at each later step, and spread over a time grid
 *   in the recent past. Each term is a martingale from its change point on, so the mixture still
 *   has Ville's guarantee; terms that age out of the recent past are dropped, which only lowers it.
 * - Where stable has no traffic (gray at 100%), gray's errors are compared with stable's pooled rate
 *   from the earlier spans (an upper confidence bound of it), as a Poisson likelihood ratio. Without a
 *   concurrent control the shared rate's swings (noise, drift) no longer cancel, so that null also
 *   allows an absolute margin (the relative gate's): a bad minute for everyone at 100% is not taken
 *   for a bad release.
 *
 * Pure; no I/O. Times are epoch ms.
 */
import type { TimeWindow } from "./types.js";

/** Gray's and stable's counts over one span in which gray's share of traffic was constant. */
export interface Stratum extends TimeWindow {
  readonly requests: number;
  readonly errors: number;
  readonly refRequests: number;
  readonly refErrors: number;
  /** Prior mass of a change starting at this span's start (0: not a change point). */
  readonly prior: number;
}

export interface SequentialParams {
  /** Probability, over a whole rollout, of rolling back a release that is no worse than the null. */
  readonly alpha: number;
  /** The null: gray's error rate is at most (1 + tolerance) × stable's. */
  readonly tolerance: number;
  /**
   * Where stable has no traffic (gray at 100%) gray is compared with history, not with a concurrent
   * control, so shared fluctuations no longer cancel: the null there is (1 + tolerance) × the
   * reference's rate plus this absolute margin.
   */
  readonly fallbackMargin: number;
}

/** Alternatives, as multiples of the null ratio (1 + tolerance): a log grid, equal weights. */
export const ALTERNATIVES: readonly number[] = [1.6, 2.5, 4, 6.5, 10, 16, 25, 40, 65, 100];

export interface SequentialResult {
  /** ln of the mixture statistic M; the test rejects when M ≥ 1/α. */
  readonly logStatistic: number;
  readonly logThreshold: number;
  readonly reject: boolean;
  /** The change point and alternative (a multiple of the null) contributing most to M. */
  readonly since: number | null;
  readonly ratio: number | null;
  /** Counts since that change point. */
  readonly requests: number;
  readonly errors: number;
  readonly refRequests: number;
  readonly refErrors: number;
  /** The null rate used where stable had no traffic (null: none was needed or none known). */
  readonly fallbackRate: number | null;
}

/** An upper confidence bound (~97.5%) for a Poisson rate from `errors` in `requests`. */
export function rateUpperBound(errors: number, requests: number): number | null {
  if (requests <= 0) return null;
  return (errors + 1 + 2 * Math.sqrt(errors + 1)) / requests;
}

/**
 * Log-likelihood ratio of one stratum for the alternative `r` × the null. With stable's traffic in
 * the stratum: the conditional binomial, gray/stable ratio r·θ0 against θ0. Without: Poisson, gray's
 * rate r·nullRate against nullRate (nullRate = θ0 × the reference's rate + margin; 0: no test).
 */
export function stratumLogRatio(s: Stratum, r: number, theta0: number, nullRate: number): number {
  const n = s.requests;
  if (n <= 0) return 0;
  if (s.refRequests > 0) {
    if (s.errors + s.refErrors === 0) return 0;
    const q0 = (theta0 * n) / (theta0 * n + s.refRequests);
    const q1 = (r * theta0 * n) / (r * theta0 * n + s.refRequests);
    return s.errors * Math.log(q1 / q0) + s.refErrors * Math.log((1 - q1) / (1 - q0));
  }
  if (!(nullRate > 0)) return 0;
  const p1 = Math.min(r * nullRate, 1);
  return s.errors * Math.log(p1 / nullRate) - n * (p1 - nullRate);
}

/**
 * The change-point mixture statistic over consecutive strata (oldest first). `fallback` is the
 * reference's rate for strata where stable had no traffic when the strata themselves hold none
 * (e.g. the baseline recorded before gray took all traffic).
 */
export function sequentialTest(
  strata: readonly Stratum[],
  params: SequentialParams,
  fallback: { readonly errors: number; readonly requests: number } | null = null,
): SequentialResult {
  const theta0 = 1 + params.tolerance;
  const logThreshold = Math.log(1 / params.alpha);
  let refE = 0;
  let refN = 0;
  for (const s of strata) {
    refE += s.refErrors;
    refN += s.refRequests;
  }
  const needsFallback = strata.some((s) => s.requests > 0 && s.refRequests <= 0);
  const refRate = !needsFallback
    ? null
    : refN > 0
      ? rateUpperBound(refE, refN)
      : fallback
        ? rateUpperBound(fallback.errors, fallback.requests)
        : null;
  const fallbackRate = refRate === null ? null : Math.min(1, theta0 * refRate + params.fallbackMargin);

  const J = ALTERNATIVES.length;
  const logW = Math.log(1 / J);
  const suffix = new Float64Array(J);
  // Terms of the mixture, kept as logs; summed once at the end with the largest factored out.
  const terms: number[] = [];
  let best = { value: Number.NEGATIVE_INFINITY, index: -1, j: -1 };
  for (let k = strata.length - 1; k >= 0; k--) {
    const s = strata[k]!;
    if (s.requests > 0 && (s.errors > 0 || s.refErrors > 0 || s.refRequests <= 0)) {
      for (let j = 0; j < J; j++)
        suffix[j]! += stratumLogRatio(s, ALTERNATIVES[j]!, theta0, fallbackRate ?? 0);
    }
    if (!(s.prior > 0)) continue;
    const lp = Math.log(s.prior) + logW;
    for (let j = 0; j < J; j++) {
      const term = lp + suffix[j]!;
      terms.push(term);
      if (term > best.value) best = { value: term, index: k, j };
    }
  }
  let logM = Number.NEGATIVE_INFINITY;
  if (terms.length > 0) {
    let sum = 0;
    for (const x of terms) sum += Math.exp(x - best.value);
    logM = best.value + Math.log(sum);
  }
  let requests = 0;
  let errors = 0;
  let refRequests = 0;
  let refErrors = 0;
  if (best.index >= 0) {
    for (let k = best.index; k < strata.length; k++) {
      const s = strata[k]!;
      requests += s.requests;
      errors += s.errors;
      refRequests += s.refRequests;
      refErrors += s.refErrors;
    }
  }
  const hasData = requests > 0;
  return {
    logStatistic: logM,
    logThreshold,
    reject: hasData && logM >= logThreshold,
    since: best.index >= 0 ? strata[best.index]!.start : null,
    ratio: best.j >= 0 ? ALTERNATIVES[best.j]! : null,
    requests,
    errors,
    refRequests,
    refErrors,
    fallbackRate,
  };
}

/** Where the test's strata come from: the plan's metric grid and the rollout's step starts. */
export interface HistoryPlan {
  readonly periodMs: number;
  /** Spacing of the change-point grid in the recent past (a multiple of the period). */
  readonly gridMs: number;
  /** How far back the grid reaches; older data is merged per step. */
  readonly lookbackMs: number;
  /** The grid's prior mass is spread over this long from gray's first traffic. */
  readonly horizonMs: number;
}

/** Prior mass of a change at gray's first traffic, at the other step starts, and on the time grid. */
export const PRIOR_FIRST_STEP = 0.5;
export const PRIOR_LATER_STEPS = 0.25;
export const PRIOR_GRID = 0.25;

export interface Cut {
  /** Period-aligned start of a stratum. */
  readonly start: number;
  /** Prior mass of a change starting here. */
  readonly prior: number;
}

/**
 * Where the strata from gray's first traffic to `end` start, oldest first, with the prior mass of a
 * change at each: one stratum per step (the period a step starts in is a stratum of its own, because
 * gray's share changes inside it), cut further on the grid within `lookbackMs` of the end.
 */
export function historyCuts(hp: HistoryPlan, stepStarts: readonly number[], end: number): Cut[] {
  if (stepStarts.length === 0) return [];
  const P = hp.periodMs;
  const first = Math.floor(stepStarts[0]! / P) * P;
  if (end <= first) return [];
  const cuts = new Map<number, number>();
  const add = (t: number, prior: number) => {
    if (t < first || t >= end) return;
    cuts.set(t, (cuts.get(t) ?? 0) + prior);
  };
  const later = stepStarts.length > 1 ? PRIOR_LATER_STEPS / (stepStarts.length - 1) : 0;
  stepStarts.forEach((s, i) => {
    const a = Math.floor(s / P) * P;
    add(a, i === 0 ? PRIOR_FIRST_STEP + (stepStarts.length === 1 ? PRIOR_LATER_STEPS : 0) : later);
    if (a < s) add(a + P, 0);
  });
  const g = hp.gridMs;
  const perCell = (PRIOR_GRID * g) / hp.horizonMs;
  const gridEnd = stepStarts[0]! + hp.horizonMs;
  for (let t = Math.ceil(Math.max(first, end - hp.lookbackMs) / g) * g; t < end; t += g) {
    add(t, t > stepStarts[0]! && t <= gridEnd ? perCell : 0);
  }
  return [...cuts.keys()].sort((a, b) => a - b).map((start) => ({ start, prior: cuts.get(start)! }));
}

/** Counts of both pools over a window that ends where the history ends. */
export interface SuffixCounts {
  readonly start: number;
  readonly end: number;
  readonly requests: number;
  readonly errors: number;
  readonly refRequests: number;
  readonly refErrors: number;
}

/**
 * Strata from windows that all end at the same time and start at the cuts (oldest first): each
 * stratum is the difference of consecutive windows. Windows with one end are what a metric source
 * answers most cheaply (one series, summed from different starts).
 */
export function strataFromSuffixes(suffixes: readonly SuffixCounts[], cuts: readonly Cut[]): Stratum[] {
  const out: Stratum[] = [];
  for (let k = 0; k < suffixes.length; k++) {
    const a = suffixes[k]!;
    const b = suffixes[k + 1];
    out.push({
      start: a.start,
      end: b?.start ?? a.end,
      requests: Math.max(0, a.requests - (b?.requests ?? 0)),
      errors: Math.max(0, a.errors - (b?.errors ?? 0)),
      refRequests: Math.max(0, a.refRequests - (b?.refRequests ?? 0)),
      refErrors: Math.max(0, a.refErrors - (b?.refErrors ?? 0)),
      prior: cuts.find((c) => c.start === a.start)?.prior ?? 0,
    });
  }
  return out;
}
