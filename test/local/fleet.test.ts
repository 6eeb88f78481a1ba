/**
 * The local Fleet with real processes behind the real proxy: gray sizing, a release that crashes at
 * start, the rolling promotion under steady load, its failure path, and that no process outlives
 * dispose() or a SIGKILLed parent.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, type GrayDeployError } from "../../src/contract/errors.js";
import { LocalFleet, type LocalFleetOptions } from "../../src/local/fleet.js";
import { LoadGenerator } from "../../src/local/load.js";
import { StaticWeightSource, WeightedProxy } from "../../src/local/proxy.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { isAlive, waitFor } from "./helpers.js";

const V1 = "registry.example/gateway:v1";
const V2 = "registry.example/gateway:v2";
const RELEASE = { image: V2, commit: null, startedBy: "test" };

describe("local fleet", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function fleetWith(options: Partial<LocalFleetOptions> = {}, weights = { stable: 100, gray: 0 }) {
    const source = new StaticWeightSource({ weights, stickinessSeconds: null });
    const proxy = new WeightedProxy({
      weights: source,
      healthCheck: { intervalMs: 100 },
      drainTimeoutMs: 5000,
    });
    const url = await proxy.start();
    cleanups.push(() => proxy.close());
    const fleet = new LocalFleet({
      proxy,
      instances: 2,
      stableVersion: V1,
      releaseVersion: V2,
      healthyTimeoutMs: 20_000,
      ...options,
    });
    cleanups.push(() => fleet.dispose());
    await fleet.start();
    return { fleet, proxy, source, url };
  }

  it("sizes gray up and down, registering only healthy instances and stopping removed ones", async () => {
    const { fleet, proxy } = await fleetWith();
    expect(fleet.instances("stable").map((i) => [i.version, i.health])).toEqual([
      [V1, "healthy"],
      [V1, "healthy"],
    ]);
    await fleet.scaleGray(V2, 2, 20_000);
    expect(proxy.health().gray).toEqual({ healthy: 2, unhealthy: 0 });
    const before = fleet.instances("gray");
    expect(before.every((i) => i.version === V2 && i.alive)).toBe(true);

    await fleet.scaleGray(V2, 1, 20_000);
    const after = fleet.instances("gray");
    expect(after).toHaveLength(1);
    const removed = before.find((b) => !after.some((a) => a.id === b.id))!;
    expect(isAlive(removed.pid)).toBe(false);
    expect(proxy.targets("gray").map((t) => t.id)).toEqual([after[0]!.id]);

    await fleet.retireGray(V2);
    expect(fleet.instances("gray")).toHaveLength(0);
    expect(proxy.targets("gray")).toHaveLength(0);
    expect(isAlive(after[0]!.pid)).toBe(false);
  });

  it("prepare is idempotent and describes the release; preflight reports stable", async () => {
    const { fleet } = await fleetWith({ grayErrorRate: 0.05 });
    const pre = await fleet.preflight(RELEASE);
    expect(pre).toMatchObject({ stableCapacity: 2, stableVersion: V1 });
    expect(pre.facts.join("\n")).toMatch(/error rate 5%/);
    const a = await fleet.prepare(RELEASE, null);
    expect(a).toEqual({ version: V2, previousVersion: V1, stableCapacity: 2 });
    expect(await fleet.prepare(RELEASE, null)).toEqual(a);
    expect(await fleet.prepare(RELEASE, a)).toEqual(a);
    await expect(fleet.prepare({ ...RELEASE, image: "other:v3" }, a)).rejects.toMatchObject({
      code: ErrorCode.State,
    });
    await fleet.releaseStable();
  });

  it("a release that crashes at start times out with what it saw, and never gets a request", async () => {
    // crashLoopLimit 0: wait out the whole deadline, as on AWS.
    const { fleet, proxy, source } = await fleetWith({ grayCrash: true, crashLoopLimit: 0 });
    source.set({ weights: { stable: 95, gray: 5 }, stickinessSeconds: null });
    const error = (await fleet.scaleGray(V2, 1, 2500).catch((e: unknown) => e)) as GrayDeployError;
    expect(error.code).toBe(ErrorCode.Timeout);
    expect(error.message).toMatch(
      /^0 of 1 gray instances \(registry\.example\/gateway:v2\) healthy after 2s500ms/,
    );
    expect(error.message).toMatch(/instances exited with code 1 before listening/);
    expect(error.message).toMatch(/CRASH is set/);
    expect(error.fix).toMatch(/--healthy-timeout/);
    expect(proxy.stats().gray.requests).toBe(0);
    expect(proxy.stats().gray.firstRequestAt).toBeNull();
    expect(proxy.targets("gray")).toHaveLength(0);
    await fleet.retireGray(V1);
    expect(fleet.instances("gray")).toHaveLength(0);
  });

  it("a crash loop ends the wait before the deadline, with the same error", async () => {
    const { fleet, proxy } = await fleetWith({ grayCrash: true });
    const error = (await fleet.scaleGray(V2, 1, 60_000).catch((e: unknown) => e)) as GrayDeployError;
    expect(error.code).toBe(ErrorCode.Timeout);
    expect(error.message).toMatch(
      /^0 of 1 gray instances .* healthy after .* \(gave up early: every launch crashed\)/,
    );
    expect(error.message).toMatch(/3 instances exited with code 1 before listening/);
    expect(proxy.stats().gray.requests).toBe(0);
    await fleet.retireGray(V1);
  });

  it("promotes by rolling replacement with zero failed requests at steady load, then reverts", async () => {
    const { fleet, proxy, url } = await fleetWith({ instances: 3 });
    const oldPids = fleet.instances("stable").map((i) => i.pid);
    const load = new LoadGenerator({ url, rps: 200 });
    cleanups.push(() => load.close());
    load.start();
    await waitFor("traffic flowing", () => load.stats().completed > 100);

    const result = await fleet.promote(V2, 30_000);
    expect(result).toEqual({ ok: true });
    expect(fleet.stableVersion).toBe(V2);
    const promoted = fleet.instances("stable");
    expect(promoted.map((i) => [i.version, i.health])).toEqual([
      [V2, "healthy"],
      [V2, "healthy"],
      [V2, "healthy"],
    ]);
    expect(oldPids.some(isAlive)).toBe(false);
    await waitFor("new version serving", () => (load.stats().byVersion[V2]?.requests ?? 0) > 50);

    await fleet.revertStable(V1, 30_000);
    expect(fleet.instances("stable").every((i) => i.version === V1)).toBe(true);
    await waitFor("old version serving again", () => (load.stats().byVersion[V1]?.requests ?? 0) > 300);

    const client = await load.stop();
    expect(client.failed).toBe(0);
    expect(client.dropped).toBe(0);
    expect(client.completed).toBe(client.sent);
    expect(proxy.stats().stable.errors).toBe(0);
    expect(proxy.stats().lbErrors).toBe(0);
    expect(Object.keys(client.byVersion).sort()).toEqual([V1, V2].sort());
  });

  it("a refresh whose new instance fails is rolled back: stable stays whole on the old version", async () => {
    const { fleet, proxy } = await fleetWith({ grayCrash: true });
    const result = await fleet.promote(V2, 10_000);
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.reason).toMatch(/exited with code 1/);
    expect(fleet.stableVersion).toBe(V1);
    expect(fleet.instances("stable").map((i) => [i.version, i.alive])).toEqual([
      [V1, true],
      [V1, true],
    ]);
    expect(proxy.health().stable).toEqual({ healthy: 2, unhealthy: 0 });
  });

  it("honours an aborted signal", async () => {
    const { fleet } = await fleetWith();
    const controller = new AbortController();
    const pending = fleet.scaleGray(V2, 1, 20_000, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });

  it("dispose stops every child process", async () => {
    const { fleet } = await fleetWith();
    await fleet.scaleGray(V2, 1, 20_000);
    const pids = fleet.instances().map((i) => i.pid);
    expect(pids).toHaveLength(3);
    expect(pids.every(isAlive)).toBe(true);
    await fleet.dispose();
    await fleet.dispose();
    expect(pids.filter(isAlive)).toEqual([]);
    await expect(fleet.scaleGray(V2, 1, 1000)).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });
});

describe("no child outlives its parent", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("children exit when the parent is SIGKILLed (no dispose, no exit handler)", async () => {
    const script = fileURLToPath(new URL("./fixtures/orphan-parent.ts", import.meta.url));
    const parent = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdio: ["ignore", "pipe", "inherit"],
    });
    let pids: number[] = [];
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        parent.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        parent.once("exit", (code) => reject(new Error(`parent exited early with ${code}`)));
      });
      pids = (JSON.parse(line) as { pids: number[] }).pids;
      expect(pids).toHaveLength(3);
      expect(pids.every(isAlive)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
    await waitFor("every child of the killed parent to exit", () => !pids.some(isAlive), 10_000);
  });
});
