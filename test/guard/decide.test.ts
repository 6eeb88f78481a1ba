/**
 * The guard's pure parts, table-driven: which events it reads (EventBridge alarm changes, SNS-wrapped
 * alarm notifications, the schedule), which it ignores, its configuration, and its decision for every
 * kind of rollout it can find.
 */

import { describe, expect, it } from "vitest";
import { policyOf } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import { newRollout, type RolloutState } from "../../src/core/state.js";
import { guardConfig } from "../../src/guard/config.js";
import { decideGuard, type GuardObservation, relevantTriggers } from "../../src/guard/decide.js";
import { parseGuardEvent } from "../../src/guard/events.js";
import type { StoredRollout } from "../../src/ports/index.js";
import { alarmEvent, SCHEDULE_EVENT, snsAlarmEvent } from "./support/events.js";

const ALARMS = ["gatewaypix-gray-error-rate", "gatewaypix-gray-p99", "gatewaypix-gray-unhealthy"];
const RULE =
  "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener-rule/app/gatewaypix-alb/0123456789abcdef/0123456789abcdef/00112233aabbccdd";
const LISTENER =
  "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gatewaypix-alb/0123456789abcdef/0123456789abcdef";

describe("guard events", () => {
  it("reads EventBridge alarm changes, SNS alarm notifications and the schedule", () => {
    expect(parseGuardEvent(alarmEvent(ALARMS[0]!))).toEqual([
      {
        kind: "alarm",
        alarmName: ALARMS[0],
        state: "ALARM",
        reason: "Threshold Crossed: 1 datapoint [3.1] > 2.0",
        via: "eventbridge",
      },
    ]);
    expect(parseGuardEvent(snsAlarmEvent(ALARMS[1]!))).toEqual([
      { kind: "alarm", alarmName: ALARMS[1], state: "ALARM", reason: "Threshold Crossed", via: "sns" },
    ]);
    expect(parseGuardEvent(SCHEDULE_EVENT)).toEqual([{ kind: "schedule" }]);
  });

  it.each([
    ["an OK transition", alarmEvent(ALARMS[0]!, "OK"), /went to OK, not ALARM/],
    ["INSUFFICIENT_DATA", snsAlarmEvent(ALARMS[0]!, "INSUFFICIENT_DATA"), /went to INSUFFICIENT_DATA/],
    [
      "another service's alarm",
      alarmEvent("payments-db-cpu"),
      /payments-db-cpu is not one of this service's gray alarms/,
    ],
    ["an S3 event", { Records: [{ eventSource: "aws:s3", s3: {} }] }, /not an SNS notification/],
    [
      "an SNS message that is no alarm",
      { Records: [{ Sns: { Message: "hello" } }] },
      /not a CloudWatch alarm/,
    ],
    [
      "an EC2 event",
      { source: "aws.ec2", "detail-type": "EC2 Instance State-change Notification" },
      /source aws.ec2/,
    ],
    ["a string", "ALARM", /not a JSON object/],
    ["null", null, /not a JSON object/],
  ])("ignores %s", (_, event, why) => {
    const { triggers, ignored } = relevantTriggers(parseGuardEvent(event), ALARMS);
    expect(triggers).toEqual([]);
    expect(ignored.join("; ")).toMatch(why);
  });
});

describe("guard configuration (GRAY_DEPLOY_CONFIG, through the options schema)", () => {
  const config = {
    target: "aws",
    region: "sa-east-1",
    listenerArn: LISTENER,
    ruleArn: RULE,
    stableTargetGroupArn:
      "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gatewaypix-stable/0123456789abcdef",
    grayTargetGroupArn:
      "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gatewaypix-gray/0123456789abcdef",
    stableAsg: "gatewaypix-stable",
    grayAsg: "gatewaypix-gray",
    launchTemplate: "lt-0123456789abcdef0",
    stateTable: "gatewaypix-gray-deploy-state",
    alarms: ALARMS,
    maxPause: "1h",
  };
  const env = (c: unknown) => ({ GRAY_DEPLOY_CONFIG: typeof c === "string" ? c : JSON.stringify(c) });

  it("takes the module's object: the control options as for abort, maxPause and the alarms", () => {
    const g = guardConfig(env(config));
    expect(g.options).toMatchObject({
      target: "aws",
      region: "sa-east-1",
      ruleArn: RULE,
      startedBy: "guard",
    });
    expect(g.maxPauseMs).toBe(3_600_000);
    expect(g.alarms).toEqual(ALARMS);
    expect(guardConfig(env({ ...config, maxPause: "90m" })).maxPauseMs).toBe(5_400_000);
    const { maxPause: _, ...noPause } = config;
    expect(guardConfig(env(noPause)).maxPauseMs).toBe(3_600_000);
  });

  it.each([
    ["missing", {}, "config", /GRAY_DEPLOY_CONFIG is not set/],
    ["not JSON", env("{target: aws"), "config", /not valid JSON/],
    ["a list", env([1, 2]), "config", /must be a JSON object/],
    ["an unknown key", env({ ...config, ruleArm: RULE }), "ruleArm", /did you mean ruleArn/],
    ["a bad region", env({ ...config, region: "sao-paulo" }), "region", /a region such as sa-east-1/],
    ["no state table", env({ ...config, stateTable: undefined }), "stateTable", /is required/],
    ["a local target", env({ ...config, target: "local" }), "region", /applies only to --target aws/],
    ["a bad maxPause", env({ ...config, maxPause: "forever" }), "maxPause", /maxPause|duration|unit/],
    ["a too short maxPause", env({ ...config, maxPause: "10s" }), "maxPause", /below the minimum 1m/],
  ])("refuses %s, naming the field", (_, e, field, message) => {
    let error: unknown;
    try {
      guardConfig(e as Record<string, string>);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: "INVALID_INPUT", field });
    expect((error as Error).message).toMatch(message);
  });
});

