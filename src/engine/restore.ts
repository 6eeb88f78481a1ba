/**
 * rollback-release's run (a rollout of kind `restore`): the previous release — already judged good
 * when it was promoted — goes back in front of customers without another gray rollout. Each step is
 * saved before and after it acts, so a rerun of `rollback-release` continues where a crash stopped:
 *
 *   preparing  stable pinned at its size (its version, the release being rolled back, is recorded)
 *   scaling    gray up on the PREVIOUS launch template version, as large as stable (it takes all the
 *              traffic at once), awaited healthy in its target group
 *   smoke      the smoke checks through the load balancer's smoke route (when configured)
 *   → one verified weight write: gray (the previous version) 100%
 *   promoting  stable refreshed back onto the previous version (no checkpoints, no alarms: the way
 *              back does not pause)
 *   finishing  one verified write back to stable 100%, gray drained and scaled to 0, the pin released
 *   restored
 *
 * Nothing here is analysed: the version is the one that ran before. A failure before traffic moves
 * ends `failed` with traffic untouched on stable; a refresh that fails after it moved pauses with
 * traffic on the previous version (a rerun retries it; `abort` returns to the promoted release).
 */
import { StateError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { grayCapacity } from "../core/policy.js";
import { endStep } from "../core/state.js";
import type { Weights } from "../core/types.js";
import { outcomeFromState } from "./outcome.js";
import type { Rollback } from "./rollback.js";
import type { RunState } from "./run-state.js";
import { SAME, STABLE_ONLY, type Traffic } from "./traffic.js";

const PREVIOUS_ONLY: Weights = { stable: 0, gray: 100 };

export class Restore {
  constructor(
    private readonly r: RunState,
    private readonly traffic: Traffic,
    private readonly rollbacks: Rollback,
  ) {}

  /** The version being put back (gray's, then stable's). */
  get #previous(): string {
    const v = this.r.state.release.version;
    if (v === null) throw new StateError(`restore ${this.r.state.id} records no version to restore`);
    return v;
  }

  async run(): Promise<Outcome> {
    for (;;) {
      this.r.throwIfAborted();
      const s = this.r.state;
      if (s.abortRequested !== null && s.phase !== "rolling-back") {
        return this.rollbacks.run(
          s.rollbackCause === "guard" ? "guard" : "abort",
          `by ${s.abortRequested.by}: ${s.abortRequested.reason}`,
          null,
        );
      }
      switch (s.phase) {
        case "preflight":
          this.r.go("preparing");
          await this.r.save();
          continue;
        case "preparing":
          await this.#prepare();
          continue;
        case "scaling":
        case "smoke":
          await this.#bringUp();
          continue;
        case "paused":
          // A rerun after a failed refresh (promotion-failed): retry it.
          this.r.go("promoting");
          await this.r.save();
          continue;
        case "promoting": {
          const paused = await this.#refreshStable();
          if (paused !== null) return paused;
          continue;
        }
        case "finishing":
          return this.#finish();
        case "rolling-back":
        case "rollback-failed":
          return this.rollbacks.run(s.rollbackCause ?? "error", s.rollbackReason ?? "resuming", null);
        default:
          return outcomeFromState(s);
      }
    }
  }

  async #prepare(): Promise<void> {
    const s = this.r.state;
    const promoted = s.release.previousVersion;
    if (promoted === null || s.stableCapacity === null) {
      throw new StateError(`restore ${s.id} records neither the promoted version nor stable's size`);
    }
    await this.r.ports.fleet.prepare(
      { image: s.release.image, commit: s.release.commit, startedBy: s.release.startedBy },
      { version: this.#previous, previousVersion: promoted, stableCapacity: s.stableCapacity },
      this.r.ctx.signal,
    );
    this.r.log(
      "info",
      `restoring version ${this.#previous} (${s.release.image}); stable pinned at ${s.stableCapacity}`,
    );
    this.r.go("scaling");
    await this.r.save();
  }

  /** Gray up on the previous version, healthy, smoke-tested; then all the traffic in one write. */
  async #bringUp(): Promise<void> {
    const s = this.r.state;
    // Gray takes 100% at once: as large as stable is now (it may have grown since the promotion).
    const sizes = this.r.ports.fleet.sizes ? await this.r.ports.fleet.sizes(this.r.ctx.signal) : null;
    const capacity = grayCapacity(
      Math.max(sizes?.stable.desired ?? 0, s.stableCapacity ?? 1),
      100,
      s.plan.minGrayCapacity,
    );
    if (s.phase === "scaling" && s.grayCapacity < capacity) {
      this.r.log("info", `scaling gray to ${capacity} instance(s) on the previous version ${this.#previous}`);
      await this.r.withHeartbeat(() =>
        this.r.ports.fleet.scaleGray(this.#previous, capacity, s.plan.healthyTimeoutMs, this.r.ctx.signal),
      );
      this.r.setState({ ...this.r.state, grayCapacity: capacity });
      await this.r.save();
    }
    if (this.r.ports.router.smokeTest) {
      if (this.r.state.phase === "scaling") {
        this.r.go("smoke");
        await this.r.save();
      }
      const checks = await this.r.ports.router.smokeTest(this.r.ctx.signal);
      this.r.log("info", `smoke test of the previous version passed: ${checks.join("; ")}`);
    }
    const health = await this.r.ports.router.targetHealth(this.r.ctx.signal);
    if (health.gray.healthy === 0) {
      throw new StateError("refusing to move traffic to the previous version: gray has no healthy instance", {
        retryable: false,
      });
    }
    await this.r.save();
    await this.traffic.write(PREVIOUS_ONLY, "configured", this.r.ctx.signal);
    const now = this.r.now();
    this.r.go("promoting", {
      stableRefreshed: true,
      stepIndex: 0,
      stepStartedAt: now,
      steps: [{ kind: "forward", weight: 100, startedAt: now, endedAt: null, verdict: "pending" }],
    });
    await this.r.save();
    this.r.log("info", `traffic on the previous version: stable 0% / gray 100% (verified)`);
  }

  /** Stable back onto the previous version while gray (the same version) serves everything. */
  async #refreshStable(): Promise<Outcome | null> {
    const s = this.r.state;
    if (!SAME(s.weights, PREVIOUS_ONLY))
      await this.traffic.write(PREVIOUS_ONLY, "configured", this.r.ctx.signal);
    this.r.log("info", `refreshing stable back onto version ${this.#previous}`);
    try {
      await this.r.withHeartbeat(() =>
        this.r.ports.fleet.revertStable(this.#previous, s.plan.promotionTimeoutMs, this.r.ctx.signal),
      );
    } catch (e) {
      if (this.r.ctx.signal?.aborted) throw e;
      const why = e instanceof Error ? e.message : String(e);
      this.r.log("warn", `refreshing stable back failed: ${why}; traffic stays on the previous version`);
      this.r.go("paused", {
        pause: {
          reason: "promotion-failed",
          since: this.r.now(),
          detail: `refreshing stable back onto version ${this.#previous} failed (${why}); traffic stays on the previous version (gray, 100%). Run \`gray-deploy rollback-release\` again to retry, or \`gray-deploy abort\` to return to the promoted release`,
        },
      });
      await this.r.save(null);
      return outcomeFromState(this.r.state);
    }
    this.r.setState(endStep(this.r.state, "pass", this.r.now()));
    this.r.go("finishing");
    await this.r.save();
    return null;
  }

  async #finish(): Promise<Outcome> {
    const s = this.r.state;
    if (!SAME(s.weights, STABLE_ONLY)) await this.traffic.write(STABLE_ONLY, "configured", this.r.ctx.signal);
    await this.traffic.drain();
    await this.r.ports.fleet.retireGray(this.#previous, this.r.ctx.signal);
    this.r.setState({ ...this.r.state, grayCapacity: 0 });
    await this.r.ports.fleet.releaseStable(this.r.ctx.signal);
    const from = s.restoreOf;
    this.r.go("restored", {
      outcomeReason: `restored ${s.release.image} (version ${this.#previous}) on the stable fleet${from ? `, rolling back ${from.image} (version ${from.version})` : ""}`,
    });
    await this.r.save(null);
    return outcomeFromState(this.r.state);
  }
}
