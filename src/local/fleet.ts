/**
 * The Fleet port over local processes of the sample service: the local twin of the stable and gray
 * Auto Scaling groups.
 *
 * - Stable starts with `instances` processes of the stable version; gray is sized by `scaleGray`.
 * - A version's fault knobs follow the version, as code does: the release under test runs with the
 *   gray faults (error rate, latency, crash) wherever it runs, in gray and, once promoted, in stable;
 *   every version gets the baseline error rate.
 * - An instance is in service when the proxy's health checks say so; the fleet registers each
 *   instance with the proxy as soon as it listens and deregisters (with a drain) before stopping it.
 * - While `scaleGray` waits, instances that exit are replaced with a growing back-off, as an ASG
 *   replaces failed instances; the deadline's TimeoutError says what was seen. A crash loop (every
 *   launch exits before listening) ends the wait early with the same error.
 * - `promote`/`revertStable` are the instance refresh: one instance at a time, launch before terminate
 *   (so stable never has fewer than its capacity in service, which satisfies any `refreshMinHealthy`
 *   floor), each new one healthy and warmed up before the old one is drained and stopped.
 */
import {
  AbortedError,
  type GrayDeployError,
  InvalidInputError,
  PreflightError,
  StateError,
  TimeoutError,
} from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import type { Pool } from "../core/types.js";
import { systemClock } from "../engine/clock.js";
import { waitUntil } from "../engine/retry.js";
import type {
  Clock,
  Fleet,
  FleetPreflight,
  FleetSizes,
  PreparedRelease,
  PromotionResult,
  ReleaseSpec,
  ResizeRequest,
} from "../ports/index.js";
import type { InstanceInfo, LocalFleetOptions } from "./fleet-options.js";
import { aborted, describeInstance, pct, rank, unhealthyError } from "./fleet-support.js";
import { type InstanceFaults, ServiceInstance } from "./instance.js";
import { PoolSizes } from "./pool-sizes.js";
import type { TargetState, WeightedProxy } from "./proxy.js";
import { refreshStable } from "./refresh.js";

export type { InstanceInfo, LocalFleetOptions } from "./fleet-options.js";

export class LocalFleet implements Fleet {
  readonly #o: LocalFleetOptions;
  readonly #clock: Clock;
  readonly #proxy: WeightedProxy;
  readonly #pools: Record<Pool, ServiceInstance[]> = { stable: [], gray: [] };
  readonly #log: (line: string) => void;
  #seq = 0;
  #stableVersion: string;
  #grayVersion: string | null = null;
  #releaseVersion: string;
  #prepared: PreparedRelease | null = null;
  #disposing: Promise<void> | null = null;
  #exitHook: (() => void) | null = null;
  readonly #sizes: PoolSizes;
  /** A refresh replaces stable: its autoscaling waits (and the refresh keeps its size). */
  #refreshing = false;

  constructor(options: LocalFleetOptions) {
    if (!Number.isInteger(options.instances) || options.instances < 1) {
      throw new InvalidInputError([
        { field: "instances", message: `${options.instances} is not a whole number ≥ 1` },
      ]);
    }
    this.#o = options;
    this.#clock = options.clock ?? systemClock();
    this.#proxy = options.proxy;
    this.#stableVersion = options.stableVersion;
    this.#releaseVersion = options.releaseVersion;
    this.#log = options.log ?? (() => {});
    this.#sizes = new PoolSizes(options.instances, options.capacityRps);
  }

  /** The version stable runs now. */
  get stableVersion(): string {
    return this.#stableVersion;
  }

  /** The version gray is pointed at (null before the first scaleGray). */
  get grayVersion(): string | null {
    return this.#grayVersion;
  }

  /** Starts the stable pool and waits until all of it is healthy. Called once by the environment. */
  async start(signal?: AbortSignal): Promise<void> {
    this.#live();
    const capacity = this.#sizes.stableDesired;
    const timeoutMs = this.#o.healthyTimeoutMs ?? 30_000;
    while (this.#pools.stable.length < capacity) this.#launch("stable", this.#stableVersion);
    const deadline = this.#clock.now() + timeoutMs;
    await this.#until(
      deadline,
      signal,
      () => {
        const dead = this.#pools.stable.find((i) => !i.alive);
        if (dead) {
          throw new PreflightError(`stable instance ${dead.id} (${dead.version}) ${dead.describeExit()}`, {
            fix: "the stable version of the sample service must start: check examples/sample-gateway/server.mjs",
          });
        }
        return this.#healthy("stable", this.#stableVersion) >= capacity;
      },
      () => this.#timeout("stable", this.#stableVersion, capacity, timeoutMs, []),
    );
  }

