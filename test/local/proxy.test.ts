/**
 * The weighted proxy with real sample-service processes and real HTTP: weights, stickiness, the
 * header route, health checks, connection errors, drains.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ServiceInstance } from "../../src/local/instance.js";
import { TrafficMetrics } from "../../src/local/metrics.js";
import { POOL_HEADER, STICKY_COOKIE, StaticWeightSource, WeightedProxy } from "../../src/local/proxy.js";
import { countBy, send, startInstances, targetsOf, waitFor } from "./helpers.js";

const FAST_HEALTH = { intervalMs: 100, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 2 };

describe("weighted proxy", () => {
  let stable: ServiceInstance[];
  let gray: ServiceInstance[];
  const proxies: WeightedProxy[] = [];

  beforeAll(async () => {
    [stable, gray] = await Promise.all([startInstances(2, "stable", "v1"), startInstances(2, "gray", "v2")]);
  });
  afterAll(async () => {
    await Promise.all([...stable, ...gray].map((i) => i.stop()));
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  async function proxyWith(
    weights: { stable: number; gray: number },
    stickinessSeconds: number | null = null,
  ) {
    const source = new StaticWeightSource({ weights, stickinessSeconds });
    const metrics = new TrafficMetrics({ periodMs: 1000 });
    const proxy = new WeightedProxy({ weights: source, sink: metrics, healthCheck: FAST_HEALTH });
    proxies.push(proxy);
    const url = await proxy.start();
    await Promise.all([
      proxy.setTargets("stable", targetsOf(stable)),
      proxy.setTargets("gray", targetsOf(gray)),
    ]);
    await waitFor("all four targets healthy", () => proxy.targets().every((t) => t.state === "healthy"));
    return { proxy, source, metrics, url };
  }

  it("sends about 5% to gray at weights 95/5, within a binomial bound", async () => {
    const { proxy, url } = await proxyWith({ stable: 95, gray: 5 });
    const n = 4000;
    const answers = await send(url, n);
    const grayCount = answers.filter((a) => a.pool === "gray").length;
    // Each request goes to gray independently with p = 0.05: X ~ Binomial(4000, 0.05), mean 200,
    // sd = sqrt(4000 · 0.05 · 0.95) ≈ 13.8. Accept mean ± 5 sd = [131, 269]; a correct proxy fails
    // this less than once in a million runs, a proxy off by a third (p = 0.033 or 0.067) almost always.
    const sd = Math.sqrt(n * 0.05 * 0.95);
    expect(grayCount).toBeGreaterThanOrEqual(Math.floor(200 - 5 * sd));
    expect(grayCount).toBeLessThanOrEqual(Math.ceil(200 + 5 * sd));
    // The client's view and the proxy's counters agree, and the version header follows the pool.
    expect(proxy.stats().gray.requests).toBe(grayCount);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.every((a) => a.version === (a.pool === "gray" ? "v2" : "v1"))).toBe(true);
    // Round-robin inside a pool: both gray targets share gray's requests.
    const perTarget = proxy.targets("gray").map((t) => t.requests);
    expect(Math.abs(perTarget[0]! - perTarget[1]!)).toBeLessThanOrEqual(1);
  });

  it("gives exactly zero to a pool with weight 0, in both directions", async () => {
    const { proxy, source, url } = await proxyWith({ stable: 100, gray: 0 });
    const toStable = await send(url, 500);
    expect(countBy(toStable, (a) => a.pool)).toEqual({ stable: 500 });
    expect(proxy.stats().gray.requests).toBe(0);
    source.set({ weights: { stable: 0, gray: 100 }, stickinessSeconds: null });
    const toGray = await send(url, 300);
    expect(countBy(toGray, (a) => a.pool)).toEqual({ gray: 300 });
    expect(proxy.stats().stable.requests).toBe(500);
  });

  it("treats weights as relative integers, like an ALB forward action", async () => {
    const { url } = await proxyWith({ stable: 3, gray: 1 });
    const answers = await send(url, 2000);
    const grayCount = answers.filter((a) => a.pool === "gray").length;
    // Binomial(2000, 0.25): mean 500, sd ≈ 19.4; ± 5 sd.
    expect(grayCount).toBeGreaterThan(500 - 97);
    expect(grayCount).toBeLessThan(500 + 97);
  });

  it("pins a client with the stickiness cookie, even at weight 0, until stickiness is turned off", async () => {
    const { source, url } = await proxyWith({ stable: 0, gray: 100 }, 60);
    const [first] = await send(url, 1);
    expect(first?.pool).toBe("gray");
    expect(first?.setCookie).toMatch(new RegExp(`^${STICKY_COOKIE}=gray; Max-Age=60`));
    const cookie = first!.setCookie!.split(";")[0]!;

    // Weights move everyone else to stable; the pinned client stays on gray (ALB semantics, and the
    // reason a rollback must turn stickiness off).
    source.set({ weights: { stable: 100, gray: 0 }, stickinessSeconds: 60 });
    const pinned = await send(url, 50, { headers: { cookie: `session=abc; ${cookie}` } });
    expect(countBy(pinned, (a) => a.pool)).toEqual({ gray: 50 });
    const fresh = await send(url, 50);
    expect(countBy(fresh, (a) => a.pool)).toEqual({ stable: 50 });
    expect(fresh.every((a) => a.setCookie?.startsWith(`${STICKY_COOKIE}=stable`))).toBe(true);

    // Rollback: stickiness off. The same cookie no longer pins, and no new cookie is handed out.
    source.set({ weights: { stable: 100, gray: 0 }, stickinessSeconds: null });
    const released = await send(url, 50, { headers: { cookie } });
    expect(countBy(released, (a) => a.pool)).toEqual({ stable: 50 });
    expect(released.every((a) => a.setCookie === undefined)).toBe(true);
  });

  it("routes the force-gray header to gray whatever the weights", async () => {
    const { url } = await proxyWith({ stable: 100, gray: 0 });
    const forced = await send(url, 40, { headers: { [POOL_HEADER]: "gray" } });
    expect(countBy(forced, (a) => a.pool)).toEqual({ gray: 40 });
    expect(forced.every((a) => a.version === "v2" && a.status === 200)).toBe(true);
  });

  it("routes only the chosen customers' requests (header or cookie) to gray while the weights keep stable 100%", async () => {
    const pilot = {
      id: "pilot",
      priority: 5,
      conditions: [{ header: "X-Tenant", values: ["acme"] }],
      weights: { stable: 0, gray: 100 },
    };
    const cookie = {
      ...pilot,
      id: "pilot-cookie",
      conditions: [{ header: "Cookie", values: ["*pilot=internal*"] }],
    };
    const { proxy, source, url } = await proxyWith({ stable: 100, gray: 0 });
    const config = { weights: { stable: 100, gray: 0 }, stickinessSeconds: null, routes: [pilot, cookie] };
    source.set(config);
    const [chosen, byCookie, others, nearMiss] = await Promise.all([
      send(url, 200, { headers: { "x-tenant": "ACME" } }),
      send(url, 100, { headers: { cookie: "session=1; pilot=internal" } }),
      send(url, 400),
      send(url, 200, { headers: { "x-tenant": "acme-2" } }),
    ]);
    expect(countBy(chosen, (a) => a.pool)).toEqual({ gray: 200 });
    expect(countBy(byCookie, (a) => a.pool)).toEqual({ gray: 100 });
    expect(countBy(others, (a) => a.pool)).toEqual({ stable: 400 });
    expect(countBy(nearMiss, (a) => a.pool)).toEqual({ stable: 200 });
    expect(proxy.stats().routes).toMatchObject({
      pilot: { stable: 0, gray: 200 },
      "pilot-cookie": { stable: 0, gray: 100 },
      weighted: { stable: 600, gray: 0 },
    });
  });
});

describe("proxy health checks and failures", () => {
  const proxies: WeightedProxy[] = [];
  const owned: ServiceInstance[] = [];
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(owned.splice(0).map((i) => i.stop()));
  });

  async function setup(healthCheck = FAST_HEALTH) {
    const source = new StaticWeightSource({ weights: { stable: 100, gray: 0 }, stickinessSeconds: null });
    const metrics = new TrafficMetrics({ periodMs: 1000 });
    const proxy = new WeightedProxy({ weights: source, sink: metrics, healthCheck });
    proxies.push(proxy);
    const url = await proxy.start();
    return { proxy, source, metrics, url };
  }

  it("takes a killed target out of rotation, and no client sees it afterwards", async () => {
    const { proxy, url } = await setup();
    const instances = await startInstances(2, "stable", "v1");
    owned.push(...instances);
    void proxy.setTargets("stable", targetsOf(instances));
    await waitFor("both healthy", () => proxy.health().stable.healthy === 2);
    const [victim, survivor] = instances as [ServiceInstance, ServiceInstance];
    victim.kill();
    await victim.exited;
    await waitFor("victim unhealthy", () => proxy.health().stable.unhealthy === 1);
    const victimBefore = proxy.targets().find((t) => t.id === victim.id)!.requests;
    const answers = await send(url, 200);
    expect(countBy(answers, (a) => String(a.status))).toEqual({ "200": 200 });
    expect(proxy.targets().find((t) => t.id === victim.id)!.requests).toBe(victimBefore);
    expect(proxy.targets().find((t) => t.id === survivor.id)!.state).toBe("healthy");
    expect(proxy.health().stable).toEqual({ healthy: 1, unhealthy: 1 });
  });

  it("answers 502 for a target that stopped answering before health checks noticed, as that pool's errors", async () => {
    // Health checks one minute apart: the target dies between two checks, as it would on an ALB.
    const { proxy, source, metrics, url } = await setup({
      ...FAST_HEALTH,
      intervalMs: 60_000,
      healthyThreshold: 1,
    });
    const [target] = await startInstances(1, "gray", "v2");
    owned.push(target!);
    void proxy.setTargets("gray", targetsOf([target!]));
    await waitFor("gray healthy", () => proxy.health().gray.healthy === 1);
    source.set({ weights: { stable: 0, gray: 100 }, stickinessSeconds: null });
    target!.kill();
    await target!.exited;
    const start = Date.now();
    const answers = await send(url, 20, { concurrency: 4 });
    expect(countBy(answers, (a) => `${a.status} ${a.pool}`)).toEqual({ "502 gray": 20 });
    expect(proxy.stats().gray).toMatchObject({ requests: 20, errors: 20, connectionErrors: 20 });
    expect(proxy.stats().gray.firstRequestAt).toBeGreaterThanOrEqual(start);
    expect(proxy.stats().stable.requests).toBe(0);
    const sent = Date.now();
    const [w] = await metrics.read([{ start: start - 2000, end: sent + 2000 }]);
    // Only complete periods are read, and the 20 requests may span a period boundary (a slow send
    // on a loaded machine): count once the period holding the last of them is complete. Waiting
    // for the first period with an error read 6 of 20 when the requests straddled two periods.
    const lastEnd = sent - (sent % metrics.periodMs) + metrics.periodMs;
    await waitFor("the period of the last request complete", () => Date.now() >= lastEnd, 5000);
    const total = metrics.periods().reduce((n, p) => n + p.gray.connectionErrors, 0);
    expect(total).toBe(20);
    expect(w?.stable.requests).toBe(0);
  });

  it("never sends to a target that never passed a health check; answers 503 as a load-balancer error", async () => {
    const { proxy, source, url } = await setup();
    // Nothing listens on port 9 (discard) on a test machine: the check is refused.
    void proxy.setTargets("gray", [{ id: "gray-dead", host: "127.0.0.1", port: 9 }]);
    source.set({ weights: { stable: 0, gray: 100 }, stickinessSeconds: null });
    await waitFor("gray target unhealthy", () => proxy.health().gray.unhealthy === 1);
    const answers = await send(url, 10);
    expect(countBy(answers, (a) => `${a.status} ${a.pool}`)).toEqual({ "503 none": 10 });
    expect(proxy.stats().gray.requests).toBe(0);
    expect(proxy.stats().lbErrors).toBe(10);
    expect(proxy.targets("gray")[0]?.reason).toMatch(/ECONNREFUSED/);
  });

  it("drains a deregistered target: in-flight requests finish, new ones go elsewhere", async () => {
    const { proxy, url } = await setup();
    const [slow] = await startInstances(1, "stable", "slow", { latencyMs: 400 });
    const [fast] = await startInstances(1, "stable", "fast");
    owned.push(slow!, fast!);
    void proxy.setTargets("stable", targetsOf([slow!]));
    await waitFor("slow healthy", () => proxy.health().stable.healthy === 1);
    const inFlight = send(url, 8, { concurrency: 8 });
    await waitFor("requests in flight", () => proxy.targets()[0]!.requests === 8, 5000);
    const drained = proxy.setTargets("stable", targetsOf([fast!]));
    const during = await send(url, 5).catch(() => []);
    await drained;
    const answers = await inFlight;
    expect(countBy(answers, (a) => `${a.status} ${a.version}`)).toEqual({ "200 slow": 8 });
    // Until fast passes its checks there is no healthy stable target: the proxy says so (503), it
    // does not send to the draining one.
    expect(during.every((a) => a.status === 503 || a.version === "fast")).toBe(true);
  });
});
