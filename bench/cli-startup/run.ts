/**
 * What one spawn of the CLI (`node bin/gray-deploy.mjs …`) costs in CPU, by kind of run (issue 14:
 * the suite spawns the CLI about 150 times on a 2-core machine, so its start-up is a large share of
 * the suite's CPU). Each case is spawned `--runs` times, one at a time, under `/usr/bin/time`, which
 * reports the user + system CPU of the process and everything it waited for (tsx's loader thread, a
 * local run's fleet processes).
 *
 *   npx tsx bench/cli-startup/run.ts                # 5 runs of each case
 *   npx tsx bench/cli-startup/run.ts --runs 10 --json
 *   npx tsx bench/cli-startup/run.ts --only help,bad-flag
 *   npx tsx bench/cli-startup/run.ts --only plan-aws --runs 1 --node-args="--cpu-prof --cpu-prof-dir=/tmp/p"
 *   GRAY_DEPLOY_BUNDLE=off npx tsx bench/cli-startup/run.ts   # through tsx, not the bundle (bin/launch.mjs)
 *
 * Cases:
 * - `help`: `--help`;
 * - `bad-flag`: `deploy-gray --json --no-such-flag` (refused by the parser);
 * - `invalid`: `plan --target aws --json` without its required options (refused by the contract);
 * - `plan-local`: `plan --target local --json` (starts the local environment's stable pool);
 * - `plan-aws`: `plan --json` against the AWS emulator (test/emulator) and the AWS tests' world: the
 *   AWS SDK clients load and the preflight reads run (the emulator is started once, not counted).
 *
 * The numbers are CPU seconds per spawn (median, min, max) and wall time; on a shared machine the
 * wall time is noise, the CPU much less so. Nothing here is asserted: it is a measurement.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildWorld, cliEnv, rawOptions, type World } from "../../test/aws/support/world.js";
import { flags } from "../../test/security/support/capture.js";
import { awsClients } from "../../test/support/aws-fixture.js";
import { type Emulator, startEmulator } from "../../test/support/emulator.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(REPO, "bin/gray-deploy.mjs");
const TIME = "/usr/bin/time";

const args = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
    // Extra node options for the spawned CLI, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (profiling).
    "node-args": { type: "string", default: "" },
  },
}).values;

const NODE_ARGS = (args["node-args"] ?? "").split(" ").filter((a) => a !== "");

interface Case {
  readonly name: string;
  readonly args: (w: World | null) => string[];
  readonly env?: (w: World | null) => Record<string, string>;
  /** The exit code this case must end with (a different one means the bench measured something else). */
  readonly code: number;
  readonly aws?: boolean;
}

const BASE_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/tmp",
  NO_COLOR: "1",
  AWS_EC2_METADATA_DISABLED: "true",
};

/** The launcher's switch, passed on when set: GRAY_DEPLOY_BUNDLE=off measures the spawn through tsx. */
const LAUNCHER: Record<string, string> =
  process.env.GRAY_DEPLOY_BUNDLE === undefined ? {} : { GRAY_DEPLOY_BUNDLE: process.env.GRAY_DEPLOY_BUNDLE };

const CASES: readonly Case[] = [
  { name: "help", args: () => ["--help"], code: 0 },
  { name: "bad-flag", args: () => ["deploy-gray", "--json", "--no-such-flag"], code: 2 },
  { name: "invalid", args: () => ["plan", "--target", "aws", "--json"], code: 2 },
  { name: "plan-local", args: () => ["plan", "--target", "local", "--json"], code: 0 },
  {
    name: "plan-aws",
    aws: true,
    args: (w) => ["plan", "--json", ...flags(rawOptions(w!, "plan"))],
    env: (w) => cliEnv(w!),
    code: 0,
  },
];

interface Sample {
  readonly cpu: number;
  readonly wall: number;
}

async function once(c: Case, w: World | null, dir: string): Promise<Sample> {
  const out = join(dir, "time");
  const child = spawn(
    TIME,
    ["-o", out, "-f", "%U %S %e", process.execPath, ...NODE_ARGS, BIN, ...c.args(w)],
    {
      cwd: REPO,
      env: { ...(c.env?.(w) ?? BASE_ENV), ...LAUNCHER },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== c.code) {
    throw new Error(`${c.name}: exit ${code}, expected ${c.code}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  const line = readFileSync(out, "utf8").trim().split("\n").at(-1) ?? "";
  const [user, sys, wall] = line.split(" ").map(Number);
  return { cpu: (user ?? 0) + (sys ?? 0), wall: wall ?? 0 };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const runs = Number(args.runs);
  const only = args.only?.split(",");
  const cases = CASES.filter((c) => only === undefined || only.includes(c.name));
  const dir = mkdtempSync(join(tmpdir(), "cli-startup-"));
  let emu: Emulator | null = null;
  let w: World | null = null;
  const rows: { name: string; runs: number; cpu: number; min: number; max: number; wall: number }[] = [];
  try {
    if (cases.some((c) => c.aws)) {
      emu = await startEmulator();
      w = await buildWorld(emu, awsClients(emu.clientConfig()));
    }
    for (const c of cases) {
      await once(c, w, dir); // warm the file cache and tsx's transform cache; not counted
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) samples.push(await once(c, w, dir));
      const cpu = samples.map((s) => s.cpu);
      rows.push({
        name: c.name,
        runs,
        cpu: median(cpu),
        min: Math.min(...cpu),
        max: Math.max(...cpu),
        wall: median(samples.map((s) => s.wall)),
      });
    }
  } finally {
    w?.aws.destroy();
    await emu?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  if (args.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log("| case | runs | CPU-s per spawn (median) | min | max | wall (median) |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.runs} | ${r.cpu.toFixed(2)} | ${r.min.toFixed(2)} | ${r.max.toFixed(2)} | ${r.wall.toFixed(2)} |`,
    );
  }
}

await main();
