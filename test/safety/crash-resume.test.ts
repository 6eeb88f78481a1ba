/**
 * Crash and resume, against the AWS emulator with real traffic: `deploy-gray` (the CLI, a child
 * process) is SIGKILLed at every phase boundary, after each weight write, in the middle of a bake,
 * during promotion's instance refresh, during the shift back to stable and during a rollback. Once its
 * lease (5 s) has expired, `deploy-gray` with the same image runs again and must converge:
 * - the right outcome (promoted for a good release, rolled back for a bad one);
 * - exactly one new launch template version, one instance refresh, no orphaned gray instance;
 * - no step repeated with a higher weight than stored: the ALB first goes back to the last verified
 *   weights (if the dead process had moved them), then the plan continues — checked on the weights
 *   the emulated ALB really applied;
 * - stable's own MinSize (1) and suspended process (AZRebalance, suspended by someone else) restored.
 */
import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { describe, expect, it } from "vitest";
import { POOL_HEADER } from "../../src/local/proxy.js";
import { createSmokeRule } from "../aws/support/world.js";
import {
  afterSavedPhase,
  afterWeightWrite,
  type CrashReport,
  crashAndResume,
  describeCrash,
  inOrder,
} from "./support/crash.js";
import { expectConverged, expectSubsequence } from "./support/expect.js";
import { op } from "./support/fault-proxy.js";
import {
  BAD_RELEASE,
  SCENARIO_TEST_TIMEOUT_MS,
  type Scenario,
  type ScenarioOptions,
  scenarioTest,
  startScenario,
} from "./support/scenario.js";

