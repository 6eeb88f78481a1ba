/**
 * Transient AWS errors that outlived the SDK's own attempts, in virtual time:
 * - recording the rollout's state: a save that fails with a retryable error is tried again
 *   (RETRY.stateSave), and a save whose answer was lost after it was applied is recognised as this
 *   run's own write; another process's takeover is still told apart;
 * - the idempotent steps (preparing the release, sizing gray: RETRY.idempotentStep) and verified
 *   weight writes (RETRY.verifiedWrite) are done again;
 * so a healthy release is not rolled back because AWS throttled or dropped a connection, and an error
 * that retrying cannot fix is not retried.
 */
import { describe, expect, it } from "vitest";
import { deployRequest } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import { AbortedError, ProviderError } from "../../src/contract/errors.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { RETRY, transient } from "../../src/engine/retry.js";
import { deployGray, type VerbContext } from "../../src/engine/verbs.js";
import { MemoryWorld, OWNER } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

type Fault = "fail" | "lost-answer" | "takeover" | "denied";

/** A world whose store's n-th save (1-based) meets the given fault. */
function setup(faults: Record<number, Fault>) {
  const clock = new VirtualClock();
  const world = new MemoryWorld(clock, {});
  const real = world.store.save.bind(world.store);
  let n = 0;
  const seen: Fault[] = [];
  world.store.save = async (state, expected, owner, leaseMs, now) => {
    const fault = faults[++n];
    if (fault !== undefined) seen.push(fault);
    if (fault === "fail")
      throw new ProviderError("DynamoDB UpdateItem: ThrottlingException (after 5 attempts)", {
        retryable: true,
      });
    if (fault === "denied")
      throw new ProviderError("DynamoDB UpdateItem: AccessDeniedException", { retryable: false });
    if (fault === "lost-answer") {
      await real(state, expected, owner, leaseMs, now);
      throw new ProviderError("DynamoDB UpdateItem: socket hang up (after 5 attempts)", { retryable: true });
    }
    if (fault === "takeover") {
      const stored = await world.store.load(state.scope);
      if (stored === null) throw new Error("no rollout to take over");
      await real(stored.state, stored.revision, { ...OWNER, id: "someone-else" }, leaseMs, now);
    }
    return real(state, expected, owner, leaseMs, now);
  };
  const options = resolveOptions(
    { target: "local", image: "registry.example/gateway:2.0.0" },
    { verb: "deploy-gray" },
  );
  const events: EngineEvent[] = [];
  const ctx: VerbContext = { clock, owner: OWNER, newId: () => "rollout-1", onEvent: (e) => events.push(e) };
  const warnings = () => events.flatMap((e) => (e.type === "log" && e.level === "warn" ? [e.message] : []));
  return { world, options, ctx, seen, warnings };
}

describe("recording the rollout's state through a failing store", () => {
  it("a save that fails retryably four times in a row is tried again and the release is promoted", async () => {
    const { world, options, ctx, seen, warnings } = setup({ 3: "fail", 4: "fail", 5: "fail", 6: "fail" });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(seen).toEqual(["fail", "fail", "fail", "fail"]);
    expect(outcome.outcome).toBe("promoted");
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(warnings().filter((w) => w.startsWith("recording the rollout's state failed"))).toHaveLength(4);
    expect((await world.store.load("local"))?.state.phase).toBe("promoted");
  });

  it("a save applied whose answer was lost is taken as this run's own write, not as a takeover", async () => {
    const { world, options, ctx, seen } = setup({ 4: "lost-answer", 9: "lost-answer" });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(seen).toEqual(["lost-answer", "lost-answer"]);
    expect(outcome.outcome).toBe("promoted");
    expect((await world.store.load("local"))?.state.phase).toBe("promoted");
  });

  it("a save that keeps failing gives up after five attempts and the rollout is rolled back, not promoted", async () => {
    const faults: Record<number, Fault> = {};
    for (let i = 4; i < 4 + 5; i++) faults[i] = "fail";
    const { world, options, ctx } = setup(faults);
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("failed");
    expect(outcome.reason).toMatch(/ThrottlingException.*traffic is back on stable/);
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
  });

  it("an error that retrying cannot fix (access denied) is not retried", async () => {
    const { world, options, ctx, warnings } = setup({ 4: "denied" });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("failed");
    expect(outcome.reason).toMatch(/AccessDeniedException.*traffic is back on stable/);
    expect(warnings().filter((w) => w.startsWith("recording the rollout's state failed"))).toEqual([]);
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
  });

  it("another process's write is still a takeover: the run stops without touching the rollout", async () => {
    const { world, options, ctx, warnings } = setup({ 4: "takeover" });
    const outcome = await deployGray(deployRequest(options), world, ctx);
    expect(outcome.outcome).toBe("failed");
    expect(outcome.reason).toMatch(/another process took the rollout over/);
    expect(warnings().filter((w) => w.startsWith("recording the rollout's state failed"))).toEqual([]);
    const stored = await world.store.load("local");
    expect(stored?.owner?.id).toBe("someone-else");
    expect(stored?.state.phase).not.toBe("promoted");
  });
});

