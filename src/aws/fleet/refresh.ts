/**
 * Promotion: an instance refresh of stable onto the release (numbered version, MinHealthyPercentage
 * floor, AutoRollback, SkipMatching); a refresh that fails is rolled back (by AWS, or by us when
 * AutoRollback could not) before `promote` resolves `ok: false`.
 */
import type { AutoScalingGroup, InstanceRefresh } from "@aws-sdk/client-auto-scaling";
import { ProviderError } from "../../contract/errors.js";
import { formatDuration } from "../../contract/units.js";
import { waitUntil } from "../../engine/retry.js";
import type { PromotionResult, PromotionWatch } from "../../ports/index.js";
import type { FleetContext } from "./context.js";
import { ACTIVE_REFRESH, launchSpec } from "./shared.js";

export class StableRefresh {
  constructor(private readonly c: FleetContext) {}

  async promote(
    version: string,
    timeoutMs: number,
    signal?: AbortSignal,
    watch?: PromotionWatch,
  ): Promise<PromotionResult> {
    // The rollout's alarms watch the refresh too: one in ALARM fails it and AutoRollback undoes it.
    const outcome = await this.#refresh(version, timeoutMs, true, signal, watch?.alarms ?? []);
    if (outcome.kind === "done") return { ok: true };
    if (outcome.kind === "rolled-back") return { ok: false, reason: outcome.reason };
    // The refresh stopped without AWS undoing it (failed, cancelled, or our deadline): some instances
    // may run the release. Put stable back on the version its group still names before reporting.
    const previous = outcome.groupVersion;
    this.c.o.log?.(
      `instance refresh did not complete (${outcome.reason}); returning stable to version ${previous}`,
    );
    const back = await this.#refresh(previous, timeoutMs, false, signal);
    if (back.kind !== "done") {
      throw new ProviderError(
        `promotion failed (${outcome.reason}) and returning stable to version ${previous} failed too (${back.reason}): stable may run two versions`,
        {
          fix: `run \`gray-deploy abort\` to retry, or start an instance refresh of ${this.c.o.stableAsg} onto version ${previous} by hand`,
        },
      );
    }
    return { ok: false, reason: outcome.reason };
  }

  async revert(version: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const outcome = await this.#refresh(version, timeoutMs, false, signal);
    if (outcome.kind !== "done") {
      throw new ProviderError(
        `could not return ${this.c.o.stableAsg} to launch template version ${version}: ${outcome.reason}`,
        {
          retryable: true,
          fix: `run \`gray-deploy abort\` again, or start an instance refresh of ${this.c.o.stableAsg} onto version ${version} by hand`,
        },
      );
    }
  }

  /**
   * Moves stable onto `version` by instance refresh and waits for the end. Idempotent: a group
   * already on the version with every instance launched from it is done; a refresh already running
   * towards the same version (a resumed run) is waited for rather than started again.
   */

