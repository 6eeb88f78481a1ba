/**
 * Control from several processes, against the AWS emulator with real traffic (CLI child processes).
 *
 * One rollout at a time: the lock (the rollout's item in the state table, written conditionally)
 * belongs to the rollout until it ends — a paused rollout keeps it. Another release is refused with
 * exit 6, naming the rollout that holds the lock, its phase and who started it; `--supersede` aborts
 * a paused (or stale) rollout first, saying so. A rollout whose process died (SIGKILL) can be taken
 * over by `deploy-gray`, `promote` or `abort` once its lease expired; of several takers racing,
 * exactly one wins and the others exit 6.
 *
 * `abort` from a second process (each process talks to AWS through its own proxy, so the test sees
 * which process wrote what):
 * - during a bake, the abort's one verified write puts stable back to 100%; the first process notices
 *   at its next conditional save and ends `aborted` (exit 5) without touching AWS again. The times
 *   from the abort command's start to the verified 100/0 and to each process's end are measured and
 *   printed (bench/safety repeats them), not asserted;
 * - racing a step change: the first process has saved its state and sent the next weight write, which
 *   is slow to land; the abort takes over and restores stable meanwhile. The late write must not
 *   survive: traffic must end on stable, not on a gray that the abort scaled to zero.
 */
import { describe, expect, it } from "vitest";
import { imageWithTag, pushImages } from "../aws/support/world.js";
import { abortDuringBake } from "./support/abort.js";
import type { CliResult } from "./support/cli.js";
import { afterWeightWrite } from "./support/crash.js";
import { expectConverged } from "./support/expect.js";
import { type FaultProxy, op } from "./support/fault-proxy.js";
import { SCENARIO_TEST_TIMEOUT_MS, type Scenario, scenarioTest, startScenario } from "./support/scenario.js";

const READ_ONLY = /^(Describe|Get|List|Scan|Query)/;

/** The calls that changed something, through `proxy`. */
function writes(proxy: FaultProxy): string[] {
  return proxy.calls.filter((c) => !READ_ONLY.test(c.operation)).map((c) => `${c.service}:${c.operation}`);
}

