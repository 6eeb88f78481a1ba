/**
 * The payment-grade checks end to end, as a user runs them: the CLI as a child process on the local
 * target (real sample-gateway processes behind the real weighted proxy), the reference hook receiver
 * as another process. A release that declines every payment is caught by the default synthetic PIX
 * charge before any customer reaches it; a healthy release goes through the chosen-customers step,
 * signed hooks that say "not yet" three times, a failing notify-only hook and a failing observe-only
 * synthetic transaction, and is promoted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startReceiver } from "../support/hook-receiver.js";
import { LATENCY_MARGIN_FLAGS, REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";

const BIN = fileURLToPath(new URL("../../bin/gray-deploy.mjs", import.meta.url));
const KEY = "e2e-hook-KEY-5d81c0a9";
const FAST = [
  "--interval",
  "500ms",
  "--metric-period",
  "500ms",
  "--metrics-delay",
  "500ms",
  "--rollback-window",
  "2s",
  "--promotion-window",
  "2s",
  "--bake",
  "3s",
  "--max-bake",
  "8s",
  "--return-bake",
  "3s",
  "--min-requests",
  "20",
  "--synthetic-interval",
  "1s",
  // Not about latency: a busy machine's p95 must not pause or roll these rollouts back.
  ...LATENCY_MARGIN_FLAGS,
];

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  // A test that timed out leaves its CLI running: end it (SIGINT rolls it back and stops its fleet).
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGINT");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "gd-checks-"));
  dirs.push(cwd);
  const child = spawn(process.execPath, [BIN, ...args, "--report-dir", join(cwd, "report")], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true", ...env },
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string; report: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr, report: join(cwd, "report") })),
  );
}

describe("payment-grade checks on --target local (CLI, real processes)", () => {
  it(
    "--gray-payment-fault: the synthetic PIX charge catches it before any customer; exit 3",
    async () => {
      const r = await cli(["deploy-gray", "--target", "local", "--gray-payment-fault", "--json", ...FAST]);
      expect(r.code).toBe(3);
      const outcome = JSON.parse(r.stdout) as { outcome: string; reason: string; steps: unknown[] };
      expect(outcome.outcome).toBe("rolled-back");
      expect(outcome.reason).toMatch(/synthetic:pix-charge failed before any customer reached gray/);
      expect(outcome.reason).toMatch(/declined/);
      expect(outcome.steps).toEqual([]);
      // The proxy's own counters: gray answered the header route only, never a customer.
      expect(r.stderr).toMatch(/gray served 0 customer request\(s\)/);
      expect(r.stderr).toMatch(/and [1-9]\d* smoke\/synthetic request\(s\) through the header route/);
      const md = readFileSync(join(r.report, "report.md"), "utf8");
      expect(md).toMatch(/Synthetic transactions/);
      expect(md).toMatch(/synthetic:pix-charge/);
    },
    REAL_TIME_TEST_TIMEOUT_MS,
  );

  it(
    "chosen customers first, hooks held by 'not yet', a failing notify-only hook and observe-only gate: promoted",
    async () => {
      const receiver = await startReceiver(KEY, { NOT_YET: "3", FAIL_STAGES: "after-promotion" });
      try {
        const hooks = JSON.stringify([
          {
            name: "risk-approval",
            stages: ["pre-traffic", "before-step"],
            url: receiver.url,
            secretEnv: "RISK_HOOK_SECRET",
            pollEvery: "300ms",
            waitUpTo: "1m",
          },
          {
            name: "notify-risk",
            stage: "after-promotion",
            url: receiver.url,
            secretEnv: "RISK_HOOK_SECRET",
            retries: 0,
          },
        ]);
        const synthetic = JSON.stringify([
          {
            name: "pix-charge",
            method: "POST",
            path: "/v1/payments",
            body: { amount: 100, currency: "BRL", method: "pix", sandbox: true },
            expect: { status: 201, json: ['$.status == "approved"'] },
          },
          {
            // A new check being calibrated: it expects what this release never answers.
            name: "decline-probe",
            method: "POST",
            path: "/v1/payments",
            body: { amount: 100, currency: "BRL", method: "pix", sandbox: true },
            expect: { status: 201, json: ['$.status == "declined"'] },
          },
        ]);
        const r = await cli(
          [
            "deploy-gray",
            "--target",
            "local",
            "--steps",
            "50,100",
            "--return-steps",
            "100",
            "--pilot-header",
            "X-Tenant: acme",
            "--pilot-share",
            "20%",
            "--hooks",
            hooks,
            "--synthetic",
            synthetic,
            "--observe-gates",
            "synthetic:decline-probe",
            "--json",
            ...FAST,
          ],
          { RISK_HOOK_SECRET: KEY },
        );
        expect(r.code, r.stderr).toBe(0);
        const outcome = JSON.parse(r.stdout) as { outcome: string; steps: { kind: string }[] };
        expect(outcome.outcome).toBe("promoted");
        expect(outcome.steps.map((s) => s.kind).slice(0, 3)).toEqual(["pilot", "forward", "forward"]);
        // Chosen customers reached gray through their rule; others only by weight.
        const served =
          /gray served \d+ customer request\(s\) \(by weight (\d+), sticky \d+, chosen customers (\d+)\)/.exec(
            r.stderr,
          );
        expect(Number(served?.[2])).toBeGreaterThan(0);
        // The receiver verified every signed call (a bad signature is a 401 'refused' line) and said
        // "not yet" three times at each gating stage before 200.
        const lines = receiver.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(lines.filter((l) => l.event === "refused")).toEqual([]);
        const calls = lines.filter((l) => l.event === "hook");
        for (const instance of ["pre-traffic", "pilot", "step:50", "step:100"]) {
          const statuses = calls.filter((c) => c.instance === instance).map((c) => c.status);
          expect(statuses, instance).toEqual([423, 423, 423, 200]);
        }
        expect(calls.filter((c) => c.stage === "after-promotion").map((c) => c.status)).toEqual([500]);
        const md = readFileSync(join(r.report, "report.md"), "utf8");
        expect(md).toMatch(/Lifecycle hooks/);
        expect(md).toMatch(/notify-risk/);
        expect(md).toMatch(/Observe-only gates/);
        expect(md).toMatch(/synthetic:decline-probe/);
        for (const text of [r.stdout, r.stderr, md, readFileSync(join(r.report, "report.json"), "utf8")]) {
          expect(text).not.toContain(KEY);
        }
      } finally {
        receiver.child.kill();
      }
    },
    REAL_TIME_TEST_TIMEOUT_MS,
  );
});
