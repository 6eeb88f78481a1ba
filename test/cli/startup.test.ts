/**
 * What the CLI loads before it knows it needs it. Every spawn of `node bin/gray-deploy.mjs` pays, in
 * CPU, for each module it imports (bench/cli-startup measures it); `--help` and input refused by the
 * parser or the contract need only the options schema, so they must not load the engine, the
 * reports, a target's adapters, the AWS SDK or the HTTP client. Each run here is traced by a loader
 * hook (support/trace-loads.mjs) that lists every module the ESM loader loaded, and must still answer
 * exactly as before: help on stdout and exit 0, or a refused Outcome with exit 2.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Outcome } from "../../src/contract/outcome.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin/gray-deploy.mjs");
const TRACE = pathToFileURL(fileURLToPath(new URL("./support/trace-loads.mjs", import.meta.url))).href;
const dir = mkdtempSync(join(tmpdir(), "cli-startup-"));
const CACHE = join(ROOT, "node_modules/.cache/gray-deploy");
/** The bundles there before this file ran; those it adds (of edited copies) are removed after. */
const before = ((): string[] => {
  try {
    return readdirSync(CACHE);
  } catch {
    return [];
  }
})();
const bundlesMade: string[] = [];
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const b of bundlesMade) rmSync(join(CACHE, b), { recursive: true, force: true });
});

interface Traced {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every module loaded, relative to the repository (node_modules/… for packages). */
  readonly loaded: readonly string[];
}

/**
 * A loaded file of the CLI's bundle (bin/launch.mjs) stands for the sources esbuild put in it, as its
 * chunks.json lists them; every other file stands for itself. A chunk runs all of its sources when it
 * loads, so "a source was loaded" means the same through the bundle as through tsx.
 */
function sourcesOf(file: string): string[] {
  const m = /^node_modules\/\.cache\/gray-deploy\/([^/]+)\/(.+)$/.exec(file);
  if (m === null) return [file];
  const index = JSON.parse(
    readFileSync(join(ROOT, "node_modules/.cache/gray-deploy", m[1]!, "chunks.json"), "utf8"),
  ) as {
    chunks: Record<string, string[]>;
  };
  const sources = index.chunks[m[2]!];
  if (sources === undefined) throw new Error(`${file} is not a chunk its chunks.json lists`);
  return [file, ...sources];
}

let runs = 0;
function traced(args: readonly string[], env: Record<string, string> = {}, bin = BIN): Promise<Traced> {
  const file = join(dir, `loads-${runs++}.txt`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TRACE, bin, ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        NO_COLOR: "1",
        GRAY_TRACE_LOADS: file,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.once("error", reject);
    child.once("close", (code) => {
      const loaded = readFileSync(file, "utf8")
        .split("\n")
        .filter((u) => u.startsWith("file:"))
        .flatMap((u) => sourcesOf(fileURLToPath(u).replace(ROOT, "")));
      resolve({ code, stdout, stderr, loaded });
    });
  });
}

/** What none of these runs may load: the run-time half of the CLI. */
const NOT_BEFORE_A_RUN = [
  /^src\/engine\/engine\.ts$/,
  /^src\/engine\/verbs\.ts$/,
  /^src\/report\//,
  /^src\/notify\//,
  /^src\/aws\/(target|connection)\.ts$/,
  // The SDK loads by require from here (CommonJS requires are not traced): this file stands for it.
  /^src\/aws\/sdk\.cjs$/,
  /^src\/local\/environment\.ts$/,
  /^src\/zabbix\/client\.ts$/,
  /^src\/hooks\//,
  /^node_modules\/@aws-sdk\//,
  /^node_modules\/undici\//,
  /^node_modules\/(d3-[a-z]+|yaml|p-retry|hdr-histogram-js)\//,
];

function heavy(loaded: readonly string[]): string[] {
  return loaded.filter((m) => NOT_BEFORE_A_RUN.some((re) => re.test(m)));
}

