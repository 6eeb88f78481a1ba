/**
 * The report of one rollout (report.json): the contract's Outcome, the plan it ran with, every
 * observation the engine made (per interval: weights, both versions' numbers over both windows,
 * the verdict), every decision with its evidence, the weight changes, phases with their timings,
 * warnings and errors. Built from the Outcome plus the engine's event stream; pure (no clock, no
 * I/O), so the same input always gives the same report.
 *
 * A run of `promote` or `abort` in another process only saw its own part of the rollout: its report
 * has every decision (from the stored state) but only the observations that process made; the
 * `coverage` section says so.
 */
import type { Outcome, OutcomeDecision } from "../contract/outcome.js";
import type { GateName, Verdict } from "../core/analysis.js";
import type { Policy } from "../core/policy.js";
import type { AlarmState, FleetHealth, VersionStats, Weights, WindowStats } from "../core/types.js";
import type { EngineEvent } from "../engine/events.js";

export const REPORT_SCHEMA_VERSION = 1 as const;

export interface ReportStats {
  readonly requests: number;
  readonly errors: number;
  /** errors / requests, null without requests. */
  readonly errorRate: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly hasData: boolean;
}

export interface ReportWindow {
  readonly start: string;
  readonly end: string;
  readonly stable: ReportStats;
  readonly gray: ReportStats;
  /** 5xx made by the load balancer itself (AWS); null when the source cannot tell. */
  readonly lbErrors: number | null;
}

export interface ReportObservation {
  readonly at: string;
  readonly phase: string;
  /** Verified weights when the observation was made. */
  readonly weights: Weights;
  /** The window the rollback gates judged (trailing --rollback-window, ending --metrics-delay ago). */
  readonly rollbackWindow: ReportWindow | null;
  /** The window the pass criteria judged (trailing --promotion-window). */
  readonly promotionWindow: ReportWindow | null;
  readonly health: FleetHealth | null;
  readonly alarms: readonly AlarmState[] | null;
  /** Measurement errors (a metric source that failed is data, not an exception). */
  readonly errors: readonly string[];
  /** The analysis of this observation; null before gray had a step to judge. */
  readonly verdict: Verdict | null;
  readonly gates: Readonly<Partial<Record<GateName, Verdict>>>;
  /** Why each gate that did not pass did not pass. */
  readonly notes: readonly string[];
  /** Observe-only gates of this observation (their verdicts are in `gates`, never in `verdict`). */
  readonly observed?: readonly string[];
}

/** One lifecycle hook call (src/core/hooks.ts HookCall), as the report and the timeline show it. */
export interface ReportHookCall {
  readonly at: string;
  readonly hook: string;
  readonly kind: string;
  readonly stage: string;
  readonly instance: string;
  readonly ask: number;
  readonly ms: number;
  readonly result: "pass" | "not-yet" | "fail" | "skipped";
  readonly detail: string;
  readonly gating: boolean;
}

/** One synthetic transaction run against gray. */
export interface ReportSyntheticRun {
  readonly at: string;
  readonly name: string;
  readonly n: number;
  readonly when: "pre-traffic" | "step";
  readonly ok: boolean;
  readonly status: number | null;
  readonly ms: number;
  readonly detail: string;
  readonly unsent?: true;
}

export interface ReportPhase {
  readonly phase: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
}

export interface ReportLogLine {
  readonly at: string;
  readonly level: "info" | "warn" | "error";
  readonly message: string;
}

