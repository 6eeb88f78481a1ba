/**
 * Gates with source `cloudwatch`: a CloudWatch metric per version, told apart by a dimension holding
 * `{asg}`, `{targetGroup}` or `{version}`. Read by the AWS target's own metric source, in the same
 * GetMetricData call as the built-in ALB metrics (queries.ts).
 */
import { type GateSourceSpec, type IssueFn, placeholderIssue, requiredString } from "../../gates/source.js";
import { type GateMetric, PLACEHOLDERS } from "../../gates/types.js";

export const CLOUDWATCH_STATISTICS = ["Sum", "Average", "Minimum", "Maximum", "SampleCount"] as const;
const PERCENTILE = /^p(100|\d{1,2}(\.\d{1,2})?)$/;

/** A CloudWatch metric read with one statistic over each window (one datapoint per window). */
export interface CloudWatchValueMetric extends GateMetric {
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
export interface CloudWatchRateMetric extends GateMetric {
  readonly source: "cloudwatch";
  readonly kind: "rate";
  readonly namespace: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export type CloudWatchMetric = CloudWatchValueMetric | CloudWatchRateMetric;

export const isCloudWatchMetric = (m: GateMetric): m is CloudWatchMetric => m.source === "cloudwatch";

export const cloudWatchGateSpec: GateSourceSpec = {
  name: "cloudwatch",
  fields: ["namespace", "metricName", "statistic", "numerator", "denominator", "dimensions"],
  parseMetric,
};

function parseMetric(o: Readonly<Record<string, unknown>>, issue: IssueFn): CloudWatchMetric | null {
  const namespace = requiredString(o, "namespace", issue);
  const dimensions: Record<string, string> = {};
  if (o.dimensions !== undefined) {
    if (o.dimensions === null || typeof o.dimensions !== "object" || Array.isArray(o.dimensions)) {
      issue(
        "dimensions",
        "must be a mapping of dimension names to values, e.g. { AutoScalingGroupName: '{asg}' }",
      );
    } else {
      const entries = Object.entries(o.dimensions as Record<string, unknown>);
      if (entries.length > 30) issue("dimensions", "CloudWatch allows at most 30 dimensions");
      for (const [k, v] of entries) {
        if (typeof v !== "string" || v === "") {
          issue(`dimensions.${k}`, "must be a non-empty string");
          continue;
        }
        placeholderIssue(`dimensions.${k}`, v, PLACEHOLDERS, issue);
        dimensions[k] = v;
      }
    }
  }
  if (!Object.values(dimensions).some((v) => /\{(asg|targetGroup|version)\}/.test(v))) {
    issue(
      "dimensions",
      "must tell the versions apart: a dimension holding {asg}, {targetGroup} or {version} (e.g. { AutoScalingGroupName: '{asg}' })",
    );
  }
  const hasValue = o.metricName !== undefined;
  const hasRate = o.numerator !== undefined || o.denominator !== undefined;
  if (hasValue && hasRate) {
    issue("metricName", "give either metricName (a value) or numerator and denominator (a rate), not both");
    return null;
  }
  if (!hasValue && !hasRate) {
    issue("metricName", "required (or numerator and denominator for a rate)");
    return null;
  }
  if (hasRate) {
    if (o.statistic !== undefined)
      issue("statistic", "a rate sums its numerator and denominator: drop statistic");
    const numerator = requiredString(o, "numerator", issue);
    const denominator = requiredString(o, "denominator", issue);
    if (namespace === null || numerator === null || denominator === null) return null;
    const label = `${numerator} ÷ ${denominator}`;
    return {
      source: "cloudwatch",
      kind: "rate",
      namespace,
      numerator,
      denominator,
      dimensions,
      label,
      title: `CloudWatch ${namespace} ${label}`,
    };
  }
  const metricName = requiredString(o, "metricName", issue);
  let statistic = "Average";
  if (o.statistic !== undefined) {
    const s = o.statistic;
    if (
      typeof s !== "string" ||
      !((CLOUDWATCH_STATISTICS as readonly string[]).includes(s) || PERCENTILE.test(s))
    ) {
      issue(
        "statistic",
        `${JSON.stringify(s)} is not one of ${CLOUDWATCH_STATISTICS.join(", ")} or a percentile such as p99`,
      );
    } else statistic = s;
  }
  if (namespace === null || metricName === null) return null;
  const label = `${metricName} ${statistic}`;
  return {
    source: "cloudwatch",
    kind: "value",
    namespace,
    metricName,
    dimensions,
    statistic,
    label,
    title: `CloudWatch ${namespace} ${label}`,
  };
}
