/**
 * The verbs every front end calls (through src/app): deploy-gray, promote, abort, status, plan. Each
 * takes what it uses — the rollout's address (target and scope), the release and the plan — and the
 * ports of its target, and returns the contract's Outcome (plan returns a PlanReport). The
 * application layer builds these requests from the resolved options.
 */
import { isRefusal, LockedError, PreflightError, StateError, toGrayDeployError } from "../contract/errors.js";
import type { TargetName } from "../contract/options/def.js";
import type { Outcome } from "../contract/outcome.js";
import { formatDuration, formatRate } from "../contract/units.js";
import { plannedStepCapacity } from "../core/capacity.js";
import { pauseGate } from "../core/decide.js";
import { describeHook } from "../core/hooks.js";
import { describeSignal, type Policy } from "../core/policy.js";
import { isTerminal, newRollout, type RolloutState } from "../core/state.js";
import { describeGate } from "../gates/spec.js";
import { describeSynthetic } from "../gates/synthetic-judge.js";
import type { Ports, ReleaseSpec, StoredRollout } from "../ports/index.js";
import { type EngineContext, RolloutRun } from "./engine.js";
import { fanOut } from "./events.js";
import { outcomeFromState, refusedOutcome } from "./outcome.js";
import { RETRY, retry } from "./retry.js";

export interface VerbContext extends EngineContext {
  /** Makes rollout ids (injected so tests are deterministic). */
  readonly newId: () => string;
}

/** Which rollout a verb is about: one rollout at a time per scope of a target. */
export interface RolloutAddress {
  readonly target: TargetName;
  /** The lock's key: the listener rule (or listener) on AWS, `local` locally. */
  readonly scope: string;
}

/** What deploy-gray (and plan) needs: the release, the plan it is rolled out with. */
export interface DeployRequest extends RolloutAddress {
  readonly release: ReleaseSpec;
  readonly plan: Policy;
  /** Abort a paused or stale rollout that holds the lock first, instead of refusing. */
  readonly supersede?: boolean;
}

/** plan: deploy-gray's request plus what its text says about promotion. */
export interface PlanRequest extends DeployRequest {
  /** Instance refresh floor, percent of stable kept healthy (for the plan's text). */
  readonly refreshMinHealthy: number;
  /** The target stores rollouts, so rollback-release can reach a promoted one (for the plan's text). */
  readonly storedRollouts?: boolean;
}

export function leaseExpired(stored: StoredRollout, now: number): boolean {
  return stored.owner === null || stored.leaseUntil <= now;
}

export function lockedBy(stored: StoredRollout): LockedError {
  const s = stored.state;
  return new LockedError({
    scope: s.scope,
    rolloutId: s.id,
    image: s.release.image,
    phase: s.phase,
    startedBy: s.release.startedBy,
    startedAt: s.startedAt,
  });
}

/** Takes a stored rollout over for this process; exactly one of several concurrent takers wins. */
export async function takeOver(
  stored: StoredRollout,
  state: RolloutState,
  ports: Ports,
  ctx: VerbContext,
): Promise<StoredRollout> {
  try {
    return await ports.store.save(state, stored.revision, ctx.owner, state.plan.lockLeaseMs, ctx.clock.now());
  } catch (e) {
    if (e instanceof StateError) {
      const now = await ports.store.load(stored.state.scope);
      throw lockedBy(now ?? stored);
    }
    throw e;
  }
}

/**
 * deploy-gray: preflight (no writes), take the lock, then run the rollout until it pauses or ends.
 * A rerun with the same image resumes the stored rollout (after a crash, once its lease expired).
 */
