/**
 * The engine with a service signal, in virtual time: the gates read the service's own metrics at
 * their period and lateness while the load balancer's, much later, guard them. A bad release is
 * rolled back on the service's metrics before the load balancer has reported any of gray's traffic;
 * 5xx only the load balancer sees still roll back; signals that disagree (the service's metrics stop
 * arriving, 5xx the service does not count) hold the step and end in a pause that says why.
 */
import { describe, expect, it } from "vitest";
import { deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import { EMPTY_STATS } from "../../src/core/types.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { deployGray, type VerbContext } from "../../src/engine/verbs.js";
import type { MetricSource, Ports } from "../../src/ports/index.js";
import { MemoryMetrics, MemoryWorld, OWNER, type Scenario } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

const RELEASE = "registry.example/gateway:2.0.0";
const bad = (rate: number) => (v: string) => (v.startsWith("v2") ? rate : 0);

/**
 * A local plan with a service signal: the service's metrics at 1 s, 1 s late; the load balancer's
 * (the guard) at 10 s periods, 30 s late, as CloudWatch's lag is to a rollout's steps.
 */
function setup(o: {
  scenario?: Scenario;
  /** How the service reports the traffic (on top of the scenario). */
  service?: Partial<Scenario>;
  /** How the load balancer reports it. */
  alb?: Partial<Scenario>;
  /** Wraps the service's source (to drop what it reports). */
  wrap?: (m: MetricSource) => MetricSource;
  raw?: RawOptions;
}) {
  const clock = new VirtualClock();
  const world = new MemoryWorld(clock, o.scenario ?? {});
  const service = new MemoryMetrics(world, { periodMs: 1000, dataDelayMs: 1000, ...o.service });
  const alb = new MemoryMetrics(world, { periodMs: 10_000, dataDelayMs: 30_000, ...o.alb });
  const ports: Ports = {
    router: world.router,
    fleet: world.fleet,
    store: world.store,
    metrics: o.wrap ? o.wrap(service) : service,
    guard: alb,
  };
  const options = resolveOptions(
    {
      target: "local",
      image: RELEASE,
      signal: "service",
      metricPeriod: "10s",
      metricsDelay: "30s",
      rollbackWindow: "10s",
      promotionWindow: "20s",
      bake: "50s",
      maxBake: "90s",
      returnBake: "40s",
      ...o.raw,
    },
    { verb: "deploy-gray" },
  );
  const events: EngineEvent[] = [];
  const ctx: VerbContext = { clock, owner: OWNER, newId: () => "rollout-1", onEvent: (e) => events.push(e) };
  return { clock, world, ports, options, ctx, events };
}

const guardOf = (evidence: readonly { gate: string; verdict: string; reason: string }[]) =>
  evidence.find((g) => g.gate === "signal-guard");

describe("a service signal guarded by the load balancer's metrics", () => {
  it("rolls a 5%-error release back on the service's metrics before the load balancer reports any of gray's traffic", async () => {
    const { world, ports, options, ctx } = setup({ scenario: { errorRate: bad(0.05) } });
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(world.maxGrayWeight()).toBe(5);
    const rollback = outcome.decisions.find((d) => d.kind === "rollback")!;
    const first = world.weightLog.find((e) => e.weights.gray > 0)!.at;
    // Well within the load balancer's 30 s lateness (plus its 10 s period) of gray's first request.
    expect(Date.parse(rollback.at) - first).toBeLessThan(30_000);
    expect(guardOf(rollback.evidence)).toMatchObject({ verdict: "pass" });
    expect(guardOf(rollback.evidence)?.reason).toMatch(/no gray traffic .* in either signal/);
    expect(rollback.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate)).not.toContain(
      "signal-guard",
    );
  });

  it("promotes a healthy release: both signals agree at every step", async () => {
    const { ports, options, ctx } = setup({ raw: { steps: "25,100", returnSteps: "100" } });
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome, outcome.reason).toBe("promoted");
    // Every decision made on an observation (the first step is entered on gray's health alone).
    const judged = outcome.decisions.filter((d) => d.evidence.length > 0);
    expect(judged.map((d) => guardOf(d.evidence)?.verdict)).toEqual(judged.map(() => "pass"));
    expect(
      judged.some((d) =>
        /agrees over .*: gray \d+ requests \(service \d+\)/.test(guardOf(d.evidence)?.reason ?? ""),
      ),
    ).toBe(true);
  });

  it("rolls back on 5xx only the load balancer sees (the service counts none)", async () => {
    // At 25% the load balancer's 10 s window holds the 500 requests its 2% limit is judged on.
    const { world, ports, options, ctx } = setup({ alb: { errorRate: bad(0.05) }, raw: { steps: "25,100" } });
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(world.maxGrayWeight()).toBe(25);
    const rollback = outcome.decisions.find((d) => d.kind === "rollback")!;
    expect(rollback.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate)).toEqual([
      "signal-guard",
    ]);
    expect(outcome.reason).toMatch(/the load balancer's metrics over .*: gray error rate 5% > 2%/);
  });

  it("holds and then pauses a step whose service metrics stopped arriving, saying what the load balancer counted", async () => {
    const silentGray = (m: MetricSource): MetricSource => ({
      read: async (w, s, q) => (await m.read(w, s, q)).map((x) => ({ ...x, gray: EMPTY_STATS })),
    });
    const { world, ports, options, ctx } = setup({ wrap: silentGray });
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("paused");
    expect(world.maxGrayWeight()).toBe(5);
    const pause = outcome.decisions.find((d) => d.kind === "pause")!;
    expect(guardOf(pause.evidence)).toMatchObject({ verdict: "inconclusive" });
    expect(guardOf(pause.evidence)?.reason).toMatch(
      /the load balancer and the service disagree over .*: the load balancer counted \d+ gray requests, the service 0 \(no datapoint at all/,
    );
  });

  it("holds and then pauses a step where the load balancer sees 5xx the service does not count", async () => {
    // 1% under the load balancer: below the 2% limit, so not a rollback by itself.
    const { ports, options, ctx } = setup({ alb: { errorRate: bad(0.01) } });
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("paused");
    const pause = outcome.decisions.find((d) => d.kind === "pause")!;
    expect(pause.reason).toMatch(/the load balancer saw \d+ gray 5xx .*, the service counted 0/);
  });

  it("is read over the load balancer's own window: a target that offers no guard leaves the step inconclusive", async () => {
    const { ports, options, ctx } = setup({});
    const { guard: _none, ...unguarded } = ports;
    const outcome = await deployGray(deployRequest(options), unguarded, ctx);
    expect(outcome.outcome).toBe("paused");
    expect(outcome.reason).toMatch(/load balancer's metrics could not be read/);
  });
});
