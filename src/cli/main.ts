/**
 * The CLI: parse flags (and --config), resolve them through the contract, open the target's
 * adapters, run the verb, print the Outcome, exit with the contract's code.
 * stdout carries only the result (the Outcome JSON with --json); progress goes to stderr.
 *
 * Only parsing and the contract load up front: the engine, reports, notifications and a config file's
 * parser are imported once a verb is chosen and needs them, so `--help` and input refused by the
 * parser or the contract start in a fraction of the time (each spawn of the CLI pays for what it
 * imports; see bench/cli-startup). A target's adapters load when it is opened (src/app/registry.ts).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { CommanderError } from "commander";
import { given as givenOnly, resolveCall, whereOfRaw } from "../app/resolve.js";
import type { Options, RawOptions, Verb } from "../app/schema.js";
import { InvalidInputError, toGrayDeployError } from "../contract/errors.js";
import { ExitCode, type Outcome } from "../contract/outcome.js";
import type { RolloutState } from "../core/state.js";
import { systemClock } from "../engine/clock.js";
import { type EngineEvent, fanOut } from "../engine/events.js";
import { refusedOutcome } from "../engine/outcome.js";
import type { PlanReport } from "../engine/verbs.js";
import { buildProgram } from "./program.js";

export interface CliIO {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown; isTTY?: boolean };
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Hooks for signals; the CLI entry wires SIGINT/SIGTERM here. */
  readonly onSignal?: (handler: (signal: string) => void) => void;
  /** Extra listeners (reports, notifications) get every engine event. */
  readonly listeners?: readonly ((e: EngineEvent) => void)[];
}

function packageVersion(): string {
  try {
    const url = new URL("../../package.json", import.meta.url);
    return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const program = buildProgram(packageVersion());
  let chosen: { verb: Verb; flags: RawOptions } | null = null;
  const json = argv.includes("--json");
  let parseError = "";
  program.exitOverride();
  const output = {
    writeOut: (s: string) => io.stdout.write(s),
    writeErr: (s: string) => {
      parseError += s;
      if (!json) io.stderr.write(s);
    },
  };
  program.configureOutput(output);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    cmd.configureOutput(output);
    cmd.action((flags: RawOptions) => {
      chosen = { verb: cmd.name() as Verb, flags };
    });
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0)
        return 0;
      if (e.code === "commander.help" || e.code === "commander.executeSubCommandAsync") return 0;
      // Unknown flags, missing values, unknown verbs: invalid input, nothing changed.
      if (json) {
        const message = (parseError || e.message)
          .replace(/^error: /, "")
          .trim()
          .replace(/\s*\n\s*/g, " ");
        const err = new InvalidInputError(
          [{ field: "", message }],
          "see `gray-deploy <verb> --help`; nothing was changed",
        );
        const target = argv.includes("--target") ? argv[argv.indexOf("--target") + 1] : undefined;
        return finish(refusedOutcome(err, whereOfRaw({ target })), io, true);
      }
      return ExitCode.InvalidInput;
    }
    throw e;
  }
  if (chosen === null) {
    io.stderr.write(program.helpInformation());
    return ExitCode.InvalidInput;
  }
  const { verb, flags } = chosen as { verb: Verb; flags: RawOptions };
  return run(verb, flags, io);
}

