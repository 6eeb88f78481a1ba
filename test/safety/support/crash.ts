/**
 * Crash and resume: run `deploy-gray` as a child process, SIGKILL it at a chosen point, wait for its
 * lease to expire, rerun `deploy-gray` with the same image and report what the world went through.
 *
 * A kill point is reached either by holding the control plane (the fault proxy holds every call after
 * the one that defines the point — "right after the weight write" — so the process is killed with
 * exactly that much done), or by waiting for a progress line.
 */
import { DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import type { RawOptions } from "../../../src/app/schema.js";
import type { RolloutState } from "../../../src/core/state.js";
import { forward } from "../../aws/support/rollout.js";
import type { CliResult, CliRun } from "./cli.js";
import { type Call, type FaultProxy, type Match, savedPhase, writtenWeights } from "./fault-proxy.js";
import type { ConvergenceReport, Scenario } from "./scenario.js";

export interface KillPoint {
  /** deploy-gray flags beyond the scenario's defaults. */
  readonly flags?: RawOptions;
  /**
   * Resolves once the process stands at the kill point. `hold(match)` holds the control plane after
   * the first successful call matching `match` and resolves when the process made its next call.
   */
  readonly reach: (ctx: { s: Scenario; run: CliRun; hold: (m: Match) => Promise<Call> }) => Promise<unknown>;
  /** Runs beside the rerun (e.g. releases what the kill point held once the rerun has seen it). */
  readonly duringRerun?: (ctx: { s: Scenario; run: CliRun }) => Promise<unknown>;
}

export interface CrashReport {
  readonly first: CliRun;
  readonly killedAt: number;
  /** The stored rollout when the process died. */
  readonly atKill: { state: RolloutState; leaseUntil: number } | null;
  /** The weights of the forward action when the process died. */
  readonly albAtKill: { stable: number; gray: number };
  readonly rerun: CliRun;
  readonly result: CliResult;
  /** Gray's weight in every write AWS accepted over the whole test, in order (Scenario.grayTrail). */
  readonly trail: number[];
  /** Gray's weight as the emulated ALB applied it (polled: a very short state may be missing). */
  readonly seen: number[];
  /** The same, from the rerun's start on. */
  readonly trailAfterResume: { stable: number; gray: number }[];
  readonly converged: ConvergenceReport;
  readonly refreshes: number;
  readonly grayInstancesLaunched: number;
  readonly calls: { killed: number; dropped: number };
}

export async function crashAndResume(
  s: Scenario,
  kp: KillPoint,
  expect: { promoted: boolean },
): Promise<CrashReport> {
  const flags = s.flags(kp.flags);
  const first = s.cli("deploy-gray", flags);
  const hold = (m: Match) => s.proxy.holdAfter(m);
  // A run that ends before the kill point (it paused, or rolled back) never reaches it: fail now.
  const ended = first.done.then((r) => {
    throw new Error(`deploy-gray ended (exit ${r.code}) before the kill point:\n${first.tail(30)}`);
  });
  await Promise.race([kp.reach({ s, run: first, hold }), ended]);
  ended.catch(() => undefined);
  await first.kill();
  const killedAt = Date.now();
  // Held calls of the dead process are dropped, never forwarded.
  s.proxy.release({ drop: true });
  const stored = await s.state();
  const rule = await forward(s.w);
  const albAtKill = { stable: rule.stable, gray: rule.gray };
  await s.leaseExpired();
  const rerun = s.cli("deploy-gray", flags);
  const [result] = await Promise.all([rerun.done, kp.duringRerun?.({ s, run: rerun })]);
  // The data plane polls the rule every 250 ms: let it see the last write.
  await new Promise((r) => setTimeout(r, 600));
  const refreshes = await s.aws.autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: s.w.fx.stable.asgName }),
  );
  return {
    first,
    killedAt,
    atKill: stored === null ? null : { state: stored.state, leaseUntil: stored.leaseUntil },
    albAtKill: { ...albAtKill },
    rerun,
    result,
    trail: s.grayTrail(),
    seen: s.seenTrail(),
    trailAfterResume: s.albWeights(rerun.startedAt),
    converged: await s.converged(expect),
    refreshes: refreshes.InstanceRefreshes?.length ?? 0,
    grayInstancesLaunched: s.grayIdsSeen.size,
    calls: {
      killed: s.proxy.count(),
      dropped: s.proxy.count({ result: "dropped" }),
    },
  };
}

// ── kill points ─────────────────────────────────────────────────────────────────────────────────

/** Right after a ModifyRule that writes gray `gray`% (and stable 100 - gray). */
export const afterWeightWrite =
  (s: Scenario, want: { stable: number; gray: number }, stickiness?: boolean): Match =>
  (c) => {
    const w = writtenWeights(c, s.w.fx.stable.targetGroupArn, s.w.fx.gray.targetGroupArn);
    return (
      w !== null &&
      w.stable === want.stable &&
      w.gray === want.gray &&
      (stickiness === undefined || w.stickiness === stickiness)
    );
  };

/** Right after the store recorded `phase`. */
export const afterSavedPhase =
  (phase: string): Match =>
  (c) =>
    savedPhase(c) === phase;

/**
 * The call that completes `steps` in order, among the calls it is shown: as `hold`'s matcher (the
 * proxy shows it each call it answers with success), a kill point several calls into a phase, decided
 * inside the proxy — no reaction time of the test process, which a loaded machine stretches, lies
 * between the point and the hold.
 */
export function inOrder(...steps: Match[]): Match {
  let i = 0;
  return (c) => {
    if (i < steps.length && steps[i]!(c)) i++;
    return i === steps.length;
  };
}

/**
 * Whether calls matching `steps` were answered with success through `proxy`, in that order. Read by
 * a fault's matcher at each call, it starts the fault at an exact point of the run, inside the proxy.
 */
export function answered(proxy: FaultProxy, ...steps: Match[]): () => boolean {
  let armed = false;
  return () => {
    if (armed) return true;
    const next = inOrder(...steps);
    armed = proxy.calls.some(
      (c) => c.result === "forwarded" && c.status !== null && c.status < 300 && next(c),
    );
    return armed;
  };
}

/** A compact account of a crash test, for failure messages and the report. */
export function describeCrash(r: CrashReport): string {
  return [
    `killed at phase ${r.atKill?.state.phase} (stored weights ${r.atKill?.state.weights.stable}/${r.atKill?.state.weights.gray}, ALB ${r.albAtKill.stable}/${r.albAtKill.gray})`,
    `rerun: exit ${r.result.code} ${r.result.outcome?.outcome}: ${r.result.outcome?.reason}`,
    `gray trail ${JSON.stringify(r.trail)} (ALB seen ${JSON.stringify(r.seen)}); LT versions ${JSON.stringify(r.converged.templateVersions)}; refreshes ${r.refreshes}; gray instances launched ${r.grayInstancesLaunched}`,
    `--- first run ---\n${r.first.tail(25)}`,
    `--- rerun ---\n${r.rerun.tail(60)}`,
  ].join("\n");
}
