/**
 * `abort` from a second process while `deploy-gray` runs, against the AWS emulator with real traffic.
 * Each process talks to AWS through its own proxy, so the test sees which process wrote what.
 *
 * - During a bake: the abort's one verified write puts stable back to 100%; the first process notices
 *   at its next conditional save and ends `aborted` (exit 5) without touching AWS again. The times
 *   from the abort command's start to the verified 100/0 and to each process's end are measured and
 *   printed (and collected by bench/safety), not asserted.
 * - Racing a step change: the first process has saved its state and sent the next weight write, which
 *   is slow to land; the abort takes over and restores stable meanwhile. The late write must not
 *   survive: traffic must end on stable, not on a gray that the abort scaled to zero.
 */
import { describe, expect, it } from "vitest";
import { abortDuringBake } from "./support/abort.js";
import { afterWeightWrite } from "./support/crash.js";
import { expectConverged } from "./support/expect.js";
import { startScenario } from "./support/scenario.js";

describe.concurrent("abort from a second process", { timeout: 240_000 }, () => {
  it("during a bake: one verified write restores stable 100%; the first process ends aborted (exit 5)", async () => {
    const s = await startScenario();
    try {
      const r = await abortDuringBake(s);
      const why = r.why;
      expect(r.abort.outcome?.outcome, why).toBe("aborted");
      expect(r.abort.code, why).toBe(5);
      expect(r.first.outcome?.outcome, why).toBe("aborted");
      expect(r.first.code, why).toBe(5);
      expect(r.first.outcome?.reason, why).toMatch(
        /aborted by operator-olga from another process: wrong build/,
      );
      // One verified write: a single ModifyRule from the abort, none from the first process after it.
      expect(r.abortProxy.count({ operation: "ModifyRule" }), why).toBe(1);
      expect(s.proxy.count({ operation: "ModifyRule" }), why).toBe(r.firstWritesBefore);
      expect(r.timing.toVerifiedMs, why).toBeGreaterThan(0);
      expectConverged(await s.converged({ promoted: false }), why);
      expect((await s.state())?.state.abortRequested?.by).toBe("operator-olga");
      expect(s.grayTrail()).toEqual([25, 0]);
      console.log(`[measure] abort during a bake: ${JSON.stringify(r.timing)}`);
    } finally {
      await s.close();
    }
  });

  it("racing a step change: the first process's late weight write does not survive", async () => {
    const s = await startScenario();
    try {
      // The first process's write of gray 100% takes 6 s to land (a slow, retried API call).
      const gray100 = afterWeightWrite(s, { stable: 0, gray: 100 });
      s.proxy.slow(gray100, 6000);
      const first = s.cli("deploy-gray", s.flags({ startedBy: "pipeline-43" }));
      await s.proxy.next(gray100);
      const abortProxy = await s.newProxy();
      const abort = s.cli(
        "abort",
        s.controlFlags("abort", { endpoint: abortProxy.url, startedBy: "operator-olga", reason: "stop" }),
      );
      const [a, f] = await Promise.all([abort.done, first.done]);
      const why = `--- deploy-gray ---\n${first.tail(20)}\n--- abort ---\n${abort.tail(20)}\ntrail ${JSON.stringify(s.grayTrail())}`;
      expect(a.outcome?.outcome, why).toBe("aborted");
      expect(f.outcome?.outcome, why).toBe("aborted");
      // The late write did land (the first process's own read-back saw it)…
      expect(s.proxy.count({ operation: "ModifyRule", result: "forwarded" }), why).toBeGreaterThanOrEqual(2);
      expect(s.grayTrail(), why).toContain(100);
      // …and was undone: traffic ends on stable, gray is empty.
      expect(first.stderr, why).toMatch(/put stable back to 100%/);
      expectConverged(await s.converged({ promoted: false }), why);
    } finally {
      await s.close();
    }
  });
});
