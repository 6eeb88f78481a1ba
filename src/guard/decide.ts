/**
 * The guard's decision: given what invoked it and what it read (the stored rollout, the weights the
 * load balancer applies, the gray alarms' states), roll back or leave the rollout alone, with the
 * reason. Pure: no I/O, no clock (`now` is an input).
 *
 * Policy (a payments company's: customers must not stay on a release nobody judges):
 * - Nothing to protect, nothing to do: no rollout, a rollout that ended, or no traffic on gray (by
 *   the stored weights and by the load balancer's: the larger counts, in case a process died between
 *   a weight write and its save).
 * - A rollback another live process is already running is left to it (two guards at once: one acts).
 * - A gray alarm in ALARM rolls back at once, whoever runs the rollout, paused or not: the alarms are
 *   the seed's rollback criteria, which the pipeline would act on too, only later (its analysis waits
 *   for its own windows, or it may be stuck in a long call). A second rollback is harmless: the first
 *   conditional write wins and the pipeline's process stops at its next save.
 * - On the schedule, a rollout nobody watches with traffic on gray is rolled back once it has been
 *   unwatched for longer than the maximum pause: paused since `pause.since`, or its process silent
 *   since its lease ran out (a killed CI job). The limit is the smaller of the guard's maxPause and the
 *   rollout's own --max-pause. A rollout whose rollback failed is retried at once.
 * - A live process (lease valid) that is not paused is left to its process.
 */
import { formatDuration } from "../contract/units.js";
import { isTerminal } from "../core/state.js";
import type { StoredRollout } from "../ports/index.js";
import type { AlarmTrigger, GuardTrigger, ScheduleTrigger } from "./events.js";

export type GuardDecision =
  | { readonly kind: "rollback"; readonly reason: string }
  | { readonly kind: "leave"; readonly reason: string };

export interface GuardObservation {
  /** The rollout of the configured scope, as stored. */
  readonly stored: StoredRollout | null;
  readonly now: number;
  /** The guard's own maximum pause (GRAY_DEPLOY_CONFIG's maxPause). */
  readonly maxPauseMs: number;
  /** The service's gray alarms (GRAY_DEPLOY_CONFIG's alarms). */
  readonly grayAlarms: readonly string[];
  /** Gray's weight as the load balancer applies it now; null when it could not be read. */
  readonly liveGrayWeight: number | null;
  /** Gray alarms in ALARM now (read on the schedule); null when not read or unreadable. */
  readonly alarmsInAlarm: readonly string[] | null;
}

const iso = (t: number) => new Date(t).toISOString();

/** A duration as a person reads it in a reason: whole minutes from a minute on, else whole seconds. */
const human = (ms: number) =>
  formatDuration(ms >= 60_000 ? Math.round(ms / 60_000) * 60_000 : Math.round(ms / 1000) * 1000);

/**
 * Events the guard ignores before reading anything: alarms that are not this service's gray alarms,
 * alarm changes to a state other than ALARM, and events it does not know. Returns the relevant
 * triggers, or why there is none.
 */
export function relevantTriggers(
  triggers: readonly GuardTrigger[],
  grayAlarms: readonly string[],
): { triggers: (AlarmTrigger | ScheduleTrigger)[]; ignored: string[] } {
  const relevant: (AlarmTrigger | ScheduleTrigger)[] = [];
  const ignored: string[] = [];
  for (const t of triggers) {
    if (t.kind === "unknown") ignored.push(`ignored an unknown event: ${t.why}`);
    else if (t.kind === "schedule") relevant.push(t);
    else if (t.state !== "ALARM") ignored.push(`alarm ${t.alarmName} went to ${t.state}, not ALARM`);
    else if (!grayAlarms.includes(t.alarmName)) {
      ignored.push(
        `alarm ${t.alarmName} is not one of this service's gray alarms (${grayAlarms.join(", ") || "none configured"})`,
      );
    } else relevant.push(t);
  }
  return { triggers: relevant, ignored };
}