export interface Report {
  readonly reportVersion: typeof REPORT_SCHEMA_VERSION;
  readonly generatedAt: string;
  readonly tool: { readonly name: "gray-deploy"; readonly version: string | null };
  /** The invocation that wrote this report (deploy-gray, promote, abort, status) and who ran it. */
  readonly run: { readonly verb: string | null; readonly by: string | null };
  /** The contract's Outcome, unchanged: the same JSON `--json` prints. */
  readonly outcome: Outcome;
  /** The plan and thresholds the rollout ran with (durations in ms, rates as fractions). */
  readonly plan: Policy | null;
  /** Who started the release and who approved which gate. */
  readonly people: {
    readonly startedBy: string | null;
    readonly approvals: Outcome["release"]["approvals"];
    readonly ranBy: string | null;
  };
  readonly timings: {
    readonly startedAt: string | null;
    readonly endedAt: string | null;
    readonly durationMs: number | null;
    readonly phases: readonly ReportPhase[];
  };
  readonly observations: readonly ReportObservation[];
  /** Every decision that changed something, with its evidence (the Outcome's list). */
  readonly decisions: readonly OutcomeDecision[];
  /** Every verified weight write this process made. */
  readonly weightChanges: readonly { readonly at: string; readonly stable: number; readonly gray: number }[];
  /** Every lifecycle hook call this process made (and every override). */
  readonly hooks: readonly ReportHookCall[];
  /** Every synthetic transaction this process ran against gray. */
  readonly synthetic: readonly ReportSyntheticRun[];
  /** Every switch of the chosen-customers rule this process made (verified). */
  readonly pilotChanges: readonly { readonly at: string; readonly enabled: boolean }[];
  readonly log: readonly ReportLogLine[];
  readonly coverage: {
    /** First and last engine event this process saw (null when it saw none, e.g. `status`). */
    readonly firstEventAt: string | null;
    readonly lastEventAt: string | null;
    readonly events: number;
    /** Events dropped by the collector's bound (observations of a very long rollout). */
    readonly droppedEvents: number;
    readonly note: string | null;
  };
}

export interface BuildReportOptions {
  /** The plan the rollout ran with (from the stored rollout, or from the options). */
  readonly plan?: Policy | null;
  /** When the report is written; default: the end of the rollout, else its last event. */
  readonly generatedAt?: number | string | null;
  readonly toolVersion?: string | null;
  readonly verb?: string | null;
  readonly by?: string | null;
  /** Events a bounded collector had to drop. */
  readonly droppedEvents?: number;
}

const iso = (t: number): string => new Date(t).toISOString();

export function statsOf(s: VersionStats): ReportStats {
  return {
    requests: s.requests,
    errors: s.errors,
    errorRate: s.requests > 0 ? s.errors / s.requests : null,
    p95Ms: s.p95Ms,
    p99Ms: s.p99Ms,
    hasData: s.hasData,
  };
}

function windowOf(w: WindowStats | null): ReportWindow | null {
  if (w === null) return null;
  return {
    start: iso(w.start),
    end: iso(w.end),
    stable: statsOf(w.stable),
    gray: statsOf(w.gray),
    lbErrors: w.lbErrors,
  };
}

function observationOf(e: Extract<EngineEvent, { type: "observation" }>): ReportObservation {
  const gates: Partial<Record<GateName, Verdict>> = {};
  const notes: string[] = [];
  const observed: string[] = [];
  for (const g of e.analysis?.gates ?? []) {
    gates[g.gate] = g.verdict;
    if (g.observe) observed.push(g.gate);
    if (g.verdict !== "pass") notes.push(`${g.gate}: ${g.reason}`);
  }
  return {
    at: iso(e.at),
    phase: e.phase,
    weights: { stable: e.weights.stable, gray: e.weights.gray },
    rollbackWindow: windowOf(e.observation.rollback),
    promotionWindow: windowOf(e.observation.promotion),
    health: e.observation.health,
    alarms: e.observation.alarms,
    errors: [...e.observation.errors],
    verdict: e.analysis?.verdict ?? null,
    gates,
    notes,
    ...(observed.length > 0 ? { observed } : {}),
  };
}