async function run(verb: Verb, flags: RawOptions, io: CliIO): Promise<number> {
  const json = flags.json === true;
  const given = givenOnly(flags);
  const clock = systemClock();
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const outputDeps = { clock, log, toolVersion: packageVersion() };
  let options: Options;
  let fromFile: RawOptions = {};
  try {
    if (typeof given.config === "string") {
      const { readConfigFile } = await import("./config.js");
      fromFile = await readConfigFile(given.config);
    }
    options = resolveCall({ verb, frontEnd: "cli", given, config: fromFile, env: io.env });
  } catch (e) {
    const refused = refusedOutcome(toGrayDeployError(e), whereOfRaw(given));
    // Even invalid input gets its report when a directory was asked for: CI shows why nothing ran.
    const dir = given.reportDir ?? fromFile.reportDir;
    if (typeof dir === "string" && dir.trim() !== "" && toGrayDeployError(e).field !== "reportDir") {
      const { openRunOutputs } = await import("../app/outputs.js");
      await openRunOutputs(verb, { reportDir: dir.trim() }, whereOfRaw(given), outputDeps).close(
        refused,
        null,
      );
    }
    return finish(refused, io, json);
  }

  const [{ openRunOutputs }, { progressPrinter }, { targetOf }, { exitCodeOf, runVerb, whereOf }] =
    await Promise.all([
      import("../app/outputs.js"),
      import("../app/progress.js"),
      import("../app/requests.js"),
      import("../app/run.js"),
    ]);

  const controller = new AbortController();
  let interrupts = 0;
  io.onSignal?.((signal) => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr.write(
        `\n${signal}: aborting safely — traffic back to stable, then cleanup (press again to see this again)\n`,
      );
      controller.abort();
    } else {
      io.stderr.write(
        `${signal}: a rollback is in progress; stopping now could leave traffic on gray. Waiting.\n`,
      );
    }
  });

  const printer = progressPrinter({ write: (s) => io.stderr.write(s), isTTY: io.stderr.isTTY === true });
  const outputs = openRunOutputs(verb, options, whereOf(options), outputDeps);
  const by = options.startedBy ?? "unknown";
  // A rollout that lives only in this process asks its manual gates at the terminal.
  const ask = !targetOf(options).storedRollouts && io.stdin?.isTTY === true && !json;
  const result = await runVerb(verb, options, {
    clock,
    newId: () => randomUUID(),
    signal: controller.signal,
    log,
    onEvent: fanOut(printer, ...outputs.listeners, ...(io.listeners ?? [])),
    withReportPlan: options.reportDir !== undefined,
    // The checks' secrets (a hook's signing key, a synthetic header) are read from the environment.
    secret: (name) => io.env[name],
    ...(ask ? { approver: terminalApprover(io, by) } : {}),
  });
  switch (result.kind) {
    case "bootstrap":
      io.stdout.write(json ? `${JSON.stringify(result.result)}\n` : `${result.result.message}\n`);
      return exitCodeOf(verb, result);
    case "plan":
      io.stdout.write(json ? `${JSON.stringify(result.report, null, 2)}\n` : formatPlan(result.report));
      return exitCodeOf(verb, result);
    case "outcome":
      // Reports and notifications first (they never throw), then the printed Outcome and exit code.
      if (verb !== "bootstrap") await outputs.close(result.outcome, result.plan);
      finish(result.outcome, io, json);
      return exitCodeOf(verb, result);
  }
}

function terminalApprover(io: CliIO, by: string) {
  return async (gate: string, state: RolloutState): Promise<{ by: string } | null> => {
    if (!io.stdin) return null;
    const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream });
    try {
      const what =
        gate === "promotion" ? "promote the release" : `raise gray to ${gate.replace("step:", "")}%`;
      const answer = await rl.question(
        `\nManual gate: ${what}? (weights now stable ${state.weights.stable}% / gray ${state.weights.gray}%) [y/N] `,
      );
      return /^y(es)?$/i.test(answer.trim()) ? { by } : null;
    } finally {
      rl.close();
    }
  };
}

function finish(outcome: Outcome, io: CliIO, json: boolean): number {
  if (json) {
    io.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
  } else {
    io.stdout.write(formatOutcome(outcome));
  }
  return outcome.exitCode;
}

export function formatOutcome(o: Outcome): string {
  const lines = [`${o.outcome.toUpperCase()}: ${o.reason}`];
  if (o.error?.fix && !o.reason.includes(o.error.fix)) lines.push(`fix: ${o.error.fix}`);
  if (o.pause)
    lines.push(
      `paused (${o.pause.reason}${o.pause.gate ? `, gate ${o.pause.gate}` : ""}) since ${o.pause.since}`,
    );
  if (o.steps.length > 0) {
    lines.push(
      `steps: ${o.steps.map((s) => `${s.kind === "return" ? "stable " : ""}${s.weight}% ${s.verdict}`).join(" → ")}`,
    );
  }
  if (o.weights) lines.push(`weights: stable ${o.weights.stable}% / gray ${o.weights.gray}%`);
  for (const w of o.warnings) lines.push(`warning: ${w}`);
  return `${lines.join("\n")}\n`;
}

function formatPlan(p: PlanReport): string {
  return [
    `Plan for ${p.image} on ${p.target} (${p.scope}), about ${p.estimatedDuration} if every step passes:`,
    ...p.changes.map((c, i) => `  ${i + 1}. ${c}`),
    "Checked:",
    ...p.facts.map((f) => `  - ${f}`),
    `Thresholds: ${Object.entries(p.thresholds)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}`,
    ...(p.gates.length > 0 ? ["Extra gates:", ...p.gates.map((g) => `  - ${g}`)] : []),
    ...(p.checks.length > 0 ? ["Checks and hooks:", ...p.checks.map((c) => `  - ${c}`)] : []),
    ...(p.blockers.length > 0
      ? ["Blockers (deploy-gray would refuse):", ...p.blockers.map((b) => `  - ${b}`)]
      : []),
    "",
  ].join("\n");
}
