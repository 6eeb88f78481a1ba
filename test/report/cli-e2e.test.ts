/**
 * End to end through the real CLI (a child process running bin/gray-deploy.mjs) on the local
 * target: real proxy, real processes, real traffic. A rollout with --report-dir writes report.json,
 * report.md and timeline.svg that agree with the Outcome printed on stdout; --notify-webhook (or its
 * environment variable) posts to a real local HTTP server; the webhook URL, a secret, appears in no
 * output and no report file; a failing webhook changes nothing about the rollout.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMParser } from "@xmldom/xmldom";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Outcome, OutcomeDecision, OutcomeGate } from "../../src/contract/outcome.js";
import type { NotificationPayload } from "../../src/notify/webhook.js";
import { LATENCY_MARGIN_FLAGS, REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";

const BIN = new URL("../../bin/gray-deploy.mjs", import.meta.url).pathname;
const SECRET = "T9999/B8888/e2eS3cretH00kToken";
// Short steps for a test: every cross-field rule holds (bake ≥ promotion window + metrics delay,
// return bake ≥ rollback window + metrics delay, windows whole metric periods).
const FAST = [
  "--bake",
  "3s",
  "--promotion-window",
  "2s",
  "--rollback-window",
  "2s",
  "--max-bake",
  "10s",
  "--return-bake",
  "3s",
  "--min-requests",
  "20",
  "--rps",
  "300",
  "--started-by",
  "e2e-test",
  // Latency is not what these runs test (test/support/margins.ts).
  ...LATENCY_MARGIN_FLAGS,
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = { ...process.env };
  delete base.GRAY_DEPLOY_NOTIFY_WEBHOOK;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...base, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), REAL_TIME_TEST_TIMEOUT_MS - 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let work: string;
let server: Server;
let hookUrl: string;
let failingUrl: string;
const received: NotificationPayload[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "gray-e2e-report-"));
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      if (req.url?.startsWith("/fail/")) {
        res.writeHead(500).end("no");
        return;
      }
      received.push(JSON.parse(body));
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  hookUrl = `http://127.0.0.1:${port}/services/${SECRET}`;
  failingUrl = `http://127.0.0.1:${port}/fail/${SECRET}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(work, { recursive: true, force: true });
});

async function readReport(dir: string) {
  expect((await readdir(dir)).sort()).toEqual(["report.json", "report.md", "timeline.svg"]);
  const json = await readFile(join(dir, "report.json"), "utf8");
  const markdown = await readFile(join(dir, "report.md"), "utf8");
  const svg = await readFile(join(dir, "timeline.svg"), "utf8");
  return { json, markdown, svg, report: JSON.parse(json) };
}

function svgDecisionKinds(svg: string): string[] {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (l, m) => errors.push(`${l} ${m}`) }).parseFromString(
    svg,
    "image/svg+xml",
  );
  expect(errors).toEqual([]);
  return Array.from(doc.getElementsByTagName("g"))
    .filter((g) => g.getAttribute("class") === "decision")
    .map((g) => g.getAttribute("data-kind") ?? "");
}

describe("CLI --report-dir and --notify-webhook (local target, real traffic)", {
  timeout: REAL_TIME_TEST_TIMEOUT_MS,
}, () => {
  it("a healthy release: promoted, three report files that agree with the Outcome, every phase notified", async () => {
    const dir = join(work, "healthy");
    const run = await cli(["deploy-gray", "--target", "local", "--json", "--report-dir", dir, ...FAST], {
      GRAY_DEPLOY_NOTIFY_WEBHOOK: hookUrl,
    });
    const outcome: Outcome = JSON.parse(run.stdout);
    expect(outcome.outcome, run.stderr).toBe("promoted");
    expect(run.code).toBe(0);

    const { json, markdown, svg, report } = await readReport(dir);
    expect(report.outcome).toEqual(outcome);
    expect(report.plan.bakeMs).toBe(3000);
    expect(report.plan.thresholds.minRequests).toBe(20);
    expect(report.observations.length).toBeGreaterThan(10);
    const withTraffic = report.observations.filter(
      (o: { rollbackWindow: { gray: { requests: number } } | null }) =>
        (o.rollbackWindow?.gray.requests ?? 0) > 0,
    );
    expect(withTraffic.length).toBeGreaterThan(5);
    expect(report.people.startedBy).toBe("e2e-test");
    expect(markdown).toMatch(/^## ✅ Promoted: gray-deploy\/sample-gateway:next/);
    expect(markdown).toMatch(/\| 4 \| gray 100% \| 0% \/ 100% \|/);
    expect(svgDecisionKinds(svg)).toEqual(outcome.decisions.map((d) => d.kind));
    expect(run.stderr).toContain(`report: ${dir}/report.md`);

    // Every phase change and the outcome reached the webhook, with structured fields.
    const ours = received.filter((p) => p.rolloutId === outcome.rolloutId);
    expect(ours.filter((p) => p.event === "phase").map((p) => p.phase)).toEqual([
      "preparing",
      "scaling",
      "smoke",
      "shifting",
      "promoting",
      "returning",
      "finishing",
      "promoted",
    ]);
    expect(ours[ours.length - 1]).toMatchObject({ event: "outcome", outcome: "promoted", exitCode: 0 });
    expect(ours[ours.length - 1]!.text).toMatch(/PROMOTED/);

    // The webhook URL is a secret: nowhere in the output or the report.
    for (const text of [run.stdout, run.stderr, json, markdown, svg]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(hookUrl);
    }
  });

  it("a failing release with a failing webhook: rolled back as usual, one notification warning, report written", async () => {
    const dir = join(work, "failing");
    // The latency gates get room (FAST): the release's fault is its errors, so only the error
    // gates can judge it.
    const run = await cli([
      "deploy-gray",
      "--target",
      "local",
      "--gray-error-rate",
      "50%",
      // The error-rate gates judge it, not the default synthetic charge (which fails half the time).
      "--synthetic",
      "[]",
      "--report-dir",
      dir,
      "--notify-webhook",
      failingUrl,
      ...FAST,
    ]);
    expect(run.code, run.stderr).toBe(3);
    // Whichever error rule fires first: the absolute limit or the sequential test against stable.
    expect(run.stdout).toMatch(/^ROLLED-BACK: rolled back: gray (error rate|fails more often than stable)/);
    const notifyLines = run.stderr.split("\n").filter((l) => l.startsWith("notify:"));
    expect(notifyLines).toHaveLength(1);
    expect(notifyLines[0]).toMatch(/HTTP 500/);

    const { json, markdown, svg, report } = await readReport(dir);
    expect(report.outcome.outcome).toBe("rolled-back");
    expect(markdown).toMatch(/^## ↩️ Rolled back/);
    expect(markdown).toMatch(/### Decisive evidence: rollback/);
    // The contract, not a race: gray errs on half its requests, so the absolute error-rate limit,
    // the sequential test and the relative test against stable can each be the first to fire.
    // Whichever did, the rollback names its failed gates with their evidence, and the report shows
    // each of them as a failed row.
    const rollback = report.outcome.decisions.findLast((d: OutcomeDecision) => d.kind === "rollback");
    const failed: OutcomeGate[] = (rollback?.evidence ?? []).filter((g: OutcomeGate) => g.verdict === "fail");
    expect(failed.length, JSON.stringify(rollback)).toBeGreaterThan(0);
    expect(
      failed.map((g) => g.gate),
      "an error gate is among the failed ones",
    ).toEqual(expect.arrayContaining([expect.stringMatching(/error-rate$/)]));
    for (const g of failed) {
      expect(Object.keys(g.values).length, `evidence of ${g.gate}`).toBeGreaterThan(0);
      expect(markdown).toContain(`| \`${g.gate}\` | ❌ fail |`);
    }
    expect(svgDecisionKinds(svg)).toContain("rollback");
    for (const text of [run.stdout, run.stderr, json, markdown, svg]) expect(text).not.toContain(SECRET);
  });

  it("invalid input still writes a report saying why nothing ran", async () => {
    const dir = join(work, "invalid");
    const run = await cli(["deploy-gray", "--target", "local", "--bake", "1s", "--report-dir", dir]);
    expect(run.code).toBe(2);
    const { report, markdown } = await readReport(dir);
    expect(report.outcome).toMatchObject({ outcome: "refused", exitCode: 2 });
    expect(report.outcome.error.field).toBe("bake");
    expect(markdown).toMatch(/^## ⛔ Refused/);
    expect(markdown).toMatch(/promotion window plus the metrics delay/);
  });
});
