/**
 * Finds the command lines in Markdown documents and checks them against the real surfaces:
 * - `gray-deploy …` (also `npx gray-deploy …`, `node bin/gray-deploy.mjs …`) against the CLI that
 *   buildProgram() generates from the options schema: the verb exists and every `--flag` is an option
 *   of that verb;
 * - `dagger call …` against the Dagger module's functions and arguments as the Dagger SDK's own
 *   introspector sees them (test/dagger/scan.ts): the function exists and every `--flag` is one of
 *   its arguments (kebab-case), up to a chained call on its result.
 * Commands are read from fenced code blocks (shell continuations joined) and from inline code spans;
 * prose is not parsed (the words "gray-deploy" and "dagger" appear there in other senses).
 */
import type { Command } from "commander";

export interface CommandLine {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

export interface CliSurface {
  /** verb → its long flags (with the leading --). */
  readonly verbs: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface DaggerSurface {
  /** kebab-case function → kebab-case argument → whether it is a boolean (takes no value). */
  readonly functions: ReadonlyMap<string, ReadonlyMap<string, boolean>>;
  /** The module's constructor arguments (kebab-case → boolean?), given before the function name. */
  readonly constructorArgs?: ReadonlyMap<string, boolean>;
}

export function cliSurface(program: Command): CliSurface {
  const verbs = new Map<string, Set<string>>();
  for (const cmd of program.commands) {
    verbs.set(
      cmd.name(),
      new Set(cmd.options.map((o) => o.long).filter((l): l is string => l !== undefined)),
    );
  }
  return { verbs };
}

/** Extracts candidate command lines (code blocks and inline code) from a Markdown document. */
export function commandLines(file: string, markdown: string): CommandLine[] {
  const out: CommandLine[] = [];
  const lines = markdown.split("\n");
  let fence: string | null = null;
  let pending: { line: number; text: string } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const fenceMatch = raw.match(/^\s*(`{3,}|~{3,})/);
    if (fenceMatch) {
      if (fence === null) fence = fenceMatch[1]!;
      else if (raw.trim().startsWith(fence)) {
        fence = null;
        pending = null;
      }
      continue;
    }
    if (fence !== null) {
      const text = raw.replace(/^\s*\$\s+/, ""); // a shell prompt
      if (text.trim().startsWith("#")) continue; // a shell comment
      if (pending) pending.text += ` ${text.trim()}`;
      else pending = { line: i + 1, text: text.trim() };
      if (pending.text.endsWith("\\")) {
        pending.text = pending.text.slice(0, -1).trimEnd();
        continue;
      }
      out.push({ file, line: pending.line, text: pending.text });
      pending = null;
      continue;
    }
    for (const m of raw.matchAll(/(`+)([^`]+?)\1/g)) out.push({ file, line: i + 1, text: m[2]!.trim() });
  }
  return out;
}

/** Shell-like words: quotes group, a quote's content is one word; operators split commands. */
export function words(text: string): string[][] {
  const commands: string[][] = [[]];
  let word = "";
  let quote: string | null = null;
  let inWord = false;
  const push = () => {
    if (inWord) commands[commands.length - 1]!.push(word);
    word = "";
    inWord = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
      continue;
    }
    if (/\s/.test(c)) {
      push();
      continue;
    }
    if (c === "|" || c === ";" || c === "&" || c === "(" || c === ")") {
      push();
      if (commands[commands.length - 1]!.length > 0) commands.push([]);
      continue;
    }
    word += c;
    inWord = true;
  }
  push();
  return commands.filter((c) => c.length > 0);
}

const PLACEHOLDER = /^(<.*>|…|\.\.\.|\[.*\]|\{.*\}|\$\{?[A-Z_]+\}?)$/;

/** Words that may stand before a command: wrappers, assignments, CI keys, list markers. */
const PREFIX = /^([A-Za-z_][A-Za-z0-9_]*=.*|npx|node|exec|env|time|sudo|run:|script:|-|sh|bash|-c)$/;

/**
 * Where the verb of a gray-deploy invocation is in a command, or -1. Only wrappers may precede it
 * (`npx`, environment assignments, `run:` in a CI file), so a diagram's "gray-deploy moves these"
 * is not taken for a command.
 */
function grayDeployStart(cmd: readonly string[]): number {
  for (let i = 0; i < cmd.length; i++) {
    const w = cmd[i]!;
    if (w === "gray-deploy" || w.endsWith("bin/gray-deploy.mjs")) return i + 1;
    if (w === "npm" && cmd[i + 1] === "run" && cmd[i + 2] === "gray-deploy") {
      return cmd[i + 3] === "--" ? i + 4 : i + 3;
    }
    if (!PREFIX.test(w)) return -1;
  }
  return -1;
}

export interface Problem {
  readonly where: string;
  readonly problem: string;
}

const at = (c: CommandLine) => `${c.file}:${c.line}: ${c.text}`;
const flagOf = (w: string) => w.split("=")[0]!;

export function checkGrayDeploy(c: CommandLine, surface: CliSurface): Problem[] | null {
  const problems: Problem[] = [];
  let found = false;
  for (const cmd of words(c.text)) {
    const start = grayDeployStart(cmd);
    if (start < 0) continue;
    const verb = cmd[start];
    if (verb === undefined || PLACEHOLDER.test(verb) || verb.startsWith("-")) {
      found = true;
      for (const w of cmd.slice(start)) {
        if (w.startsWith("--") && !["--help", "--version"].includes(flagOf(w)))
          problems.push({ where: at(c), problem: `${w} given without a verb` });
      }
      continue;
    }
    found = true;
    const flags = surface.verbs.get(verb);
    if (flags === undefined) {
      problems.push({
        where: at(c),
        problem: `"${verb}" is not a gray-deploy verb (${[...surface.verbs.keys()].join(", ")})`,
      });
      continue;
    }
    for (const w of cmd.slice(start + 1)) {
      if (!w.startsWith("--")) continue;
      const flag = flagOf(w);
      if (flag === "--help" || flag === "--") continue;
      if (!flags.has(flag))
        problems.push({ where: at(c), problem: `${flag} is not an option of \`gray-deploy ${verb}\`` });
    }
  }
  return found ? problems : null;
}

/** Global flags of `dagger` and of `dagger call` that take a value, and those that do not. */
const DAGGER_VALUE_FLAGS = new Set(["-m", "--mod", "--progress", "-o", "--output", "--workdir", "-W"]);
const DAGGER_BOOL_FLAGS = new Set([
  "--json",
  "-q",
  "--quiet",
  "-v",
  "-vv",
  "-vvv",
  "--verbose",
  "-s",
  "--silent",
  "-i",
  "--interactive",
  "-d",
  "--debug",
  "-c",
  "--cloud",
  "-E",
  "--no-exit",
  "-e",
  "--web",
]);

export function checkDaggerCall(c: CommandLine, surface: DaggerSurface): Problem[] | null {
  const problems: Problem[] = [];
  let found = false;
  for (const cmd of words(c.text)) {
    const d = cmd.indexOf("dagger");
    if (d < 0 || !cmd.slice(0, d).every((w) => PREFIX.test(w))) continue;
    let i = d + 1;
    let mod: string | undefined;
    const modValue = (j: number) => {
      const w = cmd[j]!;
      if (flagOf(w) === "-m" || flagOf(w) === "--mod") mod = w.includes("=") ? w.split("=")[1] : cmd[j + 1];
    };
    // dagger [global flags] call [call flags] <function> [args] [chained calls…]
    while (i < cmd.length && cmd[i] !== "call") {
      const w = cmd[i]!;
      modValue(i);
      if (DAGGER_VALUE_FLAGS.has(flagOf(w)) && !w.includes("=")) i += 2;
      else if (w.startsWith("-")) i += 1;
      else break;
    }
    if (cmd[i] !== "call") continue;
    i++;
    for (let j = i; j < cmd.length && cmd[j]!.startsWith("-"); j++) modValue(j);
    // Another module (e.g. examples/dagger-consumer, which installs this one) has its own surface.
    if (mod !== undefined && !/^(\.\/?|.*gray-deploy(@[^/]*)?)$/.test(mod)) continue;
    found = true;
    const ctor = surface.constructorArgs ?? new Map<string, boolean>();
    while (i < cmd.length && cmd[i]!.startsWith("-")) {
      const w = cmd[i]!;
      const ctorArg = ctor.get(flagOf(w).replace(/^--/, ""));
      // `dagger call --help` lists the module's arguments.
      if (flagOf(w) === "--help") i += 1;
      else if (ctorArg !== undefined) i += ctorArg || w.includes("=") ? 1 : 2;
      else if (DAGGER_VALUE_FLAGS.has(flagOf(w)) && !w.includes("=")) i += 2;
      else if (DAGGER_BOOL_FLAGS.has(flagOf(w)) || w.includes("=")) i += 1;
      else {
        problems.push({
          where: at(c),
          problem: `${w} before the function name is neither a dagger call flag nor an argument of the module's constructor`,
        });
        i += 1;
      }
    }
    const fn = cmd[i];
    if (fn === undefined || PLACEHOLDER.test(fn)) continue;
    const args = surface.functions.get(fn);
    if (args === undefined) {
      problems.push({
        where: at(c),
        problem: `"${fn}" is not a function of the module (${[...surface.functions.keys()].join(", ")})`,
      });
      continue;
    }
    for (i = i + 1; i < cmd.length; i++) {
      const w = cmd[i]!;
      if (!w.startsWith("--")) break; // a chained call on the function's result: not this module's surface
      const name = flagOf(w).slice(2);
      if (name === "help") continue;
      const isBool = args.get(name);
      if (isBool === undefined) {
        problems.push({ where: at(c), problem: `--${name} is not an argument of \`dagger call ${fn}\`` });
        continue;
      }
      if (!isBool && !w.includes("=")) i++; // its value
    }
  }
  return found ? problems : null;
}

export const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
