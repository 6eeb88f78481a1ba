/**
 * The guard against the AWS emulator: the real SDK, the real state table, the real rule. It rolls back
 * through the engine's abort path (verified stable 100 / gray 0, stickiness off, gray to zero, stable's
 * pin released) and leaves the rollout `rolled-back` with cause `guard` in the state table:
 * - a rollout paused overnight with 25% on gray, on the schedule, with the clock 10 hours ahead;
 * - a gray alarm while the CLI, as a pipeline runs it, bakes a step with real customers on gray: the
 *   CLI process notices and ends rolled-back (exit 3);
 * - two invocations at once (EventBridge and SNS): one rollback;
 * - and events it must ignore, which change nothing at all in AWS.
 */
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "../../src/local/instance.js";
import { POOL_HEADER } from "../../src/local/proxy.js";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { cli, forward, group, startDataPlane, storedState } from "../aws/support/rollout.js";
import { buildWorld, rawOptions } from "../aws/support/world.js";
import { stateDiff } from "../bad-input/support/emulator-state.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { alarmEvent, SCHEDULE_EVENT, snsAlarmEvent } from "./support/events.js";
import {
  alarmNames,
  clockAhead,
  createGrayAlarms,
  desired,
  emulatorState,
  guardConfigJson,
  invokeGuard,
  pausedRollout,
  setAlarm,
} from "./support/guard-world.js";

const { emu, aws } = useAwsEmulator();
const HOUR = 3_600_000;

