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
  type GrayDeployError,
  StateError,
  TimeoutError,
  toGrayDeployError,
  VerificationError,
} from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { formatDuration } from "../contract/units.js";
import type { Observation } from "../core/analysis.js";
import {
  absorbObservation,
  analyseStep,
  type Decision,
  decide,
  historyWindows,
  observationWindows,
} from "../core/decide.js";
import { grayCapacity } from "../core/policy.js";
import {
  addWarning,
  type DecisionRecord,
  endStep,
  isTerminal,
  type PauseInfo,
  type Phase,
  type RollbackCause,
  type RolloutState,
  recordDecision,
  transition,
} from "../core/state.js";
import type { Weights } from "../core/types.js";
import type { BusinessQuery } from "../gates/types.js";
import type { Clock, OwnerInfo, Ports, ReleaseSpec, StoredRollout } from "../ports/index.js";
import { type EngineEvent, type EventListener, fanOut } from "./events.js";
import { outcomeFromState } from "./outcome.js";

export interface EngineContext {
  readonly clock: Clock;
  /** Aborting it rolls the rollout back safely and ends it as `aborted`. */
  readonly signal?: AbortSignal;
  readonly onEvent?: EventListener;
  /** This process, as recorded in the lock. */
  readonly owner: OwnerInfo;
  /**
   * Asked at a manual gate. Resolve with who approved to continue now; resolve null (or omit the
   * hook) to pause the rollout and return, leaving `promote` to continue it later.
   */
  readonly approver?: (gate: string, state: RolloutState) => Promise<{ by: string; reason?: string } | null>;
}

const SAME = (a: Weights, b: Weights) => a.stable === b.stable && a.gray === b.gray;
const STABLE_ONLY: Weights = { stable: 100, gray: 0 };

/**
 * Gray never became healthy: the release is judged bad (a version that cannot start is as bad as one
 * that fails requests), so this rolls back with outcome `rolled-back`, not `failed`.
 */
class GrayUnhealthy extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

/** Raised inside a run when another process took the rollout over; the run ends without touching it. */
class LostRollout extends Error {
  constructor(readonly stored: StoredRollout | null) {
    super("the rollout was taken over by another process");
  }
}

/**
 * One process's run of one rollout, from a stored state to a pause or an end. Not reusable.
 */
export class RolloutRun {
  private state: RolloutState;
  private revision: number;
  private readonly ports: Ports;
  private readonly ctx: EngineContext;
  private readonly emit: EventListener;
  private saving: Promise<unknown> = Promise.resolve();
  /** Weight writes started by this run, and how many of them a successful save has followed. */
  private writes = 0;
  private savedWrites = 0;

  constructor(stored: StoredRollout, ports: Ports, ctx: EngineContext) {
    this.state = stored.state;
    this.revision = stored.revision;
    this.ports = ports;
    this.ctx = ctx;
    // A listener that throws (a broken printer, report or notifier) must never break a rollout, least
    // of all a rollback: every listener runs isolated.
    this.emit = fanOut(ctx.onEvent);
  }

  get current(): RolloutState {
    return this.state;
  }

  private now(): number {
    return this.ctx.clock.now();
  }

  private log(level: "info" | "warn" | "error", message: string): void {
    this.emit({ type: "log", at: this.now(), level, message });
  }

  private event(e: EngineEvent): void {
    this.emit(e);
  }

  /** Conditional save, serialised with heartbeats. Throws LostRollout when another process wrote. */
  private async save(owner: OwnerInfo | null = this.ctx.owner): Promise<void> {
    const run = async () => {
      const writes = this.writes;
      try {
        const stored = await this.ports.store.save(
          this.state,
          this.revision,
          owner,
          this.state.plan.lockLeaseMs,
          this.now(),
        );
        this.revision = stored.revision;
        // Nobody had taken the rollout over when this save landed: every write before it was ours.
        this.savedWrites = Math.max(this.savedWrites, writes);
      } catch (e) {
        if (e instanceof StateError) {
          const stored = await this.ports.store.load(this.state.scope).catch(() => null);
          throw new LostRollout(stored);
        }
        throw e;
      }
    };
    const next = this.saving.then(run, run);
    this.saving = next.catch(() => {});
    await next;
  }

  private setState(next: RolloutState): void {
    const from = this.state.phase;
    this.state = next;
    if (from !== next.phase)
      this.event({ type: "phase", at: this.now(), from, to: next.phase, rolloutId: next.id });
  }

