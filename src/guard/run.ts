/**
 * One invocation of the guard: read the event, the stored rollout and what AWS applies now, decide
 * (decide.ts), and roll back through the same `abort` verb the CLI uses, with `by: "guard"` and cause
 * `guard`, so one code path does every rollback: the stored rollout is taken over with a conditional
 * write, stable gets 100% in one verified write with stickiness off, gray drains and goes to zero,
 * stable's pin is released, and the rollout ends `rolled-back` in the state table. A process that was
 * running the rollout notices at its next save and stops.
 *
 * Failing to restore stable traffic throws (the invocation fails, Lambda's error metric and its retry
 * see it); a rollout left alone, an ignored event, or a rollback another process already runs return
 * normally with the reason.
 */
import { hostname } from "node:os";
import { addressOf } from "../app/requests.js";
import { openAwsTarget } from "../aws/target.js";
import { toGrayDeployError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { isTerminal } from "../core/state.js";
import type { AwsCredentialsProvider } from "../engine/targets.js";
import { abort, type VerbContext } from "../engine/verbs.js";
import type { Clock, OwnerInfo } from "../ports/index.js";
import { type GuardConfig, guardConfig } from "./config.js";
import { decideGuard, relevantTriggers } from "./decide.js";
import { describeTrigger, parseGuardEvent } from "./events.js";

export interface GuardLogRecord {
  readonly level: "info" | "warn" | "error";
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface GuardDeps {
  readonly clock: Clock;
  /** GRAY_DEPLOY_CONFIG and, for the AWS SDK's default chain, the process environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One structured record per line (CloudWatch Logs). Default: JSON on stdout. */
  readonly log?: (record: GuardLogRecord) => void;
  /** Explicit credentials (tests); otherwise the SDK's default chain (the function's role). */
  readonly credentials?: AwsCredentialsProvider;
  /** Who the guard is in the lock; default from the Lambda request id. */
  readonly owner?: OwnerInfo;
  readonly requestId?: string;
}

export interface GuardResult {
  /** `rolled-back`: this invocation rolled back; `left-alone`: it looked and left it; `ignored`: not its event. */
  readonly action: "rolled-back" | "left-alone" | "ignored";
  readonly reason: string;
  readonly trigger: string;
  readonly scope: string | null;
  readonly rolloutId: string | null;
  readonly phase: string | null;
  readonly weights: { readonly stable: number; readonly gray: number } | null;
}

/** Traffic could not be restored (or the rollback otherwise failed): the invocation must fail. */
export class GuardRollbackError extends Error {
  constructor(
    message: string,
    readonly outcome: Outcome,
  ) {
    super(message);
    this.name = "GuardRollbackError";
  }
}

export async function runGuard(event: unknown, deps: GuardDeps): Promise<GuardResult> {
  const log =
    deps.log ??
    ((r: GuardLogRecord) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
    });
  const config: GuardConfig = guardConfig(deps.env);
  const o = config.options;
  const at = addressOf(o);
  const scope = at.scope;
  const triggers = parseGuardEvent(event);
  const { triggers: relevant, ignored } = relevantTriggers(triggers, config.alarms);
  for (const why of ignored) log({ level: "info", msg: why, scope });
  // An alarm outranks the schedule: its reason names the alarm.
  const trigger = relevant.find((t) => t.kind === "alarm") ?? relevant[0];
  if (trigger === undefined) {
    return {
      action: "ignored",
      reason: ignored.join("; "),
      trigger: triggers.map(describeTrigger).join("; "),
      scope,
      rolloutId: null,
      phase: null,
      weights: null,
    };
  }
  const triggerText = describeTrigger(trigger);

  const runtime = await openAwsTarget(o, {
    log: (line) => log({ level: "warn", msg: line, scope }),
    ...(deps.credentials === undefined ? {} : { credentials: deps.credentials }),
  });
  try {
    const { ports } = runtime;
    const stored = await ports.store.load(scope);
    const active = stored !== null && !isTerminal(stored.state.phase);
    let liveGrayWeight: number | null = null;
    let alarmsInAlarm: string[] | null = null;
    if (active) {
      liveGrayWeight = await ports.router.getWeights().then(
        (w) => w.gray,
        (e: unknown) => {
          log({ level: "warn", msg: `could not read the weights: ${toGrayDeployError(e).message}`, scope });
          return null;
        },
      );
      if (trigger.kind === "schedule" && config.alarms.length > 0 && ports.metrics.alarms) {
        alarmsInAlarm = await ports.metrics.alarms(config.alarms).then(
          (states) => states.filter((a) => a.state === "ALARM").map((a) => a.name),
          (e: unknown) => {
            log({
              level: "warn",
              msg: `could not read the gray alarms: ${toGrayDeployError(e).message}`,
              scope,
            });
            return null;
          },
        );
      }
    }
    const now = deps.clock.now();
    const decision = decideGuard(trigger, {
      stored,
      now,
      maxPauseMs: config.maxPauseMs,
      grayAlarms: config.alarms,
      liveGrayWeight,
      alarmsInAlarm,
    });
    const base = {
      trigger: triggerText,
      scope,
      rolloutId: stored?.state.id ?? null,
      phase: stored?.state.phase ?? null,
      weights: stored ? { ...stored.state.weights } : null,
    };
    if (decision.kind === "leave") {
      log({ level: "info", msg: `left alone: ${decision.reason}`, ...base });
      return { action: "left-alone", reason: decision.reason, ...base };
    }

    log({ level: "warn", msg: `rolling back: ${decision.reason}`, ...base });
    const owner: OwnerInfo = deps.owner ?? {
      id: `guard-${deps.requestId ?? `${process.pid}-${now}`}`,
      host: deps.env.AWS_LAMBDA_FUNCTION_NAME ?? hostname(),
      pid: process.pid,
      verb: "guard",
    };
    const ctx: VerbContext = {
      clock: deps.clock,
      owner,
      newId: () => `guard-${now}`,
      onEvent: (e) => {
        if (e.type === "log") log({ level: e.level, msg: e.message, scope, rolloutId: base.rolloutId });
      },
    };
    const outcome = await abort(at, ports, ctx, { by: "guard", reason: decision.reason, cause: "guard" });
    const result = {
      trigger: triggerText,
      scope,
      rolloutId: outcome.rolloutId ?? base.rolloutId,
      phase: outcome.phase ?? base.phase,
      weights: outcome.weights ?? base.weights,
    };
    if (outcome.outcome === "rolled-back") {
      log({ level: "warn", msg: `rolled back: ${outcome.reason}`, ...result, warnings: outcome.warnings });
      return { action: "rolled-back", reason: outcome.reason, ...result };
    }
    if (outcome.outcome === "refused" && outcome.error?.code === "INVALID_STATE") {
      // Someone else got there first (another guard, an operator, the pipeline ended it): nothing to do.
      log({ level: "info", msg: `left alone: ${outcome.reason}`, ...result });
      return { action: "left-alone", reason: outcome.reason, ...result };
    }
    log({
      level: "error",
      msg: `rollback did not complete: ${outcome.outcome}: ${outcome.reason}`,
      ...result,
    });
    throw new GuardRollbackError(`guard rollback ended ${outcome.outcome}: ${outcome.reason}`, outcome);
  } finally {
    await runtime.dispose();
  }
}
