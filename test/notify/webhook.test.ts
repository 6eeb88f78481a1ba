/**
 * Webhook notifications against real local HTTP servers: one that records, one that fails (500),
 * one that hangs, and a closed port. A notification never blocks or breaks a rollout, is logged
 * once when it fails, and the URL (a secret) appears in no log line.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { deployRequest } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { fanOut } from "../../src/engine/events.js";
import { deployGray } from "../../src/engine/verbs.js";
import { createWebhookNotifier, type NotificationPayload } from "../../src/notify/webhook.js";
import { SCENARIOS } from "../report/scenarios.js";
import { MemoryWorld, OWNER } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

const SECRET = "T0001/B0002/s3cr3tT0kenXYZ";
const servers: Server[] = [];
const hanging: ServerResponse[] = [];

afterEach(async () => {
  for (const r of hanging.splice(0)) r.destroy();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => handler(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}/services/${SECRET}` };
}

/** A port that was just free: connecting to it is refused. */
async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/services/${SECRET}`;
}

const context = { image: "registry.example/gatewaypix:1.4.2", target: "local", scope: "local" };

async function rolledBackEvents(): Promise<EngineEvent[]> {
  return (await SCENARIOS["rolled-back"]()).events;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

describe("webhook notifier", () => {
  it("posts each phase change and the outcome, in order, with a Slack-compatible text and structured fields", async () => {
    const received: { path: string | undefined; type: string | undefined; body: NotificationPayload }[] = [];
    const { url } = await serve((req, res, body) => {
      received.push({ path: req.url, type: req.headers["content-type"], body: JSON.parse(body) });
      res.writeHead(200).end("ok");
    });
    const lines: string[] = [];
    const n = createWebhookNotifier({ url, context, log: (l) => lines.push(l) });
    const events = await rolledBackEvents();
    for (const e of events) n.listener(e);
    const stats = await n.flush(5000);

    const phases = events.filter((e) => e.type === "phase").map((e) => (e.type === "phase" ? e.to : ""));
    expect(received.map((r) => r.body.event)).toEqual([...phases.map(() => "phase"), "outcome"]);
    expect(received.map((r) => r.body.phase)).toEqual([...phases, "rolled-back"]);
    expect(stats).toMatchObject({ delivered: phases.length + 1, failed: 0, dropped: 0, pending: 0 });
    expect(received[0]!.path).toBe(`/services/${SECRET}`);
    expect(received[0]!.type).toBe("application/json");

    const rollingBack = received.find((r) => r.body.phase === "rolling-back")!.body;
    expect(rollingBack).toMatchObject({
      event: "phase",
      previousPhase: "shifting",
      rolloutId: "rollout-1",
      weights: { stable: 95, gray: 5 },
      image: context.image,
      target: "local",
    });
    // The reason of the phase change is the decision that caused it.
    const rollback = events.find((e) => e.type === "decision" && e.decision.kind === "rollback");
    const why = rollback?.type === "decision" ? rollback.decision.reason : "";
    expect(why).not.toBe("");
    expect(rollingBack.reason).toBe(why);
    expect(rollingBack.text).toContain(`shifting → rolling-back — ${why}`);
    const outcome = received[received.length - 1]!.body;
    expect(outcome).toMatchObject({
      event: "outcome",
      outcome: "rolled-back",
      exitCode: 3,
      weights: { stable: 100, gray: 0 },
    });
    expect(outcome.text).toMatch(
      /^↩️ gray-deploy ROLLED-BACK: registry\.example\/gatewaypix:1\.4\.2 on local — rolled back: /,
    );
    expect(lines).toEqual([]);
  });

  it("a server answering 500 is logged once, without the URL, and breaks nothing", async () => {
    let calls = 0;
    const { url } = await serve((_req, res) => {
      calls++;
      res.writeHead(500).end("boom");
    });
    const lines: string[] = [];
    const n = createWebhookNotifier({ url, context, log: (l) => lines.push(l) });
    const events = await rolledBackEvents();
    const spent = timed(() => {
      for (const e of events) n.listener(e);
    });
    expect(spent).toBeLessThan(50);
    const stats = await n.flush(5000);
    expect(calls).toBe(stats.queued);
    expect(stats.failed).toBe(stats.queued);
    expect(stats.delivered).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/not delivered \(HTTP 500\)/);
    for (const l of lines) {
      expect(l).not.toContain(SECRET);
      expect(l).not.toContain(url);
      expect(l).not.toContain("127.0.0.1");
    }
  });

  it("connection refused is logged once, without the URL", async () => {
    const url = await closedPortUrl();
    const lines: string[] = [];
    const n = createWebhookNotifier({ url, context, log: (l) => lines.push(l) });
    for (const e of await rolledBackEvents()) n.listener(e);
    const stats = await n.flush(5000);
    expect(stats.failed).toBe(stats.queued);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/connection refused/);
    expect(lines[0]).not.toContain(SECRET);
  });

  it("a server that never answers costs at most the timeout per message and the flush deadline in total", async () => {
    let accepted = 0;
    const { url } = await serve((_req, res) => {
      accepted++;
      hanging.push(res); // never answered
    });
    const lines: string[] = [];
    const n = createWebhookNotifier({
      url,
      context,
      log: (l) => lines.push(l),
      timeoutMs: 150,
      maxQueue: 50,
    });
    const events = await rolledBackEvents();
    const spent = timed(() => {
      for (const e of events) n.listener(e);
    });
    expect(spent).toBeLessThan(50);
    const t = performance.now();
    const stats = await n.flush(400);
    const waited = performance.now() - t;
    expect(waited).toBeLessThan(1500);
    expect(waited).toBeGreaterThanOrEqual(350);
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(stats.delivered).toBe(0);
    expect(stats.failed).toBe(stats.queued);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no answer within 150ms/);
  });

  it("bounds its queue: the oldest phase messages are dropped, never the outcome", async () => {
    const received: NotificationPayload[] = [];
    const { url } = await serve((_req, res, body) => {
      received.push(JSON.parse(body));
      setTimeout(() => res.writeHead(204).end(), 30);
    });
    const lines: string[] = [];
    const n = createWebhookNotifier({ url, context, log: (l) => lines.push(l), maxQueue: 2 });
    const events = await rolledBackEvents();
    for (const e of events) n.listener(e);
    const stats = await n.flush(5000);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(received[received.length - 1]!.event).toBe("outcome");
    expect(received.length).toBe(stats.queued - stats.dropped);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/more than 2 messages waiting/);
  });

  it("an outcome no event carried (a refused run) is sent once", async () => {
    const received: NotificationPayload[] = [];
    const { url } = await serve((_req, res, body) => {
      received.push(JSON.parse(body));
      res.writeHead(200).end();
    });
    const refused = await SCENARIOS.refused();
    const n = createWebhookNotifier({ url, context });
    n.notifyOutcome(refused.outcome, Date.UTC(2026, 10, 26, 12));
    n.notifyOutcome(refused.outcome, Date.UTC(2026, 10, 26, 12));
    await n.flush(5000);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ event: "outcome", outcome: "refused", exitCode: 6, rolloutId: null });
    expect(received[0]!.text).toMatch(/REFUSED.*another rollout holds the lock/);
  });

  it("a rollout with a hanging webhook runs exactly as without one", async () => {
    const { url } = await serve((_req, res) => {
      hanging.push(res);
    });
    const run = async (withWebhook: boolean) => {
      const clock = new VirtualClock();
      const world = new MemoryWorld(clock, { rps: 300, errorRate: (v) => (v.startsWith("v2") ? 0.06 : 0) });
      const options = resolveOptions(
        { target: "local", image: "registry.example/gatewaypix:1.4.2" },
        { verb: "deploy-gray" },
      );
      const n = createWebhookNotifier({ url, context, timeoutMs: 200 });
      const t = performance.now();
      const outcome = await deployGray(deployRequest(options), world, {
        clock,
        owner: OWNER,
        newId: () => "rollout-1",
        onEvent: fanOut(withWebhook ? n.listener : undefined),
      });
      const wall = performance.now() - t;
      await n.flush(300);
      return { outcome, wall, calls: world.calls };
    };
    const without = await run(false);
    const withHook = await run(true);
    expect(withHook.outcome).toEqual(without.outcome);
    expect(withHook.calls).toEqual(without.calls);
    expect(withHook.outcome.outcome).toBe("rolled-back");
    // The rollout did not wait for the webhook: waiting would cost 200 ms (the timeout) for each of
    // the six messages, 1.2 s in all.
    expect(withHook.wall).toBeLessThan(without.wall + 600);
  });
});
