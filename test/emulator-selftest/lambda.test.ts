/**
 * The emulator's Lambda Invoke (gray_emulator/lambda_invoke.py) through the real SDK: it runs the
 * deployed zip's Node.js handler and answers with the Invoke API's shape — StatusCode, payload,
 * FunctionError (Unhandled) for a thrown error or a timeout, ExecutedVersion, the log tail — and
 * DryRun checks without running.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { describe, expect, it } from "vitest";
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