const NOW = Date.UTC(2026, 10, 26, 9, 0, 0);
const HOUR = 3_600_000;

function stored(
  patch: Partial<RolloutState>,
  lock: { owner?: boolean; leaseUntil?: number } = {},
): StoredRollout {
  const o = resolveOptions(
    {
      target: "aws",
      region: "sa-east-1",
      listenerArn: LISTENER,
      ruleArn: RULE,
      stateTable: "t-state",
      image: "registry.example/gateway:2.0.0",
      stableTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/a/0123456789abcdef",
      grayTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/b/0123456789abcdef",
      stableAsg: "a",
      grayAsg: "b",
      launchTemplate: "lt-0123456789abcdef0",
    },
    { verb: "deploy-gray", env: {} },
  );
  const base = newRollout({
    id: "r-1",
    scope: RULE,
    target: "aws",
    image: "registry.example/gateway:2.0.0",
    commit: null,
    startedBy: "ci",
    plan: policyOf(o),
    now: NOW - 12 * HOUR,
  });
  return {
    state: { ...base, phase: "shifting", weights: { stable: 75, gray: 25 }, ...patch },
    revision: 9,
    owner: lock.owner === false ? null : { id: "ci-1", host: "runner-7", pid: 4242, verb: "deploy-gray" },
    leaseUntil: lock.leaseUntil ?? NOW + 60_000,
  };
}

const obs = (s: StoredRollout | null, extra: Partial<GuardObservation> = {}): GuardObservation => ({
  stored: s,
  now: NOW,
  maxPauseMs: HOUR,
  grayAlarms: ALARMS,
  liveGrayWeight: s?.state.weights.gray ?? null,
  alarmsInAlarm: [],
  ...extra,
});

const ALARM = {
  kind: "alarm",
  alarmName: ALARMS[0]!,
  state: "ALARM",
  reason: "5xx 3.1% > 2%",
  via: "eventbridge",
} as const;
const SCHEDULE = { kind: "schedule" } as const;
const pausedSince = (ms: number, gray = 25) =>
  stored(
    {
      phase: "paused",
      weights: { stable: 100 - gray, gray },
      pause: { reason: "awaiting-approval", gate: "step:50", since: NOW - ms, detail: "approve step 50" },
    },
    { owner: false, leaseUntil: NOW - ms },
  );

