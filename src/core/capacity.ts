/**
 * Fleets that follow the load (issue 17): at every evaluation while gray carries traffic, the core
 * sizes both fleets from what it observed, and changes a size only when the difference has persisted
 * (hysteresis), so a burst or a dip never makes the fleets flap. Pure: a function of the rollout's
 * state, one observation of the fleets and the load, and `now`; the engine applies what it returns
 * through the Fleet port and reads it back.
 *
 * The rule:
 * - Stable is held at the size of the WHOLE load when its own scaling policy says what one instance
 *   carries (a target-tracking policy on requests per instance): ceil(requests/s ÷ per-instance
 *   target), never below its size when the rollout began (the pin). At 50% stable's own policy sizes
 *   it for half the load, and at 100% for none: a rollback (one write, all traffic back to stable at
 *   once) must find it large enough for all of it.
 * - Gray, on the way up (gray under judgement), is sized for per-instance parity with stable: a gray
 *   instance carries no more requests than a stable one does at the current weights. At weight
 *   w < 100 that is ceil(stable's CURRENT desired capacity × w ÷ (100 − w)) — including the change
 *   made now — and at 100% the whole load by stable's per-instance target (stable's desired capacity
 *   without one). The capacity rule alone (ceil(stable × w ÷ 100)) gave a gray instance twice a
 *   stable one's requests at 50% while stable is held for the whole load, and the relative latency
 *   gate then compared a busier gray with a quieter stable: a good release rolled back by a peak.
 *   Never below what the current step needs (the capacity rule on stable's starting capacity), never
 *   above gray's MaxSize. When the MaxSize cannot reach parity the decision says so, the shortfall is
 *   kept in the follow state, and the relative latency gate cannot fail the step while it lasts: a
 *   slower gray is then not evidence against the release, so the step holds (inconclusive) and the
 *   absolute gates alone can roll back (see `parityHold`).
 * - On the way back (stable under judgement, both pools on the new version) gray follows the capacity
 *   rule on stable's desired capacity, as before: a busier gray is the reference, not the subject.
 * - Growing waits `followDelayMs` of a persisting difference; shrinking waits three times as long
 *   and sizes for 10% more load than measured (a band: a load on a boundary does not flap).
 * - New gray instances count once healthy: after gray grows, no further change of gray is made
 *   until its target group reports that many healthy (or the healthy timeout has passed).
 */
import { formatDuration } from "../contract/units.js";
import { observationWindows } from "./decide.js";
import { describeShortfall, type ParityShortfall, parityCapacity, perInstanceRatio } from "./parity.js";
import { grayCapacity } from "./policy.js";
import type { RolloutState } from "./state.js";
import type {
  CapacityChange,
  FleetSizes,
  FollowState,
  PendingResize,
  TimeWindow,
  WindowStats,
} from "./types.js";

export type { CapacityChange, FleetSizes, FollowState, PendingResize } from "./types.js";

export const NO_FOLLOW: FollowState = {
  pending: { stable: null, gray: null },
  grayGrew: null,
  loadSize: null,
  requestRate: null,
  parity: null,
};

export interface CapacityInput {
  readonly sizes: FleetSizes;
  /** Requests of both pools over a recent window (the last metric periods); null when unread. */
  readonly recent: WindowStats | null;
  /** Healthy gray targets now (the target group's view); null when unread. */
  readonly grayHealthy: number | null;
}

export interface CapacityDecision {
  readonly follow: FollowState;
  readonly changes: readonly CapacityChange[];
  /** One line for progress: what was decided or why nothing changed. */
  readonly note: string;
}

/** The band on shrinking: sizes for this much more load than measured. */
export const SHRINK_BAND = 0.1;
/** Shrinking waits this many times --follow-load-delay. */
export const SHRINK_WAIT = 3;

