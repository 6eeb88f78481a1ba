/**
 * Finds every `dagger call …` and `gray-deploy …` command written in the repository's CI definitions,
 * examples and docs, and checks each against the real surfaces: the Dagger module's functions and
 * arguments as the SDK's introspector reads them, and the CLI's verbs and flags as commander builds
 * them. Literal values of schema options are parsed by the schema; Secret arguments must name a
 * secret provider (`env:`, `file:`, `cmd:`, `op://`, `vault://`, `aws+sm://`, `aws+ps://`).
 */
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { OPTION_DEFS, type OptionName, parseOptionValue } from "../../src/app/schema.js";
import type { ScannedFunction, ScannedObject } from "../dagger/scan.js";

export interface FoundCommand {
  readonly file: string;
  readonly kind: "dagger" | "cli";
  /** The `-m` module of a dagger command, when given. */
  readonly module: string | undefined;
  /** Tokens after `call` (dagger) or after `gray-deploy` (CLI). */
  readonly tokens: readonly string[];
  readonly text: string;
}

/** Files whose commands are checked, relative to the repository root. */
export async function commandFiles(repo: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(join(repo, dir), { withFileTypes: true });
    } catch {
      return; // docs/ may not exist yet
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && e.name !== "sdk") await walk(path);
      } else if (/\.(ya?ml|md|ts|groovy|sh)$/.test(e.name) || e.name === "Jenkinsfile") out.push(path);
    }
  };
  for (const dir of ["ci", ".github", "examples", "docs"]) await walk(dir);
  out.push("README.md", "src/index.ts");
  return out.sort();
}

/** Texts of a file where commands may be written (code, not prose). */
export async function commandTexts(repo: string, file: string): Promise<string[]> {
  const text = await readFile(join(repo, file), "utf8");
  const ext = extname(file);
  if (ext === ".md") {
    const fenced = [...text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const prose = text.replace(/```[\s\S]*?```/g, "");
    const inline = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
    return [...fenced, ...inline];
  }
  if (ext === ".ts") return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  if (ext === ".yml" || ext === ".yaml") return yamlTexts(parseYaml(text) as unknown);
  // Groovy and shell files: whole-line comments are prose, not commands.
  return [text.replace(/^[ \t]*\/\/[^\n]*$/gm, "")];
}

/** Keys whose strings are shell scripts (GitHub `run`, GitLab `script` and friends). */
const SCRIPT_KEYS = new Set(["run", "script", "before_script", "after_script"]);

/** Shell scripts of a YAML CI file; GitHub steps using dagger-for-github become `dagger call …`. */
function yamlTexts(doc: unknown): string[] {
  const env = (doc as { env?: Record<string, string> } | null)?.env ?? {};
  const out: string[] = [];
  const scripts = (node: unknown, scopeEnv: Record<string, string>) => {
    if (typeof node === "string") out.push(expandExpressions(node, scopeEnv));
    else if (Array.isArray(node)) for (const n of node) scripts(n, scopeEnv);
  };
  const visit = (node: unknown, scopeEnv: Record<string, string>) => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n, scopeEnv);
    } else if (node !== null && typeof node === "object") {
      const obj = node as Record<string, unknown>;
      const local = { ...scopeEnv, ...((obj.env as Record<string, string> | undefined) ?? {}) };
      if (typeof obj.uses === "string" && obj.uses.startsWith("dagger/dagger-for-github")) {
        const w = (obj.with ?? {}) as Record<string, string>;
        const call = w.call ?? w.args;
        if (call !== undefined) {
          const mod = w.module ? `-m ${w.module} ` : "";
          out.push(expandExpressions(`dagger ${mod}call ${call}`, local));
        }
      }
      for (const [k, v] of Object.entries(obj)) {
        if (SCRIPT_KEYS.has(k)) scripts(v, local);
        else if (k !== "with") visit(v, local);
      }
    }
  };
  visit(doc, env);
  return out;
}

/**
 * GitHub expressions: `${{ env.X }}` is replaced by its value; an expression that formats a flag
 * (`format('--rule-arn {0}', …)`) by the flag and a placeholder; anything else by a placeholder.
 */
export function expandExpressions(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => {
    const envRef = /^env\.(\w+)$/.exec(expr);
    if (envRef && env[envRef[1]!] !== undefined) return expandExpressions(env[envRef[1]!]!, env);
    const flag = /'(--[\w-]+) \{0\}'/.exec(expr);
    if (flag) return `${flag[1]} «expr»`;
    return "«expr»";
  });
}

const END = new Set([";", "|", ">", "<", "`", ")", "\n"]);