describe("the guard against the emulator", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("rolls back a rollout paused overnight with traffic on gray, on the schedule", async () => {
    const w = await buildWorld(emu(), aws());
    await createGrayAlarms(w);
    await pausedRollout(w);
    expect(await forward(w)).toMatchObject({ stable: 75, gray: 25 });

    // Minutes after the pause: under the maximum pause, left alone (nothing written).
    const before = await emulatorState(w);
    const early = await invokeGuard(w, SCHEDULE_EVENT);
    expect(early.result.action, early.result.reason).toBe("left-alone");
    expect(early.result.reason).toMatch(/paused for \d+m?s, under the maximum pause 1h \(gray at 25%\)/);
    expect(stateDiff(before, await emulatorState(w))).toEqual([]);

    // The next morning.
    const t0 = Date.now();
    const late = await invokeGuard(w, SCHEDULE_EVENT, { clock: clockAhead(10 * HOUR) });
    const took = Date.now() - t0;
    expect(late.result.action, JSON.stringify(late.logs, null, 1)).toBe("rolled-back");
    expect(late.result.reason).toMatch(
      /^rolled back: by guard: paused \(inconclusive\) since .*, 10h with gray at 25%: longer than the maximum pause 1h/,
    );
    expect(late.result.weights).toEqual({ stable: 100, gray: 0 });
    expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
    const state = await storedState(w);
    expect(state).toMatchObject({
      phase: "rolled-back",
      rollbackCause: "guard",
      weights: { stable: 100, gray: 0 },
    });
    expect(state?.abortRequested?.by).toBe("guard");
    expect(state?.outcomeReason).toMatch(/by guard: paused/);
    expect(await desired(w, w.fx.gray.asgName)).toBe(0);
    expect(await group(w, w.fx.stable.asgName)).toMatchObject({ pinned: false, suspended: [], desired: 2 });
    expect(late.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^traffic restored: stable 100% \/ gray 0% \(verified\)/),
      ]),
    );
    console.info(`guard: paused-overnight rollback took ${took} ms (drain 1s included)`);

    // Another alarm afterwards: the rollout already ended, nothing to do, nothing written.
    const after = await emulatorState(w);
    const again = await invokeGuard(w, alarmEvent(alarmNames(w)[0]!));
    expect(again.result.action).toBe("left-alone");
    expect(again.result.reason).toMatch(/already ended \(rolled-back\)/);
    expect(stateDiff(after, await emulatorState(w))).toEqual([]);
  });

  it("a gray alarm during a CLI bake: the guard rolls back and the CLI process ends rolled-back (exit 3)", async () => {
    const w = await buildWorld(emu(), aws());
    const [errorRate] = await createGrayAlarms(w);
    const alb = await startDataPlane(w, { faults: () => NO_FAULTS });
    try {
      // A bake that outlasts the test: the CLI is surely still baking its first step when the alarm
      // fires, however slowly this process gets there (with an 8 s bake, a loaded machine let the
      // rollout move on first, or end).
      const run = cli(
        w,
        "deploy-gray",
        rawOptions(w, "deploy-gray", { steps: "25,50,100", bake: "10m", maxBake: "10m" }),
      );
      let ended = false;
      void run.finally(() => {
        ended = true;
      });
      // Wait until real customers reach gray at 25% (readiness: for as long as the CLI runs).
      while ((await forward(w)).gray !== 25) {
        if (ended) throw new Error(`gray never reached 25%: ${JSON.stringify(await run)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 1000));
      expect(alb.load.stats().byPool.gray?.requests ?? 0).toBeGreaterThan(0);
      await setAlarm(w, errorRate!, "ALARM");
      const t0 = Date.now();
      const guard = await invokeGuard(w, alarmEvent(errorRate!));
      const guardMs = Date.now() - t0;
      expect(guard.result.action, JSON.stringify(guard.logs, null, 1)).toBe("rolled-back");
      expect(guard.result.reason).toMatch(
        new RegExp(
          `^rolled back: by guard: gray alarm ${errorRate} is in ALARM .*gray at 25%, phase shifting`,
        ),
      );

      const cliRun = await run;
      const cliMs = Date.now() - t0;
      expect(cliRun.outcome?.outcome, `${cliRun.outcome?.reason}\n${cliRun.stderr}`).toBe("rolled-back");
      expect(cliRun.code).toBe(3);
      expect(cliRun.outcome?.reason).toMatch(
        new RegExp(`^rolled back by guard from another process: gray alarm ${errorRate} is in ALARM`),
      );
      console.info(
        `guard: alarm → verified rollback in ${guardMs} ms; the CLI process ended ${cliMs} ms after the alarm`,
      );

      expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
      const state = await storedState(w);
      expect(state).toMatchObject({ phase: "rolled-back", rollbackCause: "guard" });
      expect(state?.steps.at(-1)).toMatchObject({ weight: 25, verdict: "fail" });
      expect(await desired(w, w.fx.gray.asgName)).toBe(0);
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({ pinned: false, suspended: [] });
      // Customers are back on stable.
      await alb.weights.poll();
      const pools = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const res = await request(`${alb.url}/v1/payments/p-${i}`);
        await res.body.dump();
        pools.add(String(res.headers[POOL_HEADER]));
      }
      expect(pools).toEqual(new Set(["stable"]));
      expect(alb.errors).toEqual([]);
    } finally {
      await alb.stop();
    }
  });

  it("two invocations at once (EventBridge and SNS): exactly one rollback", async () => {
    const w = await buildWorld(emu(), aws());
    const [, p99] = await createGrayAlarms(w);
    await pausedRollout(w);
    const owner = (id: string) => ({ id, host: "lambda", pid: 1, verb: "guard" });
    const [a, b] = await Promise.all([
      invokeGuard(w, alarmEvent(p99!), { owner: owner("guard-a") }),
      invokeGuard(w, snsAlarmEvent(p99!), { owner: owner("guard-b") }),
    ]);
    const actions = [a.result.action, b.result.action].sort();
    expect(actions, `${a.result.reason}\n${b.result.reason}`).toEqual(["left-alone", "rolled-back"]);
    const loser = a.result.action === "left-alone" ? a : b;
    expect(loser.result.reason).toMatch(/already being rolled back by guard/);
    const restored = [...a.logs, ...b.logs].filter((l) => /^traffic restored/.test(l.msg));
    expect(restored).toHaveLength(1);
    expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
    expect(await storedState(w)).toMatchObject({ phase: "rolled-back", rollbackCause: "guard" });
  });

  it("ignores OK transitions, other alarms and unknown events, and leaves a quiet table alone, writing nothing", async () => {
    const w = await buildWorld(emu(), aws());
    const names = await createGrayAlarms(w);
    // No rollout at all yet.
    const empty = await emulatorState(w);
    const none = await invokeGuard(w, alarmEvent(names[0]!));
    expect(none.result).toMatchObject({
      action: "left-alone",
      reason: "no rollout is recorded for this load balancer",
    });
    expect(stateDiff(empty, await emulatorState(w))).toEqual([]);

    await pausedRollout(w);
    await setAlarm(w, names[2]!, "OK");
    const before = await emulatorState(w);
    for (const [event, why] of [
      [alarmEvent(names[0]!, "OK"), /went to OK, not ALARM/],
      [snsAlarmEvent(names[1]!, "INSUFFICIENT_DATA"), /went to INSUFFICIENT_DATA/],
      [alarmEvent("payments-db-cpu"), /not one of this service's gray alarms/],
      [{ source: "aws.ec2", "detail-type": "EC2 Instance State-change Notification" }, /source aws.ec2/],
    ] as const) {
      const r = await invokeGuard(w, event, { clock: clockAhead(10 * HOUR) });
      expect(r.result.action, r.result.reason).toBe("ignored");
      expect(r.result.reason).toMatch(why);
    }
    // A gray alarm in ALARM seen on the schedule rolls back; in OK it does not.
    const quiet = await invokeGuard(w, SCHEDULE_EVENT);
    expect(quiet.result.action).toBe("left-alone");
    expect(stateDiff(before, await emulatorState(w))).toEqual([]);

    await setAlarm(w, names[2]!, "ALARM");
    const seen = await invokeGuard(w, SCHEDULE_EVENT);
    expect(seen.result.action, seen.result.reason).toBe("rolled-back");
    expect(seen.result.reason).toMatch(
      /gray alarm gatewaypix-gray-unhealthy is in ALARM \(seen on the schedule\)/,
    );
  });

  it("refuses a broken configuration before touching AWS, naming the field", async () => {
    const w = await buildWorld(emu(), aws());
    const before = await emulatorState(w);
    await expect(
      invokeGuard(w, SCHEDULE_EVENT, { config: guardConfigJson(w, { maxPause: "10s" }) }),
    ).rejects.toMatchObject({
      code: "INVALID_INPUT",
      field: "maxPause",
    });
    await expect(
      invokeGuard(w, SCHEDULE_EVENT, { config: guardConfigJson(w, { stateTable: "nope!" }) }),
    ).rejects.toMatchObject({
      code: "INVALID_INPUT",
      field: "stateTable",
    });
    await expect(
      invokeGuard(w, SCHEDULE_EVENT, { config: guardConfigJson(w, { stateTable: "missing-table" }) }),
    ).rejects.toMatchObject({
      code: "PREFLIGHT_FAILED",
      field: "stateTable",
    });
    expect(stateDiff(before, await emulatorState(w))).toEqual([]);
  });
});
