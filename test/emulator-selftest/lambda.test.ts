/**
 * The emulator's Lambda Invoke (gray_emulator/lambda_invoke.py) through the real SDK: it runs the
 * deployed zip's Node.js handler and answers with the Invoke API's shape — StatusCode, payload,
 * FunctionError (Unhandled) for a thrown error or a timeout, ExecutedVersion, the log tail — and
 * DryRun checks without running. Then gray-deploy's Lambda hook caller (src/aws/lambda-hooks.ts)
 * through its real AWS connection against it: a function's answer passes, holds ("not yet") and
 * fails the hook, a thrown error fails it, and preflight refuses a function that does not exist.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { describe, expect, it } from "vitest";
import { createAwsApi } from "../../src/aws/connection.js";
import { LambdaHookCaller } from "../../src/aws/lambda-hooks.js";
import { PreflightError } from "../../src/contract/errors.js";
import { HOOK_CONTEXT_SCHEMA, type HookContext, type HookSpec } from "../../src/core/hooks.js";
import { deployFunction } from "../support/lambda.js";
import { useEmulator } from "./helpers.js";

const { emu } = useEmulator();

const decode = (p: Uint8Array | undefined) => (p === undefined ? "" : new TextDecoder().decode(p));

describe("emulator: Lambda Invoke runs the function's code", () => {
  it("returns the handler's result, the error it throws, a timeout, and DryRun runs nothing", async () => {
    const source = `
      export async function handler(event, context) {
        console.log("asked", event.stage);
        if (event.mode === "throw") throw new TypeError("no approval for " + event.stage);
        if (event.mode === "hang") await new Promise((r) => setTimeout(r, 60_000));
        return { status: event.stage === "pre-traffic" ? 200 : 423, fn: context.functionName, left: context.getRemainingTimeInMillis() > 0 };
      }`;
    const arn = await deployFunction(emu(), "gray-hook-selftest", source, 1);
    const lambda = new LambdaClient({ ...emu().clientConfig(), maxAttempts: 1 });
    try {
      const ok = await lambda.send(
        new InvokeCommand({
          FunctionName: arn,
          Payload: new TextEncoder().encode(JSON.stringify({ stage: "pre-traffic" })),
          LogType: "Tail",
        }),
      );
      expect(ok.StatusCode).toBe(200);
      expect(ok.FunctionError).toBeUndefined();
      expect(ok.ExecutedVersion).toBe("$LATEST");
      expect(JSON.parse(decode(ok.Payload))).toEqual({ status: 200, fn: "gray-hook-selftest", left: true });
      expect(Buffer.from(ok.LogResult ?? "", "base64").toString()).toContain("asked pre-traffic");

      const thrown = await lambda.send(
        new InvokeCommand({
          FunctionName: "gray-hook-selftest",
          Payload: new TextEncoder().encode(JSON.stringify({ stage: "before-step", mode: "throw" })),
        }),
      );
      expect(thrown.StatusCode).toBe(200);
      expect(thrown.FunctionError).toBe("Unhandled");
      expect(JSON.parse(decode(thrown.Payload))).toMatchObject({
        errorType: "TypeError",
        errorMessage: "no approval for before-step",
      });

      const hung = await lambda.send(
        new InvokeCommand({
          FunctionName: "gray-hook-selftest",
          Payload: new TextEncoder().encode(JSON.stringify({ stage: "x", mode: "hang" })),
        }),
      );
      expect(hung.FunctionError).toBe("Unhandled");
      expect(JSON.parse(decode(hung.Payload)).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);

      const dry = await lambda.send(
        new InvokeCommand({ FunctionName: "gray-hook-selftest", InvocationType: "DryRun" }),
      );
      expect(dry.StatusCode).toBe(204);
      // Nothing ran: no payload (the SDK reads the empty 204 body as null).
      expect(dry.Payload ? dry.Payload.length : 0).toBe(0);

      await expect(
        lambda.send(new InvokeCommand({ FunctionName: "no-such-function", InvocationType: "DryRun" })),
      ).rejects.toMatchObject({ name: "ResourceNotFoundException" });
    } finally {
      lambda.destroy();
    }
  }, 30_000);
});

describe("Lambda lifecycle hooks through the emulator's Invoke", () => {
  const hook = (fn: string): HookSpec => ({
    kind: "lambda",
    name: "fraud-check",
    stages: ["before-step"],
    function: fn,
    timeoutMs: 5000,
    retries: 0,
    waitUpToMs: 60_000,
    pollEveryMs: 1000,
    onFailure: "rollback",
  });
  const context = (weight: number): HookContext => ({
    schema: HOOK_CONTEXT_SCHEMA,
    hook: "fraud-check",
    stage: "before-step",
    instance: `step:${weight}`,
    ask: 1,
    sentAt: new Date().toISOString(),
    rollout: {
      id: "rollout-lambda",
      target: "aws",
      scope: "gatewaypix-stable",
      phase: "shifting",
      startedAt: new Date().toISOString(),
      startedBy: "lambda-test",
    },
    release: { image: "gateway:2", version: "lt-1:2", previousVersion: "lt-1:1", commit: null },
    weights: { stable: 95, gray: 5 },
    step: { kind: "forward", weight },
    reason: null,
    outcome: null,
  });

  it("passes, holds and fails as the function answers; a thrown error fails; a missing function is refused at preflight", async () => {
    // The function decides on the context it is given: the step's weight.
    const source = `
      export async function handler(event) {
        const w = event.step.weight;
        if (event.schema !== "gray-deploy.hook-context/v1") throw new Error("unknown schema");
        if (w === 5) return { status: 200, reason: "risk ok" };
        if (w === 25) return { status: 423, reason: "risk team reviewing" };
        if (w === 50) return { status: 500, reason: "fraud spike" };
        throw new RangeError("no rule for " + w);
      }`;
    await deployFunction(emu(), "gray-hook-fraud", source);
    const conn = createAwsApi({
      region: emu().region,
      endpoint: emu().endpoint,
      credentials: emu().credentials,
      maxAttempts: 1,
    });
    try {
      const caller = new LambdaHookCaller(conn.api, emu().region);
      await expect(caller.preflight([hook("gray-hook-fraud")])).resolves.toEqual([
        "hook fraud-check: Lambda gray-hook-fraud can be invoked (DryRun)",
      ]);
      expect(await caller.call(hook("gray-hook-fraud"), context(5))).toMatchObject({ kind: "pass" });
      expect(await caller.call(hook("gray-hook-fraud"), context(25))).toMatchObject({ kind: "not-yet" });
      const failed = await caller.call(hook("gray-hook-fraud"), context(50));
      expect(failed.kind).toBe("fail");
      expect(failed.detail).toMatch(/fraud spike/);
      const thrown = await caller.call(hook("gray-hook-fraud"), context(100));
      expect(thrown.kind).toBe("fail");
      expect(thrown.detail).toMatch(/RangeError|no rule for 100/);
      const missing = caller.preflight([hook("gray-hook-missing")]);
      await expect(missing).rejects.toBeInstanceOf(PreflightError);
      await expect(missing).rejects.toMatchObject({ message: expect.stringMatching(/does not exist/) });
      // One Invoke per call and per preflight (the extra AWS calls a Lambda hook adds).
      expect(conn.calls.snapshot().operations).toEqual({ "lambda:Invoke": 6 });
    } finally {
      conn.destroy();
    }
  }, 30_000);
});
