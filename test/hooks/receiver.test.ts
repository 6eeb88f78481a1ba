/**
 * HTTP lifecycle hooks against the reference receiver (examples/hook-receiver/server.mjs) as a real
 * process: gray-deploy's signed POST is accepted under the right key, refused under a wrong one and
 * outside the replay window, "not yet" (423) until the receiver says yes, and a retry of one
 * delivery gets the same answer. The key never appears in anything the receiver printed.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { HOOK_CONTEXT_SCHEMA, type HookContext, type HookSpec } from "../../src/core/hooks.js";
import { systemClock } from "../../src/engine/clock.js";
import { HttpHookCaller, SIGNATURE_HEADER, sign, TIMESTAMP_HEADER } from "../../src/hooks/http.js";
import type { Clock } from "../../src/ports/index.js";
import { type Receiver, startReceiver } from "../support/hook-receiver.js";

const KEY = "rcv-KEY-7f3a9c1e5b";

const hook = (url: string, over: Partial<HookSpec> = {}): HookSpec =>
  ({
    kind: "http",
    name: "risk-approval",
    stages: ["before-step"],
    url,
    secretEnv: "RISK_HOOK_SECRET",
    timeoutMs: 5000,
    retries: 0,
    waitUpToMs: 60_000,
    pollEveryMs: 1000,
    onFailure: "rollback",
    ...over,
  }) as HookSpec;

function context(instance: string, ask = 1): HookContext {
  return {
    schema: HOOK_CONTEXT_SCHEMA,
    hook: "risk-approval",
    stage: "before-step",
    instance,
    ask,
    sentAt: new Date().toISOString(),
    rollout: {
      id: "rollout-rcv",
      target: "local",
      scope: "local",
      phase: "shifting",
      startedAt: new Date().toISOString(),
      startedBy: "receiver-test",
    },
    release: { image: "gateway:2", version: "2", previousVersion: "1", commit: null },
    weights: { stable: 95, gray: 5 },
    step: { kind: "forward", weight: 25 },
    reason: null,
    outcome: null,
  };
}

const caller = (key: string | undefined, clock: Clock = systemClock()) =>
  new HttpHookCaller({ secret: (n) => (n === "RISK_HOOK_SECRET" ? key : undefined), clock });

let plain: Receiver;
let slow: Receiver;
beforeAll(async () => {
  [plain, slow] = await Promise.all([
    startReceiver(KEY),
    startReceiver(KEY, { NOT_YET: "3", RETRY_AFTER: "1" }),
  ]);
});
afterAll(() => {
  plain?.child.kill();
  slow?.child.kill();
});

describe("the reference hook receiver", () => {
  it("accepts a call signed with the shared key", async () => {
    const a = await caller(KEY).call(hook(plain.url), context("step:25"));
    expect(a).toEqual({ kind: "pass", detail: expect.stringMatching(/^answered 200/) });
  });

  it("refuses a call signed with a bad secret: the hook fails", async () => {
    const a = await caller("not-the-key").call(hook(plain.url), context("step:50"));
    expect(a.kind).toBe("fail");
    expect(a.detail).toMatch(/answered 401.*bad signature/);
    // Its log line travels through a pipe, after the answer.
    await vi.waitFor(() =>
      expect(plain.lines.some((l) => l.includes('"refused"') && l.includes("bad signature"))).toBe(true),
    );
  });

  it("refuses a timestamp outside the replay window, and a request tampered after signing", async () => {
    const behind: Clock = { now: () => Date.now() - 301_000, sleep: systemClock().sleep };
    const stale = await caller(KEY, behind).call(hook(plain.url), context("promotion"));
    expect(stale.kind).toBe("fail");
    expect(stale.detail).toMatch(/401.*replay window/);
    // A body changed after signing (same headers) does not verify.
    const body = JSON.stringify(context("step:100"));
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(plain.url, {
      method: "POST",
      headers: { [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: sign(KEY, ts, body) },
      body: body.replace('"gray":5', '"gray":6'),
    });
    expect(res.status).toBe(401);
  });

  it("answers not yet (423, Retry-After) until its approval comes, and repeats an answer for a retried delivery", async () => {
    const c = caller(KEY);
    const answers = [];
    for (let ask = 1; ask <= 4; ask++) answers.push(await c.call(hook(slow.url), context("step:5", ask)));
    expect(answers.map((a) => a.kind)).toEqual(["not-yet", "not-yet", "not-yet", "pass"]);
    expect(answers[0]).toMatchObject({ retryAfterMs: 1000 });
    // The same delivery again (a retry after a lost answer) gets the same answer, not a new ask.
    const again = await c.call(hook(slow.url), context("step:5", 4));
    expect(again.kind).toBe("pass");
    await vi.waitFor(() =>
      expect(slow.lines.filter((l) => l.includes('"instance":"step:5"'))).toHaveLength(4),
    );
  });

  it("prints neither the key nor a signature", () => {
    for (const l of [...plain.lines, ...slow.lines]) {
      expect(l).not.toContain(KEY);
      expect(l).not.toMatch(/v1=[0-9a-f]{64}/);
    }
  });

  it("a hook whose key is not set in this process is not called, and says why", async () => {
    const a = await caller(undefined).call(hook(plain.url), context("pilot"));
    expect(a).toEqual({
      kind: "fail",
      detail: "not called: its signing key $RISK_HOOK_SECRET is not set in this process",
    });
  });
});