export function decideGuard(trigger: AlarmTrigger | ScheduleTrigger, o: GuardObservation): GuardDecision {
  const stored = o.stored;
  if (stored === null) return { kind: "leave", reason: "no rollout is recorded for this load balancer" };
  const s = stored.state;
  if (isTerminal(s.phase)) {
    return { kind: "leave", reason: `rollout ${s.id} already ended (${s.phase})` };
  }
  if (s.kind === "restore") {
    // rollback-release moves traffic to the version that ran before the promotion, already judged
    // good: rolling it back would put customers back on the release being rolled back.
    return {
      kind: "leave",
      reason: `rollout ${s.id} is a rollback-release putting version ${s.release.version} (${s.release.image}) back (${s.phase}); rerun rollback-release to finish it, or abort it to return to the promoted release`,
    };
  }
  const gray = Math.max(s.weights.gray, o.liveGrayWeight ?? 0);
  const weights =
    o.liveGrayWeight === null || o.liveGrayWeight === s.weights.gray
      ? `gray at ${s.weights.gray}%`
      : `gray at ${o.liveGrayWeight}% on the load balancer (${s.weights.gray}% recorded)`;
  if (gray === 0) {
    return {
      kind: "leave",
      reason: `rollout ${s.id} (${s.phase}) sends no traffic to gray (recorded ${s.weights.gray}%, load balancer ${o.liveGrayWeight ?? "unreadable"})`,
    };
  }
  const live = stored.owner !== null && stored.leaseUntil > o.now;
  if (live && (s.phase === "rolling-back" || s.abortRequested !== null)) {
    return {
      kind: "leave",
      reason: `rollout ${s.id} is already being rolled back by ${s.abortRequested?.by ?? "its process"} (${stored.owner?.host} pid ${stored.owner?.pid})`,
    };
  }

  if (trigger.kind === "alarm") {
    return {
      kind: "rollback",
      reason: `gray alarm ${trigger.alarmName} is in ALARM${trigger.reason ? ` (${trigger.reason})` : ""}, ${weights}, phase ${s.phase}`,
    };
  }
  const firing = (o.alarmsInAlarm ?? []).filter((a) => o.grayAlarms.includes(a));
  if (firing.length > 0) {
    return {
      kind: "rollback",
      reason: `gray alarm ${firing.join(", ")} is in ALARM (seen on the schedule), ${weights}, phase ${s.phase}`,
    };
  }
  if (s.phase === "rollback-failed") {
    return {
      kind: "rollback",
      reason: `retrying the failed rollback of rollout ${s.id}: traffic may still reach gray (${weights})`,
    };
  }
  const limit = Math.min(o.maxPauseMs, s.plan.maxPauseMs ?? o.maxPauseMs);
  if (s.phase === "paused" && s.pause !== null) {
    const paused = o.now - s.pause.since;
    if (paused > limit) {
      return {
        kind: "rollback",
        reason: `paused (${s.pause.reason}${s.pause.gate ? `, gate ${s.pause.gate}` : ""}) since ${iso(s.pause.since)}, ${human(paused)} with ${weights}: longer than the maximum pause ${human(limit)}`,
      };
    }
    return {
      kind: "leave",
      reason: `paused for ${human(paused)}, under the maximum pause ${human(limit)} (${weights})`,
    };
  }
  if (live) {
    const keep =
      s.phase === "keeping" && s.keepUntil
        ? `, keeping the previous version warm until ${iso(s.keepUntil)}`
        : "";
    return {
      kind: "leave",
      reason: `rollout ${s.id} (${s.phase}${keep}) is running in ${stored.owner?.host} pid ${stored.owner?.pid} (lease until ${iso(stored.leaseUntil)}): its process judges it`,
    };
  }
  const silent = o.now - stored.leaseUntil;
  if (silent > limit) {
    return {
      kind: "rollback",
      reason: `no process has watched rollout ${s.id} (${s.phase}) since ${iso(stored.leaseUntil)}, ${human(silent)} with ${weights}: longer than the maximum pause ${human(limit)}`,
    };
  }
  return {
    kind: "leave",
    reason: `rollout ${s.id} (${s.phase}) has had no process for ${human(Math.max(0, silent))} (${weights}); rerun deploy-gray to resume it, or the guard rolls it back after ${human(limit)}`,
  };
}
