/**
 * Preflight against the AWS emulator: every mismatch between the options and the account is refused
 * with the contract's exit 2, a message naming the resource, and NO write (the emulator's whole
 * relevant state is compared before and after). A matching world passes and reports what it checked.
 */

import {
  DetachLoadBalancerTargetGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateLaunchTemplateVersionCommand } from "@aws-sdk/client-ec2";
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { deployRequest, planRequest } from "../../src/app/requests.js";
import type { RawOptions } from "../../src/app/schema.js";
import type { Outcome } from "../../src/contract/outcome.js";
import { systemClock } from "../../src/engine/clock.js";
import { deployGray, plan } from "../../src/engine/verbs.js";
import { encodeUserData } from "../support/aws-fixture.js";
import { useAwsEmulator } from "./support/hooks.js";
import { cli } from "./support/rollout.js";
import { buildWorld, openTarget, options, rawOptions, snapshot, type World } from "./support/world.js";

const { emu, aws } = useAwsEmulator();

let ids = 0;
const ctx = () => ({
  clock: systemClock(),
  owner: { id: `preflight-${++ids}`, host: "test", pid: process.pid, verb: "deploy-gray" },
  newId: () => `rollout-${ids}`,
});

/** Runs deploy-gray in-process; returns its Outcome and whether AWS state changed at all. */
async function refused(w: World, extra: RawOptions = {}): Promise<{ outcome: Outcome; changed: boolean }> {
  const before = await snapshot(w);
  const o = options(w, "deploy-gray", extra);
  let outcome: Outcome;
  try {
    const target = await openTarget(w, o);
    try {
      outcome = await deployGray(deployRequest(o), target.ports, ctx());
    } finally {
      await target.dispose();
    }
  } catch (e) {
    // openTarget itself refuses (e.g. no state table): the CLI turns that into the same exit 2.
    const { refusedOutcome } = await import("../../src/engine/outcome.js");
    const { toGrayDeployError } = await import("../../src/contract/errors.js");
    outcome = refusedOutcome(toGrayDeployError(e), { target: "aws" });
  }
  const after = await snapshot(w);
  return { outcome, changed: JSON.stringify(before) !== JSON.stringify(after) };
}

function expectRefusal(r: { outcome: Outcome; changed: boolean }, field: string, message: RegExp): void {
  expect(r.outcome.outcome, r.outcome.reason).toBe("refused");
  expect(r.outcome.exitCode).toBe(2);
  expect(r.outcome.error?.code).toBe("PREFLIGHT_FAILED");
  expect(r.outcome.error?.field).toBe(field);
  expect(r.outcome.error?.message).toMatch(message);
  expect(r.outcome.error?.fix ?? "").not.toBe("");
  expect(r.changed, "a refused run must not change anything in AWS").toBe(false);
}