export async function deployGray(req: DeployRequest, ports: Ports, ctx: VerbContext): Promise<Outcome> {
  const { scope, release } = req;
  try {
    const existing = await ports.store.load(scope);
    if (existing !== null && !isTerminal(existing.state.phase)) {
      const s = existing.state;
      const live = !leaseExpired(existing, ctx.clock.now()) && existing.owner?.id !== ctx.owner.id;
      if (s.release.image === release.image) {
        if (s.phase === "paused") return outcomeFromState(s); // `promote` continues it, not a rerun
        if (live) throw lockedBy(existing);
        log(ctx, "info", `resuming rollout ${s.id} from phase ${s.phase} (its previous process stopped)`);
        const taken = await takeOver(existing, s, ports, ctx);
        return new RolloutRun(taken, ports, ctx).run();
      }
      if (!req.supersede || (live && s.phase !== "paused")) throw lockedBy(existing);
      log(ctx, "warn", `--supersede: aborting rollout ${s.id} (${s.release.image}, ${s.phase}) first`);
      const aborted = await abortStored(existing, ports, ctx, {
        by: release.startedBy,
        reason: `superseded by ${release.image}`,
      });
      if (aborted.outcome !== "aborted") {
        return aborted; // could not clear the way: report why, change nothing else
      }
    }

    const routerFacts = await ports.router.preflight(ctx.signal);
    const fleetFacts = await ports.fleet.preflight(release, ctx.signal);
    // A service signal's metrics must exist for stable before anything changes.
    await ports.metrics.preflight?.(fleetFacts.stableVersion, ctx.signal);
    if (routerFacts.weights.stable !== 100 || routerFacts.weights.gray !== 0) {
      throw new PreflightError(
        `the forward action sends ${routerFacts.weights.gray}% to gray but no rollout is in progress for ${scope}`,
        {
          fix: "set the weights back to stable 100 / gray 0 (or run `gray-deploy abort` if a rollout was lost), then deploy again",
        },
      );
    }
    const plan = req.plan;
    const state: RolloutState = {
      ...newRollout({
        id: ctx.newId(),
        scope,
        target: req.target,
        image: release.image,
        ami: release.ami ?? null,
        commit: release.commit,
        startedBy: release.startedBy,
        plan,
        now: ctx.clock.now(),
      }),
      drainDelayMs: routerFacts.drainDelayMs,
      stickinessSeconds: routerFacts.stickinessSeconds,
    };
    const acquired = await ports.store.acquire(state, ctx.owner, plan.lockLeaseMs, ctx.clock.now());
    if (acquired.kind === "held") throw lockedBy(acquired.stored);
    return new RolloutRun(acquired.stored, ports, ctx).run();
  } catch (e) {
    const err = toGrayDeployError(e);
    if (!isRefusal(err)) throw err;
    return refusedOutcome(err, { target: req.target, scope, image: release.image });
  }
}

export interface ControlInput {
  /** Who asks (recorded). */
  readonly by: string;
  readonly reason?: string | undefined;
}

/** The rollout of a scope that has not ended, for the control verbs; a StateError (exit 2) otherwise. */
async function loadUnended(ports: Ports, scope: string, verb: "promote" | "abort"): Promise<StoredRollout> {
  const stored = await ports.store.load(scope);
  if (stored === null || isTerminal(stored.state.phase)) {
    throw new StateError(
      stored === null
        ? `no rollout is recorded for ${scope}`
        : `rollout ${stored.state.id} already ended (${stored.state.phase}); nothing to ${verb}`,
      {
        fix: "check --listener-arn/--rule-arn and --state-table; `gray-deploy status` shows the last rollout",
      },
    );
  }
  return stored;
}

/**
 * promote: continues a paused rollout (passing its gate, or retrying a failed promotion), or takes
 * over a rollout whose process died. `full` skips the remaining forward steps.
 */
export async function promote(
  at: RolloutAddress,
  ports: Ports,
  ctx: VerbContext,
  input: ControlInput & { readonly full?: boolean },
): Promise<Outcome> {
  const { scope } = at;
  try {
    const stored = await loadUnended(ports, scope, "promote");
    let s = stored.state;
    const now = ctx.clock.now();
    if (s.phase === "paused") {
      const gate = pauseGate(s);
      s = {
        ...s,
        skipToFull: s.skipToFull || input.full === true,
        release: {
          ...s.release,
          approvals: [
            ...s.release.approvals,
            { gate, by: input.by, at: now, ...(input.reason ? { reason: input.reason } : {}) },
          ],
        },
      };
    } else if (!leaseExpired(stored, now)) {
      // Another live process holds the rollout's lock: the refusal every lock holder gets (exit 6),
      // naming the rollout, its phase and who started it — also for a taker that loses a race.
      throw lockedBy(stored);
    } else if (input.full) {
      s = { ...s, skipToFull: true };
    }
    const taken = await takeOver(stored, s, ports, ctx);
    return await new RolloutRun(taken, ports, ctx).run();
  } catch (e) {
    const err = toGrayDeployError(e);
    if (!isRefusal(err)) throw err;
    return refusedOutcome(err, { target: at.target, scope });
  }
}

