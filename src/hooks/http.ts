/**
 * HTTP lifecycle hooks: the hook's context POSTed as JSON, signed with HMAC-SHA256 under a key the
 * declaration names by environment variable (`secretEnv`; a Dagger Secret of that name).
 *
 * The request (examples/hook-receiver verifies it):
 *
 *     POST <url>
 *     content-type: application/json
 *     x-gray-deploy-hook: <hook name>
 *     x-gray-deploy-stage: <stage>
 *     x-gray-deploy-delivery: <rollout id>/<hook>/<stage instance>/<ask>   (the same for retries of one ask)
 *     x-gray-deploy-timestamp: <unix seconds>
 *     x-gray-deploy-signature: v1=<hex HMAC-SHA256(key, "<timestamp>.<body>")>
 *
 * A receiver recomputes the signature over the raw body, compares it in constant time, and refuses a
 * timestamp more than REPLAY_WINDOW_SECONDS (300 s) from its own clock (either way); it may also
 * refuse a delivery id it has already accepted. The key is never sent, logged or stored.
 *
 * One call: no answer (connection error, timeout) throws a retryable ProviderError naming the URL
 * without its query (which may carry a token); an answer means what src/core/hooks.ts says.
 */
import { createHmac } from "node:crypto";
import { AbortedError, ProviderError } from "../contract/errors.js";
import { type HookAnswer, type HookContext, type HookSpec, hookTarget, httpAnswer } from "../core/hooks.js";
import type { Clock, HookCaller } from "../ports/index.js";

export const SIGNATURE_HEADER = "x-gray-deploy-signature";
export const TIMESTAMP_HEADER = "x-gray-deploy-timestamp";

/** `v1=<hex>`: HMAC-SHA256 of `<timestamp>.<body>` under the key. */
export function sign(key: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex")}`;
}

export interface HttpHookCallerOptions {
  /** The key's value by environment variable name (the CLI's environment, the Dagger module's Secrets). */
  readonly secret: (name: string) => string | undefined;
  /** For the signature's timestamp. */
  readonly clock: Clock;
}

export class HttpHookCaller implements HookCaller {
  constructor(private readonly o: HttpHookCallerOptions) {}

  async call(hook: HookSpec, context: HookContext, signal?: AbortSignal): Promise<HookAnswer> {
    if (hook.kind !== "http") return { kind: "fail", detail: `is a ${hook.kind} hook, not an HTTP one` };
    const key = this.o.secret(hook.secretEnv);
    if (key === undefined || key === "") {
      return {
        kind: "fail",
        detail: `not called: its signing key $${hook.secretEnv} is not set in this process`,
      };
    }
    const body = JSON.stringify(context);
    const timestamp = Math.floor(this.o.clock.now() / 1000);
    // An I/O deadline for the whole call (connecting included), like undici's own timeouts.
    const timeout = AbortSignal.timeout(hook.timeoutMs);
    const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    // Loaded on the first call: a run without HTTP hooks never needs the HTTP client.
    const { request } = await import("undici");
    try {
      const res = await request(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "gray-deploy",
          "x-gray-deploy-hook": hook.name,
          "x-gray-deploy-stage": context.stage,
          "x-gray-deploy-delivery": `${context.rollout.id}/${hook.name}/${context.instance}/${context.ask}`,
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: sign(key, timestamp, body),
        },
        body,
        headersTimeout: hook.timeoutMs,
        bodyTimeout: hook.timeoutMs,
        signal: both,
      });
      const text = await res.body.text();
      const retryAfter = res.headers["retry-after"];
      const excerpt = text.replace(/\s+/g, " ").trim().slice(0, 160);
      return httpAnswer(res.statusCode, typeof retryAfter === "string" ? retryAfter : null, excerpt);
    } catch (e) {
      if (signal?.aborted) throw new AbortedError("hook call aborted", { cause: signal.reason });
      const why = timeout.aborted
        ? `no answer within ${hook.timeoutMs} ms`
        : e instanceof Error
          ? e.message
          : String(e);
      throw new ProviderError(`${hookTarget(hook)}: ${why}`, { retryable: true });
    }
  }
}
