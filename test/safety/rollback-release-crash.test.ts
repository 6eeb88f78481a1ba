/**
 * rollback-release killed (SIGKILL) at each of its kill points, against the AWS emulator with real
 * traffic (issue 17): the CLI, a child process, is killed right after each phase it saves and right
 * after each of its two weight writes — the six kill points of
 * test/engine/rollback-release-crash.test.ts, here with real processes — and, a seventh, while its
 * instance refresh of stable back runs (on AWS the longest part of a restore, so the likeliest place
 * for a CI job to be killed). Each kill point is decided inside the fault proxy (every call after the
 * matching one is held, and dropped once the process is dead), not by racing a progress line.
 *
 * Then `rollback-release` runs again, as the runbook says (6.1: "if its process dies, run the same
 * command again after the lock lease"). The kill points are taken a few per restore (RESTORES): the
 * first process is killed at the first, the process that resumes it at the next, …; at each kill the
 * stored restore, the rule's weights, gray's instances and stable's version are checked; the process
 * after the last must converge:
 * - each process after a kill resumes the stored restore from the phase the dead one saved
 *   (`resuming rollback-release … from phase …`), whether it is killed in turn or not;
 * - outcome `restored`, exit 0; the stored phase `restored` and the lock released (no owner);
 * - stable back on the previous launch template version, with its own MinSize and suspended process;
 *   gray drained to 0 with no instance left, and only as many gray instances launched as one restore
 *   needs (none twice); one instance refresh of stable back, not two;
 * - the rule's weights stable 100 / gray 0 — and the only weights AWS ever accepted from the
 *   rollback-release processes are the restore's own two, in order: gray 100%, then stable 100%
 *   (read from the fault proxy's log of ModifyRule calls; the emulated ALB saw a part of that);
 * - customers saw no failed request from the restore's start to its end (both versions are good).
 *
 * Set-up cost: a restored release is not restorable again ("already restored"), so each restore
 * needs a promoted release of its own: before each, the release is deployed and promoted again,
 * in-process and straight to the emulator (not through the proxy: the proxy's log is then the
 * restore processes' alone), with one 100% step and the shortest bakes the options allow (2 s).
 * The dead process's lease is made to lapse at once (a conditional write on its revision and owner,
 * as time passing would do), except at one kill point, where it is first held live and a second
 * rollback-release must be refused (exit 6, LOCKED) without changing anything.
 */
import { DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawOptions } from "../../src/app/schema.js";
import type { RolloutState } from "../../src/core/state.js";
import { POOL_HEADER } from "../../src/local/proxy.js";
import { deployInProcess, forward, group } from "../aws/support/rollout.js";
import { createSmokeRule, rawOptions } from "../aws/support/world.js";
import type { CliResult, CliRun } from "./support/cli.js";
import { afterWeightWrite } from "./support/crash.js";
import { expectConverged, expectSubsequence } from "./support/expect.js";
import { type Call, type Match, op, writtenWeights } from "./support/fault-proxy.js";
import {
  SCENARIO_RUN_LIMIT_MS,
  SCENARIO_TEST_TIMEOUT_MS,
  type Scenario,
  startScenario,
} from "./support/scenario.js";

/** The rollout state a DynamoDB UpdateItem of gray-deploy's store writes, or null. */
function savedState(c: Call): RolloutState | null {
  if (c.service !== "dynamodb" || c.operation !== "UpdateItem") return null;
  const values = (c.params as { ExpressionAttributeValues?: Record<string, { S?: string }> })
    .ExpressionAttributeValues;
  const json = values?.[":state"]?.S;
  return json === undefined ? null : (JSON.parse(json) as RolloutState);
}

/** Right after the restore saved `phase` (and `also` holds for what it saved). */
const afterSavedRestore =
  (phase: string, also: (s: RolloutState) => boolean = () => true): Match =>
  (c) => {
    const s = savedState(c);
    return s !== null && s.kind === "restore" && s.phase === phase && also(s);
  };

interface KillPoint {
  readonly name: string;
  readonly match: (s: Scenario) => Match;
  /** The stored restore's phase and weights when the process died. */
  readonly stored: { phase: string; weights: { stable: number; gray: number } };
  /** The rule's weights when it died. */
  readonly alb: { stable: number; gray: number };
  /** Gray's instances when it died (all on the previous version). */
  readonly grayUp: boolean;
  /** Whether stable had already been refreshed back onto the previous version. */
  readonly stableBack: boolean;
  /** Hold the dead process's lease live and check that another rollback-release is refused. */
  readonly refusedWhileLive?: boolean;
  /**
   * The emulator's instance refreshes stand still from this process's start until the process after
   * it has found the running refresh (however late it comes on a loaded machine), as in
   * crash-resume's "during promotion's instance refresh".
   */
  readonly pauseRefreshes?: boolean;
}