/**
 * abort: back to stable 100% now (one verified write), then clean up. Works on a paused rollout, on
 * one another process is running (that process notices at its next write and stops), and on a
 * rollout whose rollback failed.
 */
export interface AbortInput extends ControlInput {
  /**
   * `abort` (an operator, --supersede: the rollout ends `aborted`) or `guard` (the guard outside the
   * pipeline: a rollback criterion tripped, so it ends `rolled-back`). Default `abort`.
   */
  readonly cause?: "abort" | "guard";
}

export async function abort(
  at: RolloutAddress,
  ports: Ports,
  ctx: VerbContext,
  input: AbortInput,
): Promise<Outcome> {
  const { scope } = at;
  try {
    return await abortStored(await loadUnended(ports, scope, "abort"), ports, ctx, input);
  } catch (e) {
    const err = toGrayDeployError(e);
    if (!isRefusal(err)) throw err;
    return refusedOutcome(err, { target: at.target, scope });
  }
}

/**
 * Another live process already asked for this rollout's rollback and is running it: a second abort
 * (two guard invocations at once, an operator and the guard) must not take it over and run it again.
 */
function abortInProgress(stored: StoredRollout, ctx: VerbContext): StateError | null {
  const asked = stored.state.abortRequested;
  if (asked === null || stored.owner === null || stored.owner.id === ctx.owner.id) return null;
  if (leaseExpired(stored, ctx.clock.now())) return null;
  return new StateError(
    `rollout ${stored.state.id} is already being rolled back by ${asked.by} (${stored.owner.host} pid ${stored.owner.pid}, asked at ${new Date(asked.at).toISOString()}: ${asked.reason})`,
    { fix: "nothing to do: `gray-deploy status` shows when it ends" },
  );
}

async function abortStored(
  stored: StoredRollout,
  ports: Ports,
  ctx: VerbContext,
  input: AbortInput,
): Promise<Outcome> {
  const reason = input.reason ?? "operator abort";
  const cause = input.cause ?? "abort";
  let current = stored;
  // Another process may write between our read and our write: read again, write again (RETRY.takeover).
  let taken: StoredRollout;
  try {
    taken = await retry(
      { ...RETRY.takeover, retryable: (e) => e instanceof Conflict },
      async () => {
        const busy = abortInProgress(current, ctx);
        if (busy !== null) throw busy;
        const s: RolloutState = {
          ...current.state,
          abortRequested: { by: input.by, at: ctx.clock.now(), reason },
          // Recorded with the request, so the process that loses the rollout reports the right outcome.
          rollbackCause: cause,
        };
        try {
          return await ports.store.save(s, current.revision, ctx.owner, s.plan.lockLeaseMs, ctx.clock.now());
        } catch (e) {
          if (!(e instanceof StateError)) throw e;
          const fresh = await ports.store.load(stored.state.scope);
          if (fresh === null || fresh.state.id !== stored.state.id || isTerminal(fresh.state.phase)) {
            throw new StateError(`rollout ${stored.state.id} ended while aborting it`);
          }
          current = fresh;
          throw new Conflict();
        }
      },
      { clock: ctx.clock },
    );
  } catch (e) {
    if (!(e instanceof Conflict)) throw e;
    throw new StateError(`could not take rollout ${stored.state.id} over to abort it: it keeps changing`, {
      retryable: true,
    });
  }
  return new RolloutRun(taken, ports, ctx).abort(`by ${input.by}: ${reason}`, cause);
}

/** Another process wrote the rollout between our read and our conditional write. */
class Conflict extends Error {}