async function withScenario(o: ScenarioOptions, body: (s: Scenario) => Promise<void>): Promise<void> {
  const s = await startScenario(o);
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

/** What every resumed good release must show. */
function expectPromoted(r: CrashReport, why: string): void {
  expectSubsequence(r.seen, r.trail, why);
  expect(r.result.outcome?.outcome, why).toBe("promoted");
  expect(r.result.code, why).toBe(0);
  expect(r.rerun.stderr, why).toMatch(/resuming rollout \S+ from phase/);
  expectConverged(r.converged, why);
  expect(r.converged.phase).toBe("promoted");
  expect(r.refreshes, `one instance refresh\n${why}`).toBe(1);
  // One gray instance for the first step, a second one for 100%: none launched twice.
  expect(r.grayInstancesLaunched, why).toBe(2);
}

function expectRolledBack(r: CrashReport, why: string): void {
  expectSubsequence(r.seen, r.trail, why);
  expect(r.result.outcome?.outcome, why).toBe("rolled-back");
  expect(r.result.code, why).toBe(3);
  expectConverged(r.converged, why);
  expect(r.converged.phase).toBe("rolled-back");
  expect(r.refreshes, why).toBe(0);
}

/** The first weights the resumed run applied never give gray more than the stored rollout had. */
function expectNoHigherThanStored(r: CrashReport, why: string): void {
  const stored = r.atKill?.state.weights;
  expect(stored, why).toBeDefined();
  const first = r.trailAfterResume[0];
  if (first !== undefined && (r.albAtKill.gray !== stored!.gray || r.albAtKill.stable !== stored!.stable)) {
    expect(first, `the resumed run's first write restores the stored weights\n${why}`).toEqual(stored);
  }
}

describe.concurrent("deploy-gray killed (SIGKILL) and run again with the same image", {
  timeout: SCENARIO_TEST_TIMEOUT_MS,
}, () => {
  it(
    "right after the launch template version is created: the version is reused, not created again",
    scenarioTest(async () => {
      await withScenario({}, async (s) => {
        const r = await crashAndResume(
          s,
          {
            reach: async ({ hold }) => {
              await hold(op("ec2", "CreateLaunchTemplateVersion"));
              expect(await s.templateVersions()).toEqual([1, 2]);
            },
          },
          { promoted: true },
        );
        const why = describeCrash(r);
        expect(r.atKill?.state.phase, why).toBe("preparing");
        expect(r.atKill?.state.release.version, why).toBeNull();
        expect(r.rerun.stderr, why).toMatch(/reusing launch template \S+ version 2/);
        expectPromoted(r, why);
        expect(r.trail, why).toEqual([25, 100, 0]);
      });
    }),
  );

  it(
    "right after gray is scaled: the same gray instance serves, none is launched twice",
    scenarioTest(async () => {
      await withScenario({}, async (s) => {
        let grayAtKill: string[] = [];
        const r = await crashAndResume(
          s,
          {
            reach: async ({ hold }) => {
              await hold(
                (c) =>
                  c.service === "autoscaling" &&
                  c.operation === "UpdateAutoScalingGroup" &&
                  c.params.AutoScalingGroupName === s.w.fx.gray.asgName &&
                  Number(c.params.DesiredCapacity) >= 1,
              );
              const out = await s.aws.autoScaling.send(
                new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [s.w.fx.gray.asgName] }),
              );
              grayAtKill = (out.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId ?? "");
            },
          },
          { promoted: true },
        );
        const why = describeCrash(r);
        expect(r.atKill?.state.phase, why).toBe("scaling");
        expect(grayAtKill, why).toHaveLength(1);
        expectPromoted(r, why);
        expect(s.grayIdsSeen.has(grayAtKill[0]!), why).toBe(true);
        expect(r.trail, why).toEqual([25, 100, 0]);
      });
    }),
  );

  it(
    "during the smoke test: the resumed run smoke-tests gray again before any customer reaches it",
    scenarioTest(async () => {
      // Every payment on the release fails: its smoke test must fail, whichever process runs it.
      await withScenario({ release: { errorRate: 1 } }, async (s) => {
        await createSmokeRule(s.w, POOL_HEADER, "gray");
        const r = await crashAndResume(
          s,
          {
            flags: {
              smokeHeader: `${POOL_HEADER}: gray`,
              smokeUrl: s.alb!.url,
              smokePaths: "/health,/v1/payments/pay_smoke0001",
            },
            reach: ({ hold }) => hold(afterSavedPhase("smoke")),
          },
          { promoted: false },
        );
        const why = describeCrash(r);
        expect(r.atKill?.state.phase, why).toBe("smoke");
        expect(r.rerun.stderr, why).toMatch(/smoke test GET \S+\/v1\/payments\/pay_smoke0001 .*answered 500/);
        // Gray never got a customer: the ALB never gave it any weight.
        expect(r.trail, why).toEqual([]);
        expect(r.result.outcome?.outcome, why).toBe("failed");
        expect(r.result.code, why).toBe(1);
        expectConverged(r.converged, why);
      });
    }),
  );

  // Each weight of the default plan (5, 25, 50, 100), in a plan where it follows a verified step
  // (except 5, the first): the stored weights are then those of that step, lower than the ALB's.
  for (const [gray, steps, trail] of [
    [5, "5,100", [5, 0, 5, 100, 0]],
    [25, "5,25,100", [5, 25, 5, 25, 100, 0]],
    [50, "25,50,100", [25, 50, 25, 50, 100, 0]],
    [100, "50,100", [50, 100, 50, 100, 0]],
  ] as const) {
    it(
      `right after the weight write of gray ${gray}% (steps ${steps}): back to the last verified weights, then the step again`,
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const r = await crashAndResume(
            s,
            {
              // At 5%, 80 customers/s give gray ~4 requests a second: a 2 s window has enough for a verdict.
              flags: { steps, ...(steps.startsWith("5,") ? { promotionWindow: "2s", bake: "3s" } : {}) },
              reach: ({ hold }) => hold(afterWeightWrite(s, { stable: 100 - gray, gray })),
            },
            { promoted: true },
          );
          const why = describeCrash(r);
          expect(r.albAtKill, why).toEqual({ stable: 100 - gray, gray });
          expect(r.atKill?.state.weights.gray, why).toBeLessThan(gray);
          expectNoHigherThanStored(r, why);
          expect(r.trail, why).toEqual(trail);
          expectPromoted(r, why);
        });
      }),
    );
  }

  it(
    "in the middle of a bake: the step goes on at the same weight",
    scenarioTest(async () => {
      await withScenario({}, async (s) => {
        const r = await crashAndResume(
          s,
          {
            // Killed once the 25% step is verified (its weights written, then saved) and one more state
            // write of its bake has landed: a point the proxy decides, however late this process reacts.
            reach: ({ hold }) =>
              hold(
                inOrder(
                  afterWeightWrite(s, { stable: 75, gray: 25 }),
                  op("dynamodb", "UpdateItem"),
                  op("dynamodb", "UpdateItem"),
                ),
              ),
          },
          { promoted: true },
        );
        const why = describeCrash(r);
        expect(r.atKill?.state).toMatchObject({ phase: "shifting", weights: { stable: 75, gray: 25 } });
        expect(r.trailAfterResume[0], why).toEqual({ stable: 0, gray: 100 });
        expect(r.trail, why).toEqual([25, 100, 0]);
        expectPromoted(r, why);
      });
    }),
  );

  it(
    "during promotion's instance refresh: the running refresh is waited for, not started again",
    scenarioTest(async () => {
      await withScenario({}, async (s) => {
        let atKill: string[] = [];
        const r = await crashAndResume(
          s,
          {
            reach: async ({ hold }) => {
              // The refresh stands still until the rerun has found it running, however late the rerun
              // comes on a loaded machine (timed refresh steps once ended before it).
              await s.emu.configure({ refreshesPaused: true });
              await hold(op("autoscaling", "StartInstanceRefresh"));
              atKill = await s.activeRefreshes();
            },
            duringRerun: async ({ run }) => {
              try {
                await run.waitFor(/instance refresh \S+ onto version 2 is already running: waiting for it/);
              } finally {
                await s.emu.configure({ refreshesPaused: false });
              }
            },
          },
          { promoted: true },
        );
        const why = describeCrash(r);
        expect(atKill, why).toHaveLength(1);
        expect(r.atKill?.state.phase, why).toBe("promoting");
        expect(r.rerun.stderr, why).toMatch(
          /instance refresh \S+ onto version 2 is already running: waiting for it/,
        );
        expect(r.trail, why).toEqual([25, 100, 0]);
        expectPromoted(r, why);
      });
    }),
  );

  it(
    "during the shift back to stable: the return step starts again from the last verified weights",
    scenarioTest(async () => {
      await withScenario({}, async (s) => {
        const r = await crashAndResume(
          s,
          {
            flags: { returnSteps: "50,100" },
            reach: ({ hold }) => hold(afterWeightWrite(s, { stable: 50, gray: 50 })),
          },
          { promoted: true },
        );
        const why = describeCrash(r);
        expect(r.atKill?.state).toMatchObject({ phase: "returning", weights: { stable: 0, gray: 100 } });
        expectNoHigherThanStored(r, why);
        expect(r.trail, why).toEqual([25, 100, 50, 100, 50, 0]);
        expectPromoted(r, why);
      });
    }),
  );

  it(
    "during a rollback, before its weight write: the resumed run finishes the rollback",
    scenarioTest(async () => {
      await withScenario(BAD_RELEASE, async (s) => {
        const r = await crashAndResume(
          s,
          { reach: ({ hold }) => hold(afterSavedPhase("rolling-back")) },
          { promoted: false },
        );
        const why = describeCrash(r);
        expect(r.atKill?.state.phase, why).toBe("rolling-back");
        expect(r.albAtKill.gray, why).toBeGreaterThan(0);
        expect(r.trail, why).toEqual([25, 0]);
        expectRolledBack(r, why);
      });
    }),
  );

  it(
    "during a rollback, after its weight write: the resumed run verifies it and cleans up",
    scenarioTest(async () => {
      await withScenario(BAD_RELEASE, async (s) => {
        const r = await crashAndResume(
          s,
          { reach: ({ hold }) => hold(afterWeightWrite(s, { stable: 100, gray: 0 }, false)) },
          { promoted: false },
        );
        const why = describeCrash(r);
        expect(r.atKill?.state.phase, why).toBe("rolling-back");
        expect(r.albAtKill, why).toEqual({ stable: 100, gray: 0 });
        expect(r.trail, why).toEqual([25, 0]);
        expectRolledBack(r, why);
      });
    }),
  );
});
