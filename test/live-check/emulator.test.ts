/**
 * scripts/live-check.ts — the runbook's real-account check — run against the AWS emulator with a fake
 * account (the emulator's), in strict mode: plan, a good release promoted, a bad release rolled back,
 * an abort during a bake, every checklist item printed with what was observed. Against real AWS the
 * same code runs from scripts/live-check.sh; this file never reaches AWS.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { LIVE_CHECKLIST, LiveCheckRefused, runLiveCheck } from "../../scripts/live-check.js";
import { NO_FAULTS } from "../../src/local/instance.js";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { startDataPlane } from "../aws/support/rollout.js";
import {
  buildWorld,
  cliEnv,
  imageWithTag,
  pushImages,
  rawOptions,
  snapshot,
  type World,
} from "../aws/support/world.js";
import { ACCOUNT_ID } from "../support/aws-fixture.js";

const ROOT = join(import.meta.dirname, "../..");
const { emu, aws } = useAwsEmulator();

/** The config file `terraform output -json gray_deploy_config` gives, plus the emulator's endpoint and fast timings. */
function configFile(w: World): string {
  const dir = mkdtempSync(join(tmpdir(), "live-check-"));
  const file = join(dir, "gray-deploy.json");
  // Every flag of the AWS tests' fast rollout (sub-minute periods: emulator only), but the image and
  // who started it, which each run passes.
  const { image: _image, startedBy: _by, ...config } = rawOptions(w, "deploy-gray", { lockLease: "30s" });
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe("the live check against the emulator (fake account)", () => {
  test("plan, a promoted rollout, a rolled-back bad release and an abort during a bake, each checklist item observed", async () => {
    const w0 = await buildWorld(emu(), aws());
    const images = {
      good: w0.release,
      bad: imageWithTag(w0.fx, "live-bad"),
      next: imageWithTag(w0.fx, "live-next"),
    };
    await pushImages(emu(), [images.bad, images.next]);
    const alb = await startDataPlane(w0, {
      faults: (image) => (image === images.bad ? { ...NO_FAULTS, errorRate: 0.3 } : NO_FAULTS),
    });
    const lines: string[] = [];
    try {
      const r = await runLiveCheck({
        accountId: ACCOUNT_ID,
        config: configFile(w0),
        images,
        url: alb.url,
        env: cliEnv(w0),
        credentials: emu().credentials,
        flags: {
          // The bad release keeps its first weight at least 5 s before any window can hold its traffic
          // (bake and return bake: the least the plan allows with that delay): customers, and the
          // probe's, reach it before the rollback whatever the machine's speed.
          rollbackRun: { metricsDelay: "5s", bake: "8s", maxBake: "16s", returnBake: "7s" },
          abortRun: { bake: "30s", maxBake: "40s" },
        },
        probeRps: 20,
        metricPollMs: 1000,
        abortAfterMs: 1000,
        log: (l) => lines.push(l),
      });
      const why = `${lines.join("\n")}\nprobe: ${JSON.stringify(r.probe)}`;
      const by = Object.fromEntries(r.items.map((i) => [i.id, i]));
      expect(
        r.items.map((i) => i.id),
        why,
      ).toEqual(LIVE_CHECKLIST.map((c) => c.id));
      for (const id of [
        "identity",
        "plan",
        "rollout",
        "rollback",
        "sticky-after-rollback",
        "abort",
      ] as const) {
        expect(by[id]?.status, `${id}: ${by[id]?.observed}\n${why}`).toBe("ok");
      }
      for (const id of ["weight-propagation", "refresh-timing", "metric-lateness"] as const) {
        expect(by[id]?.status, `${id}: ${by[id]?.observed}\n${why}`).toBe("observed");
      }
      expect(by["weight-propagation"]?.observed).toMatch(/first request to the release [\d.]+ s after/);
      expect(by["refresh-timing"]?.observed).toMatch(/^Successful in [\d.]+ s/);
      expect(by["metric-lateness"]?.observed).toMatch(/periods of 1 s: lateness median/);
      // The questions are for real AWS: the emulator's answer would be the strict proxy's own model.
      expect(by["period-20"]?.status).toBe("skipped");
      expect(r.outcomes.rollout?.outcome).toBe("promoted");
      expect(r.outcomes.rollback?.outcome).toBe("rolled-back");
      expect(r.outcomes.abort?.outcome).toBe("aborted");
      // Each item is printed with what was observed, for the person running it.
      for (const c of LIVE_CHECKLIST) expect(why).toContain(`[${c.id}] ${c.text}\n             observed: `);
    } finally {
      await alb.stop();
    }
  }, 600_000); // a failure bound only: three rollouts in real time, ~50 s on a quiet machine

  test("refuses credentials of another account before changing anything", async () => {
    const w = await buildWorld(emu(), aws());
    const before = await snapshot(w);
    await expect(
      runLiveCheck({
        accountId: "210987654321",
        config: configFile(w),
        images: { good: w.release, bad: `${w.release}-bad`, next: `${w.release}-next` },
        url: "http://127.0.0.1:9",
        env: cliEnv(w),
        credentials: emu().credentials,
      }),
    ).rejects.toThrow(LiveCheckRefused);
    expect(await snapshot(w)).toEqual(before);
  });
});

describe("scripts/live-check.sh", () => {
  const run = (...args: string[]) =>
    spawnSync("bash", [join(ROOT, "scripts/live-check.sh"), ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });

  test("refuses without an explicit account id, and without the confirmation flag (exit 3, nothing run)", () => {
    const none = run("--url", "https://x", "--good-image", "a", "--bad-image", "b", "--next-image", "c");
    expect(none.status).toBe(3);
    expect(none.stderr).toMatch(/name the sandbox account explicitly with --account-id/);
    const unconfirmed = run("--account-id", "123456789012", "--url", "https://x");
    expect(unconfirmed.status).toBe(3);
    expect(unconfirmed.stderr).toMatch(/confirm with --i-understand-this-changes-aws/);
  });

  test("refuses an example directory that was never applied", () => {
    const dir = mkdtempSync(join(tmpdir(), "live-check-example-"));
    const r = run(
      "--account-id",
      "123456789012",
      "--i-understand-this-changes-aws",
      "--url",
      "https://x",
      "--good-image",
      "a",
      "--bad-image",
      "b",
      "--next-image",
      "c",
      "--example-dir",
      dir,
    );
    // Exit 3 (no state), or 2 where no terraform binary is installed: either way nothing ran.
    expect([2, 3], r.stderr).toContain(r.status);
    expect(r.stderr).toMatch(/no applied state|terraform is needed/);
  });
});

describe("the runbook's real-AWS checklist", () => {
  test.each(["docs/gray-deployment-runbook.md", "docs/gray-deployment-runbook.pt-BR.md"])(
    "%s names every item the live check prints",
    (file) => {
      const text = readFileSync(join(ROOT, file), "utf8");
      expect(text).toContain("scripts/live-check.sh");
      for (const c of LIVE_CHECKLIST) expect(text, c.id).toContain(`\`${c.id}\``);
    },
  );
});
