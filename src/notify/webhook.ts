/**
 * Webhook notifications (`--notify-webhook URL`): each phase change and the outcome is POSTed as
 * JSON with a Slack-compatible `text` field plus structured fields (rollout id, phase, outcome,
 * weights, reason, release).
 *
 * A notification must never slow, block or break a rollout:
 * - the listener only enqueues (synchronous, never throws); one background sender posts in order;
 * - every request has a short timeout; the queue is bounded (the oldest phase message is dropped
 *   first, the outcome never);
 * - the first failure is logged once (what failed, never the URL: it is a secret — Slack and Teams
 *   put the credential in the path); later failures are only counted;
 * - `flush()` waits for pending messages at most a deadline, then gives up.
 */
import type { Outcome } from "../contract/outcome.js";
import { formatDuration } from "../contract/units.js";
import type { EngineEvent, EventListener } from "../engine/events.js";

export interface NotificationPayload {
  /** Slack-compatible message text (also shown by Mattermost, Rocket.Chat, Google Chat, Discord's /slack). */
  readonly text: string;
  readonly event: "phase" | "outcome";
  readonly rolloutId: string | null;
  readonly phase: string | null;
  readonly previousPhase: string | null;
  readonly outcome: string | null;
  readonly exitCode: number | null;
  readonly weights: { readonly stable: number; readonly gray: number } | null;
  readonly reason: string | null;
  readonly image: string | null;
  readonly target: string;
  readonly scope: string | null;
  readonly at: string;
}

export interface NotifierContext {
  readonly image: string | null;
  readonly target: string;
  readonly scope: string | null;
  /** The CLI verb running (deploy-gray, promote, abort). */
  readonly verb?: string;
}

export interface WebhookNotifierOptions {
  readonly url: string;
  readonly context: NotifierContext;
  /** Per-request timeout. Default 5 s. */
  readonly timeoutMs?: number;
  /** Pending messages kept at most. Default 50. */
  readonly maxQueue?: number;
  /** Where the single failure line goes (stderr in the CLI). Never receives the URL. */
  readonly log?: (line: string) => void;
  /** Injected for tests; default: the global fetch. */
  readonly fetch?: typeof fetch;
}

export interface NotifierStats {
  readonly queued: number;
  readonly delivered: number;
  readonly failed: number;
  readonly dropped: number;
  readonly pending: number;
}

export interface Notifier {
  /** Give it every engine event; it picks phase changes and the outcome. */
  readonly listener: EventListener;
  /** Sends an outcome that no engine event carried (refused runs); ignored if already sent. */
  notifyOutcome(outcome: Outcome, at: number): void;
  /** Waits until everything queued was sent or `deadlineMs` passed; then stops trying. */
  flush(deadlineMs?: number): Promise<NotifierStats>;
  stats(): NotifierStats;
}

const ICON: Record<string, string> = {
  promoted: "✅",
  "rolled-back": "↩️",
  paused: "⏸️",
  aborted: "⏹️",
  refused: "⛔",
  "rollback-failed": "🚨",
  failed: "❌",
  "in-progress": "🔄",
  "rolling-back": "↩️",
  restored: "⏪",
  keeping: "🔥",
};

/** Describes a delivery failure without the URL or anything derived from it. */
export function describeFailure(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError")
    return `no answer within ${formatDuration(timeoutMs)}`;
  const code = err?.cause?.code ?? err?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connection timed out";
    case "CERT_HAS_EXPIRED":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `TLS error (${code})`;
    default:
      // Error messages can quote the URL (e.g. an invalid URL's TypeError): name the kind only.
      return code
        ? `request failed (${code})`
        : `request failed (${err?.cause?.name ?? err?.name ?? "error"})`;
  }
}

