/**
 * --signal service end to end against the AWS emulator, with real traffic and CloudWatch's real
 * lateness for the load balancer: its metrics are one-minute periods written two minutes after they
 * end, while the sample gateway's own metrics (EMF, stored by the emulated CloudWatch agent half a
 * second after each 1-second period is written) arrive within seconds.
 *
 * - A release failing 5% of payments is rolled back on the service's metrics, before the load
 *   balancer has reported a single one of gray's requests.
 * - Preflight reads stable's service metrics before anything changes: `plan` reports them; metrics
 *   published under other dimensions are refused (exit 2) naming the missing metric, the dimensions
 *   it was looked for under and the ones it has, with AWS left exactly as it was.
 */
import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "../../src/local/instance.js";
import { useAwsEmulator } from "./support/hooks.js";
import { cli, deployInProcess, forward, startDataPlane } from "./support/rollout.js";
import { buildWorld, rawOptions, snapshot } from "./support/world.js";

const { emu, aws } = useAwsEmulator();

/** CloudWatch's lateness for the load balancer; the service's own metrics every second. */
const PRODUCTION_LIKE = {
  periodMs: 60_000,
  albDelayMs: 120_000,
  service: { periodMs: 1000, delayMs: 500 },
} as const;

/** A plan for those signals: 1 s service periods (legal for high-resolution metrics on AWS too). */
const SERVICE_PLAN = {
  signal: "service",
  servicePeriod: "1s",
  serviceDelay: "1s",
  metricPeriod: "60s",
  metricsDelay: "2m",
  rollbackWindow: "60s",
  promotionWindow: "60s",
  bake: "3m",
  maxBake: "4m",
  returnBake: "3m",
  interval: "1s",
  steps: "25,50,100",
};

describe("--signal service on AWS", () => {
  it("rolls a 5%-error release back on the service's metrics while the load balancer's have not arrived", async () => {
    const w = await buildWorld(emu(), aws());
    const alb = await startDataPlane(w, {
      ...PRODUCTION_LIKE,
      faults: (image) => (image === w.release ? { ...NO_FAULTS, errorRate: 0.05 } : NO_FAULTS),
    });
    try {
      const run = await deployInProcess(w, SERVICE_PLAN);
      const { outcome } = run;
      expect(outcome.outcome, `${outcome.reason}\n${run.logs.join("\n")}`).toBe("rolled-back");
      const rollback = outcome.decisions.find((d) => d.kind === "rollback")!;
      const failing = rollback.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate);
      expect(failing.length).toBeGreaterThan(0);
      expect(failing).not.toContain("signal-guard");
      expect(outcome.reason).toMatch(/error rate|fails more often than stable/);

      const decidedAt = Date.parse(rollback.at);
      const grayFirst = alb.weights.changes.find((c) => c.config.weights.gray > 0)!.at;
      // Seconds after gray's first customer, not the minutes the load balancer's metrics take.
      expect(decidedAt - grayFirst).toBeLessThan(60_000);
      // Not one of gray's requests had reached CloudWatch through the load balancer's metrics.
      expect(alb.albPeriods.filter((p) => p.grayRequests > 0 && p.publishedAt <= decidedAt)).toEqual([]);
      const guard = rollback.evidence.find((g) => g.gate === "signal-guard");
      expect(guard?.verdict).toBe("pass");
      expect(guard?.reason).toMatch(/no gray traffic over .* in either signal/);
      expect(alb.serviceStored.gray).toBeGreaterThan(0);

      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
      expect(alb.errors).toEqual([]);
    } finally {
      await alb.stop();
    }
  }, 120_000);

  it("checks stable's service metrics before anything changes: plan reports them, other dimensions are refused", async () => {
    const w = await buildWorld(emu(), aws());
    const alb = await startDataPlane(w, PRODUCTION_LIKE);
    try {
      const planned = await cli(w, "plan", rawOptions(w, "plan", SERVICE_PLAN));
      expect(planned.code, planned.stderr).toBe(0);
      expect(planned.stdout).toMatch(
        new RegExp(
          `service signal: GrayDeploy/Service Requests/Errors/Latency of stable \\(AutoScalingGroupName=${w.fx.stable.asgName}\\): \\d+ requests, 0 5xx in the last 10m`,
        ),
      );

      const before = await snapshot(w);
      const refused = await cli(
        w,
        "deploy-gray",
        rawOptions(w, "deploy-gray", {
          ...SERVICE_PLAN,
          serviceDimensions: "AutoScalingGroupName={asg},Service=payments",
        }),
      );
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.outcome?.outcome).toBe("refused");
      expect(refused.outcome?.reason).toMatch(
        new RegExp(
          `no datapoint of GrayDeploy/Service Requests for stable \\(AutoScalingGroupName=${w.fx.stable.asgName}, Service=payments\\) in the last 10m \\(nor of Errors\\); Requests exists with AutoScalingGroupName=${w.fx.stable.asgName}`,
        ),
      );
      expect(refused.outcome?.error).toMatchObject({ field: "serviceRequests" });
      expect(JSON.stringify(refused.outcome?.error)).toMatch(/StorageResolution 1/);
      expect(await snapshot(w)).toEqual(before);
    } finally {
      await alb.stop();
    }
  }, 90_000);
});