  async preflight(release: ReleaseSpec, signal?: AbortSignal): Promise<FleetPreflight> {
    this.#live();
    aborted(signal);
    const health = this.#proxy.health().stable;
    if (health.healthy === 0) {
      throw new PreflightError(
        "the local stable pool has no healthy instance: there is nothing to roll back to",
        {
          fix: "restart the run; if it happens again, check that examples/sample-gateway/server.mjs starts",
        },
      );
    }
    const faults = this.faultsOf(release.image);
    const facts = [
      `stable pool: ${this.#pools.stable.length} local processes of ${this.#stableVersion}, ${health.healthy} healthy, ${health.unhealthy} unhealthy`,
      `release ${release.image}: error rate ${pct(faults.errorRate)}, added latency ${faults.latencyMs} ms, crash at start: ${faults.crash ? "yes" : "no"}${faults.paymentFault ? ", declines every payment (--gray-payment-fault)" : ""}`,
      `baseline error rate of every version: ${pct(faults.baselineErrorRate)}`,
    ];
    if (release.image === this.#stableVersion) facts.push(`stable already runs ${release.image}`);
    return { stableCapacity: this.#sizes.stableDesired, stableVersion: this.#stableVersion, facts };
  }

  async prepare(
    release: ReleaseSpec,
    known: PreparedRelease | null,
    signal?: AbortSignal,
  ): Promise<PreparedRelease> {
    this.#live();
    aborted(signal);
    const prepared = known ?? this.#prepared;
    if (prepared !== null) {
      if (prepared.version !== release.image) {
        throw new StateError(
          `this rollout was prepared for ${prepared.version}, not ${release.image}: one rollout releases one image`,
          { fix: "finish or abort the current rollout before releasing another image" },
        );
      }
      // The release under test (whose faults its instances get) stays the one this fleet was made
      // for: a rollback-release prepares the previous version, which must run without them.
      this.#prepared = prepared;
      this.#sizes.pin(prepared.stableCapacity);
      return prepared;
    }
    // Locally there is no launch template: the image label is the version. Stable's minimum is
    // pinned at its size, as on AWS, so its autoscaling cannot shrink it while gray has traffic.
    this.#releaseVersion = release.image;
    this.#sizes.pin(this.#sizes.stableDesired);
    this.#prepared = Object.freeze({
      version: release.image,
      previousVersion: this.#stableVersion,
      stableCapacity: this.#sizes.stableDesired,
    });
    return this.#prepared;
  }