  private go(to: Phase, patch: Partial<RolloutState> = {}): void {
    this.setState(transition(this.state, to, this.now(), patch));
  }

  private record(d: Decision): void {
    const rec: DecisionRecord = {
      at: this.now(),
      kind: d.kind,
      phase: this.state.phase,
      reason: d.reason,
      ...("weights" in d && d.weights ? { weights: d.weights } : {}),
      evidence: d.evidence,
    };
    this.setState(recordDecision(this.state, rec));
    this.event({ type: "decision", at: rec.at, phase: this.state.phase, decision: d });
  }

  /** Renews the lease in the background while a long operation (scaling, refresh) runs. */
  private async withHeartbeat<T>(op: () => Promise<T>): Promise<T> {
    const stop = new AbortController();
    const every = Math.max(1000, Math.floor(this.state.plan.lockLeaseMs / 3));
    const beat = (async () => {
      while (!stop.signal.aborted) {
        try {
          await this.ctx.clock.sleep(every, stop.signal);
        } catch {
          return;
        }
        if (stop.signal.aborted) return;
        await this.save().catch((e) => {
          if (e instanceof LostRollout) stop.abort();
        });
      }
    })();
    try {
      return await op();
    } finally {
      stop.abort();
      await beat;
    }
  }

  private throwIfAborted(): void {
    if (this.ctx.signal?.aborted) throw new AbortedError("interrupted: rolling back");
  }

  /** Runs until the rollout pauses or ends. Never throws: every failure becomes an Outcome. */
  async run(): Promise<Outcome> {
    return this.guarded(() => this.drive());
  }

  /**
   * Rolls back now, whatever phase the rollout is in (operator abort, guard, --supersede). The caller
   * has already recorded `abortRequested` and taken the rollout over. An operator's abort ends
   * `aborted`; the guard's ends `rolled-back` (cause `guard`: a rollback criterion tripped).
   */
  async abort(reason: string, cause: "abort" | "guard" = "abort"): Promise<Outcome> {
    return this.guarded(() => this.rollback(cause, reason, null));
  }

  private async guarded(body: () => Promise<Outcome>): Promise<Outcome> {
    try {
      const outcome = await body();
      this.event({ type: "outcome", at: this.now(), outcome });
      return outcome;
    } catch (e) {
      if (e instanceof LostRollout) {
        await this.undoLateWrite(e.stored);
        const s = e.stored?.state ?? this.state;
        // The guard's rollback is a rollback (the release tripped a rollback alarm), not an abort.
        const byGuard = s.abortRequested !== null && s.rollbackCause === "guard";
        const outcome = outcomeFromState(s, {
          outcome: s.abortRequested ? (byGuard ? "rolled-back" : "aborted") : undefined,
          reason: s.abortRequested
            ? `${byGuard ? "rolled back" : "aborted"} by ${s.abortRequested.by} from another process: ${s.abortRequested.reason}`
            : `another process took the rollout over (phase ${s.phase})`,
        });
        this.log("warn", outcome.reason);
        this.event({ type: "outcome", at: this.now(), outcome });
        return outcome;
      }
      throw e;
    }
  }

  /**
   * This run lost the rollout with a weight write that no save followed: the write may have landed
   * AFTER the new owner took over (it was slow, or retried by the SDK) — e.g. after an `abort` from
   * another process had verified stable 100% and scaled gray to zero, putting customers back on an
   * empty gray. When the new owner is rolling back or has ended, stable 100% is what it wants, so
   * this run puts it back (one verified write, stickiness off as in a rollback). Otherwise (a resumed
   * run drives the rollout) it only warns: writing the owner's weights could fight its next step.
   */
  private async undoLateWrite(stored: StoredRollout | null): Promise<void> {
    if (this.writes <= this.savedWrites) return;
    const s = stored?.state;
    const stableWanted =
      s === undefined ||
      s.abortRequested !== null ||
      s.phase === "rolling-back" ||
      s.phase === "rollback-failed" ||
      isTerminal(s.phase);
    if (!stableWanted) {
      this.log(
        "warn",
        `another process took the rollout over while this one was writing weights (stable ${this.state.weights.stable}% / gray ${this.state.weights.gray}%): check that the weights are those it expects`,
      );
      return;
    }
    try {
      const actual = await this.ports.router.getWeights(undefined);
      if (SAME(actual, STABLE_ONLY)) return;
      this.log(
        "warn",
        `this process's weight write landed after another process took the rollout over to roll it back (load balancer at stable ${actual.stable}% / gray ${actual.gray}%): put stable back to 100%`,
      );
      await this.ports.router.setWeights(STABLE_ONLY, { stickiness: "off" }, undefined);
      const after = await this.ports.router.getWeights(undefined);
      if (!SAME(after, STABLE_ONLY))
        throw new VerificationError(`read back stable ${after.stable}% / gray ${after.gray}%`);
      this.log("info", "traffic restored: stable 100% / gray 0% (verified)");
    } catch (err) {
      this.log(
        "error",
        `could not put stable back to 100% after a late weight write (${toGrayDeployError(err).message}): set the forward action to stable 100 / gray 0 by hand`,
      );
    }
  }

