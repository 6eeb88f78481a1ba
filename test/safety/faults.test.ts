/**
 * Faults in the control plane: gray-deploy (the CLI, a child process) talks to the AWS emulator
 * through the fault-injecting proxy, which answers a chosen share of calls with AWS-shaped throttling
 * or 5xx errors (each service's protocol) and adds latency.
 *
 * - The proxy's answers are what the SDK v3 clients take for throttling and server errors: they retry
 *   them, and gray-deploy maps what is left to retryable errors.
 * - At 30% injected faults a full rollout still completes (promoted), the retried attempts logged.
 * - Under a persistent fault the tool stops with the traffic on stable; when even that write is
 *   impossible (ModifyRule always failing) it ends `rollback-failed`, exit 7, saying exactly what a
 *   person must do — and doing that works. A transient ModifyRule outage during a rollback is ridden
 *   out. How long a rollback keeps trying is measured and printed.
 *
 * Metrics that never arrive, arrive late, or arrive for one target group only — the emulated ALB's
 * CloudWatch publishing is filtered while real customers keep flowing — and the CloudWatch API itself
 * failing: the rollout never promotes; it extends the bake, then pauses (`--on-inconclusive pause`,
 * the default) or rolls back (`--on-inconclusive rollback`), and the Outcome says why.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeLaunchTemplatesCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { AwsCallError, mapAwsError } from "../../src/aws/errors.js";
import type { Outcome } from "../../src/contract/outcome.js";
import { STATE_TABLE } from "../aws/support/world.js";
import type { CliRun } from "./support/cli.js";
import { afterWeightWrite, answered } from "./support/crash.js";
import { expectConverged } from "./support/expect.js";
import { type FaultKind, op } from "./support/fault-proxy.js";
import { rollbackUnderOutage } from "./support/rollback.js";
import {
  BAD_RELEASE,
  SCENARIO_TEST_TIMEOUT_MS,
  type Scenario,
  scenarioTest,
  startScenario,
} from "./support/scenario.js";

async function withScenario(
  o: Parameters<typeof startScenario>[0],
  body: (s: Scenario) => Promise<void>,
): Promise<void> {
  const s = await startScenario(o);
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

/** Lines where gray-deploy's call counter logged a failed attempt (retried by the SDK, or the last). */
function attemptLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /AWS \S+: attempt \d+\/5 failed \(.*\); /.test(l));
}

/**
 * Whether the run has entered the 25% step: its weights written and the step saved (what it logs as
 * "forward step: stable 75% / gray 25% (verified)"). An outage armed with it starts exactly there,
 * decided inside the proxy: waiting for the progress line instead left the step's 2 s bake to a race
 * with this process's reaction, which a loaded machine can lose.
 */
function inTheStep(s: Scenario): () => boolean {
  return answered(s.proxy, afterWeightWrite(s, { stable: 75, gray: 25 }), op("dynamodb", "UpdateItem"));
}

/** Short bakes: the step may be extended to 4 s before the policy applies. */
const FAST = { maxBake: "4s" };

function whyOf(run: CliRun, s: Scenario): string {
  return `${run.tail(30)}\ntrail ${JSON.stringify(s.grayTrail())}`;
}

