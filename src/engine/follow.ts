/**
 * The fleets following the load inside one run (issue 17). After every observation while gray carries
 * traffic, the core decides the fleets' sizes (core/capacity.ts); this applies each change through the
 * Fleet port, reads the sizes back, records it as a `scale` decision with its reason (status and the
 * report show it) and saves. While promotion's refresh runs (one long call), it keeps observing on
 * its own at the plan's interval so a peak during the refresh is followed too.
 *
 * Following the load never decides the release's fate: a resize that fails or does not read back is
 * a warning, retried at the next evaluation. Gray's health gates judge new instances as any others.
 */
import { toGrayDeployError, VerificationError } from "../contract/errors.js";
import type { Observation } from "../core/analysis.js";
import { decideCapacity, follows } from "../core/capacity.js";
import { describeShortfall } from "../core/parity.js";
import { grayCapacity } from "../core/policy.js";
import { type DecisionRecord, recordDecision } from "../core/state.js";
import type { CapacityChange, FleetSizes } from "../core/types.js";
import { waitUntil } from "./retry.js";
import { LostRollout, type RunState } from "./run-state.js";

export class Follower {
  #sizes: FleetSizes | null = null;

  constructor(private readonly r: RunState) {}

  /** Whether the fleet can follow the load at all (both optional Fleet methods). */
  get able(): boolean {
    const f = this.r.ports.fleet;
    return f.sizes !== undefined && f.resize !== undefined;
  }

  /** The sizes the last observation read (null before one, or when the fleet cannot follow). */
  get lastSizes(): FleetSizes | null {
    return this.#sizes;
  }

  /** Reads the sizes now (for a step the rollout enters), or null when the fleet cannot. */
  async readSizes(): Promise<FleetSizes | null> {
    if (!this.able || (this.r.state.plan.grayCapacity ?? "fixed") !== "follow") return null;
    try {
      this.#sizes = await this.r.ports.fleet.sizes!(this.r.ctx.signal);
    } catch (e) {
      this.r.log("warn", `could not read the fleets' sizes: ${toGrayDeployError(e).message}`);
    }
    return this.#sizes;
  }

  /** After an observation: what the core decides, applied, verified and recorded. */
  async follow(obs: Observation): Promise<void> {
    if (!this.able || !follows(this.r.state) || obs.sizes === undefined || obs.sizes === null) return;
    this.#sizes = obs.sizes;
    const d = decideCapacity(
      this.r.state,
      { sizes: obs.sizes, recent: obs.recent ?? null, grayHealthy: obs.health?.gray.healthy ?? null },
      this.r.now(),
    );
    const short = this.r.state.follow?.parity ?? null;
    this.r.setState({ ...this.r.state, follow: d.follow });
    const now = d.follow.parity ?? null;
    // Gray's MaxSize short of per-instance parity: said once when it starts or changes.
    if (now !== null && (short === null || short.need !== now.need || short.max !== now.max)) {
      this.r.log(
        "warn",
        `capacity: ${describeShortfall(now)}; the relative latency gate holds the step instead of failing it (raise gray's MaxSize to compare like with like)`,
      );
    }
    if (d.changes.length === 0) return;
    // Stable first: gray's size is computed from stable's, including this change.
    const ordered = [...d.changes].sort((a, b) => (a.pool === b.pool ? 0 : a.pool === "stable" ? -1 : 1));
    for (const change of ordered) await this.#apply(change);
  }

  async #apply(change: CapacityChange): Promise<void> {
    const version = this.r.state.release.version;
    if (change.pool === "gray" && version === null) return;
    const fleet = this.r.ports.fleet;
    const signal = this.r.ctx.signal;
    try {
      await fleet.resize!(
        change.pool === "gray"
          ? { gray: { version: version!, desired: change.to } }
          : { stableMin: change.to },
        signal,
      );
      const after = await fleet.sizes!(signal);
      this.#sizes = after;
      const read = change.pool === "gray" ? after.gray.desired : after.stable.min;
      if (read !== change.to) {
        throw new VerificationError(
          `${change.pool} read back at ${read} after setting ${change.pool === "gray" ? "its desired capacity" : "its minimum"} to ${change.to}`,
        );
      }
    } catch (e) {
      if (signal?.aborted) throw e;
      this.r.log(
        "warn",
        `could not resize ${change.pool} to ${change.to} to follow the load (${toGrayDeployError(e).message}); trying again at the next evaluation`,
      );
      // Forget the decision's growth record: the next evaluation decides afresh from what it reads.
      const f = this.r.state.follow;
      if (f !== undefined && change.pool === "gray")
        this.r.setState({ ...this.r.state, follow: { ...f, grayGrew: null } });
      return;
    }
    const at = this.r.now();
    const rec: DecisionRecord = {
      at,
      kind: "scale",
      phase: this.r.state.phase,
      reason: change.reason,
      capacity: { pool: change.pool, from: change.from, to: change.to },
      evidence: [],
    };
    const patch = change.pool === "gray" ? { grayCapacity: change.to } : {};
    this.r.setState(recordDecision({ ...this.r.state, ...patch }, rec));
    this.r.log("info", `capacity: ${change.reason}`);
    await this.r.save();
  }

  /**
   * Runs a long operation (promotion's refresh) while following the load at the plan's interval.
   * `observe` is one look (metrics, health, sizes); its failures only skip that look.
   */
  async during<T>(op: () => Promise<T>, observe: () => Promise<Observation>): Promise<T> {
    if (!this.able || !follows(this.r.state)) return op();
    const stop = new AbortController();
    const loop = (async () => {
      while (!stop.signal.aborted) {
        try {
          await this.r.ctx.clock.sleep(this.r.state.plan.intervalMs, stop.signal);
        } catch {
          return;
        }
        if (stop.signal.aborted) return;
        try {
          await this.follow(await observe());
        } catch (e) {
          if (stop.signal.aborted || e instanceof LostRollout) return;
          this.r.log("warn", `following the load during promotion: ${toGrayDeployError(e).message}`);
        }
      }
    })();
    try {
      return await op();
    } finally {
      stop.abort();
      await loop;
    }
  }

  /**
   * Before traffic returns to stable (a return step): stable has as many healthy instances as its
   * share of the load needs — the capacity rule on its desired capacity, which follows the load.
   * Waits up to the healthy timeout, then goes on with a warning (the step's analysis judges it).
   */
  async stableReady(stableWeight: number): Promise<void> {
    if ((this.r.state.plan.grayCapacity ?? "fixed") !== "follow") return;
    const sizes = await this.readSizes();
    if (sizes === null) return;
    const need = grayCapacity(sizes.stable.desired, stableWeight, 1);
    const plan = this.r.state.plan;
    const result = await waitUntil(
      async () => {
        const h = await this.r.ports.router.targetHealth(this.r.ctx.signal);
        const observed = `${h.stable.healthy} of ${need} stable instance(s) healthy`;
        return h.stable.healthy >= need
          ? { state: "SUCCESS", value: undefined, observed }
          : { state: "RETRY", observed };
      },
      {
        timeoutMs: plan.healthyTimeoutMs,
        minDelayMs: Math.min(1000, plan.intervalMs),
        maxDelayMs: plan.intervalMs,
        signal: this.r.ctx.signal,
        clock: this.r.ctx.clock,
      },
    );
    if (result.state !== "SUCCESS") {
      this.r.log("warn", `stable is not ready for ${stableWeight}% of the load (${result.last}); going on`);
    }
  }
}
