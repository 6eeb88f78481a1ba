/**
 * Business-metric gates: the declared shape (after validation, see spec.ts) and what a read is asked
 * for. Pure data, JSON-serialisable: gate specs are stored in the rollout's plan, so a `promote` from
 * another process judges with exactly the same gates.
 *
 * The metric of a gate belongs to its source (src/aws/cloudwatch, src/zabbix, …): the domain knows
 * only what every source's metric has — its source, whether it is a value or a rate, and how to
 * describe it (written by the source's parser, stored with the spec, so a report rendered from the
 * stored rollout describes its gates without the source's code).
 */
import type { BusinessReading, BusinessValue, Pool } from "../core/types.js";

export type { BusinessReading, BusinessValue };

export type GateWindowName = "rollback" | "promotion";

/** Placeholders a gate's selectors may hold, substituted per version (sources allow a subset). */
export const PLACEHOLDERS = ["asg", "targetGroup", "loadBalancer", "version"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** One version's identity, substituted into a gate's dimensions or host selectors. */
export type VersionIdentity = Readonly<Partial<Record<Placeholder, string | null>>>;

/** What every source's metric has. */
export interface GateMetric {
  readonly source: string;
  /** A value (one statistic or aggregation) or a rate (Sum of a numerator ÷ Sum of a denominator). */
  readonly kind: "value" | "rate";
  /** The metric as gate reasons name it: `PaymentsDeclined ÷ PaymentsAttempted`, `latency (max)`. */
  readonly label?: string;
  /** The metric as plans describe it, with its source: `CloudWatch TecPag/Payments SettlementLatency p99`. */
  readonly title?: string;
}

/**
 * The rule a gate applies to the version under judgement (gray on the way up):
 * - max / min: an absolute limit on its value (a rate as a fraction);
 * - ratio: at most (`worse: higher`) reference × (1 + tolerance), or at least (`worse: lower`)
 *   reference × (1 − tolerance), the reference being stable over the same window;
 * - test (rates only): the one-sided conditional binomial test that its rate exceeds stable's by more
 *   than `margin`, at the analysis' --relative-significance.
 */
export type GateRule =
  | { readonly kind: "max"; readonly limit: number }
  | { readonly kind: "min"; readonly limit: number }
  | { readonly kind: "ratio"; readonly tolerance: number; readonly worse: "higher" | "lower" }
  | { readonly kind: "test"; readonly margin: number };

export interface GateSpec<M extends GateMetric = GateMetric> {
  /** Lower-case letters, digits and dashes; the gate is reported as `custom:<name>`. */
  readonly name: string;
  readonly metric: M;
  readonly rule: GateRule;
  /** Which of the analysis' windows the gate judges. Default rollback. */
  readonly window: GateWindowName;
  /**
   * Below this the gate is inconclusive: datapoints/samples behind a value, or the denominator's sum
   * for a rate (payments attempted).
   */
  readonly minSamples: number;
  /** Measurement errors in a row after which the step stops waiting: it is judged inconclusive now. */
  readonly maxErrors: number;
}

/** What a metric read is asked for besides the built-in metrics: the gates and the versions' labels. */
export interface BusinessQuery {
  readonly gates: readonly GateSpec[];
  /** The launch template version each pool runs (for `{version}`); null while unknown. */
  readonly versions: Readonly<Record<Pool, string | null>>;
}

export const gateName = (spec: Pick<GateSpec, "name">): `custom:${string}` => `custom:${spec.name}`;
