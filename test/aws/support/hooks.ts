/** vitest hooks for the AWS tests (kept apart from world.ts so scripts can use the world without vitest). */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type AwsClients, awsClients } from "../../support/aws-fixture.js";
import {
  EMULATOR_HOOK_TIMEOUT_MS,
  type Emulator,
  type StartEmulatorOptions,
  startEmulator,
} from "../../support/emulator.js";

/** One emulator for the calling test file, emptied before each test. */
export function useAwsEmulator(opts: StartEmulatorOptions = {}): {
  emu: () => Emulator;
  aws: () => AwsClients;
} {
  let emu: Emulator | undefined;
  let aws: AwsClients | undefined;
  beforeAll(async () => {
    emu = await startEmulator(opts);
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
