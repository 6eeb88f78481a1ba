/**
 * The CLI as a child process, the way a pipeline runs it, with what the safety tests need on top of
 * test/aws's `cli`: progress lines as they arrive (with when), waiting for a line, and a real SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RawOptions } from "../../../src/app/schema.js";
import type { Outcome } from "../../../src/contract/outcome.js";

const BIN = fileURLToPath(new URL("../../../bin/gray-deploy.mjs", import.meta.url));

export interface Line {
  /** Epoch ms when the line arrived. */
  readonly at: number;
  readonly text: string;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly outcome: Outcome | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Epoch ms when the process exited. */
  readonly endedAt: number;
}

/** `{ lockLease: "5s" }` → `--lock-lease 5s`; booleans become bare flags. */
export function flagsToArgs(flags: RawOptions): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || v === false) continue;
    args.push(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (v !== true) args.push(String(v));
  }
  return args;
}

export class CliRun {
  readonly child: ChildProcess;
  readonly startedAt = Date.now();
  readonly lines: Line[] = [];
  stdout = "";
  stderr = "";
  readonly done: Promise<CliResult>;
  #partial = "";
  #waiters: { re: RegExp; resolve: (l: Line) => void }[] = [];

  constructor(
    readonly verb: string,
    flags: RawOptions,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [BIN, verb, "--json", ...flagsToArgs(flags)], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      this.stdout += s;
    });
    this.child.stderr!.setEncoding("utf8").on("data", (s: string) => {
      this.stderr += s;
      const parts = (this.#partial + s).split("\n");
      this.#partial = parts.pop() ?? "";
      for (const text of parts) this.#line(text);
    });
    this.done = new Promise((resolve, reject) => {
      this.child.once("error", reject);
      // "close", not "exit": "exit" may come before the last of stdout and stderr were read (on a
      // loaded machine it did), leaving the Outcome unparsed and the progress cut short.
      this.child.once("close", (code, signal) => {
        const endedAt = Date.now();
        if (this.#partial !== "") this.#line(this.#partial);
        let outcome: Outcome | null = null;
        try {
          outcome = JSON.parse(this.stdout) as Outcome;
        } catch {
          // killed, or not JSON: the test shows stdout/stderr
        }
        resolve({ code, signal, outcome, stdout: this.stdout, stderr: this.stderr, endedAt });
      });
    });
  }

  #line(text: string): void {
    const line = { at: Date.now(), text };
    this.lines.push(line);
    const matched = this.#waiters.filter((w) => w.re.test(text));
    this.#waiters = this.#waiters.filter((w) => !matched.includes(w));
    for (const w of matched) w.resolve(line);
  }

  /**
   * The first progress line matching `re` (already printed or still to come). Rejects at once when
   * the process exits without it; `timeoutMs` only bounds a process that hangs. 600 s by default: on
   * a slow machine with a core burnt, a scenario's CLI once took 59 s between two lines, and 200 s to
   * a rollout's second step was not enough.
   */
  waitFor(re: RegExp, timeoutMs = 600_000): Promise<Line> {
    const seen = this.lines.find((l) => re.test(l.text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(`${this.verb}: no line matching ${re} within ${timeoutMs} ms; stderr:\n${this.tail()}`),
        );
      }, timeoutMs);
      const done = (l: Line) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.#waiters.push({ re, resolve: done });
      void this.done.then(() => {
        if (this.#waiters.some((w) => w.resolve === done)) {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
          reject(new Error(`${this.verb} exited before a line matching ${re}; stderr:\n${this.tail()}`));
        }
      });
    });
  }

  /** SIGKILL, as a CI runner killing the job does; resolves when the process is gone. */
  async kill(): Promise<CliResult> {
    this.child.kill("SIGKILL");
    const r = await this.done;
    if (r.signal !== "SIGKILL")
      throw new Error(`${this.verb} ended on its own before the kill: ${this.tail()}`);
    return r;
  }

  tail(n = 40): string {
    return this.stderr.split("\n").slice(-n).join("\n");
  }
}
