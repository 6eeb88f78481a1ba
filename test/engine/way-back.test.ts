/**
 * Issue 17 in the engine, against in-memory ports in virtual time: the fleets following a load that
 * climbs during the rollout, keep-previous (the window, a rollback inside it, the way it ends), and
 * rollback-release after a promotion (its steps, its refusals, its idempotence).
 */
import { describe, expect, it } from "vitest";
import { addressOf, deployRequest } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Outcome } from "../../src/contract/outcome.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { rollbackRelease } from "../../src/engine/rollback-release.js";
import { deployGray, status, type VerbContext } from "../../src/engine/verbs.js";
import { MemoryWorld, OWNER, type Scenario } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

function setup(scenario: Scenario = {}, raw: RawOptions = {}) {
  const clock = new VirtualClock();
  const world = new MemoryWorld(clock, scenario);
  const options = resolveOptions(
    { target: "local", image: "registry.example/gateway:2.0.0", ...raw },
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
  const at = addressOf(options);
  return { clock, world, options, events, ctx, at };
}

const scales = (o: Outcome) =>
  o.decisions
    .filter((d) => d.kind === "scale")
    .map((d) => `${d.capacity?.pool}:${d.capacity?.from}→${d.capacity?.to}`);

describe("the fleets follow the load", () => {
  it("a load that climbs from 200 to 800 requests/s during 50% and 100% grows stable and gray; promoted", async () => {
    // 100 requests/s per instance; stable starts at 4 for 200 requests/s (50% used).
    const { world, options, ctx } = setup(
      {
        sizes: { perInstanceRps: 100 },
        // 25% runs 1–14 s, 50% 14–28 s, 100% 28–42 s: the load climbs from 14 s to 34 s.
        rpsAt: (t) => (t < 14_000 ? 200 : Math.min(800, 200 + ((t - 14_000) * 600) / 20_000)),
      },
      { steps: "25,50,100", followLoadDelay: "2s" },
    );
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome, outcome.reason).toBe("promoted");
    const changes = scales(outcome);
    // Stable is held at the whole load's size, and gray follows it: both end at 8 (800 ÷ 100).
    expect(changes.filter((c) => c.startsWith("stable")).at(-1)).toMatch(/→8$/);
    expect(Math.max(...changes.filter((c) => c.startsWith("gray")).map((c) => Number(c.split("→")[1])))).toBe(
      8,
    );
    // Each change is recorded with its reason, in status too.
    const first = outcome.decisions.find((d) => d.kind === "scale")!;
    expect(first.reason).toMatch(/the whole load is \d+ requests\/s, 100 requests\/s per instance/);
    const s = await status(addressOf(options), world, ctx.clock.now());
    expect(s.decisions.filter((d) => d.kind === "scale")).toHaveLength(changes.length);
    // Nothing was changed before gray carried traffic, and no change was undone within the delay.
    expect(outcome.decisions.findIndex((d) => d.kind === "scale")).toBeGreaterThan(
      outcome.decisions.findIndex((d) => d.kind === "set-weights"),
    );
    expect(world.fleet.pinned).toBe(false);
  });

  it("with --gray-capacity fixed (the behaviour before), gray keeps each step's size", async () => {
    const { world, options, ctx } = setup(
      { sizes: { perInstanceRps: 100 }, rpsAt: (t) => (t < 27_000 ? 200 : 800) },
      { steps: "25,50,100", grayCapacity: "fixed" },
    );
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("promoted");
    expect(scales(outcome)).toEqual([]);
    expect(world.calls.filter((c) => c.startsWith("fleet.scaleGray"))).toEqual([
      "fleet.scaleGray 1",
      "fleet.scaleGray 2",
      "fleet.scaleGray 4",
    ]);
  });
});

describe("keep-previous", () => {
  it("keeps the previous version warm after 100% passes, shows the window's end, then promotes", async () => {
    const { world, options, ctx, clock, at } = setup({}, { steps: "50,100", keepPrevious: "5m" });
    let during: Outcome | null = null;
    let refreshedWhileKeeping = false;
    const outcome = await (async () => {
      const run = deployGray(deployRequest(options), world, ctx);
      // Look while the window is open (the rollout is in it after ~40 s of virtual time).
      clock.at(clock.now() + 120_000, () => {
        void status(at, world, clock.now()).then((o) => {
          during = o;
          refreshedWhileKeeping = world.fleet.stableVersion !== "v1";
        });
      });
      return run;
    })();
    expect(outcome.outcome).toBe("promoted");
    expect(during!.phase).toBe("keeping");
    expect(during!.keepPreviousUntil).toMatch(/^\d{4}-/);
    expect(refreshedWhileKeeping).toBe(false);
    const keep = outcome.decisions.find((d) => d.kind === "keep")!;
    const promote = outcome.decisions.find((d) => d.kind === "promote")!;
    expect(Date.parse(promote.at) - Date.parse(keep.at)).toBeGreaterThanOrEqual(300_000);
    expect(promote.reason).toMatch(/keep-previous window ended/);
  });

  it("a rollback inside the window is one verified weight write back to stable", async () => {
    let failAfter = Number.POSITIVE_INFINITY;
    const { world, options, ctx } = setup(
      { errorRate: (v, _p, t) => (v.startsWith("v2") && t > failAfter ? 0.2 : 0) },
      { steps: "50,100", keepPrevious: "5m" },
    );
    // The release degrades two minutes into the window (a late regression).
    const originalRecord = world.router.setWeights.bind(world.router);
    world.router.setWeights = async (w, o, signal) => {
      await originalRecord(w, o, signal);
      if (w.gray === 100) failAfter = world.clock.now() - world.t0 + 60_000;
    };
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.reason).toMatch(/in the keep-previous window/);
    expect(outcome.steps.map((s) => `${s.weight}:${s.verdict}`)).toEqual(["50:pass", "100:pass"]);
    const after = world.calls.slice(world.calls.findIndex((c) => c.includes("setWeights 0/100")) + 1);
    expect(after.filter((c) => c.startsWith("router.setWeights"))).toEqual(["router.setWeights 100/0 off"]);
    expect(world.calls).not.toContain("fleet.promote");
    expect(world.fleet.stableVersion).toBe("v1");
  });
});