const RUNNING_REFRESH = /instance refresh \S+ onto version \d+ is already running: waiting for it/;

const STABLE = { stable: 100, gray: 0 };
const PREVIOUS = { stable: 0, gray: 100 };

/** The kill points of src/engine/restore.ts, in its order (as in the virtual-time test). */
const KILL_POINTS: readonly KillPoint[] = [
  {
    name: "prepared (stable pinned, gray not up)",
    match: () => afterSavedRestore("scaling", (s) => s.grayCapacity === 0),
    stored: { phase: "scaling", weights: STABLE },
    alb: STABLE,
    grayUp: false,
    stableBack: false,
  },
  {
    name: "gray up and healthy on the previous version, no traffic moved",
    match: () => afterSavedRestore("scaling", (s) => s.grayCapacity > 0),
    stored: { phase: "scaling", weights: STABLE },
    alb: STABLE,
    grayUp: true,
    stableBack: false,
  },
  {
    name: "right after the one write to gray, before it was saved",
    match: (s) => afterWeightWrite(s, PREVIOUS),
    stored: { phase: "smoke", weights: STABLE },
    alb: PREVIOUS,
    grayUp: true,
    stableBack: false,
    refusedWhileLive: true,
  },
  {
    name: "traffic on gray, stable's refresh back not started",
    match: () => afterSavedRestore("promoting"),
    stored: { phase: "promoting", weights: PREVIOUS },
    alb: PREVIOUS,
    grayUp: true,
    stableBack: false,
  },
  {
    name: "during stable's refresh back (started, still running)",
    match: () => op("autoscaling", "StartInstanceRefresh"),
    stored: { phase: "promoting", weights: PREVIOUS },
    alb: PREVIOUS,
    grayUp: true,
    stableBack: false,
    pauseRefreshes: true,
  },
  {
    name: "stable refreshed back, traffic still on gray",
    match: () => afterSavedRestore("finishing"),
    stored: { phase: "finishing", weights: PREVIOUS },
    alb: PREVIOUS,
    grayUp: true,
    stableBack: true,
  },
  {
    name: "right after the write back to stable, before gray was drained",
    match: (s) => afterWeightWrite(s, STABLE),
    stored: { phase: "finishing", weights: PREVIOUS },
    alb: STABLE,
    grayUp: true,
    stableBack: true,
  },
];

function expectLocked(r: CliResult, why: string): void {
  expect(r.code, `exit ${r.code} (signal ${r.signal}); stdout: ${r.stdout}\n${why}`).toBe(6);
  expect(r.outcome?.outcome, why).toBe("refused");
  expect(r.outcome?.error?.code, why).toBe("LOCKED");
}

async function stableRefreshes(s: Scenario): Promise<number> {
  const out = await s.aws.autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: s.w.fx.stable.asgName }),
  );
  return out.InstanceRefreshes?.length ?? 0;
}

/** Gray's weight as the emulated ALB applied it from change `from` on, without repeats. */
function seenSince(s: Scenario, from: number): number[] {
  const out: number[] = [];
  let last: number | null = null;
  for (const c of s.alb!.weights.changes.slice(from)) {
    if (c.config.weights.gray === last) continue;
    last = c.config.weights.gray;
    out.push(last);
  }
  return out;
}

/** rollback-release's flags: through the proxy, with the smoke checks through the smoke route. */
function restoreFlags(s: Scenario): RawOptions {
  return rawOptions(s.w, "rollback-release", {
    endpoint: s.proxy.url,
    reason: "late regression",
    startedBy: "oncall",
    smokeHeader: `${POOL_HEADER}: gray`,
    smokeUrl: s.alb!.url,
    smokePaths: "/health,/v1/payments/pay_smoke0001",
  });
}

/**
 * Deploys the release and promotes it: in-process, straight to the emulator, a single 100% step with
 * the shortest bakes the options allow (2 s: the promotion and rollback windows plus the metrics
 * delay). The scenarios' 5 s lease is recorded in its plan: the restore holds its lock with it.
 */
async function promoted(s: Scenario): Promise<{ version: string; previous: string; id: string }> {
  const run = await deployInProcess(
    s.w,
    s.flags({ endpoint: s.emu.endpoint, steps: "100", startedBy: "deployer" }),
  );
  expect(run.outcome.outcome, `${run.outcome.reason}\n${run.logs.slice(-30).join("\n")}`).toBe("promoted");
  expect(await forward(s.w)).toMatchObject(STABLE);
  return {
    version: run.outcome.release.version!,
    previous: run.outcome.release.previousVersion!,
    id: run.outcome.rolloutId!,
  };
}

