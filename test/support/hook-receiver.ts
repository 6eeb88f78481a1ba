/** The reference hook receiver (examples/hook-receiver/server.mjs) as a real process, for tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface Receiver {
  readonly url: string;
  /** Every JSON line it printed (one per request, never the key or a signature). */
  readonly lines: string[];
  readonly child: ChildProcess;
}

/** Starts it with HOOK_SECRET = `key` and `env` (NOT_YET, RETRY_AFTER, FAIL_STAGES …); resolves once listening. */
export async function startReceiver(key: string, env: Record<string, string> = {}): Promise<Receiver> {
  const child = spawn(process.execPath, ["examples/hook-receiver/server.mjs"], {
    env: { PATH: process.env.PATH ?? "", HOOK_SECRET: key, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`receiver exited ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (l) => {
      lines.push(l);
      const e = JSON.parse(l) as { event: string; port?: number };
      if (e.event === "listening") resolve(e.port!);
    });
  });
  return { url: `http://127.0.0.1:${port}/gray-deploy`, lines, child };
}