  async #refresh(
    version: string,
    timeoutMs: number,
    autoRollback: boolean,
    signal?: AbortSignal,
    alarms: readonly string[] = [],
  ): Promise<
    | { kind: "done" }
    | { kind: "rolled-back"; reason: string }
    | { kind: "stopped"; reason: string; groupVersion: string }
  > {
    const name = this.c.o.stableAsg;
    const template = await this.c.templates.resolve(signal);
    const [g, latest] = await Promise.all([
      this.c.groups.one(name, signal),
      this.c.api.autoScaling.describeInstanceRefreshes({ AutoScalingGroupName: name, MaxRecords: 1 }, signal),
    ]);
    const groupVersion = launchSpec(g, "stable").version;
    const onVersion = (grp: AutoScalingGroup) =>
      grp.LaunchTemplate?.Version === version &&
      (grp.Instances ?? []).every((i) => i.LaunchTemplate?.Version === version);
    let refresh = latest.InstanceRefreshes?.[0];
    const running = refresh !== undefined && ACTIVE_REFRESH.includes(refresh.Status ?? "");
    if (!running && onVersion(g)) return { kind: "done" };

    let id: string;
    if (running && refresh?.DesiredConfiguration?.LaunchTemplate?.Version === version) {
      id = refresh.InstanceRefreshId ?? "";
      this.c.o.log?.(`instance refresh ${id} onto version ${version} is already running: waiting for it`);
    } else if (running) {
      return {
        kind: "stopped",
        reason: `another instance refresh (${refresh?.InstanceRefreshId}, ${refresh?.Status}) is running on ${name}`,
        groupVersion,
      };
    } else {
      // Checkpoints bake the promotion; a revert (abort, rollback-release) goes back without pausing.
      const checkpoints = autoRollback ? (this.c.o.refreshCheckpoints ?? []) : [];
      const started = await this.c.api.autoScaling.startInstanceRefresh(
        {
          AutoScalingGroupName: name,
          Strategy: "Rolling",
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: template.id, Version: version } },
          Preferences: {
            MinHealthyPercentage: this.c.o.refreshMinHealthy,
            InstanceWarmup: Math.round(this.c.o.instanceWarmupMs / 1000),
            SkipMatching: true,
            AutoRollback: autoRollback,
            ScaleInProtectedInstances: "Refresh",
            // Only next to AutoRollback: a revert (abort) must not be stopped by the alarms that
            // asked for it. Up to 10 (AlarmSpecification); --alarms says so at input.
            ...(autoRollback && alarms.length > 0 ? { AlarmSpecification: { Alarms: [...alarms] } } : {}),
            ...(checkpoints.length > 0
              ? {
                  CheckpointPercentages: [...checkpoints],
                  CheckpointDelay: Math.round((this.c.o.refreshCheckpointDelayMs ?? 0) / 1000),
                }
              : {}),
          },
        },
        signal,
      );
      id = started.InstanceRefreshId ?? "";
      this.c.o.log?.(`instance refresh ${id} of ${name} onto version ${version} started`);
    }

    const ended = await waitUntil<InstanceRefresh>(
      async () => {
        const out = await this.c.api.autoScaling.describeInstanceRefreshes(
          { AutoScalingGroupName: name, InstanceRefreshIds: [id] },
          signal,
        );
        const r = out.InstanceRefreshes?.[0];
        const observed = `${r?.Status ?? "unknown"} ${r?.PercentageComplete ?? 0}%`;
        if (r !== undefined && !ACTIVE_REFRESH.includes(r.Status ?? "")) {
          return { state: "SUCCESS", value: r, observed };
        }
        return { state: "RETRY", observed };
      },
      {
        timeoutMs,
        minDelayMs: this.c.o.pollMs,
        maxDelayMs: this.c.o.pollMs * 4,
        signal,
        clock: this.c.clock,
      },
    );

    if (ended.state !== "SUCCESS") {
      // Past our deadline: undo what was done so far, and wait (bounded) for that to finish.
      const reason = `instance refresh ${id} did not finish within ${formatDuration(timeoutMs)} (last: ${ended.last})`;
      await this.c.api.autoScaling
        .rollbackInstanceRefresh({ AutoScalingGroupName: name }, signal)
        .catch(() => this.c.api.autoScaling.cancelInstanceRefresh({ AutoScalingGroupName: name }, signal))
        .catch(() => undefined);
      refresh = await this.#awaitEnd(name, id, signal);
      if (refresh?.Status === "RollbackSuccessful") return { kind: "rolled-back", reason };
      return { kind: "stopped", reason, groupVersion };
    }
    refresh = ended.value;
    const why =
      refresh.RollbackDetails?.RollbackReason ?? refresh.StatusReason ?? refresh.Status ?? "unknown";
    switch (refresh.Status) {
      case "Successful": {
        const after = await this.c.groups.one(name, signal);
        if (!onVersion(after)) {
          return {
            kind: "stopped",
            reason: `instance refresh ${id} succeeded but ${name} is not entirely on version ${version}`,
            groupVersion: launchSpec(after, "stable").version,
          };
        }
        return { kind: "done" };
      }
      case "RollbackSuccessful":
        return { kind: "rolled-back", reason: `instance refresh ${id} failed and was rolled back: ${why}` };
      case "RollbackFailed":
        throw new ProviderError(
          `instance refresh ${id} of ${name} failed and its rollback failed too (${why}): stable may run two versions`,
          {
            fix: `start an instance refresh of ${name} onto launch template version ${groupVersion} by hand, then run \`gray-deploy abort\``,
          },
        );
      default:
        return {
          kind: "stopped",
          reason: `instance refresh ${id} ended ${refresh.Status}: ${why}`,
          groupVersion,
        };
    }
  }

  /** After asking a refresh to stop: its final state, waited for up to two minutes. */

  async #awaitEnd(name: string, id: string, signal?: AbortSignal): Promise<InstanceRefresh | undefined> {
    const r = await waitUntil<InstanceRefresh>(
      async () => {
        const out = await this.c.api.autoScaling.describeInstanceRefreshes(
          { AutoScalingGroupName: name, InstanceRefreshIds: [id] },
          signal,
        );
        const refresh = out.InstanceRefreshes?.[0];
        return refresh !== undefined && !ACTIVE_REFRESH.includes(refresh.Status ?? "")
          ? { state: "SUCCESS", value: refresh, observed: refresh.Status ?? "" }
          : { state: "RETRY", observed: refresh?.Status ?? "unknown" };
      },
      {
        timeoutMs: 120_000,
        minDelayMs: this.c.o.pollMs,
        maxDelayMs: this.c.o.pollMs * 4,
        signal,
        clock: this.c.clock,
      },
    );
    return r.state === "SUCCESS" ? r.value : undefined;
  }
}
