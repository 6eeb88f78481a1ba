/**
 * The signal the built-in gates judge: the load balancer's per-target-group metrics (`alb`, the
 * default) or the service's own high-resolution metrics (`service`), with the load balancer's kept
 * on beside them as a guard. Read by the core (policy.ts: which period and lateness the windows
 * follow, and the guard's) and by every target (which metrics its source reads).
 *
 * A service signal is named the way a team publishes it: a namespace, three metric names (requests,
 * 5xx answers, response times) and the dimensions that tell the versions apart, written with the
 * placeholders of business gates (`{asg}`: the pool's Auto Scaling group; `{version}`: the launch
 * template version it runs).
 */
import { type OptionIssue, optionGroup, ROLLOUT, type Values } from "../../contract/options/def.js";
import { formatDuration } from "../../contract/units.js";

/** CloudWatch's periods for high-resolution metrics, in seconds (API_MetricStat: 1, 5, 10, 20, 30, or a multiple of 60). */
export const HIGH_RESOLUTION_PERIODS_S = [1, 5, 10, 20, 30] as const;

export const isLegalServicePeriod = (ms: number): boolean =>
  ms % 1000 === 0 &&
  ((HIGH_RESOLUTION_PERIODS_S as readonly number[]).includes(ms / 1000) || ms % 60_000 === 0);

/** Placeholders that differ between the two pools: a service dimension needs one of them. */
const DISTINGUISHING = ["asg", "version", "targetGroup"];
const KNOWN = [...DISTINGUISHING, "loadBalancer"];
/** CloudWatch: dimension names and values are 1–255 characters; at most 30 dimensions per metric. */
const MAX_DIMENSIONS = 30;
/**
 * The characters CloudWatch documents for namespaces (letters, digits, . - _ / # : and space), used
 * for metric names too: EMF and every SDK accept them, and a typo such as a quote or a `!` is caught.
 */
const NAME = "[A-Za-z0-9._\\-/#:][A-Za-z0-9._\\-/#: ]{0,254}";
const METRIC_NAME = {
  re: new RegExp(`^${NAME}$`),
  hint: "a CloudWatch metric name (1-255 of letters, digits, . - _ / # : and spaces)",
};

