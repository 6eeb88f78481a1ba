/**
 * The local router's smoke test over the real proxy and a real gray instance, with a real TCP front
 * before the proxy that resets connections on demand (a load balancer that gave no answer). No answer
 * is asked again (RETRY.smokeCheck, as the AWS router does); an answer is judged once.
 */
import { type AddressInfo, createServer, type Server, Socket } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/contract/errors.js";
import type { ServiceInstance } from "../../src/local/instance.js";
import { TrafficMetrics } from "../../src/local/metrics.js";
import { StaticWeightSource, WeightedProxy } from "../../src/local/proxy.js";
import { LocalTrafficRouter } from "../../src/local/router.js";
import { startInstances, targetsOf, waitFor } from "./helpers.js";

const HEALTH = { intervalMs: 100, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 2 };

/** The proxy as clients reach it: through `front`, which resets the first `reset` connections. */
class FrontedProxy extends WeightedProxy {
  front = "";
  override get url(): string {
    return this.front;
  }
}

describe("the local smoke test through the gray header route", () => {
  let gray: ServiceInstance[];
  let proxy: FrontedProxy;
  let front: Server;
  const sockets = new Set<Socket>();
  let reset = 0;
  let connections = 0;

  beforeAll(async () => {
    gray = await startInstances(1, "gray", "v2");
    const source = new StaticWeightSource({ weights: { stable: 100, gray: 0 }, stickinessSeconds: null });
    proxy = new FrontedProxy({
      weights: source,
      sink: new TrafficMetrics({ periodMs: 1000 }),
      healthCheck: HEALTH,
    });
    const target = new URL(await proxy.start());
    front = createServer((client) => {
      connections++;
      sockets.add(client);
      client.on("close", () => sockets.delete(client));
      if (reset > 0) {
        reset--;
        client.resetAndDestroy();
        return;
      }
      const upstream = new Socket();
      sockets.add(upstream);
      upstream.on("close", () => sockets.delete(upstream));
      upstream.connect(Number(target.port), target.hostname, () => {
        client.pipe(upstream).pipe(client);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", end);
      upstream.on("error", end);
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    proxy.front = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  // Each test's first request on a new connection (the client keeps connections alive): the front
  // decides per connection.
  beforeEach(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    connections = 0;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => front?.close(r));
    await proxy?.close();
    await Promise.all((gray ?? []).map((i) => i.stop()));
  });

  const router = () =>
    new LocalTrafficRouter({
      proxy,
      source: new StaticWeightSource({ weights: { stable: 100, gray: 0 }, stickinessSeconds: null }),
      stickinessSeconds: null,
      grayVersion: () => "v2",
    });

  it("an answer that is wrong fails at once, never asked again: no healthy gray, the proxy's 503", async () => {
    const err = await router()
      .smokeTest()
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: ErrorCode.Verification });
    expect(String((err as Error).message)).toMatch(
      /smoke test GET \/health with x-gray-deploy-pool: gray answered 503/,
    );
    expect(connections).toBe(1);
  });

  it("no answer (the connection reset) is asked again; the passing line says how many went unanswered", async () => {
    void proxy.setTargets("gray", targetsOf(gray));
    await waitFor("gray healthy", () => proxy.health().gray.healthy === 1);
    reset = 1;
    const checked = await router().smokeTest();
    expect(connections).toBe(2);
    expect(checked).toHaveLength(1);
    expect(checked[0]).toMatch(
      /^GET \/health with x-gray-deploy-pool: gray → 200 from gray \(v2\) after 1 unanswered \(attempt 1: .+\)$/,
    );
  });

  it("no answer three times: fails, naming every attempt", async () => {
    reset = 3;
    const err = await router()
      .smokeTest()
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: ErrorCode.Verification, retryable: false });
    expect(String((err as Error).message)).toMatch(
      /smoke test GET \/health with x-gray-deploy-pool: gray got no answer \(attempt 1: .+; attempt 2: .+; attempt 3: .+\)/,
    );
    expect(connections).toBe(3);
  });
});
