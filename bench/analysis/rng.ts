/**
 * A seeded PRNG and the few samplers the simulation needs: counts of requests, errors and
 * latency-bucket hits are drawn per metric period, never per request.
 *
 * xoshiro128** (Blackman and Vigna) seeded through splitmix32: 32-bit integer operations only, so it
 * is fast in JavaScript, and streams with different seeds are independent for our purposes.
 */
import { logGamma } from "../../src/core/stats.js";

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A new independent stream, derived from this one's seed and a label. */
  static derive(seed: number, label: string): Rng {
    let h = seed >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Rng(h);
  }

  private nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in (0, 1): never exactly 0 or 1, so logarithms are safe. */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Standard normal (Box–Muller; the second value is discarded for simplicity). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Poisson(mean): inversion below 30, Hörmann's PTRS transformed rejection above (exact). */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean < 30) {
      let k = 0;
      let p = Math.exp(-mean);
      let cdf = p;
      const u = this.uniform();
      while (u > cdf && k < 1000) {
        k++;
        p *= mean / k;
        cdf += p;
      }
      return k;
    }
    const slam = Math.sqrt(mean);
    const loglam = Math.log(mean);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.uniform() - 0.5;
      const v = this.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (
        Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <=
        -mean + k * loglam - logGamma(k + 1)
      ) {
        return k;
      }
    }
  }

  /**
   * Binomial(n, p): exact inversion when the expected count of the rarer outcome is small, a normal
   * approximation (rounded, clamped) when it is large enough for the approximation to be close.
   */
  binomial(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1) return n;
    if (p > 0.5) return n - this.binomial(n, 1 - p);
    const mean = n * p;
    if (mean < 30) {
      const q = 1 - p;
      const ratio = p / q;
      let k = 0;
      let pk = Math.exp(n * Math.log1p(-p));
      let cdf = pk;
      const u = this.uniform();
      while (u > cdf && k < n) {
        pk *= (ratio * (n - k)) / (k + 1);
        k++;
        cdf += pk;
      }
      return k;
    }
    const x = Math.round(mean + Math.sqrt(mean * (1 - p)) * this.normal());
    return Math.min(n, Math.max(0, x));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