/** Phases in which gray carries traffic and the fleets follow the load. */
export function follows(s: RolloutState): boolean {
  if ((s.plan.grayCapacity ?? "fixed") !== "follow" || s.kind === "restore") return false;
  return ["shifting", "keeping", "promoting", "returning"].includes(s.phase) && s.weights.gray > 0;
}

/** The load now: the last two metric periods the source has complete (where the windows end). */
export function recentWindow(plan: RolloutState["plan"], now: number): TimeWindow {
  const end = observationWindows(plan, now).rollback.end;
  return { start: end - 2 * plan.metricPeriodMs, end };
}

/** Requests per second through both pools over a window. */
export function requestRate(w: WindowStats): number | null {
  const seconds = (w.end - w.start) / 1000;
  if (seconds <= 0 || (!w.stable.hasData && !w.gray.hasData)) return null;
  return (w.stable.requests + w.gray.requests) / seconds;
}

/** Stable's size for the whole load at `rate` requests/s, or null without a per-instance target. */
export function loadSize(rate: number | null, perInstanceRps: number | null): number | null {
  if (rate === null || perInstanceRps === null || perInstanceRps <= 0) return null;
  return Math.max(1, Math.ceil(rate / perInstanceRps - 1e-9));
}

const fmtRate = (r: number) => `${r >= 100 ? Math.round(r) : Number(r.toFixed(1))} requests/s`;

/**
 * What the fleets should be now and what to change. `now` decides whether a difference has
 * persisted long enough.
 */
