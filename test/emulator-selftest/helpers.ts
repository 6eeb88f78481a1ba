import { afterAll, beforeAll, beforeEach } from "vitest";
import { type AwsClients, awsClients } from "../support/aws-fixture.js";
import {
  EMULATOR_HOOK_TIMEOUT_MS,
  type Emulator,
  type StartEmulatorOptions,
  startEmulator,
} from "../support/emulator.js";

/** One emulator for the calling test file, emptied before each test. */
export function useEmulator(opts: StartEmulatorOptions = {}): { emu: () => Emulator; aws: () => AwsClients } {
  let emu: Emulator | undefined;
  let aws: AwsClients | undefined;
  beforeAll(async () => {
    // These tests prove what the EMULATOR answers (invalid requests included): no strict proxy.
    emu = await startEmulator({ strict: false, ...opts });
    aws = awsClients(emu.clientConfig());
  }, EMULATOR_HOOK_TIMEOUT_MS);
  beforeEach(async () => {
    await emu!.reset();
  });
  afterAll(async () => {
    aws?.destroy();
    await emu?.stop();
  });
  return { emu: () => emu!, aws: () => aws! };
}

/** Polls `probe` until it returns a value other than undefined/false, or throws after the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  // Readiness, not a clock: the bound only ends a wait for what never comes.
  { timeoutMs = 60_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last error: ${String(last)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
