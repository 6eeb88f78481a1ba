/**
 * Strict mode for the AWS emulator: see proxy.ts. `startStrictProxy` is what test/support/emulator.ts
 * calls; it works out which test file it serves (for emulator-only.ts) when run under vitest.
 */
import { exemptionsFor, STRICT_OFF, strictOffAllowed } from "./emulator-only.js";
import { StrictProxy } from "./proxy.js";

export { EMULATOR_ONLY, exemptionsFor, STRICT_OFF, SUB_MINUTE_METRIC_TESTS } from "./emulator-only.js";
export {
  checkRequest,
  describeViolation,
  StrictProxy,
  type StrictStats,
  type StrictViolation,
} from "./proxy.js";
export { RULES } from "./rules.js";

/** The vitest test file running now, or undefined outside vitest. */
async function currentTestFile(): Promise<string | undefined> {
  if (!process.env.VITEST) return undefined;
  try {
    const { expect } = await import("vitest");
    return expect.getState().testPath ?? undefined;
  } catch {
    return undefined; // a child process of a test inherits VITEST but is no vitest worker
  }
}

/** A started strict proxy in front of `target` (the emulator's own endpoint). */
export async function startStrictProxy(target: string, testFile?: string): Promise<StrictProxy> {
  // A benchmark script (no vitest worker) is named by its own path, as a test file is.
  const file = testFile ?? (await currentTestFile()) ?? process.argv[1];
  const proxy = new StrictProxy({ target, exemptions: exemptionsFor(file), label: file ?? process.argv[1] });
  await proxy.start();
  return proxy;
}

/** Throws unless the running test file may start the emulator without strict mode (STRICT_OFF). */
export async function assertStrictOffAllowed(): Promise<void> {
  const file = await currentTestFile();
  if (!strictOffAllowed(file)) {
    throw new Error(
      `startEmulator({ strict: false }) from ${file ?? process.argv[1]}: strict mode may be off only for ${STRICT_OFF.map((s) => s.files).join(", ")} (test/support/strict/emulator-only.ts says why)`,
    );
  }
}
