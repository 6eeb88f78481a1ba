/**
 * Business-metric gates: the declared shape (after validation, see spec.ts) and what a metric source
 * hands back for one gate over one window. Pure data, JSON-serialisable: gate specs are stored in the
 * rollout's plan, so a `promote` from another process judges with exactly the same gates.
 */
import type { Pool } from "../core/types.js";

export type GateWindowName = "rollback" | "promotion";

/** Placeholders a gate's CloudWatch dimensions (and Zabbix host selectors, `{asg}` only) may hold. */
export const PLACEHOLDERS = ["asg", "targetGroup", "loadBalancer", "version"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** One version's identity, substituted into a gate's dimensions or host selectors. */
export type VersionIdentity = Readonly<Partial<Record<Placeholder, string | null>>>;

export const CLOUDWATCH_STATISTICS = ["Sum", "Average", "Minimum", "Maximum", "SampleCount"] as const;

/** A CloudWatch metric read with one statistic over each window (one datapoint per window). */
export interface CloudWatchValueMetric {
  readonly source: "cloudwatch";
  readonly kind: "value";
  readonly namespace: string;
  readonly metricName: string;
  /** Name → value; values may hold placeholders (`{asg}`), substituted per version. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** Sum, Average, Minimum, Maximum, SampleCount or a percentile (p99, p99.9). */
  readonly statistic: string;
}

/** Sum of one CloudWatch metric over the sum of another, same namespace and dimensions. */
export interface CloudWatchRateMetric {
  readonly source: "cloudwatch";
  readonly kind: "rate";
  readonly namespace: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** Zabbix hosts of one version: host groups and/or exact host tags (values may hold `{asg}`). */
export interface ZabbixHostTemplate {
  readonly groups?: readonly string[];
  readonly tags?: readonly { readonly tag: string; readonly value: string }[];
}

export interface ZabbixValueMetric {
  readonly source: "zabbix";
  readonly kind: "value";
  readonly key: string;
  readonly aggregation: "sum" | "avg" | "min" | "max" | "last" | "count";
  readonly hosts: Readonly<Record<Pool, ZabbixHostTemplate>>;
}

export interface ZabbixRateMetric {
  readonly source: "zabbix";
  readonly kind: "rate";
  readonly numeratorKey: string;
  readonly denominatorKey: string;
  readonly hosts: Readonly<Record<Pool, ZabbixHostTemplate>>;
}

export type GateMetric = CloudWatchValueMetric | CloudWatchRateMetric | ZabbixValueMetric | ZabbixRateMetric;

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

export interface GateSpec {
  /** Lower-case letters, digits and dashes; the gate is reported as `custom:<name>`. */
  readonly name: string;
  readonly metric: GateMetric;
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

/** One version's value of a gate's metric over one window. */
export interface BusinessValue {
  /** The statistic (value metrics) or numerator ÷ denominator (rates); null without data. */
  readonly value: number | null;
  /** Datapoints or samples behind `value`; for a rate, the denominator's sum. */
  readonly samples: number;
  readonly numerator?: number;
  readonly denominator?: number;
}

/** A gate's metric for both versions over one window, or why it could not be measured. */
export interface BusinessReading {
  readonly stable: BusinessValue | null;
  readonly gray: BusinessValue | null;
  /** A measurement error (source down, slow, refusing): the gate is inconclusive, never pass. */
  readonly error?: string;
  /** A caveat about the numbers (e.g. Zabbix trend-based sums: `exact: false`). */
  readonly note?: string;
}

/** What a metric read is asked for besides the built-in metrics: the gates and the versions' labels. */
export interface BusinessQuery {
  readonly gates: readonly GateSpec[];
  /** The launch template version each pool runs (for `{version}`); null while unknown. */
  readonly versions: Readonly<Record<Pool, string | null>>;
}

export const gateName = (spec: Pick<GateSpec, "name">): `custom:${string}` => `custom:${spec.name}`;