/** What a process killed at a kill point left: the stored restore, the rule, gray and stable. */
interface AtKill {
  readonly run: CliRun;
  readonly stored: NonNullable<Awaited<ReturnType<Scenario["state"]>>>;
  readonly alb: { stable: number; gray: number };
  readonly gray: { id: string; version: string; state: string }[];
  readonly stableVersion: string | undefined;
}

/**
 * Starts rollback-release and SIGKILLs it at `kp`: the proxy holds every call after the one that
 * defines the point, the process is killed, its held calls are dropped (a dead process's call must
 * never land). Checks what it left against the kill point.
 */
async function killAt(
  s: Scenario,
  kp: KillPoint,
  release: { version: string; previous: string; id: string },
  resumingFrom: string | null,
  context: string[],
  beside: ((run: CliRun) => Promise<unknown>) | null,
): Promise<AtKill> {
  if (kp.pauseRefreshes) await s.emu.configure({ refreshesPaused: true });
  const held = s.proxy.holdAfter(kp.match(s));
  const run = s.cli("rollback-release", restoreFlags(s));
  const besides = beside?.(run);
  const ended = run.done.then((r) => {
    throw new Error(`rollback-release ended (exit ${r.code}) before the kill point:\n${run.tail(30)}`);
  });
  try {
    await Promise.race([held, ended]);
  } finally {
    ended.catch(() => undefined);
  }
  await run.kill();
  s.proxy.release({ drop: true });
  await besides;
  const stored = (await s.state())!;
  const at: AtKill = {
    run,
    stored,
    alb: await forward(s.w).then((f) => ({ stable: f.stable, gray: f.gray })),
    gray: await s.grayInstances(),
    stableVersion: (await group(s.w, s.w.fx.stable.asgName)).version,
  };
  context.push(
    `killed at "${kp.name}": stored ${stored.state.kind} ${stored.state.phase} ${JSON.stringify(stored.state.weights)}; ALB ${JSON.stringify(at.alb)}; gray ${JSON.stringify(at.gray)}\n${run.tail(25)}`,
  );
  const why = context.join("\n---\n");
  if (resumingFrom !== null) {
    expect(run.stderr, why).toMatch(
      new RegExp(`resuming rollback-release ${stored.state.id} from phase ${resumingFrom}`),
    );
  }
  expect(stored.state.kind, why).toBe("restore");
  expect(stored.state.restoreOf?.rolloutId, why).toBe(release.id);
  expect(stored.state.release.version, why).toBe(release.previous);
  expect(stored.owner, why).not.toBeNull();
  expect(stored.state.phase, why).toBe(kp.stored.phase);
  expect(stored.state.weights, why).toEqual(kp.stored.weights);
  expect(at.alb, why).toEqual(kp.alb);
  if (kp.grayUp) {
    expect(at.gray.length, why).toBeGreaterThan(0);
    expect(new Set(at.gray.map((i) => i.version)), why).toEqual(new Set([release.previous]));
  } else {
    expect(at.gray, why).toEqual([]);
  }
  expect(at.stableVersion, why).toBe(kp.stableBack ? release.previous : release.version);
  if (kp.pauseRefreshes) expect(await s.activeRefreshes(), why).toHaveLength(1);
  return at;
}

/**
 * A promoted release; rollback-release killed at `kps[0]`; the process that resumes it killed at
 * `kps[1]` (if any), and so on; the last one must converge.
 */
