/**
 * A rollback whose weight write fails: a release failing every payment (BAD_RELEASE) is rolled back
 * at its first step while the fault proxy answers the rollback's ModifyRule (stable 100 / gray 0,
 * stickiness off) with a fault — for `outageMs`, or for good (null). Returns what the report needs: how long the
 * rollback kept trying, how many attempts reached AWS, when stable was verified (if it was).
 * No assertions here: the test asserts, bench/safety measures.
 */

import type { RawOptions } from "../../../src/app/schema.js";
import type { CliResult, CliRun } from "./cli.js";
import { afterWeightWrite } from "./crash.js";
import type { Call, FaultKind } from "./fault-proxy.js";
import type { Scenario } from "./scenario.js";

export interface RollbackOutage {
  readonly run: CliRun;
  readonly result: CliResult;
  /** Every rollback write attempt that reached the proxy (faulted or not). */
  readonly attempts: Call[];
  /** When the first rollback write attempt arrived (epoch ms). */
  readonly firstAttemptAt: number;
  /** From the first to the last rollback write attempt answered. */
  readonly keptTryingMs: number;
  /** From the first rollback write attempt to the verified stable 100% (null: never). */
  readonly verifiedMs: number | null;
  /** From the first rollback write attempt to the process's end. */
  readonly toEndMs: number;
  /** Ends the outage (already ended for a timed one). */
  readonly endOutage: () => void;
}

/** The scenario must run a bad release caught at its first step: BAD_RELEASE (support/scenario.ts). */
export async function rollbackUnderOutage(
  s: Scenario,
  o: { readonly kind: FaultKind; readonly outageMs: number | null; readonly flags?: RawOptions },
): Promise<RollbackOutage> {
  const rollbackWrite = afterWeightWrite(s, { stable: 100, gray: 0 }, false);
  const endOutage = s.proxy.persistent(rollbackWrite, o.kind);
  const first = s.proxy.next(rollbackWrite);
  const run = s.cli("deploy-gray", s.flags(o.flags));
  const firstCall = await Promise.race([first, run.done.then(() => null)]);
  if (firstCall !== null && o.outageMs !== null) {
    await new Promise((r) => setTimeout(r, o.outageMs!));
    endOutage();
  }
  const result = await run.done;
  const attempts = s.proxy.calls.filter((c) => rollbackWrite(c));
  const firstAttemptAt = attempts[0]?.at ?? Number.NaN;
  const verified = run.lines.find((l) =>
    /traffic restored: stable 100% \/ gray 0% \(verified\)/.test(l.text),
  );
  return {
    run,
    result,
    attempts,
    firstAttemptAt,
    keptTryingMs: (attempts.at(-1)?.doneAt ?? Number.NaN) - firstAttemptAt,
    verifiedMs: verified ? verified.at - firstAttemptAt : null,
    toEndMs: result.endedAt - firstAttemptAt,
    endOutage,
  };
}
