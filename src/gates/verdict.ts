/**
 * What every gate returns, built-in (builtin.ts) or declared by a team (evaluate.ts): a verdict —
 * pass advances, inconclusive waits or pauses, fail rolls back — with its reason and the numbers it
 * used. Gates combine into the worst verdict (fail > inconclusive > pass), as Argo Rollouts ranks
 * measurement phases.
 */
import type { VersionStats } from "../core/types.js";

export type Verdict = "pass" | "inconclusive" | "fail";

export type GateName =
  | "health"
  | "alarms"
  | "metrics"
  | "error-rate"
  | "p99"
  | "relative-error-rate"
  | "sequential-error-rate"
  | "relative-latency"
  | "evidence"
  | "promote-error-rate"
  | "promote-p95"
  /** The load balancer's metrics guarding a service signal (gates/guard.ts). */
  | "signal-guard"
  /** A business-metric gate a team declared (src/gates): `custom:<its name>`. */
  | `custom:${string}`
  /** A synthetic transaction a team declared (src/gates/synthetic.ts): `synthetic:<its name>`. */
  | `synthetic:${string}`;

export interface GateResult {
  readonly gate: GateName;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly values: Readonly<Record<string, number | string | null>>;
  /**
   * Observe-only (--observe-gates): judged and reported like any gate, never counted — it neither
   * holds nor fails a step (Argo Rollouts' dryRun metrics).
   */
  readonly observe?: true;
}

/** The gates that count towards a decision (observe-only ones do not). */
export const counted = (gates: readonly GateResult[]): GateResult[] =>
  gates.filter((g) => g.observe !== true);

/** Marks the named gates observe-only. */
export function observeOnly(
  gates: readonly GateResult[],
  names: readonly string[] | undefined,
): GateResult[] {
  if (!names || names.length === 0) return [...gates];
  return gates.map((g) => (names.includes(g.gate) ? { ...g, observe: true as const } : g));
}

const RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

export function worst(verdicts: Iterable<Verdict>): Verdict {
  let w: Verdict = "pass";
  for (const v of verdicts) if (RANK[v] > RANK[w]) w = v;
  return w;
}

export const rate = (s: Pick<VersionStats, "errors" | "requests">): number | null =>
  s.requests > 0 ? s.errors / s.requests : null;

export const pct = (r: number | null): string => (r === null ? "n/a" : `${Number((r * 100).toFixed(3))}%`);
export const ms = (v: number | null): string => (v === null ? "n/a" : `${Math.round(v)}ms`);
