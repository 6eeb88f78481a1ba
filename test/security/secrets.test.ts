/**
 * Secrets never leave the process: deploy-gray and abort run with recognisable values — AWS access key
 * id, secret key and session token in the environment, the smoke header's value
 * (GRAY_DEPLOY_SMOKE_HEADER), a webhook URL carrying a token (GRAY_DEPLOY_NOTIFY_WEBHOOK) — on the AWS
 * target against the emulator and on the local target, through success and failure paths (a pause, an
 * abort, a failing smoke check, a preflight refusal, refused input, a malformed secret, a rollback, an
 * unreachable webhook). None of the values appears in any stdout or stderr line, report file,
 * notification body, stored rollout (every DynamoDB item) or error message. Positive controls prove
 * each secret was really used. (Bad credentials: test/security/least-privilege.test.ts, under IAM.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, describe, expect, it } from "vitest";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { buildWorld, createSmokeRule, rawOptions, STATE_TABLE } from "../aws/support/world.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { CaptureServer, type CliRun, filesUnder, flags, runCli } from "./support/capture.js";

const { emu, aws } = useAwsEmulator();
const dir = mkdtempSync(join(tmpdir(), "gray-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRETS = {
  accessKeyId: "AKIAGRAYSECRET7X9Q2Z",
  secretAccessKey: "gRaYsEcReT/do-not-leak+0123456789abcdefXYZ",
  sessionToken: "FwoGZXIvYXdzEGRAYSESSIONTOKEN-do-not-leak-9f8e7d6c5b",
  smokeValue: "smk-SECRET-4b1d9e2f7a6c",
  webhookToken: "T0KEN-SECRET-8c3a1f5e2d",
} as const;
const VALUES = Object.entries(SECRETS);

function expectNoSecret(where: string, text: string): void {
  for (const [name, value] of VALUES) {
    expect(text.includes(value), `${where} contains the ${name}`).toBe(false);
  }
}

function expectClean(name: string, run: CliRun, reportDir?: string): void {
  expectNoSecret(`${name}: stdout`, run.stdout);
  expectNoSecret(`${name}: stderr`, run.stderr);
  if (reportDir !== undefined) {
    const files = filesUnder(reportDir);
    expect(files.map((f) => f.path.split("/").at(-1)).sort(), `${name}: report files`).toEqual([
      "report.json",
      "report.md",
      "timeline.svg",
    ]);
    for (const f of files) expectNoSecret(`${name}: ${f.path}`, f.text);
  }
}

describe("secrets", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("appear in no log line, report, notification, stored state or error message, on AWS and locally", async () => {
    const w = await buildWorld(emu(), aws());
    const capture = new CaptureServer();
    await capture.start();
    try {
      await createSmokeRule(w, "x-gray-smoke", SECRETS.smokeValue);
      const hook = `/hooks/${SECRETS.webhookToken}`;
      const env = {
        AWS_ACCESS_KEY_ID: SECRETS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: SECRETS.secretAccessKey,
        AWS_SESSION_TOKEN: SECRETS.sessionToken,
        AWS_REGION: w.emu.region,
        GRAY_DEPLOY_SMOKE_HEADER: `x-gray-smoke: ${SECRETS.smokeValue}`,
        GRAY_DEPLOY_NOTIFY_WEBHOOK: `${capture.url}${hook}`,
      };
      const report = (name: string) => join(dir, name);
      const deploy = (name: string, extra: Record<string, unknown> = {}) =>
        runCli(
          [
            "deploy-gray",
            ...flags({
              ...rawOptions(w, "deploy-gray", {
                maxBake: "4s",
                smokeUrl: capture.url,
                smokePaths: "/health",
              }),
              reportDir: report(name),
              ...extra,
            }),
          ],
          env,
        );

      // A pause: smoke checks pass with the secret header, 25% stays inconclusive (no customers).
      const paused = await deploy("paused");
      expect(paused.outcome?.outcome, paused.stderr).toBe("paused");
      expect(paused.code).toBe(4);
      expectClean("paused", paused, report("paused"));
      const smoke = capture.requests.filter((r) => r.url === "/health");
      expect(smoke.length, "the smoke check ran").toBeGreaterThan(0);
      expect(smoke[0]!.headers["x-gray-smoke"], "with the secret header").toBe(SECRETS.smokeValue);

      // An abort from another CLI run.
      const aborted = await runCli(
        [
          "abort",
          ...flags({ ...rawOptions(w, "abort"), reason: "secrets test", reportDir: report("aborted") }),
        ],
        env,
      );
      expect(aborted.outcome?.outcome, aborted.stderr).toBe("aborted");
      expectClean("aborted", aborted, report("aborted"));

      // A failing smoke check: the error names the header, never its value.
      capture.status = [["/health", 503]];
      const smokeFailed = await deploy("smoke-failed");
      expect(smokeFailed.outcome?.reason ?? "", smokeFailed.stderr).toMatch(
        /smoke test GET .*\/health with the x-gray-smoke header answered 503/,
      );
      expect(smokeFailed.outcome?.weights).toEqual({ stable: 100, gray: 0 });
      expectClean("smoke-failed", smokeFailed, report("smoke-failed"));
      capture.status = [];

      // Refusals: preflight, invalid input, a malformed secret.
      const [preflight, invalid, malformed] = await Promise.all([
        deploy("preflight", { grayAsg: "gatewaypix-nope" }),
        deploy("invalid", { bake: "1s" }),
        runCli(
          ["deploy-gray", ...flags({ ...rawOptions(w, "deploy-gray"), reportDir: report("malformed") })],
          { ...env, GRAY_DEPLOY_SMOKE_HEADER: `x-gray-smoke ${SECRETS.smokeValue}` },
        ),
      ]);
      expect([preflight.code, invalid.code, malformed.code]).toEqual([2, 2, 2]);
      expect(preflight.outcome?.error?.field).toBe("grayAsg");
      expect(invalid.outcome?.error?.field).toBe("bake");
      expect(malformed.outcome?.error?.message).toMatch(
        /--smoke-header: the value is not valid: expected Header-Name: value/,
      );
      expectClean("preflight", preflight, report("preflight"));
      expectClean("invalid", invalid, report("invalid"));
      expectClean("malformed", malformed, report("malformed"));

      // Every stored rollout item.
      const items = await w.aws.dynamo.send(
        new ScanCommand({ TableName: STATE_TABLE, ConsistentRead: true }),
      );
      expect(items.Items?.length).toBeGreaterThan(0);
      expectNoSecret("the state table", JSON.stringify(items.Items));

      // The local target: gray crashes, the rollout rolls back; the webhook refuses (500) this time.
      capture.status = [[hook, 500]];
      const local = await runCli(
        [
          "deploy-gray",
          ...flags({
            target: "local",
            // No short --healthy-timeout: it bounds the stable pool's start too (2 s failed it on a
            // loaded machine), and a gray that crashes at start is given up on early anyway.
            grayCrash: true,
            instances: 2,
            rps: 50,
            reportDir: report("local"),
          }),
        ],
        { GRAY_DEPLOY_NOTIFY_WEBHOOK: `${capture.url}${hook}` },
      );
      expect(local.outcome?.outcome, local.stderr).toBe("rolled-back");
      expect(local.stderr, "the webhook failure is reported, without the URL").toMatch(
        /notify: a webhook notification was not delivered/,
      );
      expectClean("local", local, report("local"));

      // Notifications were sent (positive control) and hold no secret.
      const bodies = capture.bodiesFor(hook);
      expect(bodies.length).toBeGreaterThanOrEqual(6);
      expect(bodies.map((b) => JSON.parse(b).outcome).filter(Boolean)).toEqual(
        expect.arrayContaining(["paused", "aborted", "rolled-back"]),
      );
      for (const b of bodies) expectNoSecret("a notification body", b);
    } finally {
      await capture.stop();
    }
  });
});
