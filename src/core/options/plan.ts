/**
 * The rollout plan: steps, timings, windows and capacity, read by the core (policy.ts turns them into
 * the stored Policy). Durations whose sensible value depends on the target (`perTarget`) take their
 * default from the target (src/local, src/aws).
 *
 * A plan whose bake is shorter than its promotion window plus its metrics delay could pass a step on
 * metrics that were measured before the step began; such a plan is rejected.
 */
import { CONTROL, type OptionIssue, optionGroup, ROLLOUT, type Values } from "../../contract/options/def.js";
import { formatDuration } from "../../contract/units.js";

export const planOptions = optionGroup({
  name: "plan",
  defs: {
    steps: {
      kind: "steps",
      default: "5,25,50,100",
      description:
        "Gray's traffic weight at each step, in percent: strictly increasing, each 1 to 100, ending at 100.",
    },
    approveBefore: {
      kind: "list",
      description:
        "Manual gates: step weights (e.g. 50) and/or `promotion` before which the rollout pauses until `gray-deploy promote`.",
    },
    interval: {
      kind: "duration",
      perTarget: true,
      min: 100,
      max: 600_000,
      description: "How often the engine observes metrics and health while a step bakes.",
    },
    bake: {
      kind: "duration",
      perTarget: true,
      min: 500,
      max: 86_400_000,
      description:
        "The minimum time at each step before it may pass; at least the promotion window plus the metrics delay.",
    },
    maxBake: {
      kind: "duration",
      perTarget: true,
      min: 500,
      max: 86_400_000,
      description:
        "How long a step may be extended while its analysis is inconclusive, before the rollout pauses or rolls back (--on-inconclusive).",
    },
    rollbackWindow: {
      kind: "duration",
      perTarget: true,
      min: 100,
      max: 86_400_000,
      description: "The trailing window the rollback gates evaluate (the seed's 5 minutes on AWS).",
    },
    promotionWindow: {
      kind: "duration",
      perTarget: true,
      min: 100,
      max: 86_400_000,
      description:
        "The trailing window a step must pass over before it advances (the seed's 10 minutes on AWS).",
    },
    metricPeriod: {
      kind: "duration",
      perTarget: true,
      min: 100,
      max: 3_600_000,
      description:
        "Granularity of the metric source: 60s for ALB metrics; shorter only against an emulator or locally.",
    },
    metricsDelay: {
      kind: "duration",
      perTarget: true,
      min: 0,
      max: 3_600_000,
      description:
        "How far behind now metrics are complete; windows end this long ago (CloudWatch: 1 to 3 minutes).",
    },
    returnSteps: {
      kind: "steps",
      default: "50,100",
      description:
        "After promotion refreshes the stable fleet, stable's weight at each step back (analysed like the forward steps), ending at 100.",
    },
    returnBake: {
      kind: "duration",
      perTarget: true,
      min: 500,
      max: 86_400_000,
      description: "Minimum time at each return step; at least the rollback window plus the metrics delay.",
    },
    onInconclusive: {
      kind: "enum",
      choices: ["pause", "rollback"],
      default: "pause",
      description:
        "What to do when a step stays inconclusive until --max-bake: pause for a person, or roll back.",
    },
    minGrayCapacity: {
      kind: "integer",
      default: 1,
      min: 1,
      max: 1000,
      description: "Minimum gray instances at any step (gray's capacity otherwise follows its weight).",
    },
    healthyTimeout: {
      kind: "duration",
      perTarget: true,
      min: 1000,
      max: 7_200_000,
      description: "Deadline for new instances to become healthy in their target group.",
    },
    instanceWarmup: {
      kind: "duration",
      perTarget: true,
      min: 0,
      max: 7_200_000,
      description:
        "Instance refresh warm-up during promotion: how long a new stable instance serves before the next is replaced.",
    },
    refreshMinHealthy: {
      kind: "integer",
      default: 90,
      min: 0,
      max: 100,
      unit: "%",
      description: "Instance refresh floor during promotion: percentage of stable capacity kept in service.",
    },
    maxPause: {
      kind: "duration",
      default: "1h",
      min: 60_000,
      max: 7 * 86_400_000,
      description: "A paused rollout with traffic on gray longer than this is rolled back by the guard.",
    },
    lockLease: {
      kind: "duration",
      perTarget: true,
      min: 5000,
      max: 3_600_000,
      verbs: CONTROL,
      description:
        "A running rollout renews its lock this often; a rollout silent for longer may be taken over.",
    },
  },
  check(o, { verb }) {
    const issues: OptionIssue[] = [];
    if (!ROLLOUT.includes(verb)) return issues;
    const d = formatDuration;
    const need = (cond: boolean, field: string, message: string) => {
      if (!cond) issues.push({ field, message });
    };
    if (o.returnSteps.length > 0 && o.returnSteps[o.returnSteps.length - 1] !== 100) {
      issues.push({ field: "returnSteps", message: "the last return step must be 100" });
    }
    for (const gate of o.approveBefore) {
      if (gate === "promotion") continue;
      const w = Number(gate);
      if (!/^\d+$/.test(gate) || !o.steps.includes(w)) {
        issues.push({
          field: "approveBefore",
          message: `"${gate}" is neither one of the steps (${o.steps.join(", ")}) nor "promotion"`,
        });
      }
    }
    if (
      [o.interval, o.bake, o.promotionWindow, o.metricsDelay, o.rollbackWindow].some((v) => v === undefined)
    ) {
      return issues; // already reported as invalid
    }
    need(
      o.bake >= o.promotionWindow + o.metricsDelay,
      "bake",
      `${d(o.bake)} is shorter than the promotion window plus the metrics delay (${d(o.promotionWindow)} + ${d(o.metricsDelay)} = ${d(o.promotionWindow + o.metricsDelay)}): the step would be judged on metrics from before it began; raise --bake or shorten --promotion-window`,
    );
    need(o.bake >= o.interval, "bake", `${d(o.bake)} is shorter than --interval ${d(o.interval)}`);
    need(o.maxBake >= o.bake, "maxBake", `${d(o.maxBake)} is shorter than --bake ${d(o.bake)}`);
    need(
      o.returnBake >= o.rollbackWindow + o.metricsDelay,
      "returnBake",
      `${d(o.returnBake)} is shorter than the rollback window plus the metrics delay (${d(o.rollbackWindow + o.metricsDelay)})`,
    );
    need(
      o.rollbackWindow >= o.metricPeriod,
      "rollbackWindow",
      `${d(o.rollbackWindow)} is shorter than one metric period (${d(o.metricPeriod)})`,
    );
    need(
      o.promotionWindow >= o.metricPeriod,
      "promotionWindow",
      `${d(o.promotionWindow)} is shorter than one metric period (${d(o.metricPeriod)})`,
    );
    need(
      o.rollbackWindow % o.metricPeriod === 0,
      "rollbackWindow",
      `${d(o.rollbackWindow)} is not a whole number of metric periods (${d(o.metricPeriod)})`,
    );
    need(
      o.promotionWindow % o.metricPeriod === 0,
      "promotionWindow",
      `${d(o.promotionWindow)} is not a whole number of metric periods (${d(o.metricPeriod)})`,
    );
    return issues;
  },
});

export type PlanOptions = Values<typeof planOptions.defs>;
