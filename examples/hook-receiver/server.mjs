#!/usr/bin/env node
/**
 * hook-receiver: a reference receiver of gray-deploy's HTTP lifecycle hooks — what a team's own
 * service must check before it trusts a hook call. Plain Node ESM, no dependencies: copy the
 * `verify` function into your service.
 *
 * gray-deploy POSTs the hook's context (JSON, schema "gray-deploy.hook-context/v1") with
 *   x-gray-deploy-timestamp: <unix seconds>
 *   x-gray-deploy-signature: v1=<hex HMAC-SHA256(key, "<timestamp>.<raw body>")>
 *   x-gray-deploy-delivery:  <rollout id>/<hook>/<stage instance>/<ask>  (the same on a retry)
 * The receiver refuses (401) a request whose signature does not match the key, or whose timestamp is
 * more than the replay window (300 s by default) from its own clock, either way: a captured request
 * replayed later is refused, and a retry of the same delivery within the window gets the answer the
 * first one got (idempotent). It answers 200 (go on), 423 (not yet: gray-deploy asks again, honouring
 * Retry-After) or 500 (fail).
 *
 * Environment:
 *   HOOK_SECRET        the signing key (required; the value of the variable the hook's secretEnv names)
 *   PORT, HOST         where to listen (default 0 = a free port, 127.0.0.1)
 *   REPLAY_WINDOW      seconds a timestamp may differ from now (default 300)
 *   NOT_YET            answer 423 this many times per stage instance before 200 (default 0; a demo of
 *                      an approval that takes a while)
 *   RETRY_AFTER        seconds sent in Retry-After with a 423 (default none)
 *   FAIL_STAGES        comma-separated stages (or stage instances: step:25, promotion) answered 500
 *
 * Prints one JSON line when listening ({"event":"listening","port":N}) and one per request
 * ({"event":"hook", …} or {"event":"refused", …}); never the key, never a signature.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

const env = process.env;
const secret = env.HOOK_SECRET;
const main = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (main && !secret) {
  process.stderr.write("hook-receiver: HOOK_SECRET is required\n");
  process.exit(2);
}
const windowSeconds = Number(env.REPLAY_WINDOW || 300);
const notYet = Number(env.NOT_YET || 0);
const retryAfter = env.RETRY_AFTER;
const failing = new Set((env.FAIL_STAGES || "").split(",").filter(Boolean));
const asks = new Map();
const answered = new Map();

/**
 * Checks a request: the signature over the raw body under the key, then the timestamp's age.
 * Returns null when it is genuine and fresh, else why not.
 */
export function verify(key, headers, raw, nowSeconds, window = 300) {
  const ts = headers["x-gray-deploy-timestamp"];
  const sig = headers["x-gray-deploy-signature"];
  if (typeof ts !== "string" || !/^\d{1,12}$/.test(ts)) return "missing or malformed timestamp";
  if (typeof sig !== "string" || !/^v1=[0-9a-f]{64}$/.test(sig)) return "missing or malformed signature";
  const expected = createHmac("sha256", key).update(`${ts}.${raw}`).digest();
  const given = Buffer.from(sig.slice(3), "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "bad signature";
  if (Math.abs(nowSeconds - Number(ts)) > window) return `timestamp outside the ${window}s replay window`;
  return null;
}

function log(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const server = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size > 1_000_000) req.destroy();
    else chunks.push(c);
  });
  req.on("end", () => {
    const raw = Buffer.concat(chunks).toString("utf8");
    const why =
      req.method !== "POST"
        ? "not a POST"
        : verify(secret, req.headers, raw, Math.floor(Date.now() / 1000), windowSeconds);
    if (why !== null) {
      log({ event: "refused", reason: why });
      return send(res, 401, { error: why });
    }
    let ctx;
    try {
      ctx = JSON.parse(raw);
    } catch {
      return send(res, 400, { error: "body is not JSON" });
    }
    const delivery = String(req.headers["x-gray-deploy-delivery"] ?? "");
    const seen = answered.get(delivery);
    if (seen !== undefined) return send(res, seen.status, seen.body, seen.headers);
    const key = `${ctx.rollout?.id}/${ctx.hook}/${ctx.instance}`;
    const n = (asks.get(key) ?? 0) + 1;
    asks.set(key, n);
    let answer;
    if (failing.has(ctx.stage) || failing.has(ctx.instance)) {
      answer = { status: 500, body: { verdict: "fail", reason: `${ctx.instance} refused by the receiver` } };
    } else if (n <= notYet) {
      answer = {
        status: 423,
        body: { verdict: "not-yet", reason: `ask ${n} of ${notYet + 1}` },
        headers: retryAfter ? { "retry-after": retryAfter } : {},
      };
    } else answer = { status: 200, body: { verdict: "pass" } };
    if (delivery) answered.set(delivery, answer);
    log({
      event: "hook",
      hook: ctx.hook,
      stage: ctx.stage,
      instance: ctx.instance,
      ask: ctx.ask,
      status: answer.status,
    });
    send(res, answer.status, answer.body, answer.headers);
  });
});

if (main) {
  server.listen(Number(env.PORT ?? 0), env.HOST || "127.0.0.1", () => {
    log({ event: "listening", port: server.address().port, pid: process.pid });
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
  process.on("SIGINT", () => server.close(() => process.exit(0)));
}
