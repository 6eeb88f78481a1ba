/**
 * `dagger develop` rewrites the module's tsconfig.json and package.json as the runtime does
 * (sdk/typescript/runtime/tsutils: tsconfig_updator.go, package_json_updator.go) and commits them with
 * a generated ./sdk that is not committed. What a maintainer commits after it must still type-check
 * on a fresh clone, where ./sdk does not exist.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { gitFiles, updatePackageJSONForModule, updateTSConfigForModule } from "./engine/runtime.js";
import { REPO } from "./scan.js";

const run = promisify(execFile);
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const works: string[] = [];

afterAll(async () => {
  await Promise.all(works.map((w) => rm(w, { recursive: true, force: true })));
});

const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;

/** The repository's tracked files (no ./sdk, no build output), its node_modules linked in. */
async function freshClone(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gray-deploy-clone-"));
  works.push(dir);
  for (const f of await gitFiles(REPO)) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await cp(join(REPO, f), join(dir, f));
  }
  await symlink(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** Exit code and output of `tsc --noEmit -p <project>` in `cwd`. */
async function typecheck(cwd: string, project: string): Promise<{ code: number; output: string }> {
  return run(process.execPath, [TSC, "--noEmit", "-p", project], { cwd, maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, output: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      output: `${e.stdout ?? ""}${e.stderr ?? ""}`,
    }),
  );
}

describe("after dagger develop", () => {
  it("tsconfig.json and package.json are already what the runtime writes: develop changes neither", async () => {
    const tsconfig = await readJson(join(REPO, "tsconfig.json"));
    expect(updateTSConfigForModule(tsconfig)).toEqual(tsconfig);
    const pkg = await readJson(join(REPO, "package.json"));
    expect(updatePackageJSONForModule(pkg)).toEqual(pkg);
  });

  it("npm run typecheck passes on a fresh clone (no ./sdk) with the rewritten tsconfig.json", async () => {
    const clone = await freshClone();
    const path = join(clone, "tsconfig.json");
    await writeFile(path, JSON.stringify(updateTSConfigForModule(await readJson(path)), null, 2));
    const script = ((await readJson(join(clone, "package.json"))).scripts as Record<string, string>)
      .typecheck;
    expect(script).toBe("tsc --noEmit -p tsconfig.json");
    const result = await typecheck(clone, "tsconfig.json");
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  }, 180_000);

  it("control: without the fallback declaration in types/, the rewritten paths leave the SDK unresolved", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gray-deploy-develop-control-"));
    works.push(dir);
    await symlink(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
    const tsconfig = updateTSConfigForModule(await readJson(join(REPO, "tsconfig.json")));
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ ...tsconfig, include: ["probe.ts"] }));
    await writeFile(
      join(dir, "probe.ts"),
      'import { dag } from "@dagger.io/dagger";\nexport const c = dag.container();\n',
    );
    const without = await typecheck(dir, "tsconfig.json");
    expect(without.code).not.toBe(0);
    expect(without.output).toContain("Cannot find module '@dagger.io/dagger'");
    // The same probe with the repository's declaration type-checks.
    await mkdir(join(dir, "types"));
    await cp(join(REPO, "types/dagger-sdk.d.ts"), join(dir, "types/dagger-sdk.d.ts"));
    await writeFile(
      join(dir, "tsconfig.json"),
      JSON.stringify({ ...tsconfig, include: ["probe.ts", "types/*.d.ts"] }),
    );
    const withShim = await typecheck(dir, "tsconfig.json");
    expect(withShim.output).toBe("");
    expect(withShim.code).toBe(0);
  }, 60_000);
});