  async scaleGray(version: string, capacity: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.#live();
    aborted(signal);
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new InvalidInputError([{ field: "capacity", message: `${capacity} is not a whole number ≥ 0` }]);
    }
    this.#grayVersion = version;
    this.#sizes.gray = capacity;
    const gray = this.#pools.gray;
    const stale = gray.filter((i) => i.version !== version || !i.alive);
    // Scale in the least useful first: not yet healthy, then the newest.
    const keep = gray
      .filter((i) => !stale.includes(i))
      .sort((a, b) => rank(this.#state(b)) - rank(this.#state(a)));
    await this.#remove("gray", [...stale, ...keep.slice(capacity)]);
    if (capacity === 0) return;

    const started = this.#clock.now();
    const deadline = started + timeoutMs;
    const limit = this.#o.crashLoopLimit ?? 3;
    const seen: string[] = [];
    let crashLoop = 0;
    let backoff = 250;
    let nextLaunch = 0;
    await this.#until(
      deadline,
      signal,
      () => {
        for (const dead of this.#pools.gray.filter((i) => !i.alive)) {
          seen.push(dead.describeExit());
          crashLoop = dead.port === null ? crashLoop + 1 : 0;
          this.#log(`gray instance ${dead.id} (${version}) ${dead.describeExit()}; replacing it`);
          void this.#remove("gray", [dead]);
          nextLaunch = this.#clock.now() + backoff;
          backoff = Math.min(backoff * 2, 5000);
        }
        if (limit > 0 && crashLoop >= limit && this.#healthy("gray", version) === 0) {
          const early = `after ${formatDuration(this.#clock.now() - started)} (gave up early: every launch crashed)`;
          throw this.#timeout("gray", version, capacity, timeoutMs, seen, early);
        }
        if (this.#clock.now() >= nextLaunch) {
          while (this.#pools.gray.length < capacity) this.#launch("gray", version);
        }
        return this.#healthy("gray", version) >= capacity;
      },
      () => this.#timeout("gray", version, capacity, timeoutMs, seen),
    );
  }

  async promote(version: string, timeoutMs: number, signal?: AbortSignal): Promise<PromotionResult> {
    this.#live();
    aborted(signal);
    const previous = this.#stableVersion;
    try {
      await this.#refresh(version, this.#clock.now() + timeoutMs, signal);
      this.#stableVersion = version;
      return { ok: true };
    } catch (e) {
      if (e instanceof AbortedError || this.#disposing !== null) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      this.#log(`instance refresh to ${version} failed (${reason}); rolling stable back to ${previous}`);
      try {
        await this.#refresh(previous, this.#clock.now() + timeoutMs, signal);
      } catch (e2) {
        throw new TimeoutError(
          `the instance refresh to ${version} failed (${reason}) and putting stable back on ${previous} failed too: ${e2 instanceof Error ? e2.message : String(e2)}`,
          {
            cause: e2,
            fix: "abort the rollout; the local environment is then disposed and nothing is left running",
          },
        );
      }
      return {
        ok: false,
        reason: `instance refresh to ${version} failed and was rolled back to ${previous}: ${reason}`,
      };
    }
  }

  async revertStable(version: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.#live();
    aborted(signal);
    await this.#refresh(version, this.#clock.now() + timeoutMs, signal);
    this.#stableVersion = version;
  }

  async retireGray(version: string, signal?: AbortSignal): Promise<void> {
    this.#live();
    aborted(signal);
    await this.#remove("gray", [...this.#pools.gray]);
    // The local twin of restoring the gray ASG's launch template reference.
    this.#grayVersion = version;
  }

  async releaseStable(_signal?: AbortSignal): Promise<void> {
    // Stable's minimum back to its configured size; its autoscaling lowers desired when the load allows.
    this.#sizes.release();
  }

  async sizes(_signal?: AbortSignal): Promise<FleetSizes> {
    this.#live();
    return this.#sizes.view();
  }

  /** Accepted at once; the pools follow (new instances register once listening, removed ones drain). */
  async resize(change: ResizeRequest, signal?: AbortSignal): Promise<void> {
    this.#live();
    aborted(signal);
    if (change.stableMin !== undefined) {
      this.#sizes.setMin(change.stableMin);
      if (!this.#refreshing) void this.#fit("stable", this.#stableVersion);
    }
    if (change.gray !== undefined) {
      this.#grayVersion = change.gray.version;
      this.#sizes.gray = change.gray.desired;
      void this.#fit("gray", change.gray.version);
    }
  }

  /** Stable's autoscaling (autoscaler.ts) asks for `want` instances: applied within [min, max]. */
  autoscale(want: number): void {
    if (this.#disposing !== null || this.#refreshing) return;
    if (this.#sizes.autoscale(want)) {
      this.#log(`stable autoscaling: desired capacity ${this.#sizes.stableDesired}`);
      void this.#fit("stable", this.#stableVersion);
    }
  }

  /** Makes a pool's process count match its size: launches, or drains and stops the least useful. */
  async #fit(pool: Pool, version: string): Promise<void> {
    if (this.#disposing !== null) return;
    const want = pool === "stable" ? this.#sizes.stableDesired : this.#sizes.gray;
    const live = this.#pools[pool].filter((i) => i.alive);
    if (live.length < want) {
      for (let n = live.length; n < want; n++) this.#launch(pool, version);
      return;
    }
    const extra = [...live]
      .sort((a, b) => rank(this.#state(a)) - rank(this.#state(b)))
      .slice(0, live.length - want);
    await this.#remove(pool, extra).catch((e: unknown) =>
      this.#log(`${pool}: scale-in failed: ${String(e)}`),
    );
  }

  /** The fault knobs a version runs with. */
  faultsOf(version: string): InstanceFaults {
    const release = version === this.#releaseVersion;
    return {
      errorRate: release ? (this.#o.grayErrorRate ?? 0) : 0,
      latencyMs: release ? (this.#o.grayLatencyMs ?? 0) : 0,
      crash: release ? (this.#o.grayCrash ?? false) : false,
      baselineErrorRate: this.#o.baselineErrorRate ?? 0,
      ...(release && this.#o.grayPaymentFault ? { paymentFault: true } : {}),
    };
  }

  /** Every instance this fleet runs now. */
  instances(pool?: Pool): InstanceInfo[] {
    const states = new Map(this.#proxy.targets().map((t) => [t.id, t.state]));
    return (pool === undefined ? [...this.#pools.stable, ...this.#pools.gray] : [...this.#pools[pool]]).map(
      (i) => ({
        id: i.id,
        pool: i.pool,
        version: i.version,
        pid: i.pid,
        port: i.port,
        alive: i.alive,
        health: states.get(i.id) ?? null,
      }),
    );
  }

  /** Stops every instance (SIGTERM, SIGKILL after 2 s). Idempotent; the fleet is unusable afterwards. */
  dispose(): Promise<void> {
    this.#disposing ??= this.#dispose();
    return this.#disposing;
  }

  async #dispose(): Promise<void> {
    const all = [...this.#pools.stable, ...this.#pools.gray];
    this.#pools.stable = [];
    this.#pools.gray = [];
    // Deregister without waiting for the drain: the services finish in-flight requests on SIGTERM.
    for (const p of ["stable", "gray"] as const) void this.#proxy.setTargets(p, []).catch(() => undefined);
    await Promise.all(all.map((i) => i.stop(2000)));
    if (this.#exitHook !== null) process.off("exit", this.#exitHook);
    this.#exitHook = null;
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  #live(): void {
    if (this.#disposing !== null) throw new AbortedError("the local environment was disposed");
  }

  #launch(pool: Pool, version: string): ServiceInstance {
    this.#live();
    if (this.#exitHook === null) {
      const all = this.#pools;
      // Belt and braces beside the stdin pipe: a parent that calls process.exit() without disposing
      // still takes its children with it.
      this.#exitHook = () => {
        for (const i of [...all.stable, ...all.gray]) i.kill();
      };
      process.on("exit", this.#exitHook);
    }
    const instance = new ServiceInstance({
      id: `${pool}-${++this.#seq}`,
      pool,
      version,
      faults: this.faultsOf(version),
      log: this.#log,
      ...(this.#o.capacityRps === undefined ? {} : { capacityRps: this.#o.capacityRps }),
      ...(this.#o.serverPath === undefined ? {} : { serverPath: this.#o.serverPath }),
      ...(this.#o.emf === undefined ? {} : { emf: this.#o.emf(pool, version) }),
    });
    this.#pools[pool].push(instance);
    instance.listening.then(
      () => {
        if (this.#pools[pool].includes(instance)) void this.#sync(pool);
      },
      () => undefined,
    );
    return instance;
  }

  /** Registers the pool's listening instances with the proxy; resolves when removed ones drained. */
  #sync(pool: Pool): Promise<void> {
    return this.#proxy.setTargets(
      pool,
      this.#pools[pool]
        .filter((i) => i.port !== null)
        .map((i) => ({ id: i.id, host: i.host, port: i.port as number })),
    );
  }

  /** Deregisters, waits for the drain, then stops the instances. */
  async #remove(pool: Pool, instances: readonly ServiceInstance[]): Promise<void> {
    if (instances.length === 0) return;
    this.#pools[pool] = this.#pools[pool].filter((i) => !instances.includes(i));
    await this.#sync(pool);
    await Promise.all(instances.map((i) => i.stop()));
  }

  #state(i: ServiceInstance): TargetState | null {
    return this.#proxy.targets(i.pool).find((t) => t.id === i.id)?.state ?? null;
  }

  #healthy(pool: Pool, version: string): number {
    const ids = new Set(this.#pools[pool].filter((i) => i.version === version && i.alive).map((i) => i.id));
    return this.#proxy.targets(pool).filter((t) => t.state === "healthy" && ids.has(t.id)).length;
  }

  /** The instance refresh (refresh.ts), with stable's autoscaling held while it runs. */
  async #refresh(version: string, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    this.#refreshing = true;
    try {
      await refreshStable(
        {
          stable: () => this.#pools.stable,
          launch: (v) => this.#launch("stable", v),
          remove: (list) => this.#remove("stable", list),
          state: (i) => this.#state(i),
          describe: (i) => this.#describe(i),
          until: (d, sig, done, expired) => this.#until(d, sig, done, expired),
          sleep: (ms, sig) => this.#clock.sleep(ms, sig),
          log: this.#log,
        },
        version,
        {
          warmupMs: this.#o.instanceWarmupMs ?? 0,
          minHealthy: this.#o.refreshMinHealthy ?? 90,
          deadline,
        },
        signal,
      );
    } finally {
      this.#refreshing = false;
    }
  }

  /** Polls `done` until it returns true; `expired` builds the error thrown at the deadline. */
  async #until(
    deadline: number,
    signal: AbortSignal | undefined,
    done: () => boolean,
    expired: () => GrayDeployError,
  ): Promise<void> {
    const poll = this.#o.pollMs ?? 50;
    const result = await waitUntil(
      async () => {
        aborted(signal);
        this.#live();
        return done()
          ? { state: "SUCCESS", value: undefined, observed: "done" }
          : { state: "RETRY", observed: "not yet" };
      },
      {
        timeoutMs: Math.max(0, deadline - this.#clock.now()),
        minDelayMs: poll,
        maxDelayMs: poll,
        signal,
        clock: this.#clock,
      },
    );
    if (result.state !== "SUCCESS") throw expired();
  }

  #describe(i: ServiceInstance): string {
    return describeInstance(this.#proxy, i);
  }

  #timeout(
    pool: Pool,
    version: string,
    capacity: number,
    timeoutMs: number,
    seen: readonly string[],
    early?: string,
  ): TimeoutError {
    return unhealthyError(this.#proxy, this.#pools[pool], {
      pool,
      version,
      capacity,
      timeoutMs,
      seen,
      early,
      healthy: this.#healthy(pool, version),
    });
  }
}