describe("the CLI loads only what a run needs", () => {
  it("--help: the help, exit 0, and nothing of the engine, the adapters or the SDK", async () => {
    const r = await traced(["--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/deploy-gray/);
    // The trace saw the CLI's own modules (it is not an empty list that passes by seeing nothing).
    expect(r.loaded).toContain("src/cli/main.ts");
    expect(r.loaded).toContain("src/contract/options/schema.ts");
    expect(heavy(r.loaded)).toEqual([]);
  }, 60_000);

  it("an unknown flag: refused by the parser (exit 2, INVALID_INPUT), loading none of it", async () => {
    const r = await traced(["deploy-gray", "--json", "--no-such-flag"]);
    expect(r.code, r.stderr).toBe(2);
    const outcome = JSON.parse(r.stdout) as Outcome;
    expect(outcome.outcome).toBe("refused");
    expect(outcome.error?.code).toBe("INVALID_INPUT");
    expect(outcome.reason).toMatch(/no-such-flag/);
    expect(r.loaded).toContain("src/cli/main.ts");
    expect(heavy(r.loaded)).toEqual([]);
  }, 60_000);

  it("options the contract refuses: exit 2 naming each field, loading none of it", async () => {
    const r = await traced(["plan", "--target", "aws", "--json"]);
    expect(r.code, r.stderr).toBe(2);
    const outcome = JSON.parse(r.stdout) as Outcome;
    expect(outcome.outcome).toBe("refused");
    expect(outcome.error?.code).toBe("INVALID_INPUT");
    expect(outcome.reason).toMatch(/--listener-arn: is required/);
    expect(r.loaded).toContain("src/app/resolve.ts");
    expect(heavy(r.loaded)).toEqual([]);
  }, 60_000);

  it("a run loads the rest when it needs it: plan on the local target", async () => {
    const r = await traced(["plan", "--target", "local", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: "local" });
    // The trace lists what a run loads: the engine and the local environment, never the AWS SDK.
    expect(r.loaded).toContain("src/engine/verbs.ts");
    expect(r.loaded).toContain("src/local/environment.ts");
    expect(
      r.loaded.filter((m) => /^(node_modules\/@aws-sdk\/|src\/aws\/(sdk\.cjs|connection\.ts))/.test(m)),
    ).toEqual([]);
  }, 60_000);
});

describe("the launcher (bin/launch.mjs): a bundle of exactly the current sources, or tsx", () => {
  it("GRAY_DEPLOY_BUNDLE=off runs the sources through tsx, loading the same little", async () => {
    const r = await traced(["--help"], { GRAY_DEPLOY_BUNDLE: "off" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/deploy-gray/);
    expect(r.loaded).toContain("src/cli/main.ts");
    expect(r.loaded.filter((m) => m.startsWith("node_modules/.cache/"))).toEqual([]);
    expect(heavy(r.loaded)).toEqual([]);
  }, 60_000);

  it("an edited source is what the next spawn runs: the bundle is rebuilt, never stale", async () => {
    // A copy of the package whose node_modules is this one's: its bundles land in the same cache,
    // under the hash of the copy's sources.
    const pkg = join(dir, "pkg");
    cpSync(join(ROOT, "src"), join(pkg, "src"), { recursive: true });
    cpSync(join(ROOT, "bin"), join(pkg, "bin"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));
    const run = async (): Promise<{ stdout: string; bundles: string[]; loaded: readonly string[] }> => {
      const r = await traced(["--help"], {}, join(pkg, "bin/gray-deploy.mjs"));
      expect(r.code, r.stderr).toBe(0);
      return { stdout: r.stdout, bundles: readdirSync(CACHE), loaded: r.loaded };
    };
    const program = join(pkg, "src/cli/program.ts");
    const marker = `edited ${process.pid}`;
    const first = await run();
    expect(first.stdout).toMatch(/Gray \(canary\) deployments/);
    expect(first.stdout).not.toContain(marker);
    writeFileSync(
      program,
      readFileSync(program, "utf8").replace(
        "Gray (canary) deployments",
        `Gray (canary) deployments, ${marker},`,
      ),
    );
    const second = await run();
    expect(second.stdout).toContain(marker);
    const added = second.bundles.filter((b) => !first.bundles.includes(b));
    bundlesMade.push(...added, ...first.bundles.filter((b) => !before.includes(b)));
    expect(added).toHaveLength(1);
    // Both ran from a bundle (the copy's), not through tsx.
    for (const r of [first, second]) {
      expect(r.loaded.some((m) => m.startsWith("node_modules/.cache/gray-deploy/"))).toBe(true);
      expect(r.loaded).toContain("src/cli/program.ts");
    }
  }, 60_000);
});
