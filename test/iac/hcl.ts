/**
 * Loads a Terraform directory through the real HCL parser (@cdktn/hcl2json: HashiCorp's Go HCL
 * parser compiled to WASM, no provider and no network needed) and gives the tests a merged view.
 *
 * hcl2json keeps blocks as arrays and expressions as "${…}" strings: `raw` strips the wrapper so
 * tests can compare what the author wrote (`var.name`, `launch_template[0].version`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "@cdktn/hcl2json";

export type Body = Record<string, unknown>;

export interface TerraformDir {
  readonly dir: string;
  /** File name → parsed JSON of that file. */
  readonly files: Readonly<Record<string, Body>>;
  /** File name → source text. */
  readonly sources: Readonly<Record<string, string>>;
  readonly variables: Readonly<Record<string, Body>>;
  readonly outputs: Readonly<Record<string, Body>>;
  /** "type.name" → body. */
  readonly resources: Readonly<Record<string, Body>>;
  /** "type.name" → body. */
  readonly data: Readonly<Record<string, Body>>;
  readonly modules: Readonly<Record<string, Body>>;
  readonly locals: Readonly<Record<string, unknown>>;
  readonly terraform: readonly Body[];
}

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const MODULE_DIR = join(ROOT, "IaC", "modules", "gray-deployment");
export const EXAMPLE_DIR = join(ROOT, "IaC", "examples", "existing-alb");

function single(blocks: unknown, what: string): Body {
  if (!Array.isArray(blocks) || blocks.length !== 1) {
    throw new Error(`${what}: expected exactly one block, got ${JSON.stringify(blocks)}`);
  }
  return blocks[0] as Body;
}

function addUnique<T>(into: Record<string, T>, key: string, value: T, file: string): void {
  if (key in into) throw new Error(`${key} is declared twice (again in ${file})`);
  into[key] = value;
}

export async function loadTerraformDir(dir: string): Promise<TerraformDir> {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(".tf"))
    .sort();
  if (names.length === 0) throw new Error(`no .tf file in ${dir}`);
  const files: Record<string, Body> = {};
  const sources: Record<string, string> = {};
  const variables: Record<string, Body> = {};
  const outputs: Record<string, Body> = {};
  const resources: Record<string, Body> = {};
  const data: Record<string, Body> = {};
  const modules: Record<string, Body> = {};
  const locals: Record<string, unknown> = {};
  const terraform: Body[] = [];
  for (const name of names) {
    const text = readFileSync(join(dir, name), "utf8");
    sources[name] = text;
    const parsed = (await parse(name, text)) as Body;
    files[name] = parsed;
    for (const [key, value] of Object.entries(parsed)) {
      switch (key) {
        case "variable":
          for (const [v, blocks] of Object.entries(value as Body)) {
            addUnique(variables, v, single(blocks, `variable ${v}`), name);
          }
          break;
        case "output":
          for (const [o, blocks] of Object.entries(value as Body)) {
            addUnique(outputs, o, single(blocks, `output ${o}`), name);
          }
          break;
        case "resource":
        case "data": {
          const into = key === "resource" ? resources : data;
          for (const [type, byName] of Object.entries(value as Body)) {
            for (const [n, blocks] of Object.entries(byName as Body)) {
              addUnique(into, `${type}.${n}`, single(blocks, `${key} ${type}.${n}`), name);
            }
          }
          break;
        }
        case "module":
          for (const [m, blocks] of Object.entries(value as Body)) {
            addUnique(modules, m, single(blocks, `module ${m}`), name);
          }
          break;
        case "locals":
          for (const block of value as Body[]) {
            for (const [l, v] of Object.entries(block)) addUnique(locals, l, v, name);
          }
          break;
        case "terraform":
          terraform.push(...(value as Body[]));
          break;
        case "provider":
          break;
        default:
          throw new Error(`${name}: unexpected top-level block ${key}`);
      }
    }
  }
  return { dir, files, sources, variables, outputs, resources, data, modules, locals, terraform };
}

/** The expression inside a "${…}" string, or the string itself when it is a plain literal. */
export function raw(value: unknown): string {
  if (typeof value !== "string") return JSON.stringify(value);
  const m = /^\$\{([\s\S]*)\}$/.exec(value);
  return m ? m[1]!.trim() : value;
}

/** The single nested block `name` of a body (hcl2json keeps nested blocks as arrays). */
export function block(body: Body, name: string): Body {
  return single(body[name], name);
}

/** Every nested block `name` of a body. */
export function blocks(body: Body, name: string): Body[] {
  const value = body[name];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${name} is not a block list`);
  return value as Body[];
}

/** The `lifecycle { ignore_changes = [...] }` entries of a resource, as written. */
export function ignoreChanges(body: Body): string[] {
  const lifecycle = blocks(body, "lifecycle");
  const entries = lifecycle.flatMap((l) => (Array.isArray(l.ignore_changes) ? l.ignore_changes : []));
  return entries.map(raw);
}

/** Names of the dynamic blocks of a body, with their content. */
export function dynamicBlocks(body: Body, name: string): Body[] {
  const dyn = body.dynamic as Record<string, Body[]> | undefined;
  return dyn?.[name] ?? [];
}
