/**
 * A rollback: traffic to stable first (one verified write, stickiness off so cookies cannot pin
 * clients to gray, retried for a lock lease), then drain, stable back on its version if promotion
 * had changed it, gray to zero, stable's settings restored. Cleanup failures after traffic is safe
 * become warnings; failing to restore traffic is `rollback-failed`, never a silent success.
 */
import { type GrayDeployError, toGrayDeployError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { addWarning, endStep, type Phase, type RollbackCause } from "../core/state.js";
import type { Hooks } from "./hooks.js";
import { outcomeFromState } from "./outcome.js";
import { LostRollout, type RunState } from "./run-state.js";
import type { Traffic } from "./traffic.js";

export class Rollback {
  constructor(
    private readonly r: RunState,
    private readonly traffic: Traffic,
    /** on-rollback hooks: told once traffic is back on stable (or the rollback failed); notify only. */
    private readonly hooks?: Hooks,
  ) {}

  async run(cause: RollbackCause, reason: string, error: GrayDeployError | null): Promise<Outcome> {
    if (this.r.state.phase !== "rolling-back") {
      this.r.setState(endStep(this.r.state, cause === "abort" ? "aborted" : "fail", this.r.now()));
      this.r.go("rolling-back", { rollbackCause: cause, rollbackReason: reason });
    }
    this.r.log("warn", `rolling back: ${reason}`);
    // One attempt: recording the rollback must not delay the return to stable.
    await this.r.save(undefined, { patient: false }).catch((e) => {
      if (e instanceof LostRollout) throw e;
      this.r.log("warn", `could not record the rollback before starting it: ${toGrayDeployError(e).message}`);
    });

    // Rollback must not be cancelled by the signal that asked for it.
    const restored = await this.traffic.restoreStable();
    if (restored !== null) return this.failed(restored);

    const s = this.r.state;
    const cleanup: [string, () => Promise<void>][] = [];
    cleanup.push(["drain gray", () => this.traffic.drain()]);
    if (s.stableRefreshed && s.release.previousVersion !== null) {
      const previous = s.release.previousVersion;
      cleanup.push([
        `revert stable to ${previous}`,
        () => this.r.ports.fleet.revertStable(previous, s.plan.promotionTimeoutMs),
      ]);
    }
    if (s.release.previousVersion !== null) {
      const previous = s.release.previousVersion;
      cleanup.push([`scale gray to zero`, () => this.r.ports.fleet.retireGray(previous)]);
    }
    cleanup.push(["restore stable's capacity settings", () => this.r.ports.fleet.releaseStable()]);
    for (const [what, op] of cleanup) {
      try {
        await this.r.withHeartbeat(op);
        if (what === "scale gray to zero") this.r.setState({ ...this.r.state, grayCapacity: 0 });
        if (what.startsWith("revert stable")) this.r.setState({ ...this.r.state, stableRefreshed: false });
      } catch (e) {
        const msg = `${what} failed after traffic was back on stable: ${toGrayDeployError(e).message}`;
        this.r.log("warn", msg);
        this.r.setState(addWarning(this.r.state, msg));
      }
    }
    const end: Phase = cause === "abort" ? "aborted" : cause === "error" ? "failed" : "rolled-back";
    const outcomeReason =
      cause === "abort"
        ? `aborted: ${reason}; traffic is back on stable`
        : cause === "error"
          ? `${reason}; traffic is back on stable`
          : `rolled back: ${reason}`;
    this.r.go(end, { outcomeReason });
    await this.r.save(null).catch((e) => {
      if (e instanceof LostRollout) throw e;
      this.r.setState(
        addWarning(this.r.state, `could not record the end of the rollout: ${toGrayDeployError(e).message}`),
      );
    });
    const outcome = outcomeFromState(this.r.state, { error });
    await this.hooks?.notify("on-rollback", reason, outcome.outcome);
    return outcome;
  }

  /**
   * Returns null when stable has 100% (verified), else the last error.
   * Tries at least 5 times AND for at least one lock lease (2 min by default on AWS), renewing the
   * lease meanwhile: five attempts alone gave up after ~17 s, so a 24 s ModifyRule outage ended in
   * rollback-failed while traffic stayed on gray — and the person then paged meets the same failing
   * API. Sleeps between attempts double from 1 s up to 15 s.
   */

  async failed(error: GrayDeployError): Promise<Outcome> {
    const reason =
      `ROLLBACK FAILED: traffic may still reach gray (last verified weights stable ${this.r.state.weights.stable}% / gray ${this.r.state.weights.gray}%): ${error.message}. ` +
      "A person must act: set the forward action to stable 100 / gray 0 in the console or CLI, then run `gray-deploy abort` to finish the cleanup";
    if (this.r.state.phase !== "rollback-failed") this.r.go("rollback-failed", { outcomeReason: reason });
    await this.r.save(null).catch(() => {});
    this.r.log("error", reason);
    const outcome = outcomeFromState(this.r.state, { outcome: "rollback-failed", reason, error });
    await this.hooks?.notify("on-rollback", reason, outcome.outcome);
    return outcome;
  }
}
