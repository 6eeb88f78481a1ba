/**
 * The engine: observe → decide → apply, through the ports, with an injected clock and AbortSignal.
 *
 * It sequences what the core decides and keeps the promises the core cannot keep alone:
 * - every weight write is read back before the engine moves on;
 * - gray's weight is never raised while gray has no healthy instance;
 * - state is saved (conditionally) before and after every change in the world, so another process
 *   can continue, and a process that lost the rollout to another (abort, takeover) stops touching it;
 * - an AbortSignal (Ctrl-C, SIGTERM) rolls back safely; a rollback that cannot restore stable ends in
 *   `rollback-failed`, never in a silent success.
 */
import {
  AbortedError,
  StateError,
  TimeoutError,
  toGrayDeployError,
  VerificationError,
} from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { stepCapacity } from "../core/capacity.js";
import { absorbObservation, type Decision, decide } from "../core/decide.js";
import { grayCapacity } from "../core/policy.js";
import { endStep, isTerminal, type PauseInfo, type RolloutState, transition } from "../core/state.js";
import type { Weights } from "../core/types.js";
import type { Ports, StoredRollout } from "../ports/index.js";
import { Finish, prepareRelease, warnAgain } from "./ends.js";
import { Follower } from "./follow.js";
import { Hooks } from "./hooks.js";
import { Observer } from "./observe.js";
import { outcomeFromState } from "./outcome.js";
import { Restore } from "./restore.js";
import { RETRY, retry } from "./retry.js";
import { Rollback } from "./rollback.js";
import { type EngineContext, LostRollout, RunState } from "./run-state.js";
import { Rejected, Synthetic } from "./synthetic.js";
import { SAME, Traffic } from "./traffic.js";

export type { EngineContext } from "./run-state.js";

/**
 * Gray never became healthy: the release is judged bad (a version that cannot start is as bad as one
 * that fails requests), so this rolls back with outcome `rolled-back`, not `failed`.
 */
class GrayUnhealthy extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

/**
 * One process's run of one rollout, from a stored state to a pause or an end. Not reusable.
 */
export class RolloutRun {
  private readonly r: RunState;
  private readonly traffic: Traffic;
  private readonly observer: Observer;
  private readonly rollbacks: Rollback;
  private readonly hooks: Hooks;
  private readonly synthetic: Synthetic;
  /** This run already smoke-tested gray (it may loop in `smoke` while pre-traffic hooks say not yet). */
  private smoked = false;
  private readonly follower: Follower;
  private readonly restore: Restore;

  constructor(stored: StoredRollout, ports: Ports, ctx: EngineContext) {
    this.r = new RunState(stored, ports, ctx);
    this.traffic = new Traffic(this.r);
    this.synthetic = new Synthetic(this.r);
    this.hooks = new Hooks(this.r);
    this.observer = new Observer(this.r, this.synthetic);
    this.rollbacks = new Rollback(this.r, this.traffic, this.hooks);
    this.follower = new Follower(this.r);
    this.restore = new Restore(this.r, this.traffic, this.rollbacks);
  }

  get current(): RolloutState {
    return this.r.state;
  }

  async run(): Promise<Outcome> {
    return this.guarded(() => this.drive());
  }

  /**
   * Rolls back now, whatever phase the rollout is in (operator abort, guard, --supersede). The caller
   * has already recorded `abortRequested` and taken the rollout over. An operator's abort ends
   * `aborted`; the guard's ends `rolled-back` (cause `guard`: a rollback criterion tripped).
   */
  async abort(reason: string, cause: "abort" | "guard" = "abort"): Promise<Outcome> {
    return this.guarded(() => this.rollbacks.run(cause, reason, null));
  }