/**
 * No promotion was ever decided, the one step did not pass, and it was extended from the bake (2 s)
 * to the max bake (4 s) before the policy applied.
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
  expect(o?.steps[0]?.durationMs, w).toBeGreaterThanOrEqual(4000);
}

describe.concurrent("faults in the control plane", { timeout: SCENARIO_TEST_TIMEOUT_MS }, () => {
  describe("AWS API faults", () => {
    it(
      "the proxy's faults are AWS errors the SDK retries, in every protocol gray-deploy uses",
      scenarioTest(async () => {
        await withScenario({ dataPlane: false, stableSettings: false }, async (s) => {
          const config = { ...s.emu.clientConfig(), endpoint: s.proxy.url, maxAttempts: 2 };
          const clients = {
            elb: new ElasticLoadBalancingV2Client(config),
            autoScaling: new AutoScalingClient(config),
            ec2: new EC2Client(config),
            cloudWatch: new CloudWatchClient(config),
            dynamo: new DynamoDBClient(config),
          };
          const calls: [string, string, () => Promise<unknown>][] = [
            [
              "elasticloadbalancing",
              "DescribeRules",
              () => clients.elb.send(new DescribeRulesCommand({ RuleArns: [s.w.fx.ruleArn] })),
            ],
            [
              "autoscaling",
              "DescribeAutoScalingGroups",
              () => clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({})),
            ],
            [
              "ec2",
              "DescribeLaunchTemplates",
              () => clients.ec2.send(new DescribeLaunchTemplatesCommand({})),
            ],
            [
              "monitoring",
              "GetMetricData",
              () =>
                clients.cloudWatch.send(
                  new GetMetricDataCommand({
                    StartTime: new Date(Date.now() - 60_000),
                    EndTime: new Date(),
                    MetricDataQueries: [
                      {
                        Id: "m",
                        MetricStat: {
                          Metric: { Namespace: "AWS/ApplicationELB", MetricName: "RequestCount" },
                          Period: 60,
                          Stat: "Sum",
                        },
                      },
                    ],
                  }),
                ),
            ],
            [
              "dynamodb",
              "GetItem",
              () =>
                clients.dynamo.send(
                  new GetItemCommand({ TableName: STATE_TABLE, Key: { scope: { S: "x" } } }),
                ),
            ],
          ];
          const seen: Record<string, unknown> = {};
          for (const kind of ["throttle", "5xx"] as FaultKind[]) {
            s.proxy.faults({ rate: 1, kinds: [kind] });
            for (const [service, operation, call] of calls) {
              const before = s.proxy.count({ service, operation });
              const e = (await call().then(
                () => null,
                (err: unknown) => err,
              )) as { name: string; $metadata: { httpStatusCode: number; attempts: number } } | null;
              expect(e, `${service} ${kind}`).not.toBeNull();
              // The SDK retried it (2 attempts), and gray-deploy calls what is left retryable.
              expect(e!.$metadata.attempts, `${service} ${kind}`).toBe(2);
              expect(s.proxy.count({ service, operation }) - before).toBe(2);
              const mapped = mapAwsError(e, `${service}:${operation}`);
              expect(mapped, `${service} ${kind}`).toBeInstanceOf(AwsCallError);
              expect(mapped.retryable, `${service} ${kind}`).toBe(true);
              seen[`${service} ${kind}`] = `${e!.$metadata.httpStatusCode} ${e!.name}`;
            }
          }
          expect(seen).toEqual({
            "elasticloadbalancing throttle": "400 Throttling",
            "autoscaling throttle": "400 Throttling",
            "ec2 throttle": "400 RequestLimitExceeded",
            "monitoring throttle": "400 Throttling",
            "dynamodb throttle": "400 ThrottlingException",
            "elasticloadbalancing 5xx": "503 ServiceUnavailable",
            "autoscaling 5xx": "503 ServiceUnavailable",
            "ec2 5xx": "500 InternalError",
            "monitoring 5xx": "500 InternalFailure",
            "dynamodb 5xx": "500 InternalServerError",
          });
          // Without faults the same calls go through.
          s.proxy.faults({ rate: 0 });
          for (const [, , call] of calls) await call();
          for (const c of Object.values(clients)) c.destroy();
        });
      }),
    );

    it(
      "30% of calls throttled or failing, with latency: a full rollout still completes, retries logged",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          s.proxy.faults({ rate: 0.3 });
          s.proxy.latency(5, 40);
          const run = s.cli("deploy-gray", s.flags());
          const r = await run.done;
          const why = run.tail(40);
          expect(r.outcome?.outcome, why).toBe("promoted");
          expect(r.code, why).toBe(0);
          expectConverged(await s.converged({ promoted: true }), why);
          const faults = s.proxy.count({ result: "throttle" }) + s.proxy.count({ result: "5xx" });
          const logged = attemptLines(r.stderr);
          const retried = logged.filter((l) => l.endsWith("the SDK retries with backoff"));
          // Every injected fault reached the SDK as a failed attempt, and each was logged.
          expect(faults).toBeGreaterThan(50);
          expect(logged.length, why).toBe(faults);
          expect(
            logged.some((l) =>
              /attempt 1\/5 failed \((Throttling|ThrottlingException|RequestLimitExceeded) 400\)/.test(l),
            ),
          ).toBe(true);
          console.log(
            `[measure] 30% faults: promoted in ${Math.round((r.endedAt - run.startedAt) / 1000)}s; ${s.proxy.calls.length} HTTP requests, ${faults} faults injected (${s.proxy.count({ result: "throttle" })} throttling, ${s.proxy.count({ result: "5xx" })} 5xx), ${logged.length} failed attempts logged (${retried.length} retried by the SDK, ${logged.length - retried.length} calls out of attempts: ${JSON.stringify(logged.filter((l) => !retried.includes(l)).map((l) => /AWS (\S+):/.exec(l)?.[1]))}); faults by operation ${JSON.stringify(s.proxy.faultsByOperation())}`,
          );
        });
      }),
    );

    it(
      "state writes whose answer is lost after DynamoDB applied them: the rollout still completes",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          // The lock's acquisition and every 5th state write succeed but answer 500: the SDK retries a
          // write that already happened, and the retry's condition (no rollout / the old revision) fails.
          let saves = 0;
          s.proxy.loseResponses({
            rate: 1,
            match: (c) =>
              op("dynamodb", "UpdateItem")(c) &&
              (String(c.params.ConditionExpression).startsWith("attribute_not_exists") || ++saves % 5 === 0),
          });
          const run = s.cli("deploy-gray", s.flags());
          const r = await run.done;
          const why = run.tail(40);
          expect(r.outcome?.outcome, why).toBe("promoted");
          expect(s.proxy.count({ result: "lost" })).toBeGreaterThan(3);
          expect(run.stderr, why).not.toMatch(
            /another process took the rollout over|another rollout holds the lock/,
          );
          expect(r.code, why).toBe(0);
          expectConverged(await s.converged({ promoted: true }), why);
          console.log(
            `[measure] lost DynamoDB answers: ${s.proxy.count({ result: "lost" })} of ${s.proxy.count({ operation: "UpdateItem" })} UpdateItem calls applied but answered 500; promoted`,
          );
        });
      }),
    );

    it(
      "Auto Scaling down for good mid-rollout: traffic back on stable (verified), the leftovers named",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const at25 = inTheStep(s);
          s.proxy.persistent((c) => c.service === "autoscaling" && at25(), "5xx");
          const run = s.cli("deploy-gray", s.flags());
          const r = await run.done;
          const why = run.tail(40);
          expect(r.outcome?.outcome, why).toBe("failed");
          expect(r.code, why).toBe(1);
          expect(r.outcome?.reason, why).toMatch(
            /autoscaling:\w+ failed: ServiceUnavailable.*traffic is back on stable/,
          );
          expect(r.outcome?.weights, why).toEqual({ stable: 100, gray: 0 });
          expect(r.outcome?.warnings.join("\n"), why).toMatch(
            /scale gray to zero failed after traffic was back on stable/,
          );
          expect(s.grayTrail(), why).toEqual([25, 0]);
        });
      }),
    );

    it(
      "DynamoDB down for good mid-rollout: traffic back on stable; a rerun after the outage keeps it there",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const at25 = inTheStep(s);
          const restore = s.proxy.persistent((c) => c.service === "dynamodb" && at25(), "5xx");
          const run = s.cli("deploy-gray", s.flags());
          const r = await run.done;
          const why = run.tail(40);
          expect(r.outcome?.outcome, why).toBe("failed");
          expect(r.outcome?.weights, why).toEqual({ stable: 100, gray: 0 });
          expect(r.outcome?.warnings.join("\n"), why).toMatch(/could not record the end of the rollout/);
          // The table still says the rollout runs at 25%, but gray is gone and stable has the traffic.
          expect((await s.state())?.state).toMatchObject({
            phase: "shifting",
            weights: { stable: 75, gray: 25 },
          });
          expect(await s.grayInstances()).toEqual([]);

          restore();
          await s.leaseExpired();
          const rerun = s.cli("deploy-gray", s.flags());
          const r2 = await rerun.done;
          const why2 = `${rerun.tail(30)}\ntrail ${JSON.stringify(s.grayTrail())}`;
          // Resuming would put 25% of the customers on a gray with no instance: it must not.
          expect(s.grayTrail(rerun.startedAt), why2).toEqual([]);
          expect(r2.outcome?.outcome, why2).not.toBe("promoted");
          expect((await s.state())?.state.phase, why2).toMatch(/^(failed|rolled-back|aborted)$/);
          expectConverged(await s.converged({ promoted: false }), why2);
        });
      }),
    );

    it(
      "ModifyRule failing for good during a rollback: rollback-failed (exit 7), what to do said, and doing it works",
      scenarioTest(async () => {
        await withScenario(BAD_RELEASE, async (s) => {
          const o = await rollbackUnderOutage(s, { kind: "5xx", outageMs: null });
          const r = o.result;
          const why = o.run.tail(40);
          expect(r.outcome?.outcome, why).toBe("rollback-failed");
          expect(r.code, why).toBe(7);
          expect(r.outcome?.reason, why).toContain(
            "A person must act: set the forward action to stable 100 / gray 0 in the console or CLI, then run `gray-deploy abort` to finish the cleanup",
          );
          expect(r.outcome?.reason, why).toMatch(
            /traffic may still reach gray \(last verified weights stable 75% \/ gray 25%\)/,
          );
          const state = await s.state();
          expect(state?.state.phase, "the rollout keeps the lock until a person finishes it").toBe(
            "rollback-failed",
          );
          expect(o.attempts.length, why).toBe(25); // 5 engine attempts × 5 SDK attempts
          console.log(
            `[measure] ModifyRule failing for good (5xx): the rollback kept trying ${(o.keptTryingMs / 1000).toFixed(1)}s (${o.attempts.length} ModifyRule attempts), rollback-failed ${(o.toEndMs / 1000).toFixed(1)}s after its first write`,
          );

          // What the message says: a person gets the weights set (here: the outage ends), then runs abort.
          o.endOutage();
          const abort = s.cli(
            "abort",
            s.controlFlags("abort", { startedBy: "operator-olga", reason: "after rollback-failed" }),
          );
          const a = await abort.done;
          expect(a.outcome?.outcome, abort.tail(20)).toBe("aborted");
          expect(a.code).toBe(5);
          expectConverged(await s.converged({ promoted: false }), abort.tail(20));
        });
      }),
    );

    it(
      "ModifyRule failing for 24 s when the rollback starts: it keeps trying for a lease (40 s) and rides it out",
      scenarioTest(async () => {
        await withScenario(BAD_RELEASE, async (s) => {
          const o = await rollbackUnderOutage(s, {
            kind: "5xx",
            outageMs: 24_000,
            flags: { lockLease: "40s" },
          });
          const r = o.result;
          const why = o.run.tail(40);
          expect(r.outcome?.outcome, why).toBe("rolled-back");
          expect(r.code, why).toBe(3);
          // It failed, tried again, and was still trying when the outage ended: five attempts were all
          // (≈17 s) before, and a 24 s outage ended in rollback-failed. How many attempts fit in 24 s
          // depends on how fast this machine answers each, so the contract is the time it kept trying
          // (verifiedMs ≥ the outage, below), not a count.
          expect(r.stderr, why).toMatch(/restoring stable traffic failed \(attempt \d+, [^)]*so far\):/);
          expect(r.stderr, why).not.toMatch(/giving up/);
          expect(o.verifiedMs, why).not.toBeNull();
          expect(o.verifiedMs!, why).toBeGreaterThanOrEqual(24_000);
          console.log(
            `[measure] ModifyRule down 24s at rollback (lease 40s): stable 100% verified ${(o.verifiedMs! / 1000).toFixed(1)}s after the first rollback write attempt, ${o.attempts.length} attempts`,
          );
          expectConverged(await s.converged({ promoted: false }), why);
        });
      }),
    );
  });

  describe("metrics that do not arrive as they should", () => {
    it(
      "never arrive: extend, then pause (default policy), the reason in the Outcome",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const run = s.cli("deploy-gray", s.flags(FAST));
          s.metrics = { drop: true };
          const r = await run.done;
          const w = whyOf(run, s);
          expect(r.outcome?.outcome, w).toBe("paused");
          expect(r.code, w).toBe(4);
          expect(r.outcome?.pause?.reason, w).toBe("inconclusive");
          expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s.*no gray requests/);
          expectNeverPromoted(r.outcome, w);
          console.log(`[measure] metrics never arrive: ${r.outcome?.reason}`);
        });
      }),
    );

    it(
      "never arrive, --on-inconclusive rollback: extend, then roll back",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const run = s.cli("deploy-gray", s.flags({ ...FAST, onInconclusive: "rollback" }));
          s.metrics = { drop: true };
          const r = await run.done;
          const w = whyOf(run, s);
          expect(r.outcome?.outcome, w).toBe("rolled-back");
          expect(r.code, w).toBe(3);
          expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s/);
          expect(r.outcome?.weights, w).toEqual({ stable: 100, gray: 0 });
          expectNeverPromoted(r.outcome, w);
        });
      }),
    );

    it(
      "arrive late (4 s after the metrics delay the plan assumes): extend, then roll back per policy",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const run = s.cli("deploy-gray", s.flags({ ...FAST, onInconclusive: "rollback" }));
          s.metrics = { lateMs: 4000 };
          const r = await run.done;
          const w = whyOf(run, s);
          expect(r.outcome?.outcome, w).toBe("rolled-back");
          expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s/);
          expectNeverPromoted(r.outcome, w);
          console.log(`[measure] metrics 4 s late: ${r.outcome?.reason}`);
        });
      }),
    );

    it(
      "arrive for stable only (gray's target group never reports): extend, then pause",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const gray = s.w.fx.gray.targetGroupDimension;
          const run = s.cli("deploy-gray", s.flags(FAST));
          s.metrics = {
            keep: (d) => !d.Dimensions?.some((x) => x.Name === "TargetGroup" && x.Value === gray),
          };
          const r = await run.done;
          const w = whyOf(run, s);
          expect(r.outcome?.outcome, w).toBe("paused");
          expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s.*no gray requests/);
          expectNeverPromoted(r.outcome, w);
        });
      }),
    );

    it(
      "arrive for gray only (stable's target group never reports): never promoted",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const stable = s.w.fx.stable.targetGroupDimension;
          const run = s.cli("deploy-gray", s.flags(FAST));
          s.metrics = {
            keep: (d) => !d.Dimensions?.some((x) => x.Name === "TargetGroup" && x.Value === stable),
          };
          const r = await run.done;
          const w = whyOf(run, s);
          expect(r.outcome?.outcome, w).toBe("paused");
          expect(r.outcome?.reason, w).toMatch(
            /still inconclusive after \d+s.*no stable requests in the window although stable has 75% of the traffic/,
          );
          expectNeverPromoted(r.outcome, w);
          console.log(`[measure] metrics for gray only: ${r.outcome?.reason}`);
        });
      }),
    );

    it(
      "the CloudWatch API failing for good: extend, then roll back per policy, the error named",
      scenarioTest(async () => {
        await withScenario({}, async (s) => {
          const at25 = inTheStep(s);
          s.proxy.persistent((c) => c.service === "monitoring" && at25(), "5xx");
          const run = s.cli("deploy-gray", s.flags({ ...FAST, onInconclusive: "rollback" }));
          const r = await run.done;
          const w = whyOf(run, s);
          expect(r.outcome?.outcome, w).toBe("rolled-back");
          expect(r.outcome?.reason, w).toMatch(/still inconclusive after \d+s/);
          expect(run.stderr, w).toMatch(
            /measurement error: metrics: cloudwatch:GetMetricData failed: InternalFailure/,
          );
          expect(r.outcome?.weights, w).toEqual({ stable: 100, gray: 0 });
          expectNeverPromoted(r.outcome, w);
        });
      }),
    );
  });
});