/** status: where the rollout of this scope stands. */
export async function status(at: RolloutAddress, ports: Pick<Ports, "store">, now: number): Promise<Outcome> {
  const { scope } = at;
  const stored = await ports.store.load(scope);
  if (stored === null) {
    return refusedOutcome(new StateError(`no rollout is recorded for ${scope}`), {
      target: at.target,
      scope,
    });
  }
  const s = stored.state;
  const running = !isTerminal(s.phase) && s.phase !== "paused" && s.phase !== "rollback-failed";
  if (running) {
    const stale = leaseExpired(stored, now);
    return outcomeFromState(s, {
      outcome: "in-progress",
      reason: stale
        ? `phase ${s.phase}: its process stopped renewing the lock at ${new Date(stored.leaseUntil).toISOString()}; rerun deploy-gray with the same image to resume it, or abort it`
        : `phase ${s.phase}, running in ${stored.owner?.host} pid ${stored.owner?.pid}: ${s.lastDecision?.reason ?? ""}`,
    });
  }
  return outcomeFromState(s);
}

/** What `plan` prints: what deploy-gray would do, computed without changing anything. */
export interface PlanReport {
  readonly target: TargetName;
  readonly scope: string;
  readonly image: string | null;
  readonly facts: readonly string[];
  readonly steps: readonly { weight: number; grayCapacity: number; bake: string; approval: boolean }[];
  readonly returnSteps: readonly { stableWeight: number; bake: string }[];
  readonly thresholds: Readonly<Record<string, string | number>>;
  /** The gates judged at every step besides the built-in ones: CloudWatch alarms, business-metric gates. */
  readonly gates: readonly string[];
  /**
   * Every check and hook the rollout would run, in order: synthetic transactions (before traffic and
   * during steps), the chosen-customers step, lifecycle hooks by stage, observe-only gates.
   */
  readonly checks: readonly string[];
  readonly changes: readonly string[];
  readonly estimatedDuration: string;
  readonly blockers: readonly string[];
  /** --keep-previous: the window and its cost (stable's instances kept warm × the window, in hours). */
  readonly keepPrevious?: {
    readonly window: string;
    readonly instances: number;
    readonly instanceHours: number;
  };
}

