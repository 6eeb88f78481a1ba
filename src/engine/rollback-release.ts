/**
 * rollback-release (issue 17): the fast way back after promotion. While the stored rollout of the
 * scope is a promoted release whose previous version is recorded, and within the window it was
 * deployed with (--rollback-release-window, 24 h by default), it puts that previous version back:
 * gray up on it, healthy and smoke-tested, all traffic to it in one verified write, stable refreshed
 * back onto it, traffic back to stable, gray drained (restore.ts runs the steps).
 *
 * Like deploy-gray it holds the scope's lock (a new rollout of kind `restore`, acquired with a
 * conditional write), and a rerun continues a restore that stopped (after a crash, once its lease
 * expired) or returns the restored outcome again. Within a keep-previous window there is nothing
 * to rebuild: the previous version still runs on stable, so it is `abort`'s one verified write.
 * Anything else is refused, with the reason, before anything changes.
 */
import { isRefusal, PreflightError, StateError, toGrayDeployError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { formatDuration } from "../contract/units.js";
import { DEFAULT_ROLLBACK_RELEASE_WINDOW_MS } from "../core/policy.js";
import { isTerminal, newRollout, type RestoreOf, type RolloutState } from "../core/state.js";
import type { Ports, StoredRollout } from "../ports/index.js";
import { RolloutRun } from "./engine.js";
import { fanOut } from "./events.js";
import { outcomeFromState, refusedOutcome } from "./outcome.js";
import {
  abort,
  type ControlInput,
  leaseExpired,
  lockedBy,
  type RolloutAddress,
  takeOver,
  type VerbContext,
} from "./verbs.js";

const iso = (t: number) => new Date(t).toISOString();

export async function rollbackRelease(
  at: RolloutAddress,
  ports: Ports,
  ctx: VerbContext,
  input: ControlInput,
): Promise<Outcome> {
  const { scope } = at;
  try {
    const stored = await ports.store.load(scope);
    if (stored === null) {
      throw new StateError(`no rollout is recorded for ${scope}: there is no release to roll back`, {
        fix: "check --listener-arn/--rule-arn and --state-table",
      });
    }
    const s = stored.state;
    if (s.kind === "restore") {
      if (!isTerminal(s.phase)) return await resume(stored, ports, ctx);
      if (s.phase === "restored") {
        return outcomeFromState(s, {
          reason: `already restored: ${s.outcomeReason ?? s.release.image}`,
        });
      }
      // A restore that did not finish (failed, aborted): try again towards the same version.
      return await start(s.restoreOf ?? null, s.release.version, s, ports, ctx, input);
    }
    if (s.phase === "keeping") {
      // The previous version still runs on stable at full capacity: the way back is one write.
      log(ctx, "info", `rollout ${s.id} is in its keep-previous window: returning traffic to stable (abort)`);
      return await abort(at, ports, ctx, {
        by: input.by,
        reason: `rollback-release in the keep-previous window${input.reason ? `: ${input.reason}` : ""}`,
      });
    }
    if (!isTerminal(s.phase)) {
      throw new StateError(
        `rollout ${s.id} (${s.release.image}) is still ${s.phase}: it has not been promoted, so stable still runs the previous version`,
        { fix: "use `gray-deploy abort` to return a rollout in progress to stable" },
      );
    }
    if (s.phase !== "promoted") {
      throw new StateError(
        `the last rollout ${s.id} (${s.release.image}) ended ${s.phase}, not promoted: stable runs the previous version already`,
        { fix: "nothing to roll back; `gray-deploy status` shows the last rollout" },
      );
    }
    if (s.endedAt === null || s.release.version === null || s.release.previousVersion === null) {
      throw new StateError(`rollout ${s.id} records no previous version to restore`, {
        fix: "deploy the previous image with `gray-deploy deploy-gray --image …`",
      });
    }
    const window = s.plan.rollbackReleaseWindowMs ?? DEFAULT_ROLLBACK_RELEASE_WINDOW_MS;
    const restoreOf: RestoreOf = {
      rolloutId: s.id,
      image: s.release.image,
      version: s.release.version,
      promotedAt: s.endedAt,
      until: s.endedAt + window,
    };
    return await start(restoreOf, s.release.previousVersion, s, ports, ctx, input);
  } catch (e) {
    const err = toGrayDeployError(e);
    if (!isRefusal(err)) throw err;
    return refusedOutcome(err, { target: at.target, scope });
  }
}

/** A restore that stopped: continue it (the same rules as deploy-gray's resume). */
async function resume(stored: StoredRollout, ports: Ports, ctx: VerbContext): Promise<Outcome> {
  const s = stored.state;
  const live = !leaseExpired(stored, ctx.clock.now()) && stored.owner?.id !== ctx.owner.id;
  if (live) throw lockedBy(stored);
  log(ctx, "info", `resuming rollback-release ${s.id} from phase ${s.phase}`);
  const taken = await takeOver(stored, s, ports, ctx);
  return new RolloutRun(taken, ports, ctx).run();
}

/** Preflight (no writes), then the lock, then the restore's run. */
async function start(
  restoreOf: RestoreOf | null,
  version: string | null,
  last: RolloutState,
  ports: Ports,
  ctx: VerbContext,
  input: ControlInput,
): Promise<Outcome> {
  const now = ctx.clock.now();
  if (restoreOf === null || version === null) {
    throw new StateError(`rollout ${last.id} records no release to roll back`);
  }
  if (now > restoreOf.until) {
    throw new StateError(
      `rollback-release is available for ${formatDuration(restoreOf.until - restoreOf.promotedAt)} after promotion: ${restoreOf.image} (version ${restoreOf.version}) was promoted at ${iso(restoreOf.promotedAt)}, ${formatDuration(now - restoreOf.promotedAt)} ago; its window ended at ${iso(restoreOf.until)}`,
      {
        fix: "roll the previous image out again with `gray-deploy deploy-gray --image <previous image>` (a full gray rollout), or raise --rollback-release-window for future releases",
      },
    );
  }
  const signal = ctx.signal;
  const router = await ports.router.preflight(signal);
  if (router.weights.stable !== 100 || router.weights.gray !== 0) {
    throw new PreflightError(
      `the forward action sends ${router.weights.gray}% to gray but no rollout is in progress`,
      { fix: "set the weights back to stable 100 / gray 0, then run rollback-release again" },
    );
  }
  const described = ports.fleet.describeVersion
    ? await ports.fleet.describeVersion(version, signal)
    : { image: last.kind === "restore" ? last.release.image : version, facts: [] };
  const fleet = await ports.fleet.preflight(
    { image: described.image, commit: null, startedBy: input.by },
    signal,
  );
  if (fleet.stableVersion !== restoreOf.version) {
    throw new PreflightError(
      `stable runs version ${fleet.stableVersion}, not ${restoreOf.version} (${restoreOf.image}), the release rollback-release would undo: something changed it since`,
      {
        fix: "check the stable group's launch template version; `gray-deploy deploy-gray` rolls out a chosen image",
      },
    );
  }
  const base = newRollout({
    id: ctx.newId(),
    scope: last.scope,
    target: last.target,
    image: described.image,
    commit: null,
    startedBy: input.by,
    plan: last.plan,
    now,
  });
  const state: RolloutState = {
    ...base,
    kind: "restore",
    restoreOf,
    release: { ...base.release, version, previousVersion: restoreOf.version },
    stableCapacity: fleet.stableCapacity,
    drainDelayMs: router.drainDelayMs,
    stickinessSeconds: router.stickinessSeconds,
    ...(input.reason ? { warnings: [`rollback-release: ${input.reason}`] } : {}),
  };
  log(
    ctx,
    "info",
    `rollback-release: ${restoreOf.image} (version ${restoreOf.version}) → ${described.image} (version ${version}); ${[...described.facts].join("; ")}`,
  );
  const acquired = await ports.store.acquire(state, ctx.owner, last.plan.lockLeaseMs, ctx.clock.now());
  if (acquired.kind === "held") throw lockedBy(acquired.stored);
  return new RolloutRun(acquired.stored, ports, ctx).run();
}

function log(ctx: VerbContext, level: "info" | "warn" | "error", message: string): void {
  fanOut(ctx.onEvent)({ type: "log", at: ctx.clock.now(), level, message });
}