function phasesOf(events: readonly EngineEvent[], decisions: readonly OutcomeDecision[]): ReportPhase[] {
  const phases: ReportPhase[] = [];
  let current: { phase: string; at: number } | null = null;
  for (const e of events) {
    if (e.type !== "phase") continue;
    if (current === null && e.from === "paused") {
      // A run that continues a paused rollout (promote, abort) did not see the pause begin: the
      // stored decision that paused it says when.
      const paused = [...decisions]
        .reverse()
        .find((d) => (d.kind === "pause" || d.kind === "await-approval") && Date.parse(d.at) <= e.at);
      if (paused) current = { phase: "paused", at: Date.parse(paused.at) };
    }
    if (current !== null) {
      phases.push({
        phase: current.phase,
        startedAt: iso(current.at),
        endedAt: iso(e.at),
        durationMs: e.at - current.at,
      });
    }
    current = { phase: e.to, at: e.at };
  }
  // The phase the run ended in (terminal, paused, or where another process took over) stays open.
  if (current !== null) {
    phases.push({ phase: current.phase, startedAt: iso(current.at), endedAt: null, durationMs: null });
  }
  return phases;
}

/** Builds the report. `events` may be empty (a refused run, or `status`). */
export function buildReport(
  outcome: Outcome,
  events: readonly EngineEvent[],
  options: BuildReportOptions = {},
): Report {
  const first = events[0]?.at ?? null;
  const last = events.length > 0 ? events[events.length - 1]!.at : null;
  const generated =
    options.generatedAt !== undefined && options.generatedAt !== null
      ? typeof options.generatedAt === "number"
        ? iso(options.generatedAt)
        : options.generatedAt
      : (outcome.endedAt ?? (last !== null ? iso(last) : (outcome.startedAt ?? new Date(0).toISOString())));

  const observations: ReportObservation[] = [];
  const weightChanges: { at: string; stable: number; gray: number }[] = [];
  const log: ReportLogLine[] = [];
  const hooks: ReportHookCall[] = [];
  const synthetic: ReportSyntheticRun[] = [];
  const pilotChanges: { at: string; enabled: boolean }[] = [];
  for (const e of events) {
    if (e.type === "hook") hooks.push({ ...e.call, at: iso(e.call.at) });
    else if (e.type === "synthetic") synthetic.push({ ...e.run, at: iso(e.run.at) });
    else if (e.type === "pilot") pilotChanges.push({ at: iso(e.at), enabled: e.enabled });
    else if (e.type === "observation") observations.push(observationOf(e));
    else if (e.type === "weights" && e.verified)
      weightChanges.push({ at: iso(e.at), stable: e.weights.stable, gray: e.weights.gray });
    else if (e.type === "log") log.push({ at: iso(e.at), level: e.level, message: e.message });
  }

  const startedAtMs = outcome.startedAt !== null ? Date.parse(outcome.startedAt) : null;
  const partial =
    events.length === 0
      ? outcome.rolloutId === null
        ? "no rollout ran: the request was refused before anything changed"
        : "this run observed nothing itself (status reads the stored rollout): decisions and steps come from the stored state"
      : startedAtMs !== null && first !== null && first - startedAtMs > 60_000
        ? `this run joined the rollout at ${iso(first)} (it started at ${outcome.startedAt}): observations before that were made by the process that ran it then; decisions and steps cover the whole rollout`
        : null;
  const dropped = options.droppedEvents ?? 0;

  return {
    reportVersion: REPORT_SCHEMA_VERSION,
    generatedAt: generated,
    tool: { name: "gray-deploy", version: options.toolVersion ?? null },
    run: { verb: options.verb ?? null, by: options.by ?? null },
    outcome,
    plan: options.plan ?? null,
    people: {
      startedBy: outcome.release.startedBy,
      approvals: outcome.release.approvals,
      ranBy: options.by ?? null,
    },
    timings: {
      startedAt: outcome.startedAt,
      endedAt: outcome.endedAt,
      durationMs: outcome.durationMs,
      phases: phasesOf(events, outcome.decisions),
    },
    observations,
    decisions: outcome.decisions,
    weightChanges,
    hooks,
    synthetic,
    pilotChanges,
    log,
    coverage: {
      firstEventAt: first === null ? null : iso(first),
      lastEventAt: last === null ? null : iso(last),
      events: events.length,
      droppedEvents: dropped,
      note:
        [partial, dropped > 0 ? `${dropped} events were dropped to bound memory` : null]
          .filter((s): s is string => s !== null)
          .join("; ") || null,
    },
  };
}