export const signalOptions = optionGroup({
  name: "signal",
  defs: {
    signal: {
      kind: "enum",
      choices: ["alb", "service"],
      default: "alb",
      description:
        "What the built-in error-rate and latency gates, the relative tests and the sequential test read: `alb`, the load balancer's per-target-group metrics (60 s periods, minutes late on AWS), or `service`, the service's own high-resolution metrics (--service-*), read at --service-period and --service-delay, with the load balancer's 5xx kept on as a guard.",
    },
    servicePeriod: {
      kind: "duration",
      perTarget: true,
      min: 1000,
      max: 3_600_000,
      description:
        "--signal service: the period the service's metrics are read at: 1s, 5s, 10s, 20s, 30s or a multiple of 60s (CloudWatch's periods for high-resolution metrics).",
    },
    serviceDelay: {
      kind: "duration",
      perTarget: true,
      min: 0,
      max: 3_600_000,
      description:
        "--signal service: how far behind now the service's metrics are complete (the publisher's flush plus CloudWatch's ingestion).",
    },
    serviceNamespace: {
      kind: "string",
      default: "GrayDeploy/Service",
      pattern: {
        re: new RegExp(`^(?!AWS/)${NAME}$`),
        hint: "a custom CloudWatch namespace such as Payments/Gateway (1-255 of letters, digits, . - _ / # : and spaces; not AWS/…)",
      },
      description: "--signal service: the CloudWatch namespace the service publishes its metrics in.",
    },
    serviceRequests: {
      kind: "string",
      default: "Requests",
      pattern: METRIC_NAME,
      description: "--signal service: the metric counting the requests the service answered (its Sum).",
    },
    serviceErrors: {
      kind: "string",
      default: "Errors",
      pattern: METRIC_NAME,
      description:
        "--signal service: the metric counting the 5xx answers (its Sum), published every period, also when 0.",
    },
    serviceLatency: {
      kind: "string",
      default: "Latency",
      pattern: METRIC_NAME,
      description:
        "--signal service: the metric of response times, one value per request (Values/Counts or EMF), for p95 and p99.",
    },
    serviceLatencyUnit: {
      kind: "enum",
      choices: ["milliseconds", "seconds"],
      default: "milliseconds",
      description: "--signal service: the unit the service publishes its response times in.",
    },
    serviceDimensions: {
      kind: "list",
      default: "AutoScalingGroupName={asg}",
      description:
        "--signal service: the dimensions of the service's metrics, `Name={placeholder}` pairs: {asg} is the pool's Auto Scaling group, {version} the launch template version it runs (fixed values allowed, e.g. Service=gateway).",
    },
  },
  check(o, { verb, all }) {
    const issues: OptionIssue[] = [];
    if (!ROLLOUT.includes(verb) || o.signal !== "service") return issues;
    const d = formatDuration;
    if (o.servicePeriod !== undefined && !isLegalServicePeriod(o.servicePeriod)) {
      issues.push({
        field: "servicePeriod",
        message: `${d(o.servicePeriod)} is not a period CloudWatch serves high-resolution metrics at: use 1s, 5s, 10s, 20s, 30s or a multiple of 60s`,
      });
    }
    const metricPeriod = all.metricPeriod as number | undefined;
    if (o.servicePeriod !== undefined && metricPeriod !== undefined && metricPeriod % o.servicePeriod !== 0) {
      issues.push({
        field: "servicePeriod",
        message: `${d(o.servicePeriod)} does not divide --metric-period ${d(metricPeriod)}: the load-balancer guard compares both signals over the load balancer's periods`,
      });
    }
    const windows = [
      ["rollbackWindow", all.rollbackWindow],
      ["promotionWindow", all.promotionWindow],
    ] as const;
    for (const [field, w] of windows) {
      if (typeof w === "number" && o.servicePeriod !== undefined && w % o.servicePeriod !== 0) {
        issues.push({
          field,
          message: `${d(w)} is not a whole number of service periods (--service-period ${d(o.servicePeriod)})`,
        });
      }
    }
    const bake = all.bake as number | undefined;
    const promotionWindow = all.promotionWindow as number | undefined;
    if (
      bake !== undefined &&
      promotionWindow !== undefined &&
      o.serviceDelay !== undefined &&
      bake < promotionWindow + o.serviceDelay
    ) {
      issues.push({
        field: "bake",
        message: `${d(bake)} is shorter than the promotion window plus the service's delay (${d(promotionWindow + o.serviceDelay)}): the step would be judged on metrics from before it began`,
      });
    }
    issues.push(...dimensionIssues(o.serviceDimensions));
    return issues;
  },
});

export type SignalOptions = Values<typeof signalOptions.defs>;

/** `["Service=gateway", "AutoScalingGroupName={asg}"]` → `{ Service: "gateway", … }` (valid input). */
export function parseServiceDimensions(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of list) {
    const at = entry.indexOf("=");
    out[entry.slice(0, at).trim()] = entry.slice(at + 1).trim();
  }
  return out;
}

function dimensionIssues(list: readonly string[]): OptionIssue[] {
  const field = "serviceDimensions";
  const issues: OptionIssue[] = [];
  if (list.length === 0) {
    return [
      {
        field,
        message:
          "is empty: name the dimension that tells the versions apart, e.g. AutoScalingGroupName={asg}",
      },
    ];
  }
  if (list.length > MAX_DIMENSIONS) {
    issues.push({ field, message: `${list.length} dimensions; CloudWatch allows at most ${MAX_DIMENSIONS}` });
  }
  const names = new Set<string>();
  let distinguishing = false;
  for (const entry of list) {
    const at = entry.indexOf("=");
    const name = at < 0 ? "" : entry.slice(0, at).trim();
    const value = at < 0 ? "" : entry.slice(at + 1).trim();
    if (name === "" || value === "" || name.length > 255 || value.length > 255) {
      issues.push({ field, message: `"${entry}" is not Name=value (each 1 to 255 characters)` });
      continue;
    }
    if (names.has(name)) issues.push({ field, message: `dimension ${name} is given twice` });
    names.add(name);
    for (const [, p] of value.matchAll(/\{([^}]*)\}/g)) {
      if (!KNOWN.includes(p ?? "")) {
        issues.push({
          field,
          message: `{${p}} in "${entry}" is not a placeholder: use {asg}, {version}, {targetGroup} or {loadBalancer}`,
        });
      } else if (DISTINGUISHING.includes(p ?? "")) distinguishing = true;
    }
  }
  if (!distinguishing && issues.length === 0) {
    issues.push({
      field,
      message:
        "no dimension tells stable from gray (both would read the same metric): include {asg} or {version}, e.g. AutoScalingGroupName={asg}",
    });
  }
  return issues;
}