describe("preflight against the emulator", () => {
  it("passes on a matching world and reports what it checked, without writing", async () => {
    const w = await buildWorld(emu(), aws());
    const before = await snapshot(w);
    const o = options(w, "plan");
    const target = await openTarget(w, o);
    try {
      const report = await plan(planRequest(o), target.ports, { clock: systemClock() });
      expect(report.blockers).toEqual([]);
      const facts = report.facts.join("\n");
      expect(facts).toContain(`rule ${w.fx.ruleArn}`);
      expect(facts).toMatch(/stickiness: 300s/);
      expect(facts).toMatch(/IMAGE= ?|assignment on line 3/);
      expect(facts).toContain(`becomes ${w.release}`);
      expect(facts).toMatch(/exists in ECR/);
    } finally {
      await target.dispose();
    }
    expect(await snapshot(w)).toEqual(before);
  });

  it("lists the business-metric gates it would judge at every step", async () => {
    const w = await buildWorld(emu(), aws());
    const gate = {
      name: "pix-declines",
      source: "cloudwatch",
      namespace: "TecPag/Payments",
      numerator: "PaymentsDeclined",
      denominator: "PaymentsAttempted",
      dimensions: { AutoScalingGroupName: "{asg}" },
      test: true,
    };
    const o = options(w, "plan", { gates: [JSON.stringify(gate)] });
    const target = await openTarget(w, o);
    try {
      const report = await plan(planRequest(o), target.ports, { clock: systemClock() });
      expect(report.blockers).toEqual([]);
      expect(report.gates).toEqual([
        "custom:pix-declines: CloudWatch TecPag/Payments PaymentsDeclined ÷ PaymentsAttempted not worse than stable by more than 0.5% (tested) over the rollback window",
      ]);
    } finally {
      await target.dispose();
    }
  });

  it("refuses a listener that does not exist", async () => {
    const w = await buildWorld(emu(), aws());
    const missing = w.fx.listenerArn.replace(/\/[0-9a-f]{16}$/, "/0123456789abcdef");
    const r = await refused(w, { listenerArn: missing, ruleArn: undefined });
    expectRefusal(r, "listenerArn", /listener .* does not exist/);
  });

  it("refuses a target group that is not in the forward action", async () => {
    const w = await buildWorld(emu(), aws());
    const other = await aws().elb.send(
      new CreateTargetGroupCommand({
        Name: "gatewaypix-other",
        Protocol: "HTTP",
        Port: 8080,
        VpcId: w.fx.vpcId,
      }),
    );
    const r = await refused(w, { grayTargetGroupArn: other.TargetGroups![0]!.TargetGroupArn });
    expectRefusal(
      r,
      "grayTargetGroupArn",
      /not exactly the two given target groups \(missing: .*gatewaypix-other/,
    );
  });

  it("refuses a target group of another load balancer", async () => {
    const w = await buildWorld(emu(), aws());
    const lb = await aws().elb.send(
      new CreateLoadBalancerCommand({ Name: "elsewhere-alb", Subnets: w.fx.subnetIds, Type: "application" }),
    );
    const tg = await aws().elb.send(
      new CreateTargetGroupCommand({ Name: "elsewhere", Protocol: "HTTP", Port: 8080, VpcId: w.fx.vpcId }),
    );
    const tgArn = tg.TargetGroups![0]!.TargetGroupArn!;
    const listener = await aws().elb.send(
      new CreateListenerCommand({
        LoadBalancerArn: lb.LoadBalancers![0]!.LoadBalancerArn,
        Protocol: "HTTP",
        Port: 80,
        DefaultActions: [{ Type: "forward", TargetGroupArn: tgArn }],
      }),
    );
    await aws().elb.send(
      new CreateRuleCommand({
        ListenerArn: listener.Listeners![0]!.ListenerArn,
        Priority: 5,
        Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: ["/x"] } }],
        Actions: [{ Type: "forward", TargetGroupArn: tgArn }],
      }),
    );
    const r = await refused(w, { grayTargetGroupArn: tgArn });
    expectRefusal(r, "grayTargetGroupArn", /belongs to load balancer .*elsewhere-alb.*not to/);
  });

  it("refuses a gray Auto Scaling group that is not attached to the gray target group", async () => {
    const w = await buildWorld(emu(), aws());
    await aws().autoScaling.send(
      new DetachLoadBalancerTargetGroupsCommand({
        AutoScalingGroupName: w.fx.gray.asgName,
        TargetGroupARNs: [w.fx.gray.targetGroupArn],
      }),
    );
    const r = await refused(w);
    expectRefusal(
      r,
      "grayAsg",
      /gray Auto Scaling group gatewaypix-gray is not attached to the gray target group/,
    );
  });

  it("refuses a group on $Latest and says how to pin it", async () => {
    const w = await buildWorld(emu(), aws());
    await aws().autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: w.fx.stable.asgName,
        LaunchTemplate: { LaunchTemplateId: w.fx.launchTemplate.id, Version: "$Latest" },
      }),
    );
    const r = await refused(w);
    expectRefusal(r, "stableAsg", /uses launch template version \$Latest/);
    expect(r.outcome.error?.fix).toMatch(/update-auto-scaling-group .*Version=<number>/);
  });

  it("refuses user data without a recognisable image reference, naming the template and version", async () => {
    const w = await buildWorld(emu(), aws());
    await useUserData(w, "#!/bin/bash\nsystemctl start gateway\n");
    const r = await refused(w);
    expectRefusal(
      r,
      "launchTemplate",
      /cannot find the container image reference in the user data of launch template gatewaypix-app \(lt-[0-9a-f]+\) version 2/,
    );
  });

  it("refuses user data with two different image references", async () => {
    const w = await buildWorld(emu(), aws());
    await useUserData(w, `#!/bin/bash\nIMAGE=${w.fx.image}\nAPP_IMAGE=registry.example.com/other:2.0\n`);
    const r = await refused(w);
    expectRefusal(r, "launchTemplate", /several image references .*other:2\.0/);
  });

  it("refuses an ECR image that does not exist", async () => {
    const w = await buildWorld(emu(), aws());
    const r = await refused(w, { image: w.release.replace("1.5.0", "9.9.9") });
    expectRefusal(r, "image", /does not exist in ECR/);
  });

  it("refuses a release that stable already runs", async () => {
    const w = await buildWorld(emu(), aws());
    const r = await refused(w, { image: w.fx.image });
    expectRefusal(r, "image", /stable already runs/);
  });

  it("refuses smoke checks when no header route to gray exists", async () => {
    const w = await buildWorld(emu(), aws());
    const r = await refused(w, { smokeHeader: "X-Gray-Smoke: s3cr3t-value" });
    expectRefusal(r, "smokeHeader", /no rule, evaluated before the weighted one/);
    expect(JSON.stringify(r.outcome)).not.toContain("s3cr3t-value");
  });

  it("refuses an alarm gate naming an alarm that does not exist", async () => {
    const w = await buildWorld(emu(), aws());
    const r = await refused(w, { alarms: "gatewaypix-gray-5xx" });
    expectRefusal(r, "alarms", /alarm\(s\) gatewaypix-gray-5xx do not exist/);
  });

  it("the CLI exits 2 without the state table and says how to create it", async () => {
    const w = await buildWorld(emu(), aws());
    const before = await snapshot(w);
    const { code, outcome } = await cli(
      w,
      "deploy-gray",
      rawOptions(w, "deploy-gray", { stateTable: "no-such-table" }),
    );
    expect(code).toBe(2);
    expect(outcome?.error?.field).toBe("stateTable");
    expect(outcome?.error?.fix).toContain("gray-deploy bootstrap --target aws --state-table no-such-table");
    expect(await snapshot(w)).toEqual(before);
  });
});

/** Makes version 2 of the template with this user data and puts both groups on it. */
async function useUserData(w: World, script: string): Promise<void> {
  await aws().ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: w.fx.launchTemplate.id,
      SourceVersion: "1",
      LaunchTemplateData: { UserData: encodeUserData(script) },
    }),
  );
  for (const name of [w.fx.stable.asgName, w.fx.gray.asgName]) {
    await aws().autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        LaunchTemplate: { LaunchTemplateId: w.fx.launchTemplate.id, Version: "2" },
      }),
    );
  }
}
