/**
 * The CLI as a user runs it: a child process, exit codes, --json on stdout only, Ctrl-C, manual
 * gates without a terminal, and no process left behind whatever happens.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LATENCY_MARGIN_FLAGS, REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";

const BIN = fileURLToPath(new URL("../../bin/gray-deploy.mjs", import.meta.url));
const FAST_FLAGS = [
  "--interval",
  "500ms",
  "--metric-period",
  "500ms",
  "--metrics-delay",
  "500ms",
  "--rollback-window",
  "3s",
  "--promotion-window",
  "3s",
  "--bake",
  "4s",
  "--max-bake",
  "8s",
  "--return-bake",
  "4s",
  "--min-requests",
  "30",
  ...LATENCY_MARGIN_FLAGS,
];

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Every process ever seen as a descendant of the CLI. */
  descendants: Set<number>;
  done: Promise<number>;
}

function descendantsOf(pid: number): number[] {
  let out = "";
  try {
    out = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const line of out.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (p === undefined || pp === undefined) continue;
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const found: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      found.push(c);
      stack.push(c);
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, CI: "true" },
  });
  const r: Run = { child, stdout: "", stderr: "", descendants: new Set(), done: Promise.resolve(0) };
  child.stdout!.on("data", (d) => {
    r.stdout += d;
  });
  child.stderr!.on("data", (d) => {
    r.stderr += d;
  });
  const watch = setInterval(() => {
    for (const p of descendantsOf(child.pid!)) r.descendants.add(p);
  }, 200);
  r.done = new Promise((resolve) => {
    // "close", not "exit": only then has all of stdout and stderr been read.
    child.on("close", (code, signal) => {
      clearInterval(watch);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  return r;
}

/** Waits for a progress line (readiness; the bound only ends a wait for a line that never comes). */
async function waitFor(r: Run, pattern: RegExp, timeoutMs = 200_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(r.stderr)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${pattern}; stderr:\n${r.stderr.slice(-2000)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function noneLeft(r: Run): Promise<void> {
  // Children get a moment to notice their parent is gone (they exit when their stdin closes).
  const deadline = Date.now() + 5000;
  let left = [...r.descendants].filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 100));
    left = [...r.descendants].filter(alive);
  }
  expect(r.descendants.size).toBeGreaterThan(0);
  expect(left).toEqual([]);
}

describe("gray-deploy CLI on the local target", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("Ctrl-C mid-bake aborts safely: stable 100%, exit 5, no process left", async () => {
    const r = run(["deploy-gray", "--target", "local", "--json", ...FAST_FLAGS]);
    await waitFor(r, /forward step: stable 95% \/ gray 5% \(verified\)/);
    r.child.kill("SIGINT");
    const code = await r.done;
    expect(code).toBe(5);
    const outcome = JSON.parse(r.stdout);
    expect(outcome.outcome).toBe("aborted");
    expect(outcome.weights).toEqual({ stable: 100, gray: 0 });
    await noneLeft(r);
  });

  it("a manual gate without a terminal pauses the run (exit 4) and stops everything", async () => {
    // A first step of 20%: gray gets ~120 requests in the 3 s window, well above --min-requests 30
    // (at 5%, ~30: a loaded machine's slower load ended that step inconclusive before the gate).
    const r = run([
      "deploy-gray",
      "--target",
      "local",
      "--json",
      ...FAST_FLAGS,
      "--steps",
      "20,50,100",
      "--approve-before",
      "50",
    ]);
    r.child.stdin!.end(); // not a TTY: nobody can answer
    const code = await r.done;
    const outcome = JSON.parse(r.stdout);
    expect(code, outcome.reason).toBe(4);
    expect(outcome.pause).toMatchObject({ reason: "awaiting-approval", gate: "step:50" });
    await noneLeft(r);
  });

  it("SIGKILL of the CLI leaves no sample-service process behind", async () => {
    const r = run(["deploy-gray", "--target", "local", ...FAST_FLAGS]);
    await waitFor(r, /forward step: stable 95% \/ gray 5%/);
    r.child.kill("SIGKILL");
    await r.done;
    await noneLeft(r);
  });

  it("invalid input: exit 2, the Outcome names the field, nothing starts", async () => {
    const r = run(["deploy-gray", "--target", "local", "--json", "--bake", "10"]);
    const code = await r.done;
    expect(code).toBe(2);
    const outcome = JSON.parse(r.stdout);
    expect(outcome).toMatchObject({ outcome: "refused", error: { code: "INVALID_INPUT", field: "bake" } });
    expect(r.descendants.size).toBe(0);
  });

  it("--json keeps stdout to the Outcome alone; progress goes to stderr without control characters", async () => {
    const r = run(["deploy-gray", "--target", "local", "--json", "--gray-error-rate", "20%"]);
    const code = await r.done;
    expect(code).toBe(3);
    expect(JSON.parse(r.stdout).outcome).toBe("rolled-back");
    expect(r.stderr).toMatch(/decision rollback/);
    expect(r.stderr.includes(String.fromCharCode(27))).toBe(false); // no ANSI escape sequences
  });
});
