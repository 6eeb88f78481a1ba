/**
 * `abort` from a second process during a bake, with the timings the report needs. No assertions here:
 * the test asserts on the result, bench/safety repeats it to measure.
 */
import type { CliResult } from "./cli.js";
import type { FaultProxy } from "./fault-proxy.js";
import type { Scenario } from "./scenario.js";

export interface AbortTiming {
  /** From the abort command's start until AWS answered its weight write. */
  readonly toWriteMs: number;
  /** From the abort command's start to the verified stable 100 / gray 0 (its progress line). */
  readonly toVerifiedMs: number;
  /** From the abort command's start until it exited. */
  readonly abortExitMs: number;
  /** From the abort command's start until the first process (deploy-gray) exited. */
  readonly firstExitMs: number;
}

export interface AbortRun {
  readonly first: CliResult;
  readonly abort: CliResult;
  readonly abortProxy: FaultProxy;
  /** ModifyRule calls of the first process before the abort started. */
  readonly firstWritesBefore: number;
  readonly timing: AbortTiming;
  readonly why: string;
}

/**
 * deploy-gray, then `abort` from another process 1 s into the 25% bake. The bake lasts 10 min, so the
 * abort lands in it however long it takes to start: a loaded machine once took 65 s to start the abort,
 * and a 30 s bake (40 s at most) had ended first, the rollout paused. Nothing waits for the bake's end:
 * the abort ends it.
 */
export async function abortDuringBake(s: Scenario): Promise<AbortRun> {
  const first = s.cli("deploy-gray", s.flags({ bake: "10m", maxBake: "11m", startedBy: "pipeline-42" }));
  await first.waitFor(/forward step: stable 75% \/ gray 25% \(verified\)/);
  await new Promise((r) => setTimeout(r, 1000));
  const abortProxy = await s.newProxy();
  const firstWritesBefore = s.proxy.count({ operation: "ModifyRule" });
  const t0 = Date.now();
  const abort = s.cli(
    "abort",
    s.controlFlags("abort", { endpoint: abortProxy.url, startedBy: "operator-olga", reason: "wrong build" }),
  );
  const [a, f] = await Promise.all([abort.done, first.done]);
  const why = `--- deploy-gray ---\n${first.tail(15)}\n--- abort ---\n${abort.tail(20)}`;
  const verified = abort.lines.find((l) =>
    /traffic restored: stable 100% \/ gray 0% \(verified\)/.test(l.text),
  );
  const write = abortProxy.calls.find((c) => c.operation === "ModifyRule");
  return {
    first: f,
    abort: a,
    abortProxy,
    firstWritesBefore,
    why,
    timing: {
      toWriteMs: write?.doneAt ? write.doneAt - t0 : Number.NaN,
      toVerifiedMs: verified ? verified.at - t0 : Number.NaN,
      abortExitMs: a.endedAt - t0,
      firstExitMs: f.endedAt - t0,
    },
  };
}
