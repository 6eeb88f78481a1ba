/**
 * End to end against the AWS emulator with the emulated data plane: a release that DECLINES 30% of
 * the payments it should approve — HTTP 200 every time, so no 5xx, no latency change — is rolled
 * back at its first step through a business-metric gate on a custom CloudWatch metric
 * (PaymentsDeclined ÷ PaymentsAttempted per ASG, published from the processes' own counters), run
 * through the CLI as a pipeline runs it, with --gates as JSON and a report.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OutcomeDecision } from "../../src/contract/outcome.js";
import { NO_FAULTS } from "../../src/local/instance.js";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { cli, forward, group, startDataPlane } from "../aws/support/rollout.js";
import { buildWorld, rawOptions } from "../aws/support/world.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { BUSINESS_TIMINGS, BusinessCounters, CLOUDWATCH_RATE_GATE, uniqueName } from "./support.js";

const { emu, aws } = useAwsEmulator();

const BASELINE = { ...NO_FAULTS, baselineDeclineRate: 0.01 };

describe("a release declining payments it should approve (HTTP 200), on AWS", {
  timeout: REAL_TIME_TEST_TIMEOUT_MS,
}, () => {
  it("is rolled back by a custom CloudWatch gate; the built-in gates saw nothing wrong", async () => {
    const started = performance.now();
    const w = await buildWorld(emu(), aws(), { name: uniqueName("bcw") });
    const alb = await startDataPlane(w, {
      faults: (image) => (image === w.release ? { ...BASELINE, declineRate: 0.3 } : BASELINE),
    });
    const counters = new BusinessCounters({ alb, world: w, periodMs: 1000 });
    counters.start();
    const dir = await mkdtemp(join(tmpdir(), "gray-business-cw-"));
    try {
      const { code, outcome, stderr } = await cli(
        w,
        "deploy-gray",
        rawOptions(w, "deploy-gray", {
          ...BUSINESS_TIMINGS,
          steps: "25,50,100",
          gates: JSON.stringify([CLOUDWATCH_RATE_GATE]),
          reportDir: dir,
        }),
      );
      expect(outcome?.outcome, `${outcome?.reason}\n${stderr}`).toBe("rolled-back");
      expect(code).toBe(3);
      expect(outcome?.steps.at(-1)?.verdict).toBe("fail");

      // The rollback's evidence: the business gate failed with its numbers; no built-in gate did.
      const rollback = outcome?.decisions.find((d) => d.kind === "rollback") as OutcomeDecision;
      const failed = rollback.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate);
      expect(failed).toEqual(["custom:pix-declines"]);
      const gate = rollback.evidence.find((g) => g.gate === "custom:pix-declines")!;
      expect(gate.values.source).toBe("cloudwatch");
      expect(gate.values.pValue as number).toBeLessThan(0.001);
      expect(gate.values.value as number).toBeGreaterThan(0.1);
      expect(gate.values.denominator as number).toBeGreaterThanOrEqual(20);
      expect(gate.values.referenceValue as number).toBeLessThan(0.05);
      expect(rollback.evidence.find((g) => g.gate === "error-rate")?.verdict).toBe("pass");
      expect(outcome?.reason).toMatch(/PaymentsDeclined ÷ PaymentsAttempted/);

      // Traffic back on stable, gray at 0 on the old version.
      expect(await forward(w)).toMatchObject({ stable: 100, gray: 0 });
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 0, version: "1" });

      // The report lists the gate with its values at the decision.
      const report = JSON.parse(await readFile(join(dir, "report.json"), "utf8")) as {
        decisions: OutcomeDecision[];
        plan: { gates?: { name: string }[] };
      };
      expect(report.plan.gates?.map((g) => g.name)).toEqual(["pix-declines"]);
      const inReport = report.decisions
        .find((d) => d.kind === "rollback")
        ?.evidence.find((g) => g.gate === "custom:pix-declines");
      expect(inReport?.values.numerator).toBeGreaterThan(0);
      const md = await readFile(join(dir, "report.md"), "utf8");
      expect(md).toMatch(/custom:pix-declines/);

      // The counters behind it are real: gray declined about 30%, stable about 1%.
      expect(counters.errors).toEqual([]);
      const t = counters.totals;
      expect(t.gray.declined / t.gray.attempted).toBeGreaterThan(0.15);
      expect(t.stable.declined / t.stable.attempted).toBeLessThan(0.05);
      console.log(
        `[business-e2e] CloudWatch gate rollback in ${((performance.now() - started) / 1000).toFixed(1)} s; gray ${t.gray.declined}/${t.gray.attempted} declined, stable ${t.stable.declined}/${t.stable.attempted}; publish p50 ${median(counters.publishMs).toFixed(0)} ms`,
      );
    } finally {
      await counters.stop();
      await alb.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!;
}
