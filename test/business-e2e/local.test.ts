/**
 * Business-metric gates on the LOCAL target (issue 18: gate sources are opened by the application
 * layer for any target, not inside the AWS target). Against the real Zabbix 6.0 of
 * `bash scripts/zabbix/setup.sh`, through src/app as the CLI and the Dagger module run it:
 * - plan opens the Zabbix reader for `--target local` and preflights the gate against real hosts;
 * - a gate selecting hosts by `{asg}` is refused before anything starts (the local target has no
 *   Auto Scaling groups), naming the fix;
 * - a rollout whose gray hosts report 30% declined payments (zabbix_sender, every second) is rolled
 *   back by that gate alone while the built-in gates pass.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runVerb, type VerbResult } from "../../src/app/run.js";
import { type RawOptions, resolveOptions, type Verb } from "../../src/app/schema.js";
import { systemClock } from "../../src/engine/clock.js";
import { createFleet, type Fleet, requireZabbix, sendMany, type ZabbixEnv } from "../support/zabbix.js";

let zbx: ZabbixEnv;
let fleet: Fleet;
beforeAll(async () => {
  zbx = await requireZabbix();
  fleet = await createFleet({ stable: 1, gray: 1, label: "local" });
}, 60_000);
afterAll(async () => {
  await fleet?.dispose().catch(() => undefined);
});

const FAST: RawOptions = {
  target: "local",
  steps: "50,100",
  interval: "500ms",
  metricPeriod: "500ms",
  metricsDelay: "500ms",
  rollbackWindow: "3s",
  promotionWindow: "3s",
  bake: "5s",
  maxBake: "12s",
  returnBake: "4s",
  minRequests: 30,
  healthyTimeout: "60s",
  instances: 2,
  rps: 200,
};

const gate = (hosts: unknown) => ({
  name: "declines",
  source: "zabbix",
  numeratorKey: "payments.declined",
  denominatorKey: "payments.attempted",
  hosts,
  max: "10%",
  minSamples: 20,
});

const byGroup = () => ({ stable: { groups: [fleet.groups.stable] }, gray: { groups: [fleet.groups.gray] } });

async function run(verb: Verb, extra: RawOptions): Promise<{ result: VerbResult; logs: string[] }> {
  const logs: string[] = [];
  const o = resolveOptions(
    { ...FAST, zabbixUrl: zbx.url, zabbixToken: zbx.token, ...extra },
    { verb, frontEnd: "cli" },
  );
  const result = await runVerb(verb, o, {
    clock: systemClock(),
    newId: randomUUID,
    log: (l) => logs.push(l),
  });
  return { result, logs };
}

describe("business-metric gates on the local target", { timeout: 120_000 }, () => {
  it("plan opens and preflights the Zabbix gate for --target local", async () => {
    const { result, logs } = await run("plan", { gates: [gate(byGroup())] });
    expect(result.kind, logs.join("\n")).toBe("plan");
    if (result.kind !== "plan") return;
    expect(result.report.target).toBe("local");
    expect(result.report.gates).toEqual([
      "custom:declines: Zabbix payments.declined ÷ payments.attempted ≤ 10% over the rollback window",
    ]);
  });

  it("refuses a gate that selects hosts by {asg}: the local target has no Auto Scaling groups", async () => {
    const { result } = await run("plan", { gates: [gate({ tag: "asg" })] });
    expect(result.kind).toBe("outcome");
    if (result.kind !== "outcome") return;
    expect(result.outcome.outcome).toBe("refused");
    expect(result.outcome.exitCode).toBe(2);
    expect(result.outcome.error?.code).toBe("PREFLIGHT_FAILED");
    expect(result.outcome.error?.message).toMatch(/\{asg\} has no value/);
    expect(result.outcome.error?.fix).toMatch(/hosts\.stable and hosts\.gray/);
  });

  it("rolls a release back on the Zabbix gate alone while the built-in gates pass", async () => {
    // Each second, 40 payments per host: stable declines 1, gray 12 (30%).
    let stop = false;
    const pushing = (async () => {
      while (!stop) {
        const at = Date.now();
        await sendMany(
          [
            ...fleet.stable.flatMap((host) => [
              { host, key: "payments.attempted", value: 40, clock: at },
              { host, key: "payments.declined", value: 1, clock: at },
            ]),
            ...fleet.gray.flatMap((host) => [
              { host, key: "payments.attempted", value: 40, clock: at },
              { host, key: "payments.declined", value: 12, clock: at },
            ]),
          ],
          { wait: false },
        ).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000 - Math.min(999, Date.now() - at)));
      }
    })();
    try {
      const { result, logs } = await run("deploy-gray", { gates: [gate(byGroup())] });
      expect(result.kind).toBe("outcome");
      if (result.kind !== "outcome") return;
      const o = result.outcome;
      expect(o.outcome, `${o.reason}\n${logs.join("\n")}`).toBe("rolled-back");
      const failed = o.lastDecision?.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate) ?? [];
      expect(
        o.decisions.flatMap((d) => d.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate)),
      ).toContain("custom:declines");
      expect(failed.filter((g) => !g.startsWith("custom:"))).toEqual([]);
      expect(o.reason).toMatch(/payments\.declined ÷ payments\.attempted/);
    } finally {
      stop = true;
      await pushing;
    }
  });
});
