// How bin/gray-deploy.mjs loads the CLI's TypeScript sources: from a bundle of src/ that esbuild (which
// tsx itself runs on) builds into node_modules/.cache/gray-deploy/, named after a hash of every source
// file's path and content, so a bundle is used only while it is exactly what src/ holds. Loading one
// bundle costs a spawn about a third of what tsx's loader and its per-module resolution cost (bench/
// cli-startup); the CLI is spawned once per pipeline step, and hundreds of times by the test suite.
//
// The bundle keeps the CLI's lazy loading: each dynamic import of src/ becomes a chunk loaded when a
// run needs it. Packages stay outside (loaded from node_modules as before), `import.meta.url` keeps
// meaning the source file it is written in, and `require` (the AWS SDK's clients, src/aws/sdk.cjs)
// resolves from the package. Anything that stops the bundle from being built or written (a read-only
// install, a missing esbuild) falls back to tsx, as does GRAY_DEPLOY_BUNDLE=off (e.g. for stack
// traces that name the sources).
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SRC = join(ROOT, "src");
const ENTRY = join(SRC, "cli", "main.ts");
/** Where bundles live; one directory per hash of the sources. */
const CACHE = join(ROOT, "node_modules", ".cache", "gray-deploy");
/** Changed whenever the build below changes, so an older bundle is never taken for a new one. */
const BUILD = "cli-bundle-1";
/** Bundles of other sources are removed once this old (a long rollout may still load their chunks). */
const KEEP_MS = 7 * 24 * 3600_000;

/** The hash of every .ts/.cjs/.mjs/.json file under src/: its path and its content. */
function sourceKey() {
  const hash = createHash("sha256").update(BUILD);
  const files = readdirSync(SRC, { recursive: true })
    .map(String)
    .filter((f) => /\.(ts|cjs|mjs|json)$/.test(f))
    .sort();
  for (const f of files) {
    hash.update(`\0${f.split(sep).join("/")}\0`);
    hash.update(readFileSync(join(SRC, f)));
  }
  return hash.digest("hex").slice(0, 20);
}

/** Builds the bundle of `key` into its directory (written aside, then renamed into place). */
async function build(key) {
  const { build: esbuild, version } = await import("esbuild");
  const dir = join(CACHE, key);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await bundle(esbuild, version, tmp);
    try {
      renameSync(tmp, dir);
    } catch {
      // Another process built the same sources first: theirs is identical (removed below).
    }
  } finally {
    // A failed build, or one that lost the race: nothing half-written stays in the cache.
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(key);
  return dir;
}

/** esbuild's bundle of the CLI into `outdir`, with chunks.json (which sources each chunk holds). */
async function bundle(esbuild, version, outdir) {
  const result = await esbuild({
    absWorkingDir: ROOT, // metafile paths relative to the package: src/…
    entryPoints: { main: ENTRY },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    outdir,
    metafile: true,
    logLevel: "silent",
    // `require` for the CommonJS sources (src/aws/sdk.cjs), resolved from this package's node_modules.
    banner: {
      js: 'import { createRequire as __grayCreateRequire } from "node:module"; const require = __grayCreateRequire(import.meta.url);',
    },
    plugins: [
      {
        name: "source-import-meta-url",
        setup(b) {
          // import.meta.url keeps naming the source file (e.g. src/local/instance.ts finds
          // examples/sample-gateway relative to itself), not the chunk it ends up in.
          b.onLoad({ filter: /\.ts$/ }, async (a) => ({
            contents: (await readFile(a.path, "utf8")).replaceAll(
              "import.meta.url",
              JSON.stringify(pathToFileURL(a.path).href),
            ),
            loader: "ts",
          }));
        },
      },
    ],
  });
  // Which sources each chunk holds (test/cli/startup.test.ts maps what a spawn loaded back to src/).
  const chunks = {};
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    chunks[relative(outdir, join(ROOT, out))] = Object.keys(meta.inputs);
  }
  writeFileSync(join(outdir, "chunks.json"), JSON.stringify({ esbuild: version, chunks }, null, 1));
}

function prune(keep) {
  for (const name of readdirSync(CACHE)) {
    if (name === keep) continue;
    const path = join(CACHE, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}

/**
 * The CLI's `main`: from the bundle of the current sources (built first if there is none), or through
 * tsx when bundling is off or cannot be done here.
 */
export async function loadMain(env = process.env) {
  if (env.GRAY_DEPLOY_BUNDLE !== "off") {
    let main;
    try {
      const key = sourceKey();
      let dir = join(CACHE, key);
      try {
        statSync(join(dir, "chunks.json"));
      } catch {
        dir = await build(key);
      }
      main = join(dir, "main.js");
      statSync(main);
    } catch {
      main = undefined; // fall back to tsx below
    }
    if (main !== undefined) return (await import(pathToFileURL(main).href)).main;
  }
  const { register } = await import("tsx/esm/api");
  register();
  return (await import(pathToFileURL(ENTRY).href)).main;
}
