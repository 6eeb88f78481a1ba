/**
 * The local environment as the engine sees it: the ports (router, fleet, metrics) plus the load
 * generator, over real processes and traffic; and its lifecycle (dispose, abort).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/contract/errors.js";
import { createLocalEnvironment, type LocalEnvironment } from "../../src/local/environment.js";
import { POOL_HEADER } from "../../src/local/proxy.js";
import { countBy, isAlive, localOptions, send, waitFor } from "./helpers.js";

const RELEASE = "gray-deploy/sample-gateway:next";

describe("local environment", () => {
  let env: LocalEnvironment;
  const logs: string[] = [];

  beforeAll(async () => {
    env = await createLocalEnvironment(
      localOptions({ instances: 2, rps: 150, grayErrorRate: "10%", metricPeriod: "500ms" }),
      { log: (l) => logs.push(l), stickinessSeconds: 30, healthCheck: { intervalMs: 200 } },
    );
  });
  afterAll(async () => {
    await env?.dispose();
  });

  it("starts the proxy and a healthy stable pool, and not the load", async () => {
    expect(env.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await env.router.targetHealth()).toEqual({
      stable: { healthy: 2, unhealthy: 0 },
      gray: { healthy: 0, unhealthy: 0 },
    });
    expect(env.load.running).toBe(false);
    const pre = await env.router.preflight();
    expect(pre).toMatchObject({ weights: { stable: 100, gray: 0 }, stickinessSeconds: 30 });
    expect(pre.facts.length).toBeGreaterThan(0);
    const fleetPre = await env.fleet.preflight({ image: RELEASE, commit: null, startedBy: "t" });
    expect(fleetPre).toMatchObject({ stableCapacity: 2, stableVersion: "gray-deploy/sample-gateway:stable" });
  });

  it("writes weights that the proxy applies and reads back, and refuses bad ones", async () => {
    await env.router.setWeights({ stable: 75, gray: 25 }, { stickiness: "configured" });
    expect(await env.router.getWeights()).toEqual({ stable: 75, gray: 25 });
    expect(env.proxy.forwardConfig().stickinessSeconds).toBe(30);
    await env.router.setWeights({ stable: 100, gray: 0 }, { stickiness: "off" });
    expect(env.proxy.forwardConfig()).toEqual({ weights: { stable: 100, gray: 0 }, stickinessSeconds: null });
    await expect(
      env.router.setWeights({ stable: 60, gray: 30 }, { stickiness: "off" }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
    });
    expect(await env.router.getWeights()).toEqual({ stable: 100, gray: 0 });
  });

  it("smoke-tests gray through the header route, failing while gray has no healthy instance", async () => {
    await expect(env.router.smokeTest()).rejects.toMatchObject({ code: ErrorCode.Verification });
    await env.fleet.prepare({ image: RELEASE, commit: null, startedBy: "t" }, null);
    await env.fleet.scaleGray(RELEASE, 1, 20_000);
    const checked = await env.router.smokeTest();
    expect(checked.join("\n")).toContain(`200 from gray (${RELEASE})`);
    const forced = await send(env.proxyUrl, 20, { headers: { [POOL_HEADER]: "gray" } });
    expect(countBy(forced, (a) => a.version)).toEqual({ [RELEASE]: 20 });
  });

  it("the load generator's view matches the proxy's and the metrics' numbers", async () => {
    await env.router.setWeights({ stable: 50, gray: 50 }, { stickiness: "configured" });
    const before = env.proxy.stats();
    env.load.reset();
    env.load.start();
    await waitFor("about 2 s of load", () => env.load.stats().completed >= 300);
    const client = await env.load.stop();
    const after = env.proxy.stats();
    const proxyGray = after.gray.requests - before.gray.requests;
    const proxyStable = after.stable.requests - before.stable.requests;

    // The same requests, counted on both sides of the proxy.
    expect(client.completed).toBe(client.sent);
    expect(client.byPool.gray?.requests).toBe(proxyGray);
    expect(client.byPool.stable?.requests).toBe(proxyStable);
    expect(client.byPool.gray?.failed).toBe(after.gray.errors - before.gray.errors);
    expect(client.byVersion[RELEASE]).toEqual(client.byPool.gray);
    // gray answers 500 for 10% of /v1 requests; stable for none. 150+ gray requests at p = 0.1:
    // P(no failure at all) < 1e-7.
    expect(client.byPool.stable?.failed).toBe(0);
    expect(client.byPool.gray?.failed).toBeGreaterThan(0);
    expect(client.byStatus["500"]).toBe(client.failed);

    // Once their periods are complete, the metrics hold every one of these requests.
    const end = Math.ceil(Date.now() / 500) * 500;
    await waitFor("periods complete", () => Date.now() >= end, 5000);
    const [w] = await env.metrics.read([{ start: end - 120_000, end }]);
    expect(w!.gray.requests).toBeGreaterThanOrEqual(proxyGray);
    expect(w!.gray.errors).toBeGreaterThanOrEqual(client.byPool.gray!.failed);
    expect(w!.gray.hasData).toBe(true);
  });

  it("keeps an open-loop schedule: a slow target does not slow the sending down", async () => {
    // All traffic on a gray that answers in 300 ms: a closed loop with few connections would send
    // far fewer; an open loop sends on schedule and has many requests in flight.
    await env.fleet.retireGray(RELEASE);
    const slow = await createLocalEnvironment(localOptions({ instances: 1, rps: 100, grayLatencyMs: 300 }), {
      healthCheck: { intervalMs: 200 },
    });
    try {
      await slow.fleet.scaleGray(RELEASE, 1, 20_000);
      await slow.router.setWeights({ stable: 0, gray: 100 }, { stickiness: "off" });
      const started = Date.now();
      slow.load.start();
      await waitFor("1 s of sending", () => Date.now() - started >= 1000);
      const midway = slow.load.stats();
      const stats = await slow.load.stop();
      expect(midway.inFlight).toBeGreaterThan(10);
      expect(stats.sent).toBeGreaterThanOrEqual(90);
      expect(stats.failed).toBe(0);
      expect(stats.latency!.p50Ms).toBeGreaterThanOrEqual(300);
    } finally {
      await slow.dispose();
    }
  });
});

describe("local environment lifecycle", () => {
  it("dispose is idempotent and leaves no child process, even with load running", async () => {
    const env = await createLocalEnvironment(localOptions({ instances: 2, rps: 50 }));
    await env.fleet.scaleGray(RELEASE, 1, 20_000);
    env.load.start();
    const pids = env.fleet.instances().map((i) => i.pid);
    expect(pids).toHaveLength(3);
    await Promise.all([env.dispose(), env.dispose()]);
    await env.dispose();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(env.load.running).toBe(false);
    await expect(send(env.proxyUrl, 1)).rejects.toThrow();
  });

  it("an aborted start leaves nothing behind", async () => {
    const controller = new AbortController();
    controller.abort(new Error("operator pressed Ctrl-C"));
    await expect(
      createLocalEnvironment(localOptions({ instances: 1 }), { signal: controller.signal }),
    ).rejects.toMatchObject({ code: ErrorCode.Aborted });

    const late = new AbortController();
    const starting = createLocalEnvironment(localOptions({ instances: 2 }), { signal: late.signal });
    setTimeout(() => late.abort(), 20);
    await expect(starting).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });
});