  private async guarded(body: () => Promise<Outcome>): Promise<Outcome> {
    try {
      const outcome = await body();
      this.r.event({ type: "outcome", at: this.r.now(), outcome });
      return outcome;
    } catch (e) {
      if (e instanceof LostRollout) {
        await this.traffic.undoLateWrite(e.stored);
        const s = e.stored?.state ?? this.r.state;
        // The guard's rollback is a rollback (the release tripped a rollback alarm), not an abort.
        const byGuard = s.abortRequested !== null && s.rollbackCause === "guard";
        const outcome = outcomeFromState(s, {
          outcome: s.abortRequested ? (byGuard ? "rolled-back" : "aborted") : undefined,
          reason: s.abortRequested
            ? `${byGuard ? "rolled back" : "aborted"} by ${s.abortRequested.by} from another process: ${s.abortRequested.reason}`
            : `another process took the rollout over (phase ${s.phase})`,
        });
        this.r.log("warn", outcome.reason);
        this.r.event({ type: "outcome", at: this.r.now(), outcome });
        return outcome;
      }
      throw e;
    }
  }

  private async drive(): Promise<Outcome> {
    try {
      // rollback-release: its own steps (restore.ts), with the same rollbacks and error handling.
      if (this.r.state.kind === "restore") return await this.restore.run();
      const unsafe = await this.reconcile();
      if (unsafe !== null) return await this.rollbacks.run("error", unsafe, null);
      return await this.loop();
    } catch (e) {
      if (e instanceof LostRollout) throw e;
      if (e instanceof GrayUnhealthy) {
        return this.rollbacks.run("analysis", `gray never became healthy: ${e.detail}`, null);
      }
      if (e instanceof Rejected) {
        this.r.record({ kind: "rollback", reason: e.reason, evidence: e.evidence });
        return this.rollbacks.run("analysis", e.reason, null);
      }
      const err = toGrayDeployError(e);
      if (err instanceof AbortedError || this.r.ctx.signal?.aborted) {
        return this.rollbacks.run("abort", `interrupted (${err.message})`, null);
      }
      if (isTerminal(this.r.state.phase)) return outcomeFromState(this.r.state, { error: err });
      if (this.r.state.phase === "rolling-back") return this.rollbacks.failed(err);
      this.r.log("error", `${err.code}: ${err.message}`);
      return this.rollbacks.run("error", `error in ${this.r.state.phase}: ${err.message}`, err);
    }
  }

  private async loop(): Promise<Outcome> {
    for (;;) {
      this.r.throwIfAborted();
      const s = this.r.state;
      switch (s.phase) {
        case "preflight":
        case "preparing":
          await prepareRelease(this.r);
          continue;
        case "scaling":
        case "smoke":
          await this.scaleAndSmoke();
          break;
        case "promoting": {
          const paused = await this.promote();
          if (paused) return paused;
          continue;
        }
        case "finishing":
          return new Finish(this.r, this.traffic, this.hooks).run();
        case "rolling-back":
          return this.rollbacks.run(
            s.rollbackCause ?? "error",
            s.rollbackReason ?? "resuming a rollback",
            null,
          );
        case "rollback-failed":
          return this.rollbacks.run(
            s.rollbackCause ?? "abort",
            s.rollbackReason ?? "retrying a failed rollback",
            null,
          );
        case "promoted":
        case "rolled-back":
        case "aborted":
        case "failed":
          return outcomeFromState(s);
        default:
          break;
      }
      const observation = ["shifting", "returning", "keeping"].includes(s.phase)
        ? await this.observer.observe()
        : null;
      if (observation) {
        this.r.setState(absorbObservation(this.r.state, observation));
        await this.follower.follow(observation);
      }
      const d = decide(this.r.state, observation, this.r.now());
      // Gating hooks of what the decision starts (a step, promotion) are asked before it is recorded:
      // while one says "not yet" the rollout records a wait and keeps observing the current step.
      const held = await this.hooks.guard(d);
      if (held === "wait") continue;
      if (held !== null) {
        this.r.record(held.decision);
        if (held.pause) return this.pause(held.pause);
        return this.rollbacks.run("analysis", held.decision.reason, null);
      }
      this.r.record(d);
      const ended = await this.apply(d);
      if (ended) return ended;
    }
  }

