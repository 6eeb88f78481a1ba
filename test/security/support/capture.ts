/**
 * A local HTTP server that records every request (webhook notifications, smoke checks) and answers
 * with the status a test chooses; and the CLI as a child process with exact arguments, so a test can
 * read everything a run showed or left behind.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Outcome } from "../../../src/contract/outcome.js";

export interface Captured {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export class CaptureServer {
  readonly requests: Captured[] = [];
  /** Status to answer, by path prefix (first match); default 200. */
  status: [string, number][] = [];
  #server: Server | null = null;
  url = "";

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        this.requests.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: { ...req.headers },
          body,
        });
        const code = this.status.find(([p]) => (req.url ?? "").startsWith(p))?.[1] ?? 200;
        res.writeHead(code, { "content-type": "application/json" });
        res.end(code === 200 ? '{"ok":true}' : '{"ok":false}');
      });
    });
    await new Promise<void>((r) => this.#server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
    return this.url;
  }

  bodiesFor(prefix: string): string[] {
    return this.requests.filter((r) => r.url.startsWith(prefix)).map((r) => r.body);
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}

export interface CliRun {
  readonly code: number | null;
  readonly outcome: Outcome | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node bin/gray-deploy.mjs …args --json` with exactly `env` (plus PATH/HOME). */
export function runCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/gray-deploy.mjs", ...args, "--json"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? "/tmp",
        AWS_EC2_METADATA_DISABLED: "true",
        NO_COLOR: "1",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.once("error", reject);
    // "close", not "exit": only then has all of stdout and stderr been read.
    child.once("close", (code) => {
      clearTimeout(timer);
      let outcome: Outcome | null = null;
      try {
        outcome = JSON.parse(stdout) as Outcome;
      } catch {
        // the test shows stdout
      }
      resolve({ code, outcome, stdout, stderr });
    });
  });
}

/** Every file under `dir` (reports), as text. */
export function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ path: p, text: readFileSync(p, "utf8") });
    }
  };
  walk(dir);
  return out;
}

/** Flags for the CLI from camelCase options (booleans as bare flags). */
export function flags(options: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined || v === false) continue;
    const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (v === true) args.push(flag);
    else args.push(flag, String(v));
  }
  return args;
}
