/**
 * What a run leaves besides its Outcome: the report (`--report-dir`) and the webhook notifications
 * (`--notify-webhook`), for every front end. Neither ever throws into the run nor changes its exit
 * code. The webhook URL is a secret: never printed.
 */
import { toGrayDeployError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import type { Policy } from "../core/policy.js";
import type { EventListener } from "../engine/events.js";
import { createWebhookNotifier } from "../notify/webhook.js";
import type { Clock } from "../ports/index.js";
import { ReportCollector } from "../report/collector.js";
import type { Options, Verb } from "./schema.js";

export interface RunOutputs {
  /** Engine listeners: the report collector and the notifier (each only when asked for). */
  readonly listeners: readonly EventListener[];
  /** Writes the report and delivers pending notifications. Never throws. */
  close(outcome: Outcome, plan: Policy | null): Promise<void>;
}

export interface OutputDeps {
  readonly clock: Pick<Clock, "now">;
  readonly log: (line: string) => void;
  readonly toolVersion?: string;
  /** HTTP for webhook notifications (default: the global fetch). */
  readonly fetch?: typeof fetch;
}

/** Where a run was going, for the notifier's messages (known before the options resolve, or not). */
export interface RunWhere {
  readonly target: string;
  readonly scope: string | null;
  readonly image: string | null;
}

export function openRunOutputs(
  verb: Verb | "report",
  o: Partial<Pick<Options, "reportDir" | "notifyWebhook" | "startedBy">>,
  where: RunWhere,
  deps: OutputDeps,
): RunOutputs {
  const { log } = deps;
  const collector = o.reportDir !== undefined ? new ReportCollector() : null;
  const notifier =
    o.notifyWebhook !== undefined
      ? createWebhookNotifier({
          url: o.notifyWebhook,
          context: { image: where.image, target: where.target, scope: where.scope, verb },
          log,
          ...(deps.fetch ? { fetch: deps.fetch } : {}),
        })
      : null;
  return {
    listeners: [collector?.listener, notifier?.listener].filter((l): l is EventListener => l !== undefined),
    async close(outcome, plan) {
      if (collector !== null && o.reportDir !== undefined) {
        try {
          const { renderReport, writeReport } = await import("../report/index.js");
          const rendered = renderReport(outcome, collector.events, {
            plan,
            generatedAt: deps.clock.now(),
            ...(deps.toolVersion === undefined ? {} : { toolVersion: deps.toolVersion }),
            verb,
            by: o.startedBy ?? null,
            droppedEvents: collector.dropped,
          });
          await writeReport(o.reportDir, rendered);
          log(`report: ${o.reportDir}/report.md (also report.json, timeline.svg)`);
        } catch (e) {
          log(`report: could not write ${o.reportDir}: ${toGrayDeployError(e).message}`);
        }
      }
      if (notifier !== null) {
        notifier.notifyOutcome(outcome, deps.clock.now());
        await notifier.flush();
      }
    },
  };
}