  /**
   * A run that resumes a rollout (after a crash, or a takeover) first makes the world match the
   * stored state: if the weights differ from the last verified ones (the process died between a
   * write and its save), the stored weights are written back — never a higher gray weight than
   * stored — and the step's bake starts again.
   * `scaling` and `smoke` are included: a process that died right after writing the first step's
   * weights left gray with traffic while the state still says 100/0 (and gray has not been checked
   * by the run that resumes it).
   * On the way up, gray having LESS than stored means something moved traffic back to stable while
   * no process ran the rollout (an operator, or a rollback whose end could not be recorded — gray may
   * already be scaled to zero): writing the stored weights back would raise gray's weight without a
   * verdict, so the run rolls back instead. Returns that reason, or null to go on.
   */
  private async reconcile(): Promise<string | null> {
    const s = this.r.state;
    if (!["scaling", "smoke", "shifting", "keeping", "returning"].includes(s.phase)) return null;
    const pilot = await this.traffic.reconcilePilot();
    if (pilot !== null) return pilot;
    const actual = await this.r.ports.router.getWeights(this.r.ctx.signal);
    if (SAME(actual, s.weights)) return null;
    if (s.phase !== "returning" && actual.gray < s.weights.gray) {
      return `the load balancer sends gray less (stable ${actual.stable}% / gray ${actual.gray}%) than the rollout last verified (stable ${s.weights.stable}% / gray ${s.weights.gray}%): traffic was moved back to stable while no process ran the rollout, and resuming would raise gray's weight without a verdict`;
    }
    this.r.log(
      "warn",
      `the load balancer has stable ${actual.stable}% / gray ${actual.gray}% but the rollout last verified stable ${s.weights.stable}% / gray ${s.weights.gray}%: restoring the recorded weights and restarting the step`,
    );
    await this.traffic.write(s.weights, "configured", this.r.ctx.signal);
    if (s.phase === "shifting" || s.phase === "keeping" || s.phase === "returning")
      this.r.setState({ ...this.r.state, stepStartedAt: this.r.now() });
    await this.r.save();
    return null;
  }

  /** Applies a decision; returns an Outcome when the run ends (pause or end). */
  private async apply(d: Decision): Promise<Outcome | null> {
    switch (d.kind) {
      case "wait": {
        await this.r.save();
        const delay = Math.max(0, Math.min(d.until - this.r.now(), this.r.state.plan.intervalMs));
        await this.r.ctx.clock.sleep(delay, this.r.ctx.signal);
        return null;
      }
      case "set-weights":
        await this.enterStep(d.phase, d.stepIndex, d.weights, d.pilot === true);
        return null;
      case "await-approval": {
        const approval = this.r.ctx.approver ? await this.r.ctx.approver(d.gate, this.r.state) : null;
        if (approval) {
          this.r.setState({
            ...this.r.state,
            release: {
              ...this.r.state.release,
              approvals: [
                ...this.r.state.release.approvals,
                {
                  gate: d.gate,
                  by: approval.by,
                  at: this.r.now(),
                  ...(approval.reason ? { reason: approval.reason } : {}),
                },
              ],
            },
          });
          if (this.r.state.phase === "paused") await this.r.save();
          return null;
        }
        return this.pause({
          reason: "awaiting-approval",
          gate: d.gate,
          since: this.r.now(),
          detail: d.reason,
        });
      }
      case "pause":
        if (d.weights && !SAME(d.weights, this.r.state.weights)) {
          await this.traffic.write(d.weights, "configured", this.r.ctx.signal);
        }
        if (this.r.state.phase === "paused") return outcomeFromState(this.r.state);
        this.r.setState(endStep(this.r.state, "inconclusive", this.r.now()));
        return this.pause({ reason: d.pauseReason, since: this.r.now(), detail: d.reason });
      case "promote":
        this.r.setState(endStep(this.r.state, "pass", this.r.now()));
        // From here on stable may be changed: a rollback must put it back on the previous version.
        this.r.go("promoting", { stableRefreshed: true });
        await this.r.save();
        return null;
      case "rollback":
        return this.rollbacks.run(
          this.r.state.abortRequested
            ? this.r.state.rollbackCause === "guard"
              ? "guard"
              : "abort"
            : "analysis",
          d.reason,
          null,
        );
      case "done":
        this.r.setState(endStep(this.r.state, "pass", this.r.now()));
        this.r.go("finishing");
        await this.r.save();
        return null;
      case "keep":
        this.r.setState(endStep(this.r.state, "pass", this.r.now()));
        this.r.go("keeping", { keepUntil: d.until });
        await this.r.save();
        this.r.log("info", d.reason);
        return null;
    }
  }

