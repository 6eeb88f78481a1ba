/**
 * End to end against the AWS emulator, the emulated data plane and the real Zabbix 6.0 that
 * `bash scripts/zabbix/setup.sh` starts (never skipped: without it these tests fail, saying how to
 * set it up). Each version's payments counters — read from its real processes — are pushed with the
 * real zabbix_sender to a Zabbix host tagged asg=<that version's Auto Scaling group>.
 * - A release declining 30% of payments (HTTP 200) is rolled back through the Zabbix gate alone.
 * - A healthy release, with a Zabbix gate and two CloudWatch gates declared in a --config YAML file,
 *   is promoted.
 * - A wrong Zabbix token or item key stops the rollout at preflight (exit 2), before any write.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { OutcomeDecision } from "../../src/contract/outcome.js";
import { NO_FAULTS } from "../../src/local/instance.js";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { cli, deployInProcess, forward, group, startDataPlane } from "../aws/support/rollout.js";
import { buildWorld, rawOptions, snapshot, type World } from "../aws/support/world.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { createFleet, type Fleet, requireZabbix, type ZabbixEnv } from "../support/zabbix.js";
import {
  BUSINESS_TIMINGS,
  BusinessCounters,
  CLOUDWATCH_CEILING_GATE,
  CLOUDWATCH_RATE_GATE,
  uniqueName,
  ZABBIX_RATE_GATE,
} from "./support.js";

const { emu, aws } = useAwsEmulator();
const BASELINE = { ...NO_FAULTS, baselineDeclineRate: 0.01 };

let zbx: ZabbixEnv;
const fleets: Fleet[] = [];
beforeAll(async () => {
  zbx = await requireZabbix();
});
afterAll(async () => {
  await Promise.all(fleets.map((f) => f.dispose().catch(() => undefined)));
});

/** A world whose two ASGs each have a Zabbix host tagged with the ASG's name. */
async function zabbixWorld(prefix: string): Promise<{ w: World; fleet: Fleet }> {
  const w = await buildWorld(emu(), aws(), { name: uniqueName(prefix) });
  const fleet = await createFleet({
    stable: 1,
    gray: 1,
    label: prefix,
    asgs: { stable: w.fx.stable.asgName, gray: w.fx.gray.asgName },
  });
  fleets.push(fleet);
  return { w, fleet };
}

const zabbixOptions = () => ({ zabbixUrl: zbx.url, zabbixToken: zbx.token });

