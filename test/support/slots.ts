/**
 * A limit on how many heavy things (a safety scenario: an emulator, a data plane with real traffic,
 * CLI processes) run at once on this machine, across vitest's worker processes — a per-file limit
 * let two or three files' scenarios pile up on two cores while the other workers had lighter work.
 *
 * Tickets: each taker writes a file named after when it asked, its pid and a sequence number into a
 * directory of this checkout under the system's temp directory; it holds a slot while its ticket is
 * among the first `max` of live takers (first come, first served), and removes it to give the slot
 * back. Tickets of processes that died (a killed worker) are ignored and cleaned up.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
let seq = 0;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Waits for one of `max` machine-wide slots named `name`; resolves with the function that frees it. */
export async function machineSlot(name: string, max: number, pollMs = 200): Promise<() => void> {
  const dir = join(
    tmpdir(),
    `gray-deploy-${name}-${createHash("sha1").update(REPO).digest("hex").slice(0, 12)}`,
  );
  mkdirSync(dir, { recursive: true });
  // Zero-padded time first: names sort in the order the takers asked.
  const ticket = `${String(Date.now()).padStart(15, "0")}-${process.pid}-${++seq}`;
  writeFileSync(join(dir, ticket), "");
  let freed = false;
  const free = (): void => {
    if (freed) return;
    freed = true;
    rmSync(join(dir, ticket), { force: true });
  };
  try {
    for (;;) {
      const live: string[] = [];
      for (const t of readdirSync(dir).sort()) {
        const pid = Number(t.split("-")[1]);
        if (Number.isInteger(pid) && alive(pid)) live.push(t);
        else rmSync(join(dir, t), { force: true });
      }
      if (!live.includes(ticket))
        writeFileSync(join(dir, ticket), ""); // cleaned by mistake: ask again
      else if (live.indexOf(ticket) < max) return free;
      await sleep(pollMs);
    }
  } catch (e) {
    free();
    throw e;
  }
}