export function createWebhookNotifier(options: WebhookNotifierOptions): Notifier {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxQueue = Math.max(1, options.maxQueue ?? 50);
  const doFetch = options.fetch ?? globalThis.fetch;
  const log = options.log ?? (() => {});
  const ctx = options.context;
  const stop = new AbortController();

  const queue: NotificationPayload[] = [];
  let queued = 0;
  let delivered = 0;
  let failed = 0;
  let dropped = 0;
  let logged = false;
  let sending: Promise<void> | null = null;
  let outcomeSent = false;
  // What the latest events said, for phase messages (phase events carry neither weights nor reason).
  let weights: { stable: number; gray: number } | null = null;
  let reason: string | null = null;

  const fail = (what: string) => {
    failed++;
    if (!logged) {
      logged = true;
      log(
        `notify: a webhook notification was not delivered (${what}); the rollout goes on and further notification failures are not logged`,
      );
    }
  };

  const enqueue = (p: NotificationPayload) => {
    queued++;
    if (queue.length >= maxQueue) {
      const i = queue.findIndex((q) => q.event !== "outcome");
      queue.splice(Math.max(i, 0), 1);
      dropped++;
      fail(`more than ${maxQueue} messages waiting`);
    }
    queue.push(p);
    if (sending === null) sending = pump();
  };

  async function send(p: NotificationPayload): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stop.signal]);
    try {
      const res = await doFetch(options.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "gray-deploy" },
        body: JSON.stringify(p),
        signal,
        redirect: "error",
      });
      // Drain the body so the connection is released; its content does not matter.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) delivered++;
      else fail(`HTTP ${res.status}`);
    } catch (e) {
      fail(stop.signal.aborted ? "gave up at the end of the run" : describeFailure(e, timeoutMs));
    }
  }

  async function pump(): Promise<void> {
    // Let the engine's current turn finish before the first request starts.
    await Promise.resolve();
    try {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        if (stop.signal.aborted) {
          fail("gave up at the end of the run");
          continue;
        }
        await send(p);
      }
    } finally {
      sending = null;
    }
  }

  const base = (at: number) => ({
    image: ctx.image,
    target: ctx.target,
    scope: ctx.scope,
    at: new Date(at).toISOString(),
  });
  // promote and abort are not given the image: their messages name the rollout's place instead.
  const what = `${ctx.image ?? "rollout"} on ${ctx.target}${ctx.scope && ctx.scope !== "local" ? ` (${ctx.scope})` : ""}`;
  const weightText = (w: { stable: number; gray: number } | null) =>
    w ? ` · weights stable ${w.stable}% / gray ${w.gray}%` : "";

  const outcomePayload = (o: Outcome, at: number): NotificationPayload => ({
    text: `${ICON[o.outcome] ?? "•"} gray-deploy ${o.outcome.toUpperCase()}: ${what} — ${o.reason}${weightText(o.weights)} (exit ${o.exitCode})`,
    event: "outcome",
    rolloutId: o.rolloutId,
    phase: o.phase,
    previousPhase: null,
    outcome: o.outcome,
    exitCode: o.exitCode,
    weights: o.weights ? { ...o.weights } : null,
    reason: o.reason,
    ...base(at),
    image: o.release.image ?? ctx.image,
    scope: o.scope ?? ctx.scope,
  });

  const listener: EventListener = (e: EngineEvent) => {
    switch (e.type) {
      case "weights":
        if (e.verified) weights = { ...e.weights };
        return;
      case "decision":
        if (e.decision.kind !== "wait") reason = e.decision.reason;
        return;
      case "phase": {
        const icon = ICON[e.to] ? `${ICON[e.to]} ` : "";
        enqueue({
          text: `${icon}gray-deploy ${what}: ${e.from ?? "start"} → ${e.to}${reason ? ` — ${reason}` : ""}${weightText(weights)}`,
          event: "phase",
          rolloutId: e.rolloutId,
          phase: e.to,
          previousPhase: e.from,
          outcome: null,
          exitCode: null,
          weights,
          reason,
          ...base(e.at),
        });
        reason = null;
        return;
      }
      case "outcome":
        if (outcomeSent) return;
        outcomeSent = true;
        enqueue(outcomePayload(e.outcome, e.at));
        return;
      default:
        return;
    }
  };

  const stats = (): NotifierStats => ({ queued, delivered, failed, dropped, pending: queue.length });

  return {
    listener: (e) => {
      try {
        listener(e);
      } catch {
        // Never into the engine.
      }
    },
    notifyOutcome(outcome, at) {
      if (outcomeSent) return;
      outcomeSent = true;
      enqueue(outcomePayload(outcome, at));
    },
    async flush(deadlineMs = timeoutMs + 1000) {
      if (sending !== null) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, deadlineMs);
          timer.unref?.();
        });
        await Promise.race([sending, deadline]);
        clearTimeout(timer);
      }
      if (sending !== null || queue.length > 0) {
        stop.abort();
        await sending?.catch(() => undefined);
      }
      return stats();
    },
    stats,
  };
}
