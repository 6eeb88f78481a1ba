/**
 * Least privilege, with the emulator's IAM enforcement on and the Resource element evaluated
 * (iam-resources/): credentials whose ONLY policy is the Terraform module's pipeline policy document,
 * rendered for this service's resources, run a whole rollout to `promoted` through the CLI, with real
 * customers on the emulated load balancer; the guard's cut of the same document is enough for the
 * guard's rollback. Credentials without the policy, missing one action preflight needs, scoped to
 * another table, unknown, or a session the emulator no longer accepts, each stop at preflight with
 * exit 2, a CREDENTIALS error naming the call and the fix, and no write to AWS.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateRuleCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/engine/clock.js";
import { runGuard } from "../../src/guard/run.js";
import { NO_FAULTS } from "../../src/local/instance.js";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { cli, forward, group, startDataPlane, storedState } from "../aws/support/rollout.js";
import { rawOptions } from "../aws/support/world.js";
import { emulatorState, stateDiff } from "../bad-input/support/emulator-state.js";
import { alarmEvent } from "../guard/support/events.js";
import { alarmNames, createGrayAlarms, guardConfigJson } from "../guard/support/guard-world.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { CaptureServer, filesUnder } from "./support/capture.js";
import {
  buildIamWorld,
  disabledSids,
  envFor,
  type IamWorld,
  iamEmulatorOptions,
  renderPolicy,
  userWith,
  withoutAction,
} from "./support/iam-world.js";

const { emu } = useAwsEmulator(iamEmulatorOptions());

const state = (w: IamWorld) => emulatorState(w.emu.endpoint, w.admin, w.emu.region);

describe("least privilege under IAM enforcement", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("the module's pipeline policy, rendered for this service, is enough for a whole rollout", async () => {
    const w = await buildIamWorld(emu());
    expect(emu().logs()).toMatch(/gray iam-resources: moto evaluates IAM resources/);
    const sids = await disabledSids();
    const policy = renderPolicy(w, sids.pipeline);
    const pipeline = await userWith(w, "gray-deploy-pipeline", policy);

    const alb = await startDataPlane(w, { faults: () => NO_FAULTS });
    try {
      const run = await cli(w, "deploy-gray", rawOptions(w, "deploy-gray"), envFor(w, pipeline));
      expect(run.outcome?.outcome, `${run.outcome?.reason}\n${run.stderr}`).toBe("promoted");
      expect(run.code).toBe(0);
      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: 300 });
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({
        version: "2",
        pinned: false,
        suspended: [],
      });
      expect((await storedState(w))?.phase).toBe("promoted");
      expect(alb.load.stats().byPool.gray?.requests ?? 0).toBeGreaterThan(0);
      expect(run.stderr).not.toMatch(/AccessDenied|denied/);
    } finally {
      await alb.stop();
    }

    // The scoping is really evaluated: the same credentials may not touch another rule of the listener.
    const other = await w.aws.elb.send(
      new CreateRuleCommand({
        ListenerArn: w.fx.listenerArn,
        Priority: 20,
        Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: ["/other/*"] } }],
        Actions: [{ Type: "forward", TargetGroupArn: w.fx.stable.targetGroupArn }],
      }),
    );
    const elb = new ElasticLoadBalancingV2Client({ ...w.emu.clientConfig(pipeline), maxAttempts: 1 });
    try {
      const modify = (arn: string) =>
        elb.send(
          new ModifyRuleCommand({
            RuleArn: arn,
            Actions: [{ Type: "forward", TargetGroupArn: w.fx.stable.targetGroupArn }],
          }),
        );
      await expect(modify(other.Rules![0]!.RuleArn!)).rejects.toMatchObject({ name: "AccessDenied" });
    } finally {
      elb.destroy();
    }
  });

  it("the guard's cut of the same document is enough for the guard's rollback", async () => {
    const w = await buildIamWorld(emu());
    const sids = await disabledSids();
    const pipeline = await userWith(w, "gray-deploy-pipeline", renderPolicy(w, sids.pipeline));
    const guardKeys = await userWith(w, "gray-deploy-guard", renderPolicy(w, sids.guard));
    await createGrayAlarms(w);
    // No customers: the 25% step stays inconclusive and the rollout pauses with gray at 25%.
    const paused = await cli(
      w,
      "deploy-gray",
      rawOptions(w, "deploy-gray", { maxBake: "4s" }),
      envFor(w, pipeline),
    );
    expect(paused.outcome?.outcome, `${paused.outcome?.reason}\n${paused.stderr}`).toBe("paused");
    expect(paused.outcome?.weights).toEqual({ stable: 75, gray: 25 });

    const result = await runGuard(alarmEvent(alarmNames(w)[0]!), {
      clock: systemClock(),
      env: { GRAY_DEPLOY_CONFIG: guardConfigJson(w) },
      credentials: async () => guardKeys,
      log: () => {},
    });
    expect(result.action, result.reason).toBe("rolled-back");
    expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
    expect(await storedState(w)).toMatchObject({ phase: "rolled-back", rollbackCause: "guard" });
  });

  it("credentials without the policy, or short of one preflight action, stop at preflight: exit 2, the call and the fix, nothing written", async () => {
    const w = await buildIamWorld(emu());
    const sids = await disabledSids();
    const full = renderPolicy(w, sids.pipeline);
    const nothing = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "sts:GetCallerIdentity", Resource: "*" }],
    };
    // A session the emulator does not know any more: a role session's keys with another token.
    const iam = new IAMClient({ ...w.emu.clientConfig(w.admin), region: "us-east-1", maxAttempts: 1 });
    const sts = new STSClient({ ...w.emu.clientConfig(w.admin), maxAttempts: 1 });
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: "gray-deploy-ci",
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }],
        }),
      }),
    );
    const session = await sts.send(
      new AssumeRoleCommand({ RoleArn: role.Role!.Arn!, RoleSessionName: "ci-run-41" }),
    );
    iam.destroy();
    sts.destroy();

    const cases: [string, Promise<Record<string, string>>, RegExp][] = [
      [
        "a user with no gray-deploy policy",
        userWith(w, "nobody", nothing).then((k) => envFor(w, k)),
        /dynamodb:DescribeTable was (denied \(AccessDenied\)|refused with HTTP 403)/,
      ],
      [
        "the policy without elasticloadbalancing:DescribeTargetGroups",
        userWith(w, "no-tg", withoutAction(full, "elasticloadbalancing:DescribeTargetGroups")).then((k) =>
          envFor(w, k),
        ),
        /elasticloadbalancing:DescribeTargetGroups was denied \(AccessDenied\)/,
      ],
      [
        "the policy without autoscaling:DescribeAutoScalingGroups",
        userWith(w, "no-asg", withoutAction(full, "autoscaling:DescribeAutoScalingGroups")).then((k) =>
          envFor(w, k),
        ),
        /autoscaling:DescribeAutoScalingGroups was denied \(AccessDenied\)/,
      ],
      [
        "the policy without dynamodb:GetItem",
        userWith(w, "no-getitem", withoutAction(full, "dynamodb:GetItem")).then((k) => envFor(w, k)),
        /dynamodb:GetItem was (denied|refused)/,
      ],
      [
        "the policy rendered for another state table",
        userWith(
          w,
          "other-table",
          renderPolicy(w, sids.pipeline, {
            state_table_arn: "arn:aws:dynamodb:sa-east-1:123456789012:table/other-rollouts",
          }),
        ).then((k) => envFor(w, k)),
        /dynamodb:DescribeTable was (denied|refused)/,
      ],
      [
        "keys the account never issued",
        Promise.resolve(
          envFor(w, {
            accessKeyId: "AKIAGRAYNEVERISSUED1",
            secretAccessKey: "never-issued-secret-0000000000000000000000",
          }),
        ),
        /dynamodb:DescribeTable was refused with HTTP 403|did not accept the credentials/,
      ],
      [
        "a session whose token is no longer accepted",
        Promise.resolve(
          envFor(w, {
            accessKeyId: session.Credentials!.AccessKeyId!,
            secretAccessKey: session.Credentials!.SecretAccessKey!,
            sessionToken: "FwoGZXIvYXdzEXPIREDSESSIONTOKEN0000",
          }),
        ),
        /dynamodb:DescribeTable was refused with HTTP 403|did not accept the credentials/,
      ],
    ];
    const envs = await Promise.all(cases.map(([, env]) => env));
    // Bad credentials are a failure path of the secrets check too: reports and notifications included.
    const capture = new CaptureServer();
    await capture.start();
    const reports = mkdtempSync(join(tmpdir(), "gray-lp-"));
    const before = await state(w);
    const runs = await Promise.all(
      envs.map((env, i) =>
        cli(
          w,
          "deploy-gray",
          { ...rawOptions(w, "deploy-gray"), reportDir: join(reports, String(i)) },
          {
            ...env,
            GRAY_DEPLOY_NOTIFY_WEBHOOK: `${capture.url}/hooks/lp-${i}`,
          },
        ),
      ),
    ).finally(() => capture.stop());
    expect(stateDiff(before, await state(w)), "a refused run must not write to AWS").toEqual([]);
    for (const [i, [name, , message]] of cases.entries()) {
      const r = runs[i]!;
      expect(r.code, `${name}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.outcome?.outcome, name).toBe("refused");
      expect(r.outcome?.error?.code, name).toBe("CREDENTIALS");
      expect(r.outcome?.error?.message, name).toMatch(message);
      expect(r.outcome?.error?.fix, name).toMatch(/pipeline policy|credentials/);
      const env = envs[i]!;
      const seen = [
        r.stdout,
        r.stderr,
        ...filesUnder(join(reports, String(i))).map((f) => f.text),
        ...capture.bodiesFor(`/hooks/lp-${i}`),
      ].join("\n");
      expect(capture.bodiesFor(`/hooks/lp-${i}`).length, `${name}: notified`).toBeGreaterThan(0);
      for (const secret of [env.AWS_SECRET_ACCESS_KEY!, env.AWS_ACCESS_KEY_ID!, env.AWS_SESSION_TOKEN]) {
        if (secret) expect(seen, `${name} leaks a credential`).not.toContain(secret);
      }
      console.info(`least privilege: ${name} → exit ${r.code}: ${r.outcome?.error?.message}`);
    }
    rmSync(reports, { recursive: true, force: true });
  });
});
