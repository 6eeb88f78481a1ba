/**
 * Traffic of one run: every weight write is read back before the run moves on (RETRY.verifiedWrite),
 * a rollback's return to stable keeps trying for a lock lease (RETRY.restoreStable), and a write that
 * landed after another process took the rollout over is undone when that process wants stable.
 */
import { type GrayDeployError, toGrayDeployError, VerificationError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import { addWarning, isTerminal } from "../core/state.js";
import type { Weights } from "../core/types.js";
import type { StoredRollout } from "../ports/index.js";
import { RETRY, retry, transient } from "./retry.js";
import type { RunState } from "./run-state.js";

export const SAME = (a: Weights, b: Weights) => a.stable === b.stable && a.gray === b.gray;
export const STABLE_ONLY: Weights = { stable: 100, gray: 0 };

/**
 * A write or its read-back that failed with a retryable error after the SDK's own attempts
 * (throttling, a 5xx): writing the same weights again is idempotent, so it is tried again as a
 * mismatch is, in this run's own flow (never late behind another process's back).
 */
/** The chosen-customers rule read back different from what was written. */
class PilotMismatch extends Error {}

/** Weights read back different from those written. */
class Mismatch extends Error {
  constructor(readonly read: Weights) {
    super(`read back stable ${read.stable}% / gray ${read.gray}%`);
  }
}

export class Traffic {
  constructor(private readonly r: RunState) {}

  /** Writes weights and reads them back; writes again on a mismatch (RETRY.verifiedWrite). */
  async write(
    weights: Weights,
    stickiness: "configured" | "off",
    // No default: a rollback must pass `undefined` on purpose, so the signal that asked for the
    // rollback cannot cancel it.
    signal: AbortSignal | undefined,
    // restoreStable's own policy already retries transient errors, for a lock lease.
    onTransient: "retry" | "throw" = "retry",
  ): Promise<void> {
    try {
      await retry(
        {
          ...RETRY.verifiedWrite,
          retryable: (e) => e instanceof Mismatch || (onTransient === "retry" && transient(e)),
        },
        async () => {
          this.r.writes++;
          await this.r.ports.router.setWeights(weights, { stickiness }, signal);
          const read = await this.r.ports.router.getWeights(signal);
          if (!SAME(read, weights)) throw new Mismatch(read);
        },
        { clock: this.r.ctx.clock, signal },
      );
    } catch (e) {
      if (!(e instanceof Mismatch)) throw e;
      throw new VerificationError(
        `weights read back as stable ${e.read.stable}/gray ${e.read.gray} after writing stable ${weights.stable}/gray ${weights.gray}`,
      );
    }
    this.r.setState({ ...this.r.state, weights });
    this.r.event({ type: "weights", at: this.r.now(), weights, verified: true });
  }

  /**
   * Switches the chosen-customers rule (to gray: `true`) and reads it back, as a weight write is
   * (RETRY.verifiedWrite). A router without one: nothing to switch.
   */
  async writePilot(
    enabled: boolean,
    signal: AbortSignal | undefined,
    onTransient: "retry" | "throw" = "retry",
  ): Promise<void> {
    const router = this.r.ports.router;
    if (router.setPilot === undefined || router.getPilot === undefined) {
      if (enabled)
        throw new VerificationError("this target has no chosen-customers rule to switch", {
          retryable: false,
        });
      return;
    }
    try {
      await retry(
        {
          ...RETRY.verifiedWrite,
          retryable: (e) => e instanceof PilotMismatch || (onTransient === "retry" && transient(e)),
        },
        async () => {
          this.r.writes++;
          await router.setPilot!(enabled, signal);
          if ((await router.getPilot!(signal)) !== enabled) throw new PilotMismatch();
        },
        { clock: this.r.ctx.clock, signal },
      );
    } catch (e) {
      if (!(e instanceof PilotMismatch)) throw e;
      throw new VerificationError(
        `the chosen-customers rule read back ${enabled ? "off" : "on"} after switching it ${enabled ? "on" : "off"}`,
      );
    }
    this.r.setState({ ...this.r.state, pilot: enabled });
    this.r.event({ type: "pilot", at: this.r.now(), enabled });
    this.r.log(
      "info",
      enabled
        ? "chosen-customers step: the pilot rule sends its requests to gray; the weights stay stable 100% / gray 0% (verified)"
        : "chosen-customers rule back to stable (verified)",
    );
  }

  /**
   * Returns null when stable has 100% (verified), else the last error. Tries as RETRY.restoreStable
   * says (at least 5 times AND for at least one lock lease), renewing the lease meanwhile: the person
   * paged after giving up meets the same failing API, so giving up early only leaves gray serving.
   */
  async restoreStable(): Promise<GrayDeployError | null> {
    const lastError = await this.r.withHeartbeat(async (): Promise<GrayDeployError | null> => {
      try {
        await retry(
          RETRY.restoreStable(this.r.state.plan.lockLeaseMs),
          async () => {
            // The chosen-customers rule first: it sends its requests to gray whatever the weights say.
            if (this.r.state.plan.pilot !== undefined) await this.writePilot(false, undefined, "throw");
            await this.write(STABLE_ONLY, "off", undefined, "throw");
          },
          {
            clock: this.r.ctx.clock,
            onFailure: (f) =>
              this.r.log(
                "warn",
                `restoring stable traffic failed (attempt ${f.attempt}, ${formatDuration(f.elapsedMs)} so far${f.nextDelayMs === null ? ", giving up" : ""}): ${toGrayDeployError(f.error).message}`,
              ),
          },
        );
        this.r.log("info", "traffic restored: stable 100% / gray 0% (verified)");
        return null;
      } catch (e) {
        return toGrayDeployError(e);
      }
    });
    if (lastError === null) return null;
    // The write failed, but if gray never had traffic in this rollout and the load balancer still
    // reads stable 100 / gray 0, no customer and no stickiness cookie can reach gray: the rollback
    // holds (e.g. a pipeline role without ModifyRule). Paging someone would be a false alarm.
    if (this.r.state.steps.length === 0 && this.r.state.weights.gray === 0) {
      const now = await this.r.ports.router.getWeights().catch(() => null);
      if (now !== null && SAME(now, STABLE_ONLY)) {
        const msg = `the forward action could not be rewritten (${lastError?.message}), but gray never had traffic and the weights read stable 100% / gray 0%`;
        this.r.log("warn", msg);
        this.r.setState(addWarning(this.r.state, msg));
        return null;
      }
    }
    return lastError;
  }

  /**
   * A resumed run makes the chosen-customers rule match the stored state, like the weights: on when
   * stored off (the process died between switching it and saving) is switched back off; off when
   * stored on means someone moved those customers back to stable while no process ran the rollout —
   * switching it on again would give gray traffic without a verdict, so the run rolls back (returned
   * reason). Null: go on.
   */
  async reconcilePilot(): Promise<string | null> {
    const s = this.r.state;
    const getPilot = this.r.ports.router.getPilot;
    if (s.plan.pilot === undefined || getPilot === undefined) return null;
    const actual = await getPilot.call(this.r.ports.router, this.r.ctx.signal);
    const stored = s.pilot === true;
    if (actual === stored) return null;
    if (stored) {
      return "the chosen-customers rule forwards to stable although the rollout last verified it on gray: it was switched while no process ran the rollout, and resuming would send those customers to gray without a verdict";
    }
    this.r.log(
      "warn",
      "the chosen-customers rule forwards to gray but the rollout last verified it off: switching it back",
    );
    await this.writePilot(false, this.r.ctx.signal);
    return null;
  }

  /**
   * This run lost the rollout with a weight write that no save followed: the write may have landed
   * AFTER the new owner took over (it was slow, or retried by the SDK) — e.g. after an `abort` from
   * another process had verified stable 100% and scaled gray to zero, putting customers back on an
   * empty gray. When the new owner is rolling back or has ended, stable 100% is what it wants, so
   * this run puts it back (one verified write, stickiness off as in a rollback). Otherwise (a resumed
   * run drives the rollout) it only warns: writing the owner's weights could fight its next step.
   */
  async undoLateWrite(stored: StoredRollout | null): Promise<void> {
    if (this.r.writes <= this.r.savedWrites) return;
    const s = stored?.state;
    const stableWanted =
      s === undefined ||
      s.abortRequested !== null ||
      s.phase === "rolling-back" ||
      s.phase === "rollback-failed" ||
      isTerminal(s.phase);
    if (!stableWanted) {
      this.r.log(
        "warn",
        `another process took the rollout over while this one was writing weights (stable ${this.r.state.weights.stable}% / gray ${this.r.state.weights.gray}%): check that the weights are those it expects`,
      );
      return;
    }
    try {
      const router = this.r.ports.router;
      if (this.r.state.plan.pilot !== undefined && (await router.getPilot?.(undefined)) === true) {
        this.r.log(
          "warn",
          "the chosen-customers rule still sends to gray after another process took the rollout over: switching it back to stable",
        );
        await router.setPilot?.(false, undefined);
      }
      const actual = await this.r.ports.router.getWeights(undefined);
      if (SAME(actual, STABLE_ONLY)) return;
      this.r.log(
        "warn",
        `this process's weight write landed after another process took the rollout over to roll it back (load balancer at stable ${actual.stable}% / gray ${actual.gray}%): put stable back to 100%`,
      );
      await this.r.ports.router.setWeights(STABLE_ONLY, { stickiness: "off" }, undefined);
      const after = await this.r.ports.router.getWeights(undefined);
      if (!SAME(after, STABLE_ONLY))
        throw new VerificationError(`read back stable ${after.stable}% / gray ${after.gray}%`);
      this.r.log("info", "traffic restored: stable 100% / gray 0% (verified)");
    } catch (err) {
      this.r.log(
        "error",
        `could not put stable back to 100% after a late weight write (${toGrayDeployError(err).message}): set the forward action to stable 100 / gray 0 by hand`,
      );
    }
  }

  async drain(): Promise<void> {
    const delay = this.r.state.drainDelayMs;
    if (delay > 0) {
      this.r.log("info", `draining gray for ${formatDuration(delay)} (deregistration delay)`);
      await this.r.ctx.clock.sleep(delay);
    }
  }

  /**
   * Traffic to stable first (one verified write, stickiness off so cookies cannot pin clients to
   * gray), then drain, gray to zero and stable's settings restored. Cleanup failures after traffic is
   * safe become warnings; failing to restore traffic is `rollback-failed`.
   */
}