describe("business-metric gates on Zabbix", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("roll back a release declining payments it should approve (HTTP 200)", async () => {
    const started = performance.now();
    const { w, fleet } = await zabbixWorld("bzr");
    const alb = await startDataPlane(w, {
      faults: (image) => (image === w.release ? { ...BASELINE, declineRate: 0.3 } : BASELINE),
    });
    const counters = new BusinessCounters({
      alb,
      world: w,
      periodMs: 1000,
      zabbixHosts: { stable: fleet.stable[0]!, gray: fleet.gray[0]! },
    });
    counters.start();
    try {
      const run = await deployInProcess(w, {
        ...BUSINESS_TIMINGS,
        steps: "25,50,100",
        gates: [ZABBIX_RATE_GATE],
        ...zabbixOptions(),
      });
      const { outcome } = run;
      expect(
        outcome.outcome,
        `${outcome.reason}\n${counters.describeLateness()}\n${run.logs.join("\n")}`,
      ).toBe("rolled-back");
      const rollback = outcome.decisions.find((d) => d.kind === "rollback") as OutcomeDecision;
      expect(rollback.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate)).toEqual([
        "custom:pix-declines-zabbix",
      ]);
      const gate = rollback.evidence.find((g) => g.gate === "custom:pix-declines-zabbix")!;
      expect(gate.values.source).toBe("zabbix");
      expect(gate.values.pValue as number).toBeLessThan(0.001);
      expect(gate.reason).toMatch(/payments\.declined ÷ payments\.attempted/);
      expect(await forward(w)).toMatchObject({ stable: 100, gray: 0 });
      expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 0, version: "1" });
      // Every observation read the gate; the preflight checked it before anything changed.
      const looks = run.events.filter((e) => e.type === "observation" && e.analysis !== null);
      expect(looks.length).toBeGreaterThan(0);
      expect(counters.errors).toEqual([]);
      const t = counters.totals;
      console.log(
        `[business-e2e] Zabbix gate rollback in ${((performance.now() - started) / 1000).toFixed(1)} s; gray ${t.gray.declined}/${t.gray.attempted} declined, stable ${t.stable.declined}/${t.stable.attempted}`,
      );
    } finally {
      await counters.stop();
      await alb.stop();
    }
  });

  it("promote a healthy release with Zabbix and CloudWatch gates declared in a config file", async () => {
    const started = performance.now();
    const { w, fleet } = await zabbixWorld("bzp");
    const alb = await startDataPlane(w, { faults: () => BASELINE });
    const counters = new BusinessCounters({
      alb,
      world: w,
      periodMs: 1000,
      zabbixHosts: { stable: fleet.stable[0]!, gray: fleet.gray[0]! },
    });
    counters.start();
    const dir = await mkdtemp(join(tmpdir(), "gray-business-ok-"));
    try {
      const config = join(dir, "gatewaypix.yaml");
      await writeFile(
        config,
        stringify({ gates: [CLOUDWATCH_RATE_GATE, CLOUDWATCH_CEILING_GATE, ZABBIX_RATE_GATE] }),
      );
      const { code, outcome, stderr } = await cli(
        w,
        "deploy-gray",
        { ...rawOptions(w, "deploy-gray", { ...BUSINESS_TIMINGS }), config, zabbixUrl: zbx.url },
        { GRAY_DEPLOY_ZABBIX_TOKEN: zbx.token },
      );
      expect(outcome?.outcome, `${outcome?.reason}\n${counters.describeLateness()}\n${stderr}`).toBe(
        "promoted",
      );
      expect(code).toBe(0);
      // The 100% step passed on every gate, against stable's values recorded at 25%.
      const promote = outcome?.decisions.find((d) => d.kind === "promote") as OutcomeDecision;
      const custom = promote.evidence.filter((g) => g.gate.startsWith("custom:"));
      expect(custom.map((g) => `${g.gate}:${g.verdict}`).sort()).toEqual([
        "custom:decline-ceiling:pass",
        "custom:pix-declines-zabbix:pass",
        "custom:pix-declines:pass",
      ]);
      for (const g of custom.filter((x) => x.gate !== "custom:decline-ceiling")) {
        expect(g.values.reference, g.gate).toBe("baseline");
        expect(g.values.referenceDenominator as number, g.gate).toBeGreaterThan(0);
      }
      expect(await forward(w)).toMatchObject({ stable: 100, gray: 0 });
      expect(await group(w, w.fx.stable.asgName)).toMatchObject({ version: "2" });
      expect(counters.errors).toEqual([]);
      console.log(
        `[business-e2e] healthy release with 3 gates promoted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      await counters.stop();
      await alb.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a wrong token, or an item key stable's hosts lack, is refused at preflight: exit 2, nothing written", async () => {
    const { w } = await zabbixWorld("bzf");
    const before = await snapshot(w);
    const flags = rawOptions(w, "deploy-gray", {
      gates: JSON.stringify([ZABBIX_RATE_GATE]),
      zabbixUrl: zbx.url,
    });

    const badToken = await cli(w, "deploy-gray", flags, { GRAY_DEPLOY_ZABBIX_TOKEN: "0".repeat(64) });
    expect(badToken.code, badToken.stderr).toBe(2);
    expect(badToken.outcome?.error?.code).toBe("CREDENTIALS");
    expect(badToken.outcome?.reason).toMatch(/pix-declines-zabbix/);
    expect(JSON.stringify(badToken)).not.toContain(zbx.token);

    const badKey = await cli(
      w,
      "deploy-gray",
      { ...flags, gates: JSON.stringify([{ ...ZABBIX_RATE_GATE, numeratorKey: "payments.refused" }]) },
      { GRAY_DEPLOY_ZABBIX_TOKEN: zbx.token },
    );
    expect(badKey.code, badKey.stderr).toBe(2);
    expect(badKey.outcome?.error?.code).toBe("PREFLIGHT_FAILED");
    expect(badKey.outcome?.reason).toMatch(/payments\.refused/);

    const noToken = await cli(w, "deploy-gray", flags);
    expect(noToken.code).toBe(2);
    expect(noToken.outcome?.reason).toMatch(/--zabbix-token: is required/);
    expect(await snapshot(w)).toEqual(before);
  });
});