  private async drive(): Promise<Outcome> {
    try {
      const unsafe = await this.reconcile();
      if (unsafe !== null) return await this.rollback("error", unsafe, null);
      return await this.loop();
    } catch (e) {
      if (e instanceof LostRollout) throw e;
      if (e instanceof GrayUnhealthy) {
        return this.rollback("analysis", `gray never became healthy: ${e.detail}`, null);
      }
      const err = toGrayDeployError(e);
      if (err instanceof AbortedError || this.ctx.signal?.aborted) {
        return this.rollback("abort", `interrupted (${err.message})`, null);
      }
      if (isTerminal(this.state.phase)) return outcomeFromState(this.state, { error: err });
      if (this.state.phase === "rolling-back") return this.finishFailedRollback(err);
      this.log("error", `${err.code}: ${err.message}`);
      return this.rollback("error", `error in ${this.state.phase}: ${err.message}`, err);
    }
  }

  private async loop(): Promise<Outcome> {
    for (;;) {
      this.throwIfAborted();
      const s = this.state;
      switch (s.phase) {
        case "preflight":
        case "preparing":
          await this.prepare();
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
          return this.finish();
        case "rolling-back":
          return this.rollback(s.rollbackCause ?? "error", s.rollbackReason ?? "resuming a rollback", null);
        case "rollback-failed":
          return this.rollback(
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
      const observation = s.phase === "shifting" || s.phase === "returning" ? await this.observe() : null;
      if (observation) this.setState(absorbObservation(this.state, observation));
      const d = decide(this.state, observation, this.now());
      this.record(d);
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
    const s = this.state;
    if (!["scaling", "smoke", "shifting", "returning"].includes(s.phase)) return null;
    const actual = await this.ports.router.getWeights(this.ctx.signal);
    if (SAME(actual, s.weights)) return null;
    if (s.phase !== "returning" && actual.gray < s.weights.gray) {
      return `the load balancer sends gray less (stable ${actual.stable}% / gray ${actual.gray}%) than the rollout last verified (stable ${s.weights.stable}% / gray ${s.weights.gray}%): traffic was moved back to stable while no process ran the rollout, and resuming would raise gray's weight without a verdict`;
    }
    this.log(
      "warn",
      `the load balancer has stable ${actual.stable}% / gray ${actual.gray}% but the rollout last verified stable ${s.weights.stable}% / gray ${s.weights.gray}%: restoring the recorded weights and restarting the step`,
    );
    await this.writeWeights(s.weights, "configured", this.ctx.signal);
    if (s.phase === "shifting" || s.phase === "returning")
      this.setState({ ...this.state, stepStartedAt: this.now() });
    await this.save();
    return null;
  }

  /** Applies a decision; returns an Outcome when the run ends (pause or end). */
  private async apply(d: Decision): Promise<Outcome | null> {
    switch (d.kind) {
      case "wait": {
        await this.save();
        const delay = Math.max(0, Math.min(d.until - this.now(), this.state.plan.intervalMs));
        await this.ctx.clock.sleep(delay, this.ctx.signal);
        return null;
      }
      case "set-weights":
        await this.enterStep(d.phase, d.stepIndex, d.weights);
        return null;
      case "await-approval": {
        const approval = this.ctx.approver ? await this.ctx.approver(d.gate, this.state) : null;
        if (approval) {
          this.setState({
            ...this.state,
            release: {
              ...this.state.release,
              approvals: [
                ...this.state.release.approvals,
                {
                  gate: d.gate,
                  by: approval.by,
                  at: this.now(),
                  ...(approval.reason ? { reason: approval.reason } : {}),
                },
              ],
            },
          });
          if (this.state.phase === "paused") await this.save();
          return null;
        }
        return this.pause({ reason: "awaiting-approval", gate: d.gate, since: this.now(), detail: d.reason });
      }
      case "pause":
        if (d.weights && !SAME(d.weights, this.state.weights)) {
          await this.writeWeights(d.weights, "configured", this.ctx.signal);
        }
        if (this.state.phase === "paused") return outcomeFromState(this.state);
        this.setState(endStep(this.state, "inconclusive", this.now()));
        return this.pause({ reason: d.pauseReason, since: this.now(), detail: d.reason });
      case "promote":
        this.setState(endStep(this.state, "pass", this.now()));
        // From here on stable may be changed: a rollback must put it back on the previous version.
        this.go("promoting", { stableRefreshed: true });
        await this.save();
        return null;
      case "rollback":
        return this.rollback(
          this.state.abortRequested ? (this.state.rollbackCause === "guard" ? "guard" : "abort") : "analysis",
          d.reason,
          null,
        );
      case "done":
        this.setState(endStep(this.state, "pass", this.now()));
        this.go("finishing");
        await this.save();
        return null;
    }
  }

  private async pause(info: PauseInfo): Promise<Outcome> {
    if (this.state.phase === "paused") {
      // Still waiting (e.g. `promote` ran without the approval this pause needs): hand the lock back.
      await this.save(null);
      return outcomeFromState(this.state);
    }
    this.go("paused", { pause: info });
    await this.save(null);
    this.log("info", `paused (${info.reason}): ${info.detail}`);
    return outcomeFromState(this.state);
  }

  // ── phases ──────────────────────────────────────────────────────────────────────────────────

  private releaseSpec(): ReleaseSpec {
    const r = this.state.release;
    return { image: r.image, ami: r.ami ?? undefined, commit: r.commit, startedBy: r.startedBy };
  }

  private async prepare(): Promise<void> {
    if (this.state.phase === "preflight") {
      this.go("preparing");
      await this.save();
    }
    const r = this.state.release;
    const known =
      r.version !== null && r.previousVersion !== null && this.state.stableCapacity !== null
        ? {
            version: r.version,
            previousVersion: r.previousVersion,
            stableCapacity: this.state.stableCapacity,
          }
        : null;
    const prepared = await this.ports.fleet.prepare(this.releaseSpec(), known, this.ctx.signal);
    this.log(
      "info",
      `release version ${prepared.version} (stable on ${prepared.previousVersion}, capacity ${prepared.stableCapacity})`,
    );
    this.go("scaling", {
      release: {
        ...this.state.release,
        version: prepared.version,
        previousVersion: prepared.previousVersion,
      },
      stableCapacity: prepared.stableCapacity,
    });
    await this.save();
  }

  private async scaleAndSmoke(): Promise<void> {
    const s = this.state;
    const first = s.plan.steps[0] ?? 100;
    const capacity = grayCapacity(s.stableCapacity ?? 1, first, s.plan.minGrayCapacity);
    if (s.phase === "scaling" && s.grayCapacity < capacity) {
      await this.scaleGray(capacity);
    }
    // Resumed in `smoke` (the process died during the test): a smoke test that never finished has
    // not passed, so it runs again before any customer reaches gray.
    if ((this.state.phase === "scaling" || this.state.phase === "smoke") && this.ports.router.smokeTest) {
      if (this.state.phase === "scaling") {
        this.go("smoke");
        await this.save();
      }
      const checks = await this.ports.router.smokeTest(this.ctx.signal);
      this.log("info", `smoke test passed: ${checks.join("; ")}`);
    }
    // One look before any customer traffic reaches gray: the load balancer's own error baseline.
    const obs = await this.observe();
    this.setState(absorbObservation(this.state, obs));
  }

  private async scaleGray(capacity: number): Promise<void> {
    const version = this.state.release.version;
    if (version === null) throw new StateError("gray cannot be scaled before the release is prepared");
    this.log("info", `scaling gray to ${capacity} instance(s) on ${version}`);
    try {
      await this.withHeartbeat(() =>
        this.ports.fleet.scaleGray(version, capacity, this.state.plan.healthyTimeoutMs, this.ctx.signal),
      );
    } catch (e) {
      if (e instanceof TimeoutError && !this.ctx.signal?.aborted) throw new GrayUnhealthy(e.message);
      throw e;
    }
    this.setState({ ...this.state, grayCapacity: capacity });
    await this.save();
  }

  /** Moves traffic to a step: capacity first, health check, then a verified write. */
  private async enterStep(phase: "shifting" | "returning", index: number, weights: Weights): Promise<void> {
    const s = this.state;
    if (phase === "shifting") {
      const capacity = grayCapacity(s.stableCapacity ?? 1, weights.gray, s.plan.minGrayCapacity);
      if (capacity > s.grayCapacity) await this.scaleGray(capacity);
    }
    const raising: "gray" | "stable" | null =
      weights.gray > this.state.weights.gray
        ? "gray"
        : weights.stable > this.state.weights.stable
          ? "stable"
          : null;
    if (raising !== null) {
      const health = await this.ports.router.targetHealth(this.ctx.signal);
      if (health[raising].healthy === 0) {
        throw new VerificationError(`refusing to raise ${raising}'s weight: it has no healthy instance`, {
          retryable: false,
        });
      }
    }
    await this.save();
    await this.writeWeights(weights, "configured", this.ctx.signal);
    const now = this.now();
    const ended = endStep(this.state, "pass", now);
    const kind = phase === "shifting" ? "forward" : "return";
    const stepWeight = phase === "shifting" ? weights.gray : weights.stable;
    const next: RolloutState = {
      ...ended,
      stepIndex: index,
      stepStartedAt: now,
      steps: [
        ...ended.steps,
        { kind, weight: stepWeight, startedAt: now, endedAt: null, verdict: "pending" },
      ],
    };
    this.setState(next.phase === phase ? next : transition(next, phase, now, {}));
    await this.save();
    this.log("info", `${kind} step: stable ${weights.stable}% / gray ${weights.gray}% (verified)`);
  }

  /** Writes weights and reads them back; retries a mismatch a few times before giving up. */
  private async writeWeights(
    weights: Weights,
    stickiness: "configured" | "off",
    // No default: a rollback must pass `undefined` on purpose, so the signal that asked for the
    // rollback cannot cancel it.
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let last: Weights | null = null;
    for (let attempt = 1; attempt <= 3; attempt++) {
      this.writes++;
      await this.ports.router.setWeights(weights, { stickiness }, signal);
      last = await this.ports.router.getWeights(signal);
      if (SAME(last, weights)) {
        this.setState({ ...this.state, weights });
        this.event({ type: "weights", at: this.now(), weights, verified: true });
        return;
      }
      await this.ctx.clock.sleep(250 * attempt, signal);
    }
    throw new VerificationError(
      `weights read back as stable ${last?.stable}/gray ${last?.gray} after writing stable ${weights.stable}/gray ${weights.gray}`,
    );
  }

  private async observe(): Promise<Observation> {
    const now = this.now();
    const plan = this.state.plan;
    const windows = observationWindows(plan, now);
    const history = historyWindows(this.state, now);
    const signal = this.ctx.signal;
    // History (the sequential test's windows, all ending where the rollback window ends) is a read
    // of its own, so its many window lengths never change how the gates' windows are answered.
    const [metrics, health, alarms, past] = await Promise.allSettled([
      this.ports.metrics.read([windows.rollback, windows.promotion], signal, this.businessQuery()),
      this.ports.router.targetHealth(signal),
      plan.alarms.length > 0 && this.ports.metrics.alarms
        ? this.ports.metrics.alarms(plan.alarms, signal)
        : Promise.resolve([]),
      history.length > 0 ? this.ports.metrics.read(history, signal) : Promise.resolve([]),
    ]);
    if (signal?.aborted) throw new AbortedError("interrupted: rolling back");
    const errors: string[] = [];
    const why = (r: PromiseRejectedResult) => toGrayDeployError(r.reason).message;
    if (metrics.status === "rejected") errors.push(`metrics: ${why(metrics)}`);
    if (health.status === "rejected") errors.push(`target health: ${why(health)}`);
    if (alarms.status === "rejected") errors.push(`alarms: ${why(alarms)}`);
    if (past.status === "rejected") errors.push(`metrics history: ${why(past)}`);
    const m = metrics.status === "fulfilled" ? metrics.value : null;
    const observation: Observation = {
      at: now,
      rollback: m?.[0] ?? null,
      promotion: m?.[1] ?? null,
      history: past.status === "fulfilled" ? past.value : null,
      health: health.status === "fulfilled" ? health.value : null,
      alarms: alarms.status === "fulfilled" ? alarms.value : null,
      errors,
    };
    const analysis =
      this.state.phase === "shifting" || this.state.phase === "returning"
        ? analyseStep(this.state, observation)
        : null;
    this.event({
      type: "observation",
      at: now,
      phase: this.state.phase,
      weights: this.state.weights,
      observation,
      analysis,
    });
    for (const e of errors) this.log("warn", `measurement error: ${e}`);
    return observation;
  }

  /** The business-metric gates of the plan and the versions' labels, for the gates' metric read. */
  private businessQuery(): BusinessQuery | undefined {
    const s = this.state;
    const gates = s.plan.gates ?? [];
    if (gates.length === 0) return undefined;
    const stable = s.stableRefreshed ? s.release.version : s.release.previousVersion;
    return { gates, versions: { stable, gray: s.release.version } };
  }

  /** Returns an Outcome when promotion failed and the rollout paused. */
  private async promote(): Promise<Outcome | null> {
    const version = this.state.release.version;
    if (version === null) throw new StateError("cannot promote before the release is prepared");
    this.log("info", `promoting: rolling update of the stable fleet onto ${version}`);
    const result = await this.withHeartbeat(() =>
      this.ports.fleet.promote(version, this.state.plan.promotionTimeoutMs, this.ctx.signal),
    );
    if (!result.ok) {
      this.log("warn", `promotion failed: ${result.reason}; traffic stays on gray, which passed analysis`);
      // The fleet rolled the refresh back: stable runs the previous version again.
      this.setState({ ...this.state, stableRefreshed: false });
      return this.pause({
        reason: "promotion-failed",
        since: this.now(),
        detail: `promotion failed: ${result.reason}; traffic stays on gray (100%). Run \`gray-deploy promote\` to retry or \`gray-deploy abort\` to return to the previous version`,
      });
    }
    this.go("returning", { stepIndex: -1, stepStartedAt: null });
    await this.save();
    return null;
  }

  private async finish(): Promise<Outcome> {
    const s = this.state;
    const version = s.release.version;
    if (version === null) throw new StateError("cannot finish before the release is prepared");
    if (!SAME(s.weights, STABLE_ONLY)) await this.writeWeights(STABLE_ONLY, "configured", this.ctx.signal);
    await this.drain();
    await this.ports.fleet.retireGray(version, this.ctx.signal);
    this.setState({ ...this.state, grayCapacity: 0 });
    await this.ports.fleet.releaseStable(this.ctx.signal);
    this.go("promoted", {
      outcomeReason: `promoted ${s.release.image} (version ${version}) to the stable fleet`,
    });
    await this.save(null);
    return outcomeFromState(this.state);
  }

  private async drain(): Promise<void> {
    const delay = this.state.drainDelayMs;
    if (delay > 0) {
      this.log("info", `draining gray for ${formatDuration(delay)} (deregistration delay)`);
      await this.ctx.clock.sleep(delay);
    }
  }

  /**
   * Traffic to stable first (one verified write, stickiness off so cookies cannot pin clients to
   * gray), then drain, gray to zero and stable's settings restored. Cleanup failures after traffic is
   * safe become warnings; failing to restore traffic is `rollback-failed`.
   */
  private async rollback(
    cause: RollbackCause,
    reason: string,
    error: GrayDeployError | null,
  ): Promise<Outcome> {
    if (this.state.phase !== "rolling-back") {
      this.setState(endStep(this.state, cause === "abort" ? "aborted" : "fail", this.now()));
      this.go("rolling-back", { rollbackCause: cause, rollbackReason: reason });
    }
    this.log("warn", `rolling back: ${reason}`);
    await this.save().catch((e) => {
      if (e instanceof LostRollout) throw e;
      this.log("warn", `could not record the rollback before starting it: ${toGrayDeployError(e).message}`);
    });

    // Rollback must not be cancelled by the signal that asked for it.
    const restored = await this.restoreStableTraffic();
    if (restored !== null) return this.finishFailedRollback(restored);

    const s = this.state;
    const cleanup: [string, () => Promise<void>][] = [];
    cleanup.push(["drain gray", () => this.drain()]);
    if (s.stableRefreshed && s.release.previousVersion !== null) {
      const previous = s.release.previousVersion;
      cleanup.push([
        `revert stable to ${previous}`,
        () => this.ports.fleet.revertStable(previous, s.plan.promotionTimeoutMs),
      ]);
    }
    if (s.release.previousVersion !== null) {
      const previous = s.release.previousVersion;
      cleanup.push([`scale gray to zero`, () => this.ports.fleet.retireGray(previous)]);
    }
    cleanup.push(["restore stable's capacity settings", () => this.ports.fleet.releaseStable()]);
    for (const [what, op] of cleanup) {
      try {
        await this.withHeartbeat(op);
        if (what === "scale gray to zero") this.setState({ ...this.state, grayCapacity: 0 });
        if (what.startsWith("revert stable")) this.setState({ ...this.state, stableRefreshed: false });
      } catch (e) {
        const msg = `${what} failed after traffic was back on stable: ${toGrayDeployError(e).message}`;
        this.log("warn", msg);
        this.setState(addWarning(this.state, msg));
      }
    }
    const end: Phase = cause === "abort" ? "aborted" : cause === "error" ? "failed" : "rolled-back";
    const outcomeReason =
      cause === "abort"
        ? `aborted: ${reason}; traffic is back on stable`
        : cause === "error"
          ? `${reason}; traffic is back on stable`
          : `rolled back: ${reason}`;
    this.go(end, { outcomeReason });
    await this.save(null).catch((e) => {
      if (e instanceof LostRollout) throw e;
      this.setState(
        addWarning(this.state, `could not record the end of the rollout: ${toGrayDeployError(e).message}`),
      );
    });
    return outcomeFromState(this.state, { error });
  }

  /**
   * Returns null when stable has 100% (verified), else the last error.
   * Tries at least 5 times AND for at least one lock lease (2 min by default on AWS), renewing the
   * lease meanwhile: five attempts alone gave up after ~17 s, so a 24 s ModifyRule outage ended in
   * rollback-failed while traffic stayed on gray — and the person then paged meets the same failing
   * API. Sleeps between attempts double from 1 s up to 15 s.
   */
  private async restoreStableTraffic(): Promise<GrayDeployError | null> {
    const started = this.now();
    const lastError = await this.withHeartbeat(async (): Promise<GrayDeployError | null> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.writeWeights(STABLE_ONLY, "off", undefined);
          this.log("info", "traffic restored: stable 100% / gray 0% (verified)");
          return null;
        } catch (e) {
          const err = toGrayDeployError(e);
          const again = attempt < 5 || this.now() - started < this.state.plan.lockLeaseMs;
          this.log(
            "warn",
            `restoring stable traffic failed (attempt ${attempt}, ${formatDuration(this.now() - started)} so far${again ? "" : ", giving up"}): ${err.message}`,
          );
          if (!again) return err;
          await this.ctx.clock.sleep(Math.min(15_000, 1000 * 2 ** (attempt - 1)));
        }
      }
    });
    if (lastError === null) return null;
    // The write failed, but if gray never had traffic in this rollout and the load balancer still
    // reads stable 100 / gray 0, no customer and no stickiness cookie can reach gray: the rollback
    // holds (e.g. a pipeline role without ModifyRule). Paging someone would be a false alarm.
    if (this.state.steps.length === 0 && this.state.weights.gray === 0) {
      const now = await this.ports.router.getWeights().catch(() => null);
      if (now !== null && SAME(now, STABLE_ONLY)) {
        const msg = `the forward action could not be rewritten (${lastError?.message}), but gray never had traffic and the weights read stable 100% / gray 0%`;
        this.log("warn", msg);
        this.setState(addWarning(this.state, msg));
        return null;
      }
    }
    return lastError;
  }

  private async finishFailedRollback(error: GrayDeployError): Promise<Outcome> {
    const reason =
      `ROLLBACK FAILED: traffic may still reach gray (last verified weights stable ${this.state.weights.stable}% / gray ${this.state.weights.gray}%): ${error.message}. ` +
      "A person must act: set the forward action to stable 100 / gray 0 in the console or CLI, then run `gray-deploy abort` to finish the cleanup";
    if (this.state.phase !== "rollback-failed") this.go("rollback-failed", { outcomeReason: reason });
    await this.save(null).catch(() => {});
    this.log("error", reason);
    return outcomeFromState(this.state, { outcome: "rollback-failed", reason, error });
  }
}
