import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EMULATOR_HOOK_TIMEOUT_MS, startEmulator } from "../support/emulator.js";
import { waitFor } from "./helpers.js";

/** True while the process runs; a zombie (exited, not yet reaped by its new parent) counts as gone. */
function alive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    return (await fetch(`${endpoint}/_gray/health`)).ok;
  } catch {
    return false;
  }
}

describe("emulator lifecycle", () => {
  it("exits when the process that started it is killed with SIGKILL", {
    timeout: EMULATOR_HOOK_TIMEOUT_MS,
  }, async () => {
    const script = fileURLToPath(new URL("./fixtures/emulator-parent.ts", import.meta.url));
    const parent = spawn(process.execPath, ["--import", "tsx", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    parent.stderr.setEncoding("utf8").on("data", (s: string) => {
      err += s;
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      parent.stdout.setEncoding("utf8").on("data", (s: string) => {
        out += s;
        if (out.includes("\n")) resolve(out.split("\n")[0]!);
      });
      parent.once("exit", (code) => reject(new Error(`parent exited early (${code}): ${err}`)));
    });
    const { pid, endpoint } = JSON.parse(line) as { pid: number; endpoint: string };
    expect(alive(pid)).toBe(true);
    expect(await answers(endpoint)).toBe(true);

    parent.kill("SIGKILL");
    await waitFor("the orphaned emulator to exit", async () => !alive(pid) && !(await answers(endpoint)), {
      // Readiness, not a clock: it is gone within a second on a quiet machine.
      timeoutMs: 30_000,
    });
  });

  it("stops only its own process, idempotently", { timeout: EMULATOR_HOOK_TIMEOUT_MS }, async () => {
    const [a, b] = await Promise.all([startEmulator(), startEmulator()]);
    try {
      expect(a.port).not.toBe(b.port);
      await Promise.all([a.stop(), a.stop()]);
      expect(alive(a.pid)).toBe(false);
      expect(await answers(a.endpoint)).toBe(false);
      expect(await answers(b.endpoint)).toBe(true);
    } finally {
      await b.stop();
    }
  });

  it("refuses to start when a moto internal it patches is gone (a moto upgrade cannot drop a behaviour)", {
    timeout: 150_000,
  }, () => {
    const repo = fileURLToPath(new URL("../..", import.meta.url));
    const script = [
      "import runpy, sys",
      "import moto.elbv2.models as m",
      "del m.FakeTargetGroup.health_for",
      `sys.argv = ['server.py', '--port', '0', '--no-parent-watch']`,
      `runpy.run_path(${JSON.stringify(join(repo, "test/emulator/server.py"))}, run_name='__main__')`,
    ].join("\n");
    const run = spawnSync("/usr/bin/python3", ["-c", script], {
      env: {
        PYTHONPATH: join(repo, ".emulator/usr/lib/python3/dist-packages"),
        PYTHONDONTWRITEBYTECODE: "1",
      },
      encoding: "utf8",
      // It exits on its own once moto is imported (~1 s of CPU); the cap is for a hang.
      timeout: 120_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stdout).not.toContain("GRAY_EMULATOR_READY");
    expect(run.stderr).toMatch(/moto internal moto\.elbv2\.models\.FakeTargetGroup\.health_for is missing/);
  });

  it("a start that is not ready by its deadline fails saying what it waited for and what it saw", async () => {
    // Wall time: a process that is blocked.
    await expect(startEmulator({ startTimeoutMs: 1 })).rejects.toThrow(
      /did not start: not ready within 1 ms of wall time\. Waited for the "GRAY_EMULATOR_READY" line on its stdout; saw: after \d+ ms; the process used \d+ ms of CPU; machine load [\d.]+ on \d+ CPUs; stdout empty\.[\s\S]*Fix: run `bash scripts\/install-emulator\.sh`/,
    );
    // CPU time: a process that works without getting ready (a cold start needs ~1 s of it).
    await expect(startEmulator({ startCpuBudgetMs: 1 })).rejects.toThrow(
      /did not start: not ready after 1 ms of its own CPU time\. Waited for the "GRAY_EMULATOR_READY" line/,
    );
  });

  it("fails with the fix in the message when moto cannot be loaded", async () => {
    await expect(startEmulator({ env: { PYTHONPATH: "/nonexistent" } })).rejects.toThrow(
      /did not start[\s\S]*cannot import moto[\s\S]*bash scripts\/install-emulator\.sh/,
    );
  });
});
