/**
 * The seed's rule applied literally (TASK-0532): each minute, roll back when gray's error rate over
 * the trailing five minutes is above 2% or its p99 is above 2 s (or more than one gray instance fails
 * health checks); a step passes when gray's error rate stays below 1% and its p95 below 500 ms over
 * ten minutes.
 *
 * It runs through the same engine and the same core analysis as ours, with every gate this project
 * ADDED switched off by policy, so the only difference between the two in a benchmark run is the
 * analysis:
 * - interval 1 minute ("each minute");
 * - no evidence rule: one request is enough to judge a rate or a p99 (minRequests 1, evidenceEvents 0);
 * - the relative gates cannot fail: significance at its floor, margins and tolerances at their caps;
 * - no sequential test.
 * The seed's absolute gates (2%, 2 s, one unhealthy instance) and pass criteria (1%, 500 ms) are the
 * core's, untouched. `seedRule` below restates the rule independently so a test can check that the
 * policy reproduces it verdict for verdict.
 */
import type { RawOptions } from "../../src/app/schema.js";
import type { VersionStats } from "../../src/core/types.js";

export const NAIVE_OPTIONS: RawOptions = {
  interval: "60s",
  minRequests: 1,
  evidenceEvents: 0,
  relativeSignificance: "0.000001%",
  relativeErrorMargin: "50%",
  latencyTolerance: "99%",
  latencySlack: "60s",
  sequentialAlpha: "0%",
};

/** The seed's rule on one observation: its rollback criteria, then its promotion criteria. */
export function seedRule(
  rollbackWindow: VersionStats,
  promotionWindow: VersionStats,
  unhealthy: number,
): "rollback" | "promote" | "hold" {
  const rate = (s: VersionStats) => (s.requests > 0 ? s.errors / s.requests : null);
  const r = rate(rollbackWindow);
  if (unhealthy > 1) return "rollback";
  // Nothing in the last five minutes: nothing to judge either way.
  if (r === null) return "hold";
  if (r !== null && r > 0.02) return "rollback";
  if (rollbackWindow.p99Ms !== null && rollbackWindow.requests > 0 && rollbackWindow.p99Ms > 2000)
    return "rollback";
  const pr = rate(promotionWindow);
  if (pr !== null && pr < 0.01 && promotionWindow.p95Ms !== null && promotionWindow.p95Ms < 500)
    return "promote";
  return "hold";
}
