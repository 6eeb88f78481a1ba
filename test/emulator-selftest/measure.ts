// Measures the emulator's cold start, reset and fixture build times (reported, never asserted).
// Run: npx tsx test/emulator-selftest/measure.ts [runs]
import { awsClients, buildAwsFixture } from "../support/aws-fixture.js";
import { startEmulator } from "../support/emulator.js";

const runs = Number(process.argv[2] ?? 5);
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]!, runs: s.length };
};

const starts: number[] = [];
const pythonSide: number[] = [];
const firstFixture: number[] = [];
const fixtures: number[] = [];
const resets: number[] = [];
for (let i = 0; i < runs; i++) {
  let t0 = process.hrtime.bigint();
  const emu = await startEmulator();
  starts.push(ms(t0));
  pythonSide.push(emu.info.startupSeconds * 1000);
  const aws = awsClients(emu.clientConfig());
  t0 = process.hrtime.bigint();
  await buildAwsFixture(aws);
  firstFixture.push(ms(t0));
  for (let j = 0; j < 3; j++) {
    t0 = process.hrtime.bigint();
    await emu.reset();
    resets.push(ms(t0));
    t0 = process.hrtime.bigint();
    await buildAwsFixture(aws);
    fixtures.push(ms(t0));
  }
  aws.destroy();
  await emu.stop();
}
console.log(
  JSON.stringify(
    {
      coldStartToReadyMs: stats(starts),
      pythonImportAndPatchMs: stats(pythonSide),
      firstFixtureBuildMs: stats(firstFixture),
      resetWithFixtureStateMs: stats(resets),
      warmFixtureBuildMs: stats(fixtures),
    },
    null,
    2,
  ),
);