  private async pause(info: PauseInfo): Promise<Outcome> {
    if (this.r.state.phase === "paused") {
      // A hook failed while a paused rollout was continuing: this is the pause now.
      if (info.reason === "hook-failed") this.r.setState({ ...this.r.state, pause: info });
      // Still waiting (e.g. `promote` ran without the approval this pause needs): hand the lock back.
      await this.r.save(null);
      return outcomeFromState(this.r.state);
    }
    this.r.go("paused", { pause: info });
    await this.r.save(null);
    this.r.log("info", `paused (${info.reason}): ${info.detail}`);
    return outcomeFromState(this.r.state);
  }

  // ── phases ──────────────────────────────────────────────────────────────────────────────────

  private async scaleAndSmoke(): Promise<void> {
    const s = this.r.state;
    const first = s.plan.steps[0] ?? 100;
    const capacity = grayCapacity(s.stableCapacity ?? 1, first, s.plan.minGrayCapacity);
    if (s.phase === "scaling" && s.grayCapacity < capacity) {
      await this.scaleGray(capacity);
    }
    // Resumed in `smoke` (the process died during the test): a smoke test that never finished has
    // not passed, so it runs again before any customer reaches gray.
    const synthetic = this.synthetic.specs.length > 0;
    if (
      !this.smoked &&
      ["scaling", "smoke"].includes(this.r.state.phase) &&
      (this.r.ports.router.smokeTest || synthetic)
    ) {
      if (this.r.state.phase === "scaling") {
        this.r.go("smoke");
        await this.r.save();
      }
      if (this.r.ports.router.smokeTest) {
        const checks = await this.r.ports.router.smokeTest(this.r.ctx.signal);
        this.r.log("info", `smoke test passed: ${checks.join("; ")}`);
      }
      // The synthetic transactions, once each, before the first customer: a failure rolls back (Rejected).
      if (synthetic) await this.synthetic.preTraffic();
    }
    this.smoked = true;
    // One look before any customer traffic reaches gray: the load balancer's own error baseline.
    const obs = await this.observer.observe();
    this.r.setState(absorbObservation(this.r.state, obs));
  }

  private async scaleGray(capacity: number): Promise<void> {
    const version = this.r.state.release.version;
    if (version === null) throw new StateError("gray cannot be scaled before the release is prepared");
    this.r.log("info", `scaling gray to ${capacity} instance(s) on ${version}`);
    try {
      // Sizing gray to N is idempotent: a transient AWS error is met by doing it again.
      await this.r.withHeartbeat(() =>
        retry(
          RETRY.idempotentStep,
          () =>
            this.r.ports.fleet.scaleGray(
              version,
              capacity,
              this.r.state.plan.healthyTimeoutMs,
              this.r.ctx.signal,
            ),
          {
            clock: this.r.ctx.clock,
            signal: this.r.ctx.signal,
            onFailure: warnAgain(this.r, `scaling gray to ${capacity}`),
          },
        ),
      );
    } catch (e) {
      if (e instanceof TimeoutError && !this.r.ctx.signal?.aborted) throw new GrayUnhealthy(e.message);
      throw e;
    }
    this.r.setState({ ...this.r.state, grayCapacity: capacity });
    await this.r.save();
  }