async function crashRestore(s: Scenario, kps: readonly KillPoint[]): Promise<void> {
  // Refreshes run (a restore that failed before could have left them paused).
  await s.emu.configure({ refreshesPaused: false });
  const release = await promoted(s);
  expect((await group(s.w, s.w.fx.stable.asgName)).version).toBe(release.version);
  const callsFrom = s.proxy.calls.length;
  const seenFrom = s.alb!.weights.changes.length;
  const grayBefore = new Set(s.grayIdsSeen);
  const refreshesBefore = await stableRefreshes(s);
  // Customers' requests from here on: none may fail, whenever the restore's process dies.
  s.alb!.load.reset();
  const startedAt = Date.now();
  const context: string[] = [];

  let resumingFrom: string | null = null;
  let last: AtKill | null = null;
  // After a kill during a paused refresh: the next process must find it running and wait for it.
  let refreshHeld = false;
  const waitsForRefresh = (run: CliRun) =>
    run
      .waitFor(RUNNING_REFRESH)
      .catch(() => undefined) // its stderr is checked below
      .finally(() => s.emu.configure({ refreshesPaused: false }));
  const checkWaited = (run: CliRun, held: boolean) => {
    if (held) expect(run.stderr, context.join("\n---\n")).toMatch(RUNNING_REFRESH);
  };
  for (const kp of kps) {
    const held = refreshHeld;
    last = await killAt(s, kp, release, resumingFrom, context, held ? waitsForRefresh : null);
    checkWaited(last.run, held);
    refreshHeld = kp.pauseRefreshes === true;
    if (kp.refusedWhileLive) {
      // While the dead process's lease is live (held so however slowly the next process starts),
      // another rollback-release is refused and changes nothing.
      await s.setLease(10 * 60_000);
      const early = s.cli("rollback-release", restoreFlags(s));
      const why = `${context.join("\n---\n")}\n--- refused ---\n${early.tail()}`;
      expectLocked(await early.done, why);
      expect((await s.state())?.state, why).toEqual(last.stored.state);
    }
    // The lease lapses (as it does once the dead process no longer renews it).
    await s.setLease(0);
    resumingFrom = kp.stored.phase;
  }

  const rerun = s.cli("rollback-release", restoreFlags(s));
  const [result] = await Promise.all([rerun.done, refreshHeld ? waitsForRefresh(rerun) : null]);
  checkWaited(rerun, refreshHeld);
  // The data plane polls the rule every 250 ms: let it see the last write.
  await new Promise((r) => setTimeout(r, 600));
  const w = `${context.join("\n---\n")}\n--- last run ---\n${rerun.tail(60)}`;
  expect(result.code, w).toBe(0);
  expect(result.outcome?.outcome, w).toBe("restored");
  expect(result.outcome?.restoreOf, w).toMatchObject({ rolloutId: release.id, version: release.version });
  expect(rerun.stderr, w).toMatch(
    new RegExp(`resuming rollback-release ${last!.stored.state.id} from phase ${resumingFrom}`),
  );

  // Converged: stable back on the previous version with its own settings, gray empty, traffic on
  // stable, no refresh running, and no launch template version beyond the release's (which each
  // deploy reuses): the restore made none.
  expectConverged(await s.converged({ promoted: false, stableVersion: release.previous }), w, [1, 2]);
  const end = await s.state();
  expect(end?.state.phase, w).toBe("restored");
  expect(end?.owner, `the lock released\n${w}`).toBeNull();
  expect(await stableRefreshes(s), `one refresh of stable back\n${w}`).toBe(refreshesBefore + 1);
  // As many gray instances as one restore needs (as large as stable), none launched twice.
  const launched = [...s.grayIdsSeen].filter((id) => !grayBefore.has(id));
  expect(launched, w).toHaveLength(2);

  // Only the restore's two weights ever reached the rule, in order; every write AWS accepted from
  // the rollback-release processes was one of them.
  expect(s.albWeights(startedAt), w).toEqual([PREVIOUS, STABLE]);
  const written = s.proxy.calls
    .slice(callsFrom)
    .filter((call) => call.result === "forwarded" && call.status !== null && call.status < 300)
    .flatMap((call) => {
      const ww = writtenWeights(call, s.w.fx.stable.targetGroupArn, s.w.fx.gray.targetGroupArn);
      return ww === null ? [] : [`${ww.stable}/${ww.gray}`];
    });
  expect(new Set(written), w).toEqual(new Set(["0/100", "100/0"]));
  expectSubsequence(seenSince(s, seenFrom), [100, 0], w);
  expect(s.alb!.errors, w).toEqual([]);
  expect(s.alb!.load.stats().failed, `customers' failed requests\n${w}`).toBe(0);
}

/**
 * The kill points, a few per restore: its first process is killed at the first, the process that
 * resumes it at the next, …, and the process after the last must converge. So a fresh process is
 * killed at the 1st, 3rd and 6th kill point, a resuming one at the others. A restore (and so a deploy
 * and promotion) for each kill point cost about half as much again for the file (see issue 17's note).
 */
const RESTORES: readonly (readonly KillPoint[])[] = [
  KILL_POINTS.slice(0, 2),
  KILL_POINTS.slice(2, 5),
  KILL_POINTS.slice(5, 7),
];
if (RESTORES.flat().length !== KILL_POINTS.length || RESTORES.flat().some((kp, i) => kp !== KILL_POINTS[i]))
  throw new Error("RESTORES must take every kill point once, in order");

// One scenario for the file (an emulator, a data plane with real traffic), its restores one after
// another: scenarios at once shortened the file's wall time but saved no CPU, which the suite lacks.
// The tests run in the slot beforeAll waited for: the run limit is their timeout.
describe("rollback-release killed (SIGKILL) at each kill point, then run again", {
  timeout: SCENARIO_RUN_LIMIT_MS,
}, () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario();
    await createSmokeRule(s.w, POOL_HEADER, "gray");
  }, SCENARIO_TEST_TIMEOUT_MS);
  afterAll(async () => {
    await s?.close();
  });
  for (const kps of RESTORES)
    it(kps.map((kp) => kp.name).join("; resumed, then killed "), () => crashRestore(s, kps));
});
