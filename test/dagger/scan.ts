/**
 * Runs the Dagger TypeScript SDK's own introspector (the code the engine runs to register a module)
 * on this repository's `src/`, without an engine: the module's surface as the engine would see it.
 *
 * The introspector resolves core types (Directory, Secret, …) by name from a non-declaration file
 * whose name ends in `client.gen.ts`, and needs `@dagger.io/dagger` to resolve from the sources as it
 * does in the engine (where ./sdk is generated). So the sources are copied to a temporary module
 * folder whose node_modules maps `@dagger.io/dagger` to the published SDK (installed here as
 * `dagger-sdk`), beside a copy of the SDK's `client.gen.d.ts` named `client.gen.ts`.
 */
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The introspector's JSON for one argument (`toJSON()` of DaggerArgument). */
export interface ScannedArgument {
  name: string;
  description: string;
  type: { kind: string; name?: string; typeDef?: { kind: string; name?: string } } | undefined;
  isVariadic: boolean;
  isNullable: boolean;
  isOptional: boolean;
  defaultValue?: unknown;
  defaultPath?: string;
  ignore?: string[];
}

export interface ScannedFunction {
  name: string;
  description: string;
  /** The `@func({ cache })` policy (not part of toJSON, read from the function object). */
  cache: string | undefined;
  /** In declaration order, the order the runtime passes them in. */
  arguments: ScannedArgument[];
  returnType: { kind: string; name?: string } | undefined;
}

export interface ScannedObject {
  name: string;
  description: string;
  functions: Record<string, ScannedFunction>;
  constructorArguments: ScannedArgument[];
  properties: string[];
}

export interface ScannedModule {
  name: string;
  description: string | undefined;
  objects: Record<string, ScannedObject>;
}

interface RawFunction {
  cache?: string;
  toJSON(): {
    name: string;
    description: string;
    arguments: Record<string, { toJSON(): ScannedArgument }>;
    returnType: ScannedFunction["returnType"];
  };
}

interface RawModule {
  name: string;
  description?: string;
  objects: Record<
    string,
    {
      name: string;
      description: string;
      methods: Record<string, RawFunction>;
      _constructor?: { toJSON(): { arguments: Record<string, { toJSON(): ScannedArgument }> } };
      properties: Record<string, unknown>;
    }
  >;
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** Scans the module `moduleName` whose sources are in `srcDir` (default: this repository's src/). */
export async function scanModule(
  srcDir = join(REPO, "src"),
  moduleName = "gray-deploy",
): Promise<ScannedModule> {
  const require = createRequire(import.meta.url);
  const sdkEntry = require.resolve("dagger-sdk"); // …/dagger-sdk/dist/src/index.js
  const sdkRoot = resolve(dirname(sdkEntry), "../..");
  const { scan } = (await import(
    pathToFileURL(join(dirname(sdkEntry), "module/introspector/index.js")).href
  )) as {
    scan(files: string[], name: string, load: boolean): Promise<RawModule>;
  };
  const work = await mkdtemp(join(tmpdir(), "gray-deploy-scan-"));
  try {
    await cp(srcDir, join(work, "src"), { recursive: true });
    await mkdir(join(work, "node_modules/@dagger.io"), { recursive: true });
    await symlink(sdkRoot, join(work, "node_modules/@dagger.io/dagger"), "dir");
    await cp(join(sdkRoot, "dist/src/api/client.gen.d.ts"), join(work, "client.gen.ts"));
    const files = [...(await tsFiles(join(work, "src"))), join(work, "client.gen.ts")];
    const raw = await scan(files, moduleName, false);
    const objects: Record<string, ScannedObject> = {};
    for (const [name, obj] of Object.entries(raw.objects)) {
      const functions: Record<string, ScannedFunction> = {};
      for (const [fname, fn] of Object.entries(obj.methods)) {
        const json = fn.toJSON();
        functions[fname] = {
          name: json.name,
          description: json.description,
          cache: fn.cache,
          arguments: Object.values(json.arguments).map((a) => JSON.parse(JSON.stringify(a.toJSON()))),
          returnType: json.returnType,
        };
      }
      objects[name] = {
        name: obj.name,
        description: obj.description,
        functions,
        constructorArguments: obj._constructor
          ? Object.values(obj._constructor.toJSON().arguments).map((a) =>
              JSON.parse(JSON.stringify(a.toJSON())),
            )
          : [],
        properties: Object.keys(obj.properties),
      };
    }
    return { name: raw.name, description: raw.description, objects };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