describe("the guard's decision", () => {
  it.each<[string, typeof ALARM | typeof SCHEDULE, GuardObservation, "rollback" | "leave", RegExp]>([
    ["no rollout", ALARM, obs(null), "leave", /no rollout is recorded/],
    [
      "an ended rollout",
      ALARM,
      obs(stored({ phase: "promoted", weights: { stable: 100, gray: 0 } })),
      "leave",
      /already ended \(promoted\)/,
    ],
    [
      "no traffic on gray (scaling)",
      ALARM,
      obs(stored({ phase: "scaling", weights: { stable: 100, gray: 0 } })),
      "leave",
      /sends no traffic to gray/,
    ],
    [
      "gray weight 0 recorded but 5% on the load balancer",
      ALARM,
      obs(stored({ phase: "scaling", weights: { stable: 100, gray: 0 } }), { liveGrayWeight: 5 }),
      "rollback",
      /gray at 5% on the load balancer \(0% recorded\)/,
    ],
    [
      "an alarm while the pipeline runs a bake",
      ALARM,
      obs(stored({})),
      "rollback",
      /gray alarm gatewaypix-gray-error-rate is in ALARM \(5xx 3.1% > 2%\), gray at 25%, phase shifting/,
    ],
    ["an alarm on a paused rollout", ALARM, obs(pausedSince(10 * 60_000)), "rollback", /is in ALARM/],
    [
      "an alarm while another process rolls back",
      ALARM,
      obs(stored({ phase: "rolling-back" })),
      "leave",
      /already being rolled back by its process \(runner-7 pid 4242\)/,
    ],
    [
      "an alarm after another guard asked",
      ALARM,
      obs(stored({ abortRequested: { by: "guard", at: NOW, reason: "x" } })),
      "leave",
      /already being rolled back by guard/,
    ],
    [
      "an alarm on a dead process's rollback",
      ALARM,
      obs(stored({ phase: "rolling-back" }, { leaseUntil: NOW - 1 })),
      "rollback",
      /is in ALARM/,
    ],
    [
      "the schedule, paused overnight",
      SCHEDULE,
      obs(pausedSince(10 * HOUR)),
      "rollback",
      /paused \(awaiting-approval, gate step:50\) since .*, 10h with gray at 25%: longer than the maximum pause 1h/,
    ],
    [
      "the schedule, paused 10 minutes",
      SCHEDULE,
      obs(pausedSince(10 * 60_000)),
      "leave",
      /paused for 10m, under the maximum pause 1h/,
    ],
    [
      "the schedule, paused overnight at gray 0",
      SCHEDULE,
      obs(pausedSince(10 * HOUR, 0)),
      "leave",
      /sends no traffic to gray/,
    ],
    [
      "the schedule, a live bake",
      SCHEDULE,
      obs(stored({})),
      "leave",
      /running in runner-7 pid 4242 .*its process judges it/,
    ],
    [
      "the schedule, a gray alarm in ALARM",
      SCHEDULE,
      obs(stored({}), { alarmsInAlarm: [ALARMS[2]!] }),
      "rollback",
      /gatewaypix-gray-unhealthy is in ALARM \(seen on the schedule\)/,
    ],
    [
      "the schedule, another alarm in ALARM",
      SCHEDULE,
      obs(stored({}), { alarmsInAlarm: ["payments-db-cpu"] }),
      "leave",
      /its process judges it/,
    ],
    [
      "the schedule, a process dead 5 minutes",
      SCHEDULE,
      obs(stored({}, { leaseUntil: NOW - 5 * 60_000 })),
      "leave",
      /no process for 5m .*rerun deploy-gray to resume it/,
    ],
    [
      "the schedule, a process dead 2 hours",
      SCHEDULE,
      obs(stored({}, { leaseUntil: NOW - 2 * HOUR })),
      "rollback",
      /no process has watched rollout r-1 \(shifting\) since .*2h with gray at 25%/,
    ],
    [
      "the schedule, a failed rollback",
      SCHEDULE,
      obs(stored({ phase: "rollback-failed" }, { owner: false, leaseUntil: NOW - 60_000 })),
      "rollback",
      /retrying the failed rollback/,
    ],
  ])("%s → %s", (_, trigger, o, kind, reason) => {
    const d = decideGuard(trigger, o);
    expect(d.kind, d.reason).toBe(kind);
    expect(d.reason).toMatch(reason);
  });

  it("uses the smaller of the guard's maximum pause and the rollout's own --max-pause", () => {
    const s = pausedSince(40 * 60_000);
    const short = { ...s, state: { ...s.state, plan: { ...s.state.plan, maxPauseMs: 30 * 60_000 } } };
    expect(decideGuard(SCHEDULE, obs(short)).kind).toBe("rollback");
    const long = { ...s, state: { ...s.state, plan: { ...s.state.plan, maxPauseMs: 4 * HOUR } } };
    expect(decideGuard(SCHEDULE, obs(long)).kind).toBe("leave");
    expect(decideGuard(SCHEDULE, obs(pausedSince(2 * HOUR), { maxPauseMs: 3 * HOUR })).kind).toBe("rollback");
  });

  it("keep-previous: gray's alarms roll the window back, a dead process too after the maximum pause", () => {
    const keeping = (lock: { owner?: boolean; leaseUntil?: number } = {}) =>
      stored({ phase: "keeping", weights: { stable: 0, gray: 100 }, keepUntil: NOW + 20 * 60_000 }, lock);
    const alarm = decideGuard(ALARM, obs(keeping()));
    expect(alarm).toMatchObject({
      kind: "rollback",
      reason: expect.stringMatching(/in ALARM .*gray at 100%, phase keeping/),
    });
    expect(decideGuard(SCHEDULE, obs(keeping(), { alarmsInAlarm: [ALARMS[1]!] })).kind).toBe("rollback");
    const live = decideGuard(SCHEDULE, obs(keeping()));
    expect(live).toMatchObject({
      kind: "leave",
      reason: expect.stringMatching(/keeping the previous version warm until 2026-11-26T09:20:00.000Z/),
    });
    expect(decideGuard(SCHEDULE, obs(keeping({ owner: false, leaseUntil: NOW - 2 * HOUR }))).kind).toBe(
      "rollback",
    );
  });

  it("leaves a rollback-release alone: it moves traffic to the version that ran before", () => {
    const restore = stored(
      { kind: "restore", phase: "promoting", weights: { stable: 0, gray: 100 } },
      { owner: false, leaseUntil: NOW - 2 * HOUR },
    );
    const d = decideGuard(ALARM, obs(restore));
    expect(d).toMatchObject({
      kind: "leave",
      reason: expect.stringMatching(/is a rollback-release .*rerun rollback-release to finish it/),
    });
    expect(decideGuard(SCHEDULE, obs(stored({ phase: "restored" }))).reason).toMatch(
      /already ended \(restored\)/,
    );
  });
});
