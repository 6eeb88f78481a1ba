/**
 * Metrics that never arrive, arrive late, or arrive for one target group only — the emulated ALB's
 * CloudWatch publishing is filtered while real customers keep flowing — and the CloudWatch API itself
 * failing. Whatever is missing, the rollout never promotes: it extends the bake, then pauses
 * (`--on-inconclusive pause`, the default) or rolls back (`--on-inconclusive rollback`), and the
 * Outcome says why.
 */
import { describe, expect, it } from "vitest";
import type { Outcome } from "../../src/contract/outcome.js";
import type { CliRun } from "./support/cli.js";
import { type Scenario, startScenario } from "./support/scenario.js";

/** Short bakes: the step may be extended to 6 s before the policy applies. */
const FAST = { maxBake: "6s" };

async function withScenario(body: (s: Scenario) => Promise<void>): Promise<void> {
  const s = await startScenario();
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

function why(run: CliRun, s: Scenario): string {
  return `${run.tail(30)}\ntrail ${JSON.stringify(s.grayTrail())}`;
}

/**
 * No promotion was ever decided, the one step did not pass, and it was extended from the bake (2 s)
 * to the max bake (6 s) before the policy applied.
 */
function expectNeverPromoted(o: Outcome | null, w: string): void {
  expect(
    o?.decisions.some((d) => d.kind === "promote"),
    w,
  ).toBe(false);
  expect(
    o?.steps.map((st) => `${st.weight}:${st.verdict}`),
    w,
  ).toEqual([expect.stringMatching(/^25:(inconclusive|fail)$/)]);
  expect(o?.steps[0]?.durationMs, w).toBeGreaterThanOrEqual(6000);
}

describe.concurrent("metrics that do not arrive as they should", { timeout: 240_000 }, () => {
  it("never arrive: extend, then pause (default policy), the reason in the Outcome", async () => {
    await withScenario(async (s) => {
      const run = s.cli("deploy-gray", s.flags(FAST));
      s.metrics = { drop: true };
      const r = await run.done;
      const w = why(run, s);
      expect(r.outcome?.outcome, w).toBe("paused");
      expect(r.code, w).toBe(4);
      expect(r.outcome?.pause?.reason, w).toBe("inconclusive");
      expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s.*no gray requests/);
      expectNeverPromoted(r.outcome, w);
      console.log(`[measure] metrics never arrive: ${r.outcome?.reason}`);
    });
  });

  it("never arrive, --on-inconclusive rollback: extend, then roll back", async () => {
    await withScenario(async (s) => {
      const run = s.cli("deploy-gray", s.flags({ ...FAST, onInconclusive: "rollback" }));
      s.metrics = { drop: true };
      const r = await run.done;
      const w = why(run, s);
      expect(r.outcome?.outcome, w).toBe("rolled-back");
      expect(r.code, w).toBe(3);
      expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s/);
      expect(r.outcome?.weights, w).toEqual({ stable: 100, gray: 0 });
      expectNeverPromoted(r.outcome, w);
    });
  });

  it("arrive late (4 s after the metrics delay the plan assumes): extend, then roll back per policy", async () => {
    await withScenario(async (s) => {
      const run = s.cli("deploy-gray", s.flags({ ...FAST, onInconclusive: "rollback" }));
      s.metrics = { lateMs: 4000 };
      const r = await run.done;
      const w = why(run, s);
      expect(r.outcome?.outcome, w).toBe("rolled-back");
      expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s/);
      expectNeverPromoted(r.outcome, w);
      console.log(`[measure] metrics 4 s late: ${r.outcome?.reason}`);
    });
  });

  it("arrive for stable only (gray's target group never reports): extend, then pause", async () => {
    await withScenario(async (s) => {
      const gray = s.w.fx.gray.targetGroupDimension;
      const run = s.cli("deploy-gray", s.flags(FAST));
      s.metrics = { keep: (d) => !d.Dimensions?.some((x) => x.Name === "TargetGroup" && x.Value === gray) };
      const r = await run.done;
      const w = why(run, s);
      expect(r.outcome?.outcome, w).toBe("paused");
      expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s.*no gray requests/);
      expectNeverPromoted(r.outcome, w);
    });
  });

  it("arrive for gray only (stable's target group never reports): never promoted", async () => {
    await withScenario(async (s) => {
      const stable = s.w.fx.stable.targetGroupDimension;
      const run = s.cli("deploy-gray", s.flags(FAST));
      s.metrics = { keep: (d) => !d.Dimensions?.some((x) => x.Name === "TargetGroup" && x.Value === stable) };
      const r = await run.done;
      const w = why(run, s);
      expect(r.outcome?.outcome, w).toBe("paused");
      expect(r.outcome?.reason, w).toMatch(
        /still inconclusive after \d+s.*no stable requests in the window although stable has 75% of the traffic/,
      );
      expectNeverPromoted(r.outcome, w);
      console.log(`[measure] metrics for gray only: ${r.outcome?.reason}`);
    });
  });

  it("the CloudWatch API failing for good: extend, then roll back per policy, the error named", async () => {
    await withScenario(async (s) => {
      const run = s.cli("deploy-gray", s.flags({ ...FAST, onInconclusive: "rollback" }));
      await run.waitFor(/forward step: stable 75% \/ gray 25% \(verified\)/);
      s.proxy.persistent((c) => c.service === "monitoring", "5xx");
      const r = await run.done;
      const w = why(run, s);
      expect(r.outcome?.outcome, w).toBe("rolled-back");
      expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s/);
      expect(run.stderr, w).toMatch(
        /measurement error: metrics: cloudwatch:GetMetricData failed: InternalFailure/,
      );
      expect(r.outcome?.weights, w).toEqual({ stable: 100, gray: 0 });
      expectNeverPromoted(r.outcome, w);
    });
  });
});
