/**
 * One observation: metrics over the rollback and promotion windows (with the plan's business gates),
 * the sequential test's history, target health and alarms, all in parallel. A failed read is a
 * measurement error recorded in the observation, never an exception.
 */
import { AbortedError, toGrayDeployError } from "../contract/errors.js";
import { type Observation, returnStepWindow } from "../core/analysis.js";
import { follows, recentWindow } from "../core/capacity.js";
import { analyseStep, guardWindow, historyWindows, observationWindows } from "../core/decide.js";
import type { BusinessQuery } from "../gates/types.js";
import type { RunState } from "./run-state.js";
import type { Synthetic } from "./synthetic.js";

export class Observer {
  constructor(
    private readonly r: RunState,
    private readonly synthetic?: Synthetic,
  ) {}

  async observe(): Promise<Observation> {
    const now = this.r.now();
    const plan = this.r.state.plan;
    const windows = observationWindows(plan, now);
    const history = historyWindows(this.r.state, now);
    // A service signal is guarded by the load balancer's metrics over their own latest complete
    // window; the service's over the same window ride in the gates' read, to compare.
    const guarded = guardWindow(plan, now);
    const signal = this.r.ctx.signal;
    // Following the load: the load now (a window of its own in the same read) and the fleets' sizes.
    const fleet = this.r.ports.fleet;
    const follow = follows(this.r.state) && fleet.sizes !== undefined && fleet.resize !== undefined;
    const read = [windows.rollback, windows.promotion];
    const guardedAt = guarded === null ? -1 : read.push(guarded) - 1;
    const recentAt = follow ? read.push(recentWindow(plan, now)) - 1 : -1;
    // A return step's own part of the rollback window, for the relative gates (one more window).
    const step = returnStepWindow(
      this.r.state.phase,
      this.r.state.stepStartedAt,
      windows.rollback,
      plan.metricPeriodMs,
    );
    const stepAt = step === null ? -1 : read.push(step) - 1;
    const guard = this.r.ports.guard;
    // History (the sequential test's windows, all ending where the rollback window ends) is a read
    // of its own, so its many window lengths never change how the gates' windows are answered.
    // A round of synthetic transactions when one is due (a low rate: --synthetic-interval).
    const synthetic = this.synthetic?.due(now) ? this.synthetic.round("step") : Promise.resolve(null);
    const [metrics, health, alarms, past, alb, sizes, runs] = await Promise.allSettled([
      this.r.ports.metrics.read(read, signal, this.businessQuery()),
      this.r.ports.router.targetHealth(signal),
      plan.alarms.length > 0 && this.r.ports.metrics.alarms
        ? this.r.ports.metrics.alarms(plan.alarms, signal)
        : Promise.resolve([]),
      history.length > 0
        ? this.r.ports.metrics.read(history, signal, this.versionsQuery())
        : Promise.resolve([]),
      guarded === null
        ? Promise.resolve([])
        : guard === undefined
          ? Promise.reject(new Error("the target has no load-balancer metrics to guard the service signal"))
          : guard.read([guarded], signal),
      follow ? fleet.sizes!(signal) : Promise.resolve(null),
      synthetic,
    ]);
    if (signal?.aborted) throw new AbortedError("interrupted: rolling back");
    const errors: string[] = [];
    const why = (r: PromiseRejectedResult) => toGrayDeployError(r.reason).message;
    if (metrics.status === "rejected") errors.push(`metrics: ${why(metrics)}`);
    if (health.status === "rejected") errors.push(`target health: ${why(health)}`);
    if (alarms.status === "rejected") errors.push(`alarms: ${why(alarms)}`);
    if (past.status === "rejected") errors.push(`metrics history: ${why(past)}`);
    if (alb.status === "rejected") errors.push(`load-balancer metrics: ${why(alb)}`);
    if (runs.status === "rejected") errors.push(`synthetic transactions: ${why(runs)}`);
    if (sizes.status === "rejected") errors.push(`fleet sizes: ${why(sizes)}`);
    const m = metrics.status === "fulfilled" ? metrics.value : null;
    const albWindow = alb.status === "fulfilled" ? alb.value[0] : undefined;
    const observation: Observation = {
      at: now,
      rollback: m?.[0] ?? null,
      promotion: m?.[1] ?? null,
      history: past.status === "fulfilled" ? past.value : null,
      health: health.status === "fulfilled" ? health.value : null,
      alarms: alarms.status === "fulfilled" ? alarms.value : null,
      ...(guarded === null
        ? {}
        : {
            guard:
              albWindow !== undefined && m?.[guardedAt] !== undefined
                ? { window: guarded, alb: albWindow, service: m[guardedAt] }
                : null,
          }),
      errors,
      ...(follow
        ? { recent: m?.[recentAt] ?? null, sizes: sizes.status === "fulfilled" ? sizes.value : null }
        : {}),
      ...(runs.status === "fulfilled" && runs.value !== null ? { synthetic: runs.value } : {}),
      ...(step === null ? {} : { returnStep: m?.[stepAt] ?? null }),
    };
    const analysis = ["shifting", "returning", "keeping"].includes(this.r.state.phase)
      ? analyseStep(this.r.state, observation)
      : null;
    this.r.event({
      type: "observation",
      at: now,
      phase: this.r.state.phase,
      weights: this.r.state.weights,
      observation,
      analysis,
    });
    for (const e of errors) this.r.log("warn", `measurement error: ${e}`);
    return observation;
  }

  /** The business-metric gates of the plan and the versions' labels, for the gates' metric read. */
  businessQuery(): BusinessQuery | undefined {
    const gates = this.r.state.plan.gates ?? [];
    if (gates.length === 0) return this.versionsQuery();
    return { gates, versions: this.versions() };
  }

  /**
   * The versions' labels without gates: a service signal whose dimensions hold `{version}` needs them
   * on every read (absent without a service signal, as before it existed).
   */
  versionsQuery(): BusinessQuery | undefined {
    return this.r.state.plan.signal === undefined ? undefined : { gates: [], versions: this.versions() };
  }

  private versions(): BusinessQuery["versions"] {
    const s = this.r.state;
    const stable = s.stableRefreshed ? s.release.version : s.release.previousVersion;
    return { stable, gray: s.release.version };
  }

  /** Returns an Outcome when promotion failed and the rollout paused. */
}