describe("rollback-release", () => {
  it("after a promotion: gray on the previous version, one write to it, stable refreshed back, restored", async () => {
    const { world, options, ctx, clock, at } = setup({}, { steps: "50,100" });
    const promoted = await deployGray(deployRequest(options), world, ctx);
    expect(promoted.outcome).toBe("promoted");
    expect(promoted.rollbackReleaseUntil).toBe(
      new Date(Date.parse(promoted.endedAt!) + 86_400_000).toISOString(),
    );
    clock.at(clock.now() + 3_600_000, () => undefined);
    await clock.sleep(3_600_000);
    const from = world.calls.length;
    const restored = await rollbackRelease(at, world, ctx, { by: "oncall", reason: "settlement mismatch" });
    expect(restored.outcome, restored.reason).toBe("restored");
    expect(restored.exitCode).toBe(0);
    expect(restored.reason).toMatch(
      /restored v1 \(version v1\) on the stable fleet, rolling back registry\.example\/gateway:2\.0\.0/,
    );
    expect(restored.restoreOf).toMatchObject({
      rolloutId: promoted.rolloutId,
      version: "v2:registry.example/gateway:2.0.0",
    });
    expect(world.calls.slice(from)).toEqual([
      "router.preflight",
      "fleet.preflight",
      "fleet.prepare",
      "fleet.scaleGray 4",
      "router.setWeights 0/100 configured",
      "fleet.revertStable v1",
      "router.setWeights 100/0 configured",
      "fleet.retireGray",
      "fleet.releaseStable",
    ]);
    expect(world.fleet.stableVersion).toBe("v1");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    // Idempotent: again, it answers what it did.
    const again = await rollbackRelease(at, world, ctx, { by: "oncall" });
    expect(again.outcome).toBe("restored");
    expect(again.reason).toMatch(/^already restored/);
    expect(world.calls.length).toBe(from + 9);
  });

  it("is refused outside its window, with the reason and the fix, changing nothing", async () => {
    const { world, options, ctx, clock, at } = setup({}, { steps: "50,100", rollbackReleaseWindow: "1h" });
    await deployGray(deployRequest(options), world, ctx);
    await clock.sleep(3_600_001);
    const calls = world.calls.length;
    const refused = await rollbackRelease(at, world, ctx, { by: "oncall" });
    expect(refused.outcome).toBe("refused");
    expect(refused.exitCode).toBe(2);
    expect(refused.reason).toMatch(
      /available for 1h after promotion: .* promoted at .*its window ended at .* deploy-gray --image/,
    );
    expect(world.calls.length).toBe(calls);
  });

  it("is refused without a promoted release: nothing recorded, or a rollout that rolled back", async () => {
    const { world, options, ctx, at } = setup({ errorRate: (v) => (v.startsWith("v2") ? 0.2 : 0) });
    expect((await rollbackRelease(at, world, ctx, { by: "oncall" })).reason).toMatch(
      /no rollout is recorded/,
    );
    await deployGray(deployRequest(options), world, ctx);
    const refused = await rollbackRelease(at, world, ctx, { by: "oncall" });
    expect(refused.outcome).toBe("refused");
    expect(refused.reason).toMatch(
      /ended rolled-back, not promoted: stable runs the previous version already/,
    );
  });

  it("inside a keep-previous window it is one write back to stable (abort)", async () => {
    const { world, options, ctx, clock, at } = setup({}, { steps: "50,100", keepPrevious: "10m" });
    let answer: Promise<Outcome> | null = null;
    const run = deployGray(deployRequest(options), world, ctx);
    clock.at(clock.now() + 120_000, () => {
      answer = rollbackRelease(at, world, { ...ctx, owner: { ...OWNER, id: "oncall-1" } }, { by: "oncall" });
    });
    const first = await run;
    const second = await answer!;
    expect(first.outcome).toBe("aborted");
    expect(second.outcome).toBe("aborted");
    expect(second.reason).toMatch(/rollback-release in the keep-previous window/);
    expect(world.calls).not.toContain("fleet.promote");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
  });
});