export function decideCapacity(s: RolloutState, input: CapacityInput, now: number): CapacityDecision {
  const prev = s.follow ?? NO_FOLLOW;
  const start = s.stableCapacity ?? input.sizes.stable.desired;
  const up = s.plan.followDelayMs ?? 0;
  const down = up * SHRINK_WAIT;
  const rate = input.recent === null ? null : requestRate(input.recent);
  const perInstance = input.sizes.perInstanceRps;
  const changes: CapacityChange[] = [];
  const notes: string[] = [];

  // ── stable: held at the size of the whole load (only what its own policy lets us know) ──────────
  const stableMin = input.sizes.stable.min;
  const grow = loadSize(rate, perInstance);
  const shrink = loadSize(rate === null ? null : rate * (1 + SHRINK_BAND), perInstance);
  let stablePending: PendingResize | null = null;
  let stableWant = stableMin;
  // The refresh replaces stable during promotion: its size is left to the refresh then.
  if (grow !== null && shrink !== null && s.phase !== "promoting") {
    const cap = Math.max(input.sizes.stable.max, start);
    const wantUp = Math.min(Math.max(start, grow), cap);
    const wantDown = Math.min(Math.max(start, shrink), cap);
    stableWant = wantUp > stableMin ? wantUp : Math.min(wantDown, stableMin);
    const settled = settle(stableMin, stableWant, prev.pending.stable, now, up, down);
    stablePending = settled.pending;
    if (settled.change) {
      changes.push({
        pool: "stable",
        from: stableMin,
        to: stableWant,
        reason: `stable held at ${stableWant} instance(s) (was ${stableMin}): the whole load is ${fmtRate(rate!)}, ${fmtRate(perInstance!)} per instance by its scaling policy, and a rollback sends all of it back to stable at once${stableWant === start ? " (its size when the rollout began)" : ""}; ${held(settled.heldMs)}`,
      });
    } else if (stablePending !== null) {
      notes.push(`stable ${stableMin} → ${stablePending.to} once it persists`);
    }
  }

  // ── gray: per-instance parity with stable on the way up, the capacity rule on the way back ───────
  // Stable's desired capacity as it is being made now (a growth of its minimum raises it), so both
  // fleets follow the same load at the same evaluation rather than one after the other.
  const weight = s.weights.gray;
  const minGray = s.plan.minGrayCapacity;
  const stableNow = Math.max(input.sizes.stable.desired, stableWant);
  const floor = grayCapacity(start, weight, minGray);
  const ceiling = Math.max(input.sizes.gray.max, floor);
  const grayNow = s.grayCapacity;
  const target = grayTarget(s, { stableNow, start, grayNow, grow, shrink, rate, perInstance });
  const ruled = Math.max(target.size, floor);
  const grayWant = Math.min(ruled, ceiling);
  // Short of parity by gray's MaxSize while gray is under judgement: said, remembered, and the
  // relative latency gate holds rather than fails (core/parity.ts).
  const parity: ParityShortfall | null =
    target.parity && ruled > ceiling
      ? {
          weight,
          need: ruled,
          max: ceiling,
          ratio: perInstanceRatio(stableNow, ceiling, weight, ruled),
        }
      : null;
  if (parity !== null) notes.push(`${describeShortfall(parity)}; the relative latency gate holds the step`);
  let grayPending: PendingResize | null = null;
  let grayGrew = prev.grayGrew;
  const healthy = input.grayHealthy;
  // Health unread (null) counts as not yet healthy: an unknown is never taken for capacity.
  const waiting =
    grayGrew !== null &&
    (healthy === null || healthy < Math.min(grayGrew.to, grayNow)) &&
    now - grayGrew.at < s.plan.healthyTimeoutMs;
  if (waiting) {
    // New instances count once healthy: no other change of gray until they are.
    grayPending = prev.pending.gray;
    notes.push(`waiting for gray's new instances: ${healthy ?? "unknown"} of ${grayNow} healthy`);
  } else {
    if (grayGrew !== null && (healthy ?? 0) >= Math.min(grayGrew.to, grayNow)) grayGrew = null;
    const settled = settle(grayNow, grayWant, prev.pending.gray, now, up, down);
    grayPending = settled.pending;
    if (settled.change) {
      const bounds =
        parity !== null
          ? `, capped at gray's MaxSize ${ceiling}: ${describeShortfall(parity)}, so the relative latency gate holds the step instead of failing it`
          : ruled > ceiling
            ? `, capped at gray's MaxSize ${ceiling}`
            : grayWant === floor && grayWant < grayNow
              ? `, what the ${weight}% step needs at least`
              : "";
      changes.push({
        pool: "gray",
        from: grayNow,
        to: grayWant,
        reason: `gray ${grayNow} → ${grayWant}: ${target.why} gives ${ruled}${bounds}; ${held(settled.heldMs)}`,
      });
      if (grayWant > grayNow) grayGrew = { to: grayWant, at: now };
    } else if (grayPending !== null) {
      notes.push(`gray ${grayNow} → ${grayPending.to} once it persists`);
    }
  }

  const follow: FollowState = {
    pending: { stable: stablePending, gray: grayPending },
    grayGrew,
    loadSize: grow,
    requestRate: rate,
    parity,
  };
  const load =
    rate === null ? "load unknown" : `load ${fmtRate(rate)}${grow === null ? "" : ` (stable-sized ${grow})`}`;
  const note =
    changes.length > 0
      ? changes.map((c) => c.reason).join("; ")
      : `capacity: stable desired ${input.sizes.stable.desired} (min ${stableMin}), gray ${grayNow}, ${load}${notes.length > 0 ? `; ${notes.join("; ")}` : ""}`;
  return { follow, changes, note };
}

/**
 * Gray's size before its bounds, and the sentence saying how it was found:
 * - on the way back (stable under judgement): the capacity rule on stable's desired capacity;
 * - on the way up below 100%: per-instance parity with stable's desired capacity;
 * - at 100% (and while promoting or keeping): the whole load by stable's per-instance target, growing
 *   on the measured load and shrinking on 10% more (the band); without a target, stable's desired
 *   capacity (the capacity rule at 100%).
 */