export async function plan(
  req: PlanRequest,
  ports: Ports,
  ctx: Pick<VerbContext, "signal" | "clock">,
): Promise<PlanReport> {
  const { scope, release } = req;
  const p: Policy = req.plan;
  const blockers: string[] = [];
  const stored = await ports.store.load(scope).catch((e) => {
    blockers.push(`state store: ${toGrayDeployError(e).message}`);
    return null;
  });
  if (stored !== null && !isTerminal(stored.state.phase)) {
    blockers.push(
      stored.state.release.image === release.image
        ? `rollout ${stored.state.id} of this image is ${stored.state.phase}: deploy-gray would ${stored.state.phase === "paused" ? "report it paused" : "resume it"}`
        : `rollout ${stored.state.id} (${stored.state.release.image}) holds the lock in phase ${stored.state.phase}`,
    );
  }
  const routerFacts = await ports.router.preflight(ctx.signal);
  const fleetFacts = await ports.fleet.preflight(release, ctx.signal);
  const metricFacts = (await ports.metrics.preflight?.(fleetFacts.stableVersion, ctx.signal)) ?? [];
  if (routerFacts.weights.stable !== 100 || routerFacts.weights.gray !== 0) {
    blockers.push(
      `weights are stable ${routerFacts.weights.stable}/gray ${routerFacts.weights.gray}, not 100/0`,
    );
  }
  const stable = fleetFacts.stableCapacity;
  const steps = p.steps.map((w) => ({
    weight: w,
    grayCapacity: plannedStepCapacity(p, stable, stable, w),
    bake: formatDuration(p.bakeMs),
    approval: p.approvals.includes(`step:${w}`),
  }));
  const forwardSteps = p.steps.length + (p.pilot ? 1 : 0);
  const keepMs = p.keepPreviousMs ?? 0;
  const total =
    forwardSteps * p.bakeMs + keepMs + p.returnSteps.length * p.returnBakeMs + routerFacts.drainDelayMs;
  // Two decimals: a 30-minute window on 4 instances is 2 instance-hours.
  const keep =
    keepMs > 0
      ? {
          window: formatDuration(keepMs),
          instances: stable,
          instanceHours: Math.round((stable * keepMs) / 36_000) / 100,
        }
      : null;
  const t = p.thresholds;
  return {
    target: req.target,
    scope,
    image: release.image,
    facts: [...routerFacts.facts, ...fleetFacts.facts, ...metricFacts],
    steps,
    returnSteps: p.returnSteps.map((w) => ({ stableWeight: w, bake: formatDuration(p.returnBakeMs) })),
    thresholds: {
      rollbackErrorRate: formatRate(t.rollbackErrorRate),
      rollbackP99: formatDuration(t.rollbackP99Ms),
      rollbackUnhealthy: t.rollbackUnhealthy,
      promoteErrorRate: formatRate(t.promoteErrorRate),
      promoteP95: formatDuration(t.promoteP95Ms),
      minRequests: t.minRequests,
      rollbackWindow: formatDuration(p.rollbackWindowMs),
      promotionWindow: formatDuration(p.promotionWindowMs),
    },
    gates: [
      // With a service signal the built-in gates read it, and the load balancer's metrics guard it.
      ...(p.signal ? [describeSignal(p)] : []),
      ...p.alarms.map((a) => `alarm ${a}: the step fails while it is in ALARM`),
      ...(p.gates ?? []).map(describeGate),
    ],
    checks: planChecks(p),
    changes: [
      `create (or reuse) the release version of ${release.image}`,
      `pin stable at ${stable} instance(s) while the rollout runs`,
      ...(p.pilot
        ? [
            `chosen customers (${p.pilot.match ?? "the pilot rule's condition"}) to gray, weights unchanged, bake ≥ ${formatDuration(p.bakeMs)}`,
          ]
        : []),
      ...steps.map(
        (s) =>
          `gray ${s.grayCapacity} instance(s), weights stable ${100 - s.weight} / gray ${s.weight}, bake ≥ ${s.bake}${s.approval ? " after approval" : ""}`,
      ),
      ...(keep === null
        ? []
        : [
            `keep the previous version warm on stable (${keep.instances} instance(s), serving 0%) for ${keep.window} after 100% passes: ${keep.instanceHours} instance-hours; a rollback meanwhile is one weight write`,
          ]),
      `${p.approvals.includes("promotion") ? "after approval, " : ""}rolling update of stable onto the release (refresh ≥ ${req.refreshMinHealthy}% healthy)`,
      ...p.returnSteps.map(
        (w) => `weights stable ${w} / gray ${100 - w}, bake ≥ ${formatDuration(p.returnBakeMs)}`,
      ),
      "gray to 0 after draining; stable's settings restored",
      ...((p.grayCapacity ?? "fixed") === "follow"
        ? [
            `while gray carries traffic, both fleets follow the load (a change held for ${formatDuration(p.followDelayMs ?? 0)}; shrinking ${formatDuration((p.followDelayMs ?? 0) * 3)}): gray sized so that a gray instance carries no more requests than a stable one (at 100%: the whole load by stable's per-instance target; within gray's MaxSize, short of it the relative latency gate holds the step), stable held at the size of the whole load when its scaling policy tracks requests per instance`,
          ]
        : []),
      ...(req.storedRollouts
        ? [
            `\`gray-deploy rollback-release\` can restore the previous version for ${formatDuration(p.rollbackReleaseWindowMs ?? 86_400_000)} after promotion`,
          ]
        : []),
    ],
    estimatedDuration: formatDuration(total),
    blockers,
    ...(keep === null ? {} : { keepPrevious: keep }),
  };
}

/** What `plan` lists under checks (src/core/hooks.ts, src/gates/synthetic.ts say what each does). */
export function planChecks(p: Policy): string[] {
  const synthetic = p.synthetic ?? [];
  const every = formatDuration(p.syntheticIntervalMs ?? p.intervalMs);
  return [
    ...synthetic.map(
      (s) =>
        `${describeSynthetic(s)}: once before the first customer (a failure rolls back), then every ${every} during each step (${s.failAfter} failed in a row fail it)`,
    ),
    ...(p.pilot
      ? [
          `chosen-customers step first: ${p.pilot.match ?? "the load balancer's pilot rule"} → gray; a rollback switches it back first`,
        ]
      : []),
    ...(p.hooks ?? []).map(describeHook),
    ...(p.observe ?? []).map((g) => `${g}: observe only (judged and reported, never holds or fails a step)`),
  ];
}

function log(ctx: VerbContext, level: "info" | "warn" | "error", message: string): void {
  fanOut(ctx.onEvent)({ type: "log", at: ctx.clock.now(), level, message });
}