  /**
   * Moves traffic to a step: capacity first, health check, then a verified write (for the
   * chosen-customers step, `pilot`: the pilot rule switched to gray, read back).
   */
  private async enterStep(
    phase: "shifting" | "returning",
    index: number,
    weights: Weights,
    pilot = false,
  ): Promise<void> {
    const s = this.r.state;
    if (phase === "shifting") {
      const capacity = stepCapacity(s, weights.gray, await this.follower.readSizes());
      if (capacity > s.grayCapacity) await this.scaleGray(capacity);
    } else if (weights.stable > s.weights.stable) {
      await this.follower.stableReady(weights.stable);
    }
    const raising: "gray" | "stable" | null =
      weights.gray > this.r.state.weights.gray || (pilot && this.r.state.pilot !== true)
        ? "gray"
        : weights.stable > this.r.state.weights.stable
          ? "stable"
          : null;
    if (raising !== null) {
      const health = await this.r.ports.router.targetHealth(this.r.ctx.signal);
      if (health[raising].healthy === 0) {
        throw new VerificationError(`refusing to raise ${raising}'s weight: it has no healthy instance`, {
          retryable: false,
        });
      }
    }
    await this.r.save();
    if (pilot) await this.traffic.writePilot(true, this.r.ctx.signal);
    else await this.traffic.write(weights, "configured", this.r.ctx.signal);
    const now = this.r.now();
    const ended = endStep(this.r.state, "pass", now);
    const kind = pilot ? "pilot" : phase === "shifting" ? "forward" : "return";
    const stepWeight = pilot ? 0 : phase === "shifting" ? weights.gray : weights.stable;
    const next: RolloutState = {
      ...ended,
      stepIndex: index,
      stepStartedAt: now,
      steps: [
        ...ended.steps,
        { kind, weight: stepWeight, startedAt: now, endedAt: null, verdict: "pending" },
      ],
    };
    this.r.setState(next.phase === phase ? next : transition(next, phase, now, {}));
    await this.r.save();
    if (!pilot)
      this.r.log("info", `${kind} step: stable ${weights.stable}% / gray ${weights.gray}% (verified)`);
  }

  private async promote(): Promise<Outcome | null> {
    const version = this.r.state.release.version;
    if (version === null) throw new StateError("cannot promote before the release is prepared");
    // Gray has 100%: the chosen customers lose nothing when their rule goes back to stable now.
    if (this.r.state.pilot === true) {
      await this.traffic.writePilot(false, this.r.ctx.signal);
      await this.r.save();
    }
    this.r.log("info", `promoting: rolling update of the stable fleet onto ${version}`);
    const plan = this.r.state.plan;
    const result = await this.r.withHeartbeat(() =>
      this.follower.during(
        () =>
          this.r.ports.fleet.promote(version, plan.promotionTimeoutMs, this.r.ctx.signal, {
            alarms: plan.alarms,
          }),
        () => this.observer.observe(),
      ),
    );
    if (!result.ok) {
      this.r.log("warn", `promotion failed: ${result.reason}; traffic stays on gray, which passed analysis`);
      // The fleet rolled the refresh back: stable runs the previous version again.
      this.r.setState({ ...this.r.state, stableRefreshed: false });
      return this.pause({
        reason: "promotion-failed",
        since: this.r.now(),
        detail: `promotion failed: ${result.reason}; traffic stays on gray (100%). Run \`gray-deploy promote\` to retry or \`gray-deploy abort\` to return to the previous version`,
      });
    }
    this.r.go("returning", { stepIndex: -1, stepStartedAt: null });
    await this.r.save();
    return null;
  }
}