/** Shell-like words from `start` to the end of the command (unquoted ; | > && ) or newline). */
export function words(text: string, start: number): string[] {
  const out: string[] = [];
  let i = start;
  let cur = "";
  let has = false;
  const push = () => {
    if (has) out.push(cur);
    cur = "";
    has = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      if (close === -1) break;
      cur += text.slice(i + 1, close);
      has = true;
      i = close + 1;
      continue;
    }
    if (c === "&" && text[i + 1] === "&") break;
    if (c === "|" && text[i + 1] === "|") break;
    if (END.has(c)) break;
    if (c === " " || c === "\t") {
      push();
      i++;
      continue;
    }
    cur += c;
    has = true;
    i++;
  }
  push();
  return out;
}

/** Commands in one text: shell line continuations joined first. */
export function findCommands(file: string, raw: string): FoundCommand[] {
  // Continuations joined, shell comments dropped (a `#` at a line start or after a blank).
  const text = raw.replace(/\\\r?\n/g, " ").replace(/(^|[ \t])#[^\n]*/gm, "$1");
  const found: FoundCommand[] = [];
  const dagger = /(?:^|[\s;&|(`'"])dagger((?:\s+(?:-m|--mod)(?:\s+|=)\S+|\s+--?[\w-]+(?:=\S+)?)*)\s+call\s+/g;
  for (const m of text.matchAll(dagger)) {
    const mod = /(?:-m|--mod)(?:\s+|=)(\S+)/.exec(m[1] ?? "")?.[1];
    const start = m.index! + m[0].length;
    found.push({ file, kind: "dagger", module: mod, tokens: words(text, start), text: line(text, m.index!) });
  }
  const cli = /(?:^|[\s;&|(`'"])(?:npx\s+)?gray-deploy\s+(?=[\w-])/g;
  for (const m of text.matchAll(cli)) {
    const start = m.index! + m[0].length;
    found.push({
      file,
      kind: "cli",
      module: undefined,
      tokens: words(text, start),
      text: line(text, m.index!),
    });
  }
  return found;
}

const line = (text: string, at: number) => text.slice(at, text.indexOf("\n", at + 1) >>> 0).trim();

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const isPlaceholder = (t: string) => /[$«{}<>…]/.test(t);
const SECRET_PROVIDER = /^(env:|file:|cmd:|op:\/\/|vault:\/\/|aws\+sm:\/\/|aws\+ps:\/\/)/;

/** Core-type functions a command may chain after a module function (`… export --path dir`). */
const CHAINS: Record<string, Record<string, { flags: string[]; returns: string }>> = {
  Directory: {
    export: { flags: ["path"], returns: "String" },
    file: { flags: ["path"], returns: "File" },
    entries: { flags: [], returns: "[String]" },
  },
  File: { contents: { flags: [], returns: "String" }, export: { flags: ["path"], returns: "String" } },
  Container: {
    publish: { flags: ["address"], returns: "String" },
    export: { flags: ["path"], returns: "String" },
  },
};

function checkValue(name: string, value: string, problems: string[], where: string): void {
  if (isPlaceholder(value) || !(name in OPTION_DEFS)) return;
  const parsed = parseOptionValue(name as OptionName, value);
  if (!parsed.ok) problems.push(`${where}: --${kebab(name)} ${value}: ${parsed.message}`);
}

/**
 * Where the function's name is in a `dagger call`: after the module constructor's arguments
 * (`dagger call --target aws --region … status`), which are checked here too.
 */
export function functionOf(
  cmd: FoundCommand,
  object: ScannedObject,
  problems: string[] = [],
): { name: string | undefined; at: number } {
  const ctor = new Map(object.constructorArguments.map((a) => [kebab(a.name), a]));
  const where = `${cmd.file}: dagger call ${cmd.tokens.join(" ")}`;
  let i = 0;
  while (i < cmd.tokens.length && (cmd.tokens[i]!.startsWith("--") || isPlaceholder(cmd.tokens[i]!))) {
    // An opaque `${{ inputs.deploy-args }}`-style list of the module's arguments, or `dagger call --help`.
    if (!cmd.tokens[i]!.startsWith("--") || cmd.tokens[i] === "--help") {
      i += 1;
      continue;
    }
    const [flag, inline] = cmd.tokens[i]!.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const a = ctor.get(flag);
    if (a === undefined)
      problems.push(`${where}: --${flag} is not an argument of ${object.name}'s constructor`);
    if (a?.type?.kind === "BOOLEAN_KIND" || inline !== undefined) {
      i += 1;
      continue;
    }
    const value = cmd.tokens[i + 1];
    if (a !== undefined && value !== undefined) {
      if (a.type?.name === "Secret" && !SECRET_PROVIDER.test(value) && !isPlaceholder(value)) {
        problems.push(`${where}: --${flag} takes a secret provider (env:NAME, file:PATH, …), not a value`);
      }
      if (a.type?.kind !== "OBJECT_KIND") checkValue(a.name, value, problems, where);
    }
    i += 2;
  }
  return { name: cmd.tokens[i], at: i };
}

/** Problems of a `dagger call` command against the scanned module object. */
export function checkDaggerCall(cmd: FoundCommand, object: ScannedObject): string[] {
  const problems: string[] = [];
  const where = `${cmd.file}: dagger call ${cmd.tokens.join(" ")}`;
  const { at } = functionOf(cmd, object, problems);
  const [fnName, ...rest] = cmd.tokens.slice(at);
  if (fnName === undefined || fnName.includes("…")) return problems; // prose: "dagger call …"
  const fn: ScannedFunction | undefined = Object.values(object.functions).find(
    (f) => kebab(f.name) === fnName,
  );
  if (fn === undefined) return [`${where}: no function "${fnName}" in ${object.name}`];
  let args = new Map(fn.arguments.map((a) => [kebab(a.name), a]));
  let chain: Record<string, { flags: string[]; returns: string }> | undefined =
    CHAINS[fn.returnType?.name ?? ""];
  let chained = false;
  const seen = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    if (t.startsWith("--")) {
      const [flag, inline] = t.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (chained) {
        if (!args.has(flag)) problems.push(`${where}: the chained call has no --${flag}`);
        if (inline === undefined) i++;
        continue;
      }
      const a = args.get(flag);
      if (flag === "help") continue; // `dagger call deploy-gray --help`
      if (a === undefined) {
        problems.push(`${where}: ${fnName} has no --${flag}`);
        continue;
      }
      if (seen.has(flag) && a.type?.kind !== "LIST_KIND") problems.push(`${where}: --${flag} given twice`);
      seen.add(flag);
      if (a.type?.kind === "BOOLEAN_KIND" && inline === undefined) continue;
      const value = inline ?? rest[++i];
      if (value === undefined || (value.startsWith("--") && inline === undefined)) {
        problems.push(`${where}: --${flag} has no value`);
        continue;
      }
      if (a.type?.name === "Secret" && !SECRET_PROVIDER.test(value)) {
        problems.push(`${where}: --${flag} takes a secret provider (env:NAME, file:PATH, …), not a value`);
      }
      if (a.type?.kind !== "OBJECT_KIND") checkValue(a.name, value, problems, where);
      continue;
    }
    if (isPlaceholder(t)) continue; // an opaque `${{ inputs.deploy-args }}`-style argument list
    const next = chain?.[t];
    if (next === undefined) {
      problems.push(`${where}: unexpected "${t}" (not a flag of ${fnName}, nor a call on its result)`);
      break;
    }
    chained = true;
    args = new Map(next.flags.map((f) => [f, { name: f } as never]));
    chain = CHAINS[next.returns];
  }
  const required = fn.arguments.filter(
    (a) => !a.isOptional && a.defaultValue === undefined && a.defaultPath === undefined,
  );
  for (const a of required) {
    if (!seen.has(kebab(a.name))) problems.push(`${where}: required --${kebab(a.name)} missing`);
  }
  return problems;
}

/** Problems of a `gray-deploy …` command against the CLI program. */
export function checkCliCommand(cmd: FoundCommand, program: Command): string[] {
  const where = `${cmd.file}: gray-deploy ${cmd.tokens.join(" ")}`;
  const [verb, ...rest] = cmd.tokens;
  if (verb === undefined || verb.includes("…")) return [];
  if (verb === "--help" || verb === "-h" || verb === "--version" || verb === "-V") return [];
  const command = program.commands.find((c) => c.name() === verb);
  if (command === undefined) return [`${where}: no verb "${verb}"`];
  const problems: string[] = [];
  const options = new Map(command.options.map((o) => [o.long, o]));
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    if (t === "--help" || t === "-h") continue;
    if (!t.startsWith("--")) {
      if (!isPlaceholder(t)) problems.push(`${where}: unexpected "${t}"`);
      continue;
    }
    const [flag, inline] = t.split(/=(.*)/s, 2) as [string, string | undefined];
    const o = options.get(flag);
    if (o === undefined) {
      problems.push(`${where}: ${verb} has no ${flag}`);
      continue;
    }
    if (!o.required && !o.optional) continue; // a boolean flag
    const value = inline ?? rest[++i];
    if (value === undefined || value.startsWith("--")) {
      problems.push(`${where}: ${flag} has no value`);
      continue;
    }
    checkValue(o.attributeName(), value, problems, where);
  }
  return problems;
}
