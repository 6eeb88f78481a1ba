/**
 * The two ends of a rollout's forward path: preparing the release, and finishing the promotion.
 *
 * The end of a promotion (phase `finishing`): the chosen customers back on stable, stable 100%
 * (verified), gray drained and scaled to zero, stable's pin released, then `promoted` and the
 * after-promotion hooks. The AWS calls after the traffic write are idempotent and retried as
 * RETRY.cleanup says: a transient error there must not turn a promoted release into a rollback.
 */

import { StateError, toGrayDeployError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { formatDuration } from "../contract/units.js";
import type { ReleaseSpec } from "../ports/index.js";
import type { Hooks } from "./hooks.js";
import { outcomeFromState } from "./outcome.js";
import { type AttemptFailure, RETRY, retry } from "./retry.js";
import type { RunState } from "./run-state.js";
import { SAME, STABLE_ONLY, type Traffic } from "./traffic.js";

export class Finish {
  constructor(
    private readonly r: RunState,
    private readonly traffic: Traffic,
    private readonly hooks: Hooks,
  ) {}

  async run(): Promise<Outcome> {
    const s = this.r.state;
    const version = s.release.version;
    if (version === null) throw new StateError("cannot finish before the release is prepared");
    if (s.pilot === true) await this.traffic.writePilot(false, this.r.ctx.signal);
    if (!SAME(s.weights, STABLE_ONLY)) await this.traffic.write(STABLE_ONLY, "configured", this.r.ctx.signal);
    await this.traffic.drain();
    await this.r.withHeartbeat(() =>
      retry(
        RETRY.cleanup(this.r.state.plan.lockLeaseMs),
        async () => {
          await this.r.ports.fleet.retireGray(version, this.r.ctx.signal);
          this.r.setState({ ...this.r.state, grayCapacity: 0 });
          await this.r.ports.fleet.releaseStable(this.r.ctx.signal);
        },
        {
          clock: this.r.ctx.clock,
          signal: this.r.ctx.signal,
          onFailure: (f) =>
            this.r.log(
              "warn",
              `tidying up after the promotion failed (attempt ${f.attempt}, ${formatDuration(f.elapsedMs)} so far${f.nextDelayMs === null ? ", giving up" : ""}): ${toGrayDeployError(f.error).message}`,
            ),
        },
      ),
    );
    this.r.go("promoted", {
      outcomeReason: `promoted ${s.release.image} (version ${version}) to the stable fleet`,
    });
    await this.r.save(null);
    const outcome = outcomeFromState(this.r.state);
    await this.hooks.notify("after-promotion", outcome.reason, outcome.outcome);
    return outcome;
  }
}

function releaseSpec(run: RunState): ReleaseSpec {
  const r = run.state.release;
  return { image: r.image, ami: r.ami ?? undefined, commit: r.commit, startedBy: r.startedBy };
}

/** Phase `preparing`: the release's launch template version, recorded with stable's version and capacity. */
export async function prepareRelease(run: RunState): Promise<void> {
  if (run.state.phase === "preflight") {
    run.go("preparing");
    await run.save();
  }
  const r = run.state.release;
  const known =
    r.version !== null && r.previousVersion !== null && run.state.stableCapacity !== null
      ? {
          version: r.version,
          previousVersion: r.previousVersion,
          stableCapacity: run.state.stableCapacity,
        }
      : null;
  // Find-or-create the release's version and pin stable: idempotent, so a transient AWS error is
  // met by doing it again (RETRY.idempotentStep), not by failing the rollout.
  const prepared = await retry(
    RETRY.idempotentStep,
    () => run.ports.fleet.prepare(releaseSpec(run), known, run.ctx.signal),
    { clock: run.ctx.clock, signal: run.ctx.signal, onFailure: warnAgain(run, "preparing the release") },
  );
  run.log(
    "info",
    `release version ${prepared.version} (stable on ${prepared.previousVersion}, capacity ${prepared.stableCapacity})`,
  );
  run.go("scaling", {
    release: {
      ...run.state.release,
      version: prepared.version,
      previousVersion: prepared.previousVersion,
    },
    stableCapacity: prepared.stableCapacity,
  });
  await run.save();
}

/** Logs a failed attempt of an idempotent step that is about to be done again. */
export function warnAgain(run: RunState, what: string) {
  return (f: AttemptFailure): void => {
    if (f.nextDelayMs !== null)
      run.log(
        "warn",
        `${what} failed (attempt ${f.attempt}): ${toGrayDeployError(f.error).message}; doing it again in ${formatDuration(f.nextDelayMs)}`,
      );
  };
}
