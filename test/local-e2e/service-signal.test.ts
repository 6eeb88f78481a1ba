/**
 * --signal service on the local target, in real time with real processes: the sample gateways
 * publish their own metrics (EMF, 1-second periods), the gates judge those, and the proxy's own
 * measurements (the load balancer's) guard them. The local target's default policy otherwise.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deployRequest } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import { systemClock } from "../../src/engine/clock.js";
import { deployGray } from "../../src/engine/verbs.js";
import { openLocalTarget } from "../../src/local/target.js";

describe("local target with --signal service", { timeout: 120_000 }, () => {
  it("rolls a 5%-error release back on what the gateways report about themselves, the proxy agreeing", async () => {
    // The service signal's gates, not the local default synthetic charge: a 5% fault fails that
    // charge 1 time in 20 before any customer reaches gray, a correct rollback with no step (stop 25's
    // load run saw it: rolled-back, steps [], 9 s). test/local-e2e/checks.test.ts covers that path.
    const options = resolveOptions(
      { target: "local", signal: "service", grayErrorRate: "5%", synthetic: "[]" },
      { verb: "deploy-gray" },
    );
    const target = await openLocalTarget(options);
    try {
      expect(target.ports.guard).toBe(target.environment.metrics);
      await target.begin?.();
      const outcome = await deployGray(deployRequest(options), target.ports, {
        clock: systemClock(),
        owner: { id: randomUUID(), host: "test", pid: process.pid, verb: "deploy-gray" },
        newId: randomUUID,
      });
      // What was decided, and on what, for a failure's message.
      const why = [
        outcome.reason,
        ...outcome.decisions.map(
          (d) =>
            `${d.kind}: ${d.reason} [${d.evidence.map((g) => `${g.gate} ${g.verdict}: ${g.reason}`).join("; ")}]`,
        ),
      ].join("\n");
      expect(outcome.outcome, why).toBe("rolled-back");
      expect(
        outcome.steps.map((s) => s.weight),
        why,
      ).toEqual([5]);
      const rollback = outcome.decisions.find((d) => d.kind === "rollback")!;
      const failing = rollback.evidence.filter((g) => g.verdict === "fail").map((g) => g.gate);
      expect(failing.some((g) => g === "error-rate" || g === "sequential-error-rate")).toBe(true);
      // Every observation compared the two signals: they agreed (a process written late by a busy
      // machine can make one window disagree, which only holds a step: never a failure).
      const guards = outcome.decisions.flatMap((d) => d.evidence.filter((g) => g.gate === "signal-guard"));
      expect(guards.length).toBeGreaterThan(0);
      expect(guards.filter((g) => g.verdict === "fail")).toEqual([]);
      expect(guards.filter((g) => g.verdict === "pass").length).toBeGreaterThanOrEqual(guards.length / 2);
    } finally {
      await target.dispose();
    }
  });
});
