/**
 * How many bytes a `dagger call` of this module uploads to the engine for its Directory arguments,
 * as the engine 0.21 selects them (read from its source, dagger/dagger 0.21 branch):
 *
 * - a contextual default (`defaultPath`) of a local module: core/modulesource.go `LoadContextDir` →
 *   host.directory(<repository root><defaultPath>, exclude: the argument's `ignore`, noCache) — every
 *   file on disk, .gitignore NOT applied, loaded again on every call that omits the argument; for a
 *   module loaded from git, the same patterns over the repository's tracked files;
 * - a directory the caller passes (`--source DIR`): cmd/dagger flags.go → address.directory(exclude:
 *   the argument's `ignore`);
 * - the module's own source: core/schema/modulesource.go `loadModuleSourceContext` (dagger.json
 *   `include`, .gitignore applied).
 *
 * Patterns follow moby's patternmatcher (@balena/dockerignore). The argument's current defaultPath and
 * ignore are read from src/ by the SDK's introspector; `--before` also measures the setting this
 * module had before issue 13 (defaultPath "/", ignore .git, **\/node_modules, .dagger, sdk, **\/.terraform).
 *
 *   npx tsx scripts/dagger-upload-size.ts [--before] [--source examples/sample-gateway]
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import dockerignore from "@balena/dockerignore";
import { bytesOf, gitFiles, moduleSourceFiles } from "../test/dagger/engine/runtime.js";
import { REPO, scanModule } from "../test/dagger/scan.js";

interface Selection {
  readonly files: number;
  readonly bytes: number;
  /** Bytes per top-level entry, largest first. */
  readonly top?: readonly (readonly [string, number])[];
}

/** Every file under `root/sub` that `exclude` does not drop, walking only what is not excluded. */
async function onDisk(root: string, sub: string, exclude: readonly string[]): Promise<Selection> {
  const ig = dockerignore({ ignorecase: false }).add([...exclude]);
  let files = 0;
  let bytes = 0;
  const byTop = new Map<string, number>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(root, sub, rel), { withFileTypes: true })) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (ig.ignores(path)) continue;
      if (e.isDirectory()) await walk(path);
      else {
        const size = (await lstat(join(root, sub, path))).size;
        files++;
        bytes += size;
        const top = path.split("/")[0]!;
        byTop.set(top, (byTop.get(top) ?? 0) + size);
      }
    }
  };
  await walk("");
  return { files, bytes, top: [...byTop].sort((a, b) => b[1] - a[1]).slice(0, 4) };
}

/** The repository's tracked files under `sub` that `exclude` does not drop (a module loaded from git). */
async function tracked(sub: string, exclude: readonly string[]): Promise<Selection> {
  const ig = dockerignore({ ignorecase: false }).add([...exclude]);
  const prefix = sub === "" ? "" : `${sub}/`;
  const files = (await gitFiles(REPO))
    .filter((f) => f.startsWith(prefix))
    .map((f) => f.slice(prefix.length))
    .filter((f) => !ig.ignores(f));
  return { files: files.length, bytes: await bytesOf(join(REPO, sub), files) };
}

const fmt = (s: Selection) =>
  `${s.bytes.toLocaleString("en-US")} bytes in ${s.files} files` +
  (s.top && s.files > 10
    ? ` (largest: ${s.top.map(([t, b]) => `${t} ${b.toLocaleString("en-US")}`).join(", ")})`
    : "");

const args = process.argv.slice(2);
const before = args.includes("--before");
const sourceAt = args.indexOf("--source");
const source = sourceAt >= 0 ? args[sourceAt + 1]! : "examples/sample-gateway";

const gray = (await scanModule()).objects.GrayDeploy!;
const lines: string[] = [];
const dirs = new Map<string, { defaultPath: string; ignore: string[] }>();
for (const fn of Object.values(gray.functions)) {
  for (const a of fn.arguments) {
    if (a.type?.kind === "OBJECT_KIND" && a.type.name === "Directory") {
      dirs.set(`${fn.name}.${a.name}`, { defaultPath: a.defaultPath ?? "", ignore: a.ignore ?? [] });
    }
  }
}

const measure = async (label: string, defaultPath: string, ignore: readonly string[]) => {
  lines.push(`${label}: defaultPath ${JSON.stringify(defaultPath)}, ignore ${JSON.stringify(ignore)}`);
  if (defaultPath === "") {
    lines.push("  call without --source (e.g. --image, --target local): 0 bytes (no contextual directory)");
  } else {
    const sub = defaultPath.replace(/^\/+/, "");
    lines.push(
      `  call without --source, local checkout (every file on disk): ${fmt(await onDisk(REPO, sub, ignore))}`,
    );
    lines.push(
      `  call without --source, module loaded from git (tracked files): ${fmt(await tracked(sub, ignore))}`,
    );
  }
  lines.push(`  --source ${source} (this checkout): ${fmt(await onDisk(REPO, source, ignore))}`);
};

if (before) {
  await measure("before issue 13, every Directory argument", "/", [
    ".git",
    "**/node_modules",
    ".dagger",
    "sdk",
    "**/.terraform",
  ]);
}
const distinct = new Map<string, string[]>();
for (const [where, d] of dirs) {
  const key = JSON.stringify(d);
  distinct.set(key, [...(distinct.get(key) ?? []), where]);
}
for (const [key, where] of distinct) {
  const d = JSON.parse(key) as { defaultPath: string; ignore: string[] };
  await measure(`now, ${where.join(", ")}`, d.defaultPath, d.ignore);
}
const own = await moduleSourceFiles(REPO);
lines.push(
  `the module's own source (dagger.json include, gitignore on; loaded with the module on every call): ${fmt({ files: own.length, bytes: await bytesOf(REPO, own) })}`,
);
console.log(lines.join("\n"));