async function withScenario(body: (s: Scenario) => Promise<void>): Promise<void> {
  const s = await startScenario();
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

function expectLocked(r: CliResult, holder: { id: string; phase: string; by: string }, why: string): void {
  expect(r.code, `exit ${r.code} (signal ${r.signal}); stdout: ${r.stdout}\n${why}`).toBe(6);
  expect(r.outcome?.outcome, why).toBe("refused");
  expect(r.outcome?.error?.code, why).toBe("LOCKED");
  expect(r.outcome?.reason, why).toContain(`rollout ${holder.id}`);
  expect(r.outcome?.reason, why).toContain(`in phase ${holder.phase}`);
  expect(r.outcome?.reason, why).toContain(`started by ${holder.by}`);
}

/**
 * deploy-gray killed (SIGKILL) in the 25% bake; returns the dead rollout's id. Its AWS calls are held
 * from the bake's first one on, so it is killed in that bake however slowly this process reacts (a
 * fixed delay after the progress line could let a 2 s bake end first on a loaded machine). The step
 * may be extended for 10 min: a process that takes it over goes on with the step the dead one began,
 * whose max bake counts the time nobody ran it (on a loaded machine, past the scenario's 60 s before
 * the taker's first look, which then paused the rollout instead of going on).
 */
async function deadRollout(s: Scenario, by: string): Promise<string> {
  const first = s.cli("deploy-gray", s.flags({ startedBy: by, maxBake: "10m" }));
  await first.waitFor(/forward step: stable 75% \/ gray 25% \(verified\)/);
  await s.proxy.holdAfter(() => true);
  await first.kill();
  s.proxy.release({ drop: true });
  return (await s.state())!.state.id;
}

describe.concurrent("control from several processes", { timeout: SCENARIO_TEST_TIMEOUT_MS }, () => {
  describe("one rollout at a time", () => {
    it(
      "another release is refused (exit 6) while a rollout runs, with or without --supersede, and writes nothing",
      scenarioTest(async () => {
        await withScenario(async (s) => {
          const other = imageWithTag(s.w.fx, "1.6.0");
          await pushImages(s.emu, [other]);
          // A bake and a lease that outlast the test: the running rollout is surely still in its 25%
          // step, and its lock surely live, whenever the other two processes read it, however slowly
          // they start. (With the scenario's 5 s lease, a renewal delayed on a loaded machine let the
          // lock look stale: --supersede rightly aborted the rollout and deployed its own.)
          const first = s.cli(
            "deploy-gray",
            s.flags({ bake: "10m", maxBake: "10m", lockLease: "10m", startedBy: "pipeline-alice" }),
          );
          await first.waitFor(/forward step: stable 75% \/ gray 25% \(verified\)/);
          const id = (await s.state())!.state.id;
          const p = await s.newProxy();
          const [plain, supersede] = await Promise.all([
            s.cli("deploy-gray", s.flags({ endpoint: p.url, image: other, startedBy: "pipeline-bob" })).done,
            s.cli(
              "deploy-gray",
              s.flags({ endpoint: p.url, image: other, startedBy: "pipeline-bob", supersede: true }),
            ).done,
          ]);
          const why = `${plain.stderr}\n${supersede.stderr}`;
          expectLocked(plain, { id, phase: "shifting", by: "pipeline-alice" }, why);
          // --supersede aborts only a paused or stale rollout, never one a live process is running.
          expectLocked(supersede, { id, phase: "shifting", by: "pipeline-alice" }, why);
          expect(writes(p), why).toEqual([]);
          // The running rollout did not notice.
          expect((await s.state())?.state).toMatchObject({ id, phase: "shifting", abortRequested: null });
          expect(first.child.exitCode).toBeNull();
        });
      }),
    );

    it(
      "a paused rollout keeps the lock; --supersede aborts it first, saying so, then deploys",
      scenarioTest(async () => {
        await withScenario(async (s) => {
          const other = imageWithTag(s.w.fx, "1.6.0");
          await pushImages(s.emu, [other]);
          const paused = await s.cli(
            "deploy-gray",
            s.flags({ approveBefore: "100", startedBy: "pipeline-alice" }),
          ).done;
          expect(paused.outcome?.outcome, paused.stderr).toBe("paused");
          expect(paused.code).toBe(4);
          expect(paused.outcome?.pause).toMatchObject({ reason: "awaiting-approval", gate: "step:100" });
          const held = await s.state();
          expect(held?.state.phase).toBe("paused");
          expect(held?.owner, "a paused rollout has no process, but keeps the lock").toBeNull();
          const id = held!.state.id;

          const refused = await s.cli("deploy-gray", s.flags({ image: other, startedBy: "pipeline-bob" }))
            .done;
          expectLocked(refused, { id, phase: "paused", by: "pipeline-alice" }, refused.stderr);

          const next = s.cli(
            "deploy-gray",
            s.flags({ image: other, startedBy: "pipeline-bob", supersede: true }),
          );
          const r = await next.done;
          const why = next.tail(40);
          expect(next.stderr, why).toContain(
            `--supersede: aborting rollout ${id} (${s.w.release}, paused) first`,
          );
          expect(r.outcome?.outcome, why).toBe("promoted");
          expect(r.outcome?.release.image, why).toBe(other);
          // The paused rollout was aborted (stable 100%) before the new one began.
          const trail = s.grayTrail();
          expect(trail, why).toEqual([25, 0, 25, 100, 0]);
          // A version for each release, stable on the second one's.
          expectConverged(await s.converged({ promoted: true, stableVersion: "3" }), why, [1, 2, 3]);
        });
      }),
    );

    it(
      "a dead process's rollout: refused until its lease expires, then promote takes it over and finishes it",
      scenarioTest(async () => {
        await withScenario(async (s) => {
          const id = await deadRollout(s, "pipeline-alice");
          // Both refusals must read a live lease however late they start: the test renews the dead
          // process's lease as its owner would until both were refused, then lets it lapse (a fixed
          // 15 s lease once expired before a deploy-gray slowed by a loaded machine read it, and that
          // deploy-gray rightly took the rollout over).
          await s.setLease(10 * 60_000);
          const [again, promote] = await Promise.all([
            s.cli("deploy-gray", s.flags({ startedBy: "pipeline-bob" })).done,
            s.cli("promote", s.controlFlags("promote", { startedBy: "operator-olga" })).done,
          ]);
          const why = `${again.stderr}\n${promote.stderr}`;
          expectLocked(again, { id, phase: "shifting", by: "pipeline-alice" }, why);
          expectLocked(promote, { id, phase: "shifting", by: "pipeline-alice" }, why);

          await s.setLease(5000);
          await s.leaseExpired();
          const taken = s.cli("promote", s.controlFlags("promote", { startedBy: "operator-olga" }));
          const r = await taken.done;
          expect(r.outcome?.outcome, taken.tail(30)).toBe("promoted");
          expect(r.outcome?.rolloutId).toBe(id);
          expectConverged(await s.converged({ promoted: true }), taken.tail(30));
        });
      }),
    );

    it(
      "a dead process's rollout after its lease: of three takers racing, exactly one wins, the others exit 6",
      scenarioTest(async () => {
        await withScenario(async (s) => {
          const id = await deadRollout(s, "pipeline-alice");
          await s.leaseExpired();
          // Each taker's first state write waits in its own proxy until all three have sent theirs, so
          // all three have read the same revision before any of them writes: the conditional write
          // alone decides who wins (a fixed delay would not hold when one taker starts late on a loaded
          // machine; 60 s at most, so a taker that never writes fails the test instead of hanging it).
          const proxies = await Promise.all([s.newProxy(11), s.newProxy(12), s.newProxy(13)]);
          const allArrived = Promise.race([
            Promise.all(proxies.map((p) => p.next(op("dynamodb", "UpdateItem")))),
            new Promise((r) => setTimeout(r, 60_000)),
          ]);
          for (const p of proxies) {
            const undo = p.slow(op("dynamodb", "UpdateItem"), allArrived);
            void allArrived.then(undo);
          }
          const [p1, p2, p3] = proxies as [FaultProxy, FaultProxy, FaultProxy];
          const takers = [
            s.cli("deploy-gray", s.flags({ endpoint: p1.url, startedBy: "pipeline-bob" })),
            s.cli("deploy-gray", s.flags({ endpoint: p2.url, startedBy: "pipeline-carol" })),
            s.cli("promote", s.controlFlags("promote", { endpoint: p3.url, startedBy: "operator-olga" })),
          ];
          const results = await Promise.all(takers.map((t) => t.done));
          const why = results
            .map((r, i) => `--- ${takers[i]!.verb} → ${r.code}\n${takers[i]!.tail(12)}`)
            .join("\n");
          // All three tried to take the rollout over; DynamoDB accepted exactly one of the writes.
          const firstWrites = proxies.map((p) => p.calls.find((c) => c.operation === "UpdateItem"));
          expect(
            firstWrites.map((c) => c !== undefined),
            why,
          ).toEqual([true, true, true]);
          expect(
            firstWrites.filter((c) => c?.status === 200),
            why,
          ).toHaveLength(1);
          expect(
            firstWrites.filter((c) => c?.status === 400),
            why,
          ).toHaveLength(2);
          const winners = results.filter((r) => r.code !== 6);
          expect(winners, why).toHaveLength(1);
          expect(winners[0]!.outcome?.outcome, why).toBe("promoted");
          for (const r of results.filter((x) => x.code === 6))
            expect(r.outcome?.error?.code, why).toBe("LOCKED");
          expect(
            results.filter((r) => r.code === 6),
            why,
          ).toHaveLength(2);
          expect((await s.state())?.state).toMatchObject({ id, phase: "promoted" });
          expectConverged(await s.converged({ promoted: true }), why);
        });
      }),
    );

    it(
      "a dead process's rollout: abort takes it over at once and ends it (exit 5)",
      scenarioTest(async () => {
        await withScenario(async (s) => {
          const id = await deadRollout(s, "pipeline-alice");
          const abort = s.cli(
            "abort",
            s.controlFlags("abort", { startedBy: "operator-olga", reason: "job died" }),
          );
          const r = await abort.done;
          expect(r.outcome?.outcome, abort.tail(20)).toBe("aborted");
          expect(r.code).toBe(5);
          expect(r.outcome?.rolloutId).toBe(id);
          expect(s.grayTrail()).toEqual([25, 0]);
          expectConverged(await s.converged({ promoted: false }), abort.tail(20));
        });
      }),
    );
  });

  describe("abort from a second process", () => {
    it(
      "during a bake: one verified write restores stable 100%; the first process ends aborted (exit 5)",
      scenarioTest(async () => {
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
      }),
    );

    it(
      "racing a step change: the first process's late weight write does not survive",
      scenarioTest(async () => {
        const s = await startScenario();
        try {
          // The first process's write of gray 100% is slow to land (a slow, retried API call): it lands
          // only once the abort has restored stable, however long the abort takes to start on a loaded
          // machine (a fixed 6 s delay once let the write land before the abort even began).
          const gray100 = afterWeightWrite(s, { stable: 0, gray: 100 });
          let letGo = () => {};
          s.proxy.slow(gray100, new Promise<void>((r) => (letGo = r)));
          const first = s.cli("deploy-gray", s.flags({ startedBy: "pipeline-43" }));
          await s.proxy.next(gray100);
          const abortProxy = await s.newProxy();
          const abort = s.cli(
            "abort",
            s.controlFlags("abort", { endpoint: abortProxy.url, startedBy: "operator-olga", reason: "stop" }),
          );
          void abort
            .waitFor(/traffic restored: stable 100% \/ gray 0% \(verified\)/, 120_000)
            .catch(() => undefined)
            .finally(() => letGo());
          const [a, f] = await Promise.all([abort.done, first.done]);
          const why = `--- deploy-gray ---\n${first.tail(20)}\n--- abort ---\n${abort.tail(20)}\ntrail ${JSON.stringify(s.grayTrail())}`;
          expect(a.outcome?.outcome, why).toBe("aborted");
          expect(f.outcome?.outcome, why).toBe("aborted");
          // The late write did land (the first process's own read-back saw it)…
          expect(s.proxy.count({ operation: "ModifyRule", result: "forwarded" }), why).toBeGreaterThanOrEqual(
            2,
          );
          expect(s.grayTrail(), why).toContain(100);
          // …and was undone: traffic ends on stable, gray is empty.
          expect(first.stderr, why).toMatch(/put stable back to 100%/);
          expectConverged(await s.converged({ promoted: false }), why);
        } finally {
          await s.close();
        }
      }),
    );
  });
});
