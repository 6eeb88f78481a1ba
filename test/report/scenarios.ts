/**
 * Deterministic rollouts for report tests: the real engine and verbs against the in-memory world in
 * virtual time, each returning the Outcome, every engine event and the plan. Same input, same bytes.
 */
import { addressOf, deployRequest, policyOf } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Outcome } from "../../src/contract/outcome.js";
import type { Policy } from "../../src/core/policy.js";
import type { Pool } from "../../src/core/types.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { abort, deployGray, promote, type VerbContext } from "../../src/engine/verbs.js";
import { MemoryWorld, OWNER, type Scenario } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

export interface ScenarioRun {
  readonly outcome: Outcome;
  readonly events: EngineEvent[];
  readonly plan: Policy;
}

const IMAGE = "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gatewaypix:1.4.2";

/** Latency that wobbles like a real service: a slow sine per version, never random. */
function latency(version: string, pool: Pool, t: number, extra = 0) {
  const base = version.startsWith("v2") ? 62 : 70;
  const wobble = Math.sin(t / 9000 + (pool === "gray" ? 1 : 0)) * 9;
  const p95 = base + wobble + extra;
  return { p95: Math.round(p95 * 10) / 10, p99: Math.round((p95 * 1.9 + 12) * 10) / 10 };
}

function setup(scenario: Scenario, raw: RawOptions) {
  const clock = new VirtualClock();
  const world = new MemoryWorld(clock, scenario);
  const options = resolveOptions(
    { target: "local", image: IMAGE, commit: "4f2c9e1", startedBy: "maria.souza", ...raw },
    { verb: "deploy-gray" },
  );
  const events: EngineEvent[] = [];
  let n = 0;
  const ctx: VerbContext = {
    clock,
    owner: OWNER,
    newId: () => `rollout-${++n}`,
    onEvent: (e) => events.push(e),
  };
  return { clock, world, options, events, ctx, plan: policyOf(options) };
}

export const SCENARIOS = {
  /** A healthy release through every step, promoted. */
  async promoted(): Promise<ScenarioRun> {
    const s = setup({ rps: 300, latency: (v, p, t) => latency(v, p, t) }, {});
    const outcome = await deployGray(deployRequest(s.options), s.world, s.ctx);
    return { outcome, events: s.events, plan: s.plan };
  },

  /** 6% of the new version's requests fail: rolled back at the first step. */
  async "rolled-back"(): Promise<ScenarioRun> {
    const s = setup(
      {
        rps: 300,
        errorRate: (v) => (v.startsWith("v2") ? 0.06 : 0.001),
        latency: (v, p, t) => latency(v, p, t, v.startsWith("v2") ? 40 : 0),
      },
      {},
    );
    const outcome = await deployGray(deployRequest(s.options), s.world, s.ctx);
    return { outcome, events: s.events, plan: s.plan };
  },

  /**
   * A fault that shows only under load: healthy at 5% and 25%, then 4% errors and slower responses
   * once gray takes half the traffic. The runbook's example chart (docs/images/timeline-example.svg).
   */
  async "rolled-back-at-50"(): Promise<ScenarioRun> {
    let world: MemoryWorld | null = null;
    // The weights in force when the measured period ran (t is ms since the world started).
    const heavy = (t: number) => world !== null && world.weightsAt(world.t0 + t).gray >= 50;
    const s = setup(
      {
        rps: 300,
        errorRate: (v, _p, t) => (v.startsWith("v2") && heavy(t) ? 0.04 : 0.001),
        latency: (v, p, t) => latency(v, p, t, v.startsWith("v2") && heavy(t) ? 140 : 0),
      },
      {},
    );
    world = s.world;
    const outcome = await deployGray(deployRequest(s.options), s.world, s.ctx);
    return { outcome, events: s.events, plan: s.plan };
  },

  /** A manual gate before 50%: paused, waiting for `promote`. */
  async "paused-approval"(): Promise<ScenarioRun> {
    const s = setup({ rps: 300, latency: (v, p, t) => latency(v, p, t) }, { approveBefore: "50" });
    const outcome = await deployGray(deployRequest(s.options), s.world, s.ctx);
    return { outcome, events: s.events, plan: s.plan };
  },

  /** The gate above approved by `promote` in a later run: its report covers the rest of the rollout. */
  async "approved-promoted"(): Promise<ScenarioRun> {
    const s = setup({ rps: 300, latency: (v, p, t) => latency(v, p, t) }, { approveBefore: "50" });
    await deployGray(deployRequest(s.options), s.world, s.ctx);
    s.events.length = 0;
    await s.clock.sleep(5 * 60_000);
    const outcome = await promote(addressOf(s.options), s.world, s.ctx, {
      by: "joao.lima",
      reason: "dashboards look fine",
    });
    return { outcome, events: s.events, plan: s.plan };
  },

  /** An operator aborts during the 25% bake. */
  async aborted(): Promise<ScenarioRun> {
    const s = setup({ rps: 300, latency: (v, p, t) => latency(v, p, t) }, { approveBefore: "25" });
    await deployGray(deployRequest(s.options), s.world, s.ctx);
    s.events.length = 0;
    await s.clock.sleep(2 * 60_000);
    const outcome = await abort(addressOf(s.options), s.world, s.ctx, {
      by: "oncall",
      reason: "incident INC-4711 elsewhere",
    });
    return { outcome, events: s.events, plan: s.plan };
  },

  /** The load balancer refuses every write back to stable: a person must act. */
  async "rollback-failed"(): Promise<ScenarioRun> {
    const s = setup(
      {
        rps: 300,
        errorRate: (v) => (v.startsWith("v2") ? 0.2 : 0),
        latency: (v, p, t) => latency(v, p, t),
        routerWriteFails: (w) => w.gray === 0,
      },
      {},
    );
    const outcome = await deployGray(deployRequest(s.options), s.world, s.ctx);
    return { outcome, events: s.events, plan: s.plan };
  },

  /** A second release while the first waits at its gate: refused, nothing changed. */
  async refused(): Promise<ScenarioRun> {
    const s = setup({ rps: 300 }, { approveBefore: "25" });
    await deployGray(deployRequest(s.options), s.world, s.ctx);
    s.events.length = 0;
    const other = resolveOptions(
      { target: "local", image: `${IMAGE.replace("1.4.2", "1.4.3")}`, startedBy: "ci" },
      { verb: "deploy-gray" },
    );
    const outcome = await deployGray(deployRequest(other), s.world, s.ctx);
    return { outcome, events: s.events, plan: policyOf(other) };
  },
} satisfies Record<string, () => Promise<ScenarioRun>>;

export type ScenarioName = keyof typeof SCENARIOS;
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];
