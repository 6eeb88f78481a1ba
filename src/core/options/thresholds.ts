/**
 * The thresholds the core's gates judge with (analysis.ts): absolute limits on gray, the relative
 * tests against stable, and the sequential test over the whole rollout.
 */
import { type OptionIssue, optionGroup, ROLLOUT, type Values } from "../../contract/options/def.js";
import { formatDuration } from "../../contract/units.js";

export const thresholdOptions = optionGroup({
  name: "thresholds",
  defs: {
    rollbackErrorRate: {
      kind: "rate",
      default: "2%",
      min: 0.0001,
      max: 0.5,
      description: "Roll back when gray's 5xx rate over the rollback window is above this.",
    },
    rollbackP99: {
      kind: "duration",
      default: "2s",
      min: 1,
      max: 600_000,
      description: "Roll back when gray's p99 latency over the rollback window is above this.",
    },
    rollbackUnhealthy: {
      kind: "integer",
      default: 1,
      min: 0,
      max: 1000,
      description:
        "Roll back when more than this many gray instances fail health checks (no healthy gray at all always fails).",
    },
    promoteErrorRate: {
      kind: "rate",
      default: "1%",
      min: 0.0001,
      max: 0.5,
      description: "A step passes only while gray's 5xx rate over the promotion window is below this.",
    },
    promoteP95: {
      kind: "duration",
      default: "500ms",
      min: 1,
      max: 600_000,
      description: "A step passes only while gray's p95 latency over the promotion window is below this.",
    },
    minRequests: {
      kind: "integer",
      default: 100,
      min: 1,
      max: 10_000_000,
      description:
        "Minimum gray requests in the promotion window before a step can pass; less is inconclusive.",
    },
    evidenceEvents: {
      kind: "integer",
      default: 10,
      min: 0,
      max: 10_000,
      description:
        "Evidence for the rollback limits: a window's error rate or p99 is judged once the limit means at least this many events in it (10: 500 requests at 2%, 1,000 for a p99); before that only an overwhelming excess (p < 0.1%) rolls back. 0 judges every window.",
    },
    relativeSignificance: {
      kind: "rate",
      default: "0.1%",
      min: 1e-9,
      max: 0.2,
      description:
        "Significance level of the tests that gray is worse than stable over the same window, in error rate or in p95/p99 latency (a fail rolls back).",
    },
    relativeErrorMargin: {
      kind: "rate",
      default: "0.5%",
      min: 0,
      max: 0.5,
      description:
        "Gray must be worse than stable by more than this (in error rate) before the relative gate fails.",
    },
    latencyTolerance: {
      kind: "rate",
      default: "50%",
      min: 0,
      max: 0.99,
      description:
        "Relative latency gate: gray's p95 and p99 may exceed stable's by this fraction (plus --latency-slack).",
    },
    latencySlack: {
      kind: "duration",
      default: "50ms",
      min: 0,
      max: 60_000,
      description:
        "Relative latency gate: absolute allowance added to stable's p95 and p99 before gray is judged slower.",
    },
    sequentialAlpha: {
      kind: "rate",
      default: "1%",
      min: 0,
      max: 0.2,
      description:
        "Sequential error-rate test: it compares all of gray's traffic since its first request with stable's at every observation and rolls back at most this share of releases no worse than --sequential-tolerance, over the whole rollout; 0 switches it off.",
    },
    sequentialTolerance: {
      kind: "rate",
      default: "25%",
      min: 0,
      max: 10,
      description:
        "Sequential error-rate test: gray counts as bad only when its error rate is more than this much above stable's (25% = 1.25× stable's).",
    },
  },
  check(o, { verb }) {
    const issues: OptionIssue[] = [];
    if (!ROLLOUT.includes(verb)) return issues;
    if (o.promoteErrorRate > o.rollbackErrorRate) {
      issues.push({
        field: "promoteErrorRate",
        message: `must not exceed --rollback-error-rate (a step could pass with an error rate that rolls it back)`,
      });
    }
    if (o.promoteP95 > o.rollbackP99) {
      issues.push({
        field: "promoteP95",
        message: `${formatDuration(o.promoteP95)} exceeds --rollback-p99 ${formatDuration(o.rollbackP99)}: a passing step could be rolled back`,
      });
    }
    return issues;
  },
});

export type ThresholdOptions = Values<typeof thresholdOptions.defs>;