describe("idempotent steps and weight writes through transient AWS errors", () => {
  function world(fail: { prepare?: number; scaleGray?: number; setWeights?: number; denied?: boolean }) {
    const clock = new VirtualClock();
    const w = new MemoryWorld(clock, {});
    const left = { ...fail };
    const err = () =>
      fail.denied
        ? new ProviderError("AutoScaling UpdateAutoScalingGroup: AccessDenied", { retryable: false })
        : new ProviderError("Throttling: Rate exceeded (after 5 attempts)", { retryable: true });
    const wrap = <K extends "prepare" | "scaleGray">(target: typeof w.fleet, name: K) => {
      const real = (target[name] as (...a: unknown[]) => Promise<unknown>).bind(target);
      (target as unknown as Record<string, unknown>)[name] = async (...a: unknown[]) => {
        if ((left[name] ?? 0) > 0) {
          left[name]!--;
          throw err();
        }
        return real(...a);
      };
    };
    wrap(w.fleet, "prepare");
    wrap(w.fleet, "scaleGray");
    const realSet = w.router.setWeights.bind(w.router);
    w.router.setWeights = async (...a) => {
      if ((left.setWeights ?? 0) > 0) {
        left.setWeights!--;
        throw err();
      }
      return realSet(...a);
    };
    const options = resolveOptions(
      { target: "local", image: "registry.example/gateway:2.0.0" },
      { verb: "deploy-gray" },
    );
    const events: EngineEvent[] = [];
    const ctx: VerbContext = {
      clock,
      owner: OWNER,
      newId: () => "rollout-1",
      onEvent: (e) => events.push(e),
    };
    const warnings = () => events.flatMap((e) => (e.type === "log" && e.level === "warn" ? [e.message] : []));
    return { w, options, ctx, left, warnings };
  }

  it("preparing the release and sizing gray fail twice each, a forward write twice: promoted, each named", async () => {
    const { w, options, ctx, left, warnings } = world({ prepare: 2, scaleGray: 2, setWeights: 2 });
    const outcome = await deployGray(deployRequest(options), w, ctx);
    expect(left).toEqual({ prepare: 0, scaleGray: 0, setWeights: 0 });
    expect(outcome.outcome).toBe("promoted");
    expect(w.router.weights).toEqual({ stable: 100, gray: 0 });
    expect(warnings().filter((m) => m.startsWith("preparing the release failed"))).toHaveLength(2);
    expect(warnings().filter((m) => m.startsWith("scaling gray to 1 failed"))).toHaveLength(2);
  });

  it("a step that keeps failing gives up after three attempts: nothing half-applied, traffic on stable", async () => {
    const { w, options, ctx, left } = world({ scaleGray: 3 });
    const outcome = await deployGray(deployRequest(options), w, ctx);
    expect(left.scaleGray).toBe(0);
    expect(outcome.outcome).toBe("failed");
    expect(outcome.reason).toMatch(/Rate exceeded.*traffic is back on stable/);
    expect(w.router.weights).toEqual({ stable: 100, gray: 0 });
  });

  it("an error that retrying cannot fix is not retried", async () => {
    const { w, options, ctx, left, warnings } = world({ prepare: 3, denied: true });
    const outcome = await deployGray(deployRequest(options), w, ctx);
    expect(left.prepare).toBe(2);
    expect(outcome.outcome).toBe("failed");
    expect(outcome.reason).toMatch(/AccessDenied/);
    expect(warnings().filter((m) => m.startsWith("preparing the release failed"))).toEqual([]);
  });
});

describe("transient(e): the one test of an error worth the same call again", () => {
  it("an AWS error the adapter marked retryable is; one it did not, an abort or a plain error is not", () => {
    expect(transient(new ProviderError("Throttling: Rate exceeded", { retryable: true }))).toBe(true);
    expect(transient(new ProviderError("AccessDenied", { retryable: false }))).toBe(false);
    expect(transient(new AbortedError("aborted", { retryable: true }))).toBe(false);
    expect(transient(new Error("socket hang up"))).toBe(false);
    expect(transient("not even an error")).toBe(false);
  });

  it("is what every policy that retries AWS errors uses", () => {
    for (const policy of [
      RETRY.cleanup(1000),
      RETRY.stateSave,
      RETRY.awsRead,
      RETRY.idempotentStep,
      RETRY.hookCall(2),
      RETRY.synthetic(true),
    ]) {
      expect(policy.retryable).toBe(transient);
    }
  });
});