function grayTarget(
  s: RolloutState,
  o: {
    stableNow: number;
    start: number;
    grayNow: number;
    grow: number | null;
    shrink: number | null;
    rate: number | null;
    perInstance: number | null;
  },
): { size: number; why: string; parity: boolean } {
  const weight = s.weights.gray;
  const minGray = s.plan.minGrayCapacity;
  const stable = `stable's desired capacity ${o.stableNow}${o.stableNow !== o.start ? ` (${o.start} when the rollout began)` : ""}`;
  if (s.phase === "returning") {
    return {
      size: grayCapacity(o.stableNow, weight, minGray),
      why: `the capacity rule on ${stable} at gray's ${weight}%`,
      parity: false,
    };
  }
  if (weight < 100) {
    return {
      size: Math.max(parityCapacity(o.stableNow, weight), minGray),
      why: `per-instance parity (a gray instance carries no more requests than a stable one) with ${stable} at gray's ${weight}%: ⌈${o.stableNow} × ${weight} ÷ ${100 - weight}⌉`,
      parity: true,
    };
  }
  if (o.grow !== null && o.shrink !== null && o.rate !== null && o.perInstance !== null) {
    const size = o.grow > o.grayNow ? o.grow : Math.min(o.shrink, o.grayNow);
    return {
      size: Math.max(size, minGray),
      why: `the whole load at 100%, ${fmtRate(o.rate)} at ${fmtRate(o.perInstance)} per instance (stable's scaling policy),`,
      parity: true,
    };
  }
  return {
    size: grayCapacity(o.stableNow, 100, minGray),
    why: `the capacity rule on ${stable} at gray's 100%`,
    parity: true,
  };
}

function held(ms: number): string {
  return ms === 0 ? "no delay configured" : `the difference held for ${formatDuration(ms)}`;
}

/**
 * Hysteresis for one fleet: a change to `want` once a difference in the same direction has been seen
 * at every evaluation for `up` (growing) or `down` (shrinking) milliseconds.
 */
export function settle(
  current: number,
  want: number,
  pending: PendingResize | null,
  now: number,
  up: number,
  down: number,
): { pending: PendingResize | null; change: boolean; heldMs: number } {
  if (want === current) return { pending: null, change: false, heldMs: 0 };
  const dir = Math.sign(want - current);
  const same = pending !== null && Math.sign(pending.to - current) === dir;
  const since = same ? pending!.since : now;
  const wait = dir > 0 ? up : down;
  if (now - since >= wait) return { pending: null, change: true, heldMs: now - since };
  return { pending: { to: want, since }, change: false, heldMs: now - since };
}

/**
 * Gray's size for a forward step at gray's `weight` with stable at `stableDesired`: with
 * `--gray-capacity follow`, per-instance parity (at 100%: stable's size, which is held at the whole
 * load's), never below the capacity rule on stable's starting capacity; with `fixed`, that rule alone.
 * (`plan` prints it on stable's size now; the engine uses it when it enters a step.)
 */
export function plannedStepCapacity(
  plan: RolloutState["plan"],
  start: number,
  stableDesired: number,
  weight: number,
): number {
  const floor = grayCapacity(start, weight, plan.minGrayCapacity);
  if ((plan.grayCapacity ?? "fixed") !== "follow") return floor;
  return Math.max(floor, parityCapacity(stableDesired, weight), plan.minGrayCapacity);
}

/**
 * Gray's size for a forward step the rollout enters: `plannedStepCapacity` on stable's current
 * desired capacity, within gray's MaxSize (never below what the step needs on stable's start).
 */
export function stepCapacity(s: RolloutState, weight: number, sizes: FleetSizes | null): number {
  const start = s.stableCapacity ?? 1;
  const floor = grayCapacity(start, weight, s.plan.minGrayCapacity);
  if ((s.plan.grayCapacity ?? "fixed") !== "follow" || sizes === null) return floor;
  return Math.max(
    floor,
    Math.min(plannedStepCapacity(s.plan, start, sizes.stable.desired, weight), sizes.gray.max),
  );
}
