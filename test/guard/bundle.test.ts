/**
 * The guard's Lambda package: scripts/package-guard.ts builds a deterministic .zip that a standard zip
 * reader accepts (Python's zipfile checks every CRC), holding one CommonJS index.js that exports only
 * `handler`, does nothing at import, needs nothing outside itself (it runs from a directory with no
 * node_modules, without tsx), and rolls a rollout back against the emulator from a plain Node process,
 * logging one JSON record per line.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageGuard } from "../../scripts/package-guard.js";
import { useAwsEmulator } from "../aws/support/hooks.js";
import { forward, storedState } from "../aws/support/rollout.js";
import { buildWorld, type World } from "../aws/support/world.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { SCHEDULE_EVENT, snsAlarmEvent } from "./support/events.js";
import { alarmNames, createGrayAlarms, guardConfigJson, pausedRollout } from "./support/guard-world.js";

const { emu, aws } = useAwsEmulator();
const dir = mkdtempSync(join(tmpdir(), "gray-guard-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Invocation {
  readonly result: Record<string, unknown> | null;
  readonly error: Record<string, unknown> | null;
  readonly logs: Record<string, unknown>[];
  readonly stdout: string;
  readonly stderr: string;
}

/** `require('./index.js').handler(event, context)` in a plain Node process, cwd = the unpacked package. */
function invokeBundle(code: string, event: unknown, env: Record<string, string>): Promise<Invocation> {
  const script = `
    const { handler } = require("./index.js");
    handler(JSON.parse(process.env.EVENT), { awsRequestId: "req-1" }).then(
      (r) => process.stdout.write("RESULT " + JSON.stringify(r) + "\\n"),
      (e) => process.stdout.write("ERROR " + JSON.stringify({ name: e.name, code: e.code, field: e.field, message: e.message }) + "\\n"),
    );`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script], {
      cwd: code,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", EVENT: JSON.stringify(event), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.once("error", reject);
    // "close", not "exit": only then has all of stdout been read.
    child.once("close", () => {
      const lines = stdout.trim().split("\n").filter(Boolean);
      const last = lines.at(-1) ?? "";
      resolve({
        result: last.startsWith("RESULT ") ? JSON.parse(last.slice(7)) : null,
        error: last.startsWith("ERROR ") ? JSON.parse(last.slice(6)) : null,
        logs: lines.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>),
        stdout,
        stderr,
      });
    });
  });
}

const lambdaEnv = (w: World, config = guardConfigJson(w)) => ({
  GRAY_DEPLOY_CONFIG: config,
  AWS_ACCESS_KEY_ID: w.emu.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: w.emu.credentials.secretAccessKey,
  AWS_REGION: w.emu.region,
  AWS_LAMBDA_FUNCTION_NAME: "gatewaypix-gray-deploy-guard",
  AWS_EC2_METADATA_DISABLED: "true",
});

describe("the guard's Lambda package", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("builds a valid, reproducible zip whose handler loads without side effects and rolls back from a plain Node process", async () => {
    const t0 = Date.now();
    const first = await packageGuard(join(dir, "a", "guard.zip"));
    const second = await packageGuard(join(dir, "b", "guard.zip"));
    const buildMs = Date.now() - t0;
    expect(readFileSync(first.path).equals(readFileSync(second.path))).toBe(true);
    expect(first.sha256).toBe(second.sha256);
    // Lambda's limit for a directly uploaded package is 50 MB.
    expect(first.bytes).toBeLessThan(5 * 1024 * 1024);
    console.info(
      `guard package: ${first.bytes} bytes zipped, index.js ${first.bundleBytes} bytes, two builds ${buildMs} ms`,
    );

    // A standard zip reader: CRCs checked, one entry, extracted.
    const code = join(dir, "code");
    execFileSync("/usr/bin/python3", ["-m", "zipfile", "-t", first.path]);
    execFileSync("/usr/bin/python3", ["-m", "zipfile", "-e", first.path, code]);
    expect(readdirSync(code)).toEqual(["index.js"]);
    const exportsOnly = execFileSync(
      process.execPath,
      ["-e", 'const m = require("./index.js"); process.stdout.write(JSON.stringify(Object.keys(m)))'],
      { cwd: code, env: { PATH: process.env.PATH ?? "" }, encoding: "utf8" },
    );
    expect(JSON.parse(exportsOnly)).toEqual(["handler"]);

    // No configuration: refused before any AWS call, naming the field.
    const bare = await invokeBundle(code, SCHEDULE_EVENT, {});
    expect(bare.error, bare.stderr).toMatchObject({ code: "INVALID_INPUT", field: "config" });

    const w = await buildWorld(emu(), aws());
    await createGrayAlarms(w);
    const quiet = await invokeBundle(code, SCHEDULE_EVENT, lambdaEnv(w));
    expect(quiet.result, quiet.stdout + quiet.stderr).toMatchObject({
      action: "left-alone",
      reason: "no rollout is recorded for this load balancer",
    });

    await pausedRollout(w);
    const alarm = alarmNames(w)[0]!;
    const rolled = await invokeBundle(code, snsAlarmEvent(alarm), lambdaEnv(w));
    expect(rolled.result, rolled.stdout + rolled.stderr).toMatchObject({
      action: "rolled-back",
      rolloutId: expect.any(String),
      weights: { stable: 100, gray: 0 },
    });
    expect(String(rolled.result?.reason)).toMatch(new RegExp(`by guard: gray alarm ${alarm} is in ALARM`));
    expect(await forward(w)).toEqual({ stable: 100, gray: 0, stickiness: null });
    expect(await storedState(w)).toMatchObject({ phase: "rolled-back", rollbackCause: "guard" });
    // Structured logs, one JSON record per line, naming the guard's owner in the lock.
    expect(rolled.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^rolling back: gray alarm/),
        expect.stringMatching(/^traffic restored: stable 100% \/ gray 0% \(verified\)/),
      ]),
    );
    for (const l of rolled.logs) expect(["info", "warn", "error"]).toContain(l.level);
    const all = rolled.stdout + rolled.stderr;
    expect(all).not.toContain(w.emu.credentials.secretAccessKey);
    expect(all).not.toContain(w.emu.credentials.accessKeyId);
  });
});
