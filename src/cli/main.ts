/**
 * The CLI: parse flags (and --config), resolve them through the contract, open the target's
 * adapters, run the verb, print the Outcome, exit with the contract's code.
 * stdout carries only the result (the Outcome JSON with --json); progress goes to stderr.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { createInterface } from "node:readline/promises";
import { CommanderError } from "commander";
import { InvalidInputError, StateError, toGrayDeployError } from "../contract/errors.js";
import {
  type Options,
  type RawOptions,
  resolveOptions,
  rolloutScope,
  type Verb,
} from "../contract/options.js";
import { ExitCode, type Outcome } from "../contract/outcome.js";
import { type Policy, policyFromOptions } from "../core/policy.js";
import type { RolloutState } from "../core/state.js";
import { systemClock } from "../engine/clock.js";
import { type EngineEvent, type EventListener, fanOut } from "../engine/events.js";
import { errorOutcome, refusedOutcome } from "../engine/outcome.js";
import { openTarget } from "../engine/targets.js";
import {
  abort,
  deployGray,
  type PlanReport,
  plan,
  promote,
  status,
  type VerbContext,
} from "../engine/verbs.js";
import { createWebhookNotifier } from "../notify/webhook.js";
import { ReportCollector, renderReport, writeReport } from "../report/index.js";
import { configForVerb, readConfigFile } from "./config.js";
import { buildProgram } from "./program.js";
import { progressPrinter } from "./progress.js";

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
        return finish(refusedOutcome(err, { target: argv.includes("aws") ? "aws" : "local" }), io, true);
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
  return runVerb(verb, flags, io);
}

async function runVerb(verb: Verb, flags: RawOptions, io: CliIO): Promise<number> {
  const json = flags.json === true;
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  let options: Options;
  let fromFile: RawOptions = {};
  try {
    fromFile = typeof given.config === "string" ? await readConfigFile(given.config) : {};
    const target = (given.target ?? fromFile.target) === "aws" ? "aws" : "local";
    options = resolveOptions(
      { ...configForVerb(fromFile, verb, target), ...given },
      { verb, env: io.env, frontEnd: "cli" },
    );
  } catch (e) {
    const err = toGrayDeployError(e);
    const target = given.target === "aws" ? "aws" : "local";
    const refused = refusedOutcome(err, { target });
    // Even invalid input gets its report when a directory was asked for: CI shows why nothing ran.
    const dir = given.reportDir ?? fromFile.reportDir;
    if (typeof dir === "string" && dir.trim() !== "" && err.field !== "reportDir") {
      await openRunOutputs(verb, { reportDir: dir.trim(), notifyWebhook: undefined }, io).close(
        refused,
        null,
      );
    }
    return finish(refused, io, json);
  }

  if (options.target === "local" && verb !== "deploy-gray" && verb !== "plan") {
    const err = new InvalidInputError(
      [
        {
          field: "target",
          message: `\`${verb}\` needs a stored rollout, and a local rollout lives only inside its deploy-gray process`,
        },
      ],
      verb === "bootstrap"
        ? "bootstrap creates the AWS state table: use --target aws"
        : "use --target aws for stored rollouts; locally, answer the prompt or press Ctrl-C to abort",
    );
    const refused = refusedOutcome(err, { target: "local", scope: "local" });
    await openRunOutputs(verb, options, io).close(refused, null);
    return finish(refused, io, json);
  }

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

  const clock = systemClock();
  const printer = progressPrinter({ write: (s) => io.stderr.write(s), isTTY: io.stderr.isTTY === true });
  const outputs = openRunOutputs(verb, options, io);
  const onEvent = fanOut(printer, ...outputs.listeners, ...(io.listeners ?? []));
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const by = options.startedBy ?? "unknown";

  if (verb === "bootstrap") {
    try {
      const { bootstrapStateTable } = await import("../aws/bootstrap.js");
      const result = await bootstrapStateTable(options, { log });
      io.stdout.write(json ? `${JSON.stringify(result)}\n` : `${result.message}\n`);
      return 0;
    } catch (e) {
      // Bad input, missing credentials or a mismatching table change nothing: exit 2, like every verb.
      return finish(errorOutcome(e, { target: "aws" }), io, json);
    }
  }

  let runtime: Awaited<ReturnType<typeof openTarget>> | null = null;
  /** Reports and notifications first (they never throw), then the printed Outcome and exit code. */
  const end = async (outcome: Outcome): Promise<number> => {
    await outputs.close(outcome, await planOf(outcome, options, verb, runtime));
    return finish(outcome, io, json);
  };
  try {
    runtime = await openTarget(options, { signal: controller.signal, log });
    const ctx: VerbContext = {
      clock,
      signal: controller.signal,
      onEvent,
      owner: { id: randomUUID(), host: hostname(), pid: process.pid, verb },
      newId: () => randomUUID(),
      ...(options.target === "local" && io.stdin?.isTTY && !json
        ? { approver: terminalApprover(io, by) }
        : {}),
    };
    switch (verb) {
      case "deploy-gray": {
        await runtime.begin?.();
        return await end(await deployGray(options, runtime.ports, ctx));
      }
      case "promote":
        return await end(
          await promote(options, runtime.ports, ctx, { by, reason: options.reason, full: options.full }),
        );
      case "abort":
        return await end(await abort(options, runtime.ports, ctx, { by, reason: options.reason }));
      case "status": {
        const outcome = await status(options, runtime.ports, clock.now());
        const code = await end(outcome);
        return outcome.error?.code === "INVALID_STATE" ? code : 0;
      }
      case "plan": {
        const report = await plan(options, runtime.ports, ctx);
        io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatPlan(report));
        return report.blockers.length > 0 ? ExitCode.InvalidInput : 0;
      }
      default:
        throw new StateError(`unknown verb ${verb satisfies never}`);
    }
  } catch (e) {
    return await end(
      errorOutcome(e, { target: options.target, scope: rolloutScope(options), image: options.image ?? null }),
    );
  } finally {
    await runtime?.dispose().catch((e) => log(`cleanup: ${toGrayDeployError(e).message}`));
  }
}

interface RunOutputs {
  /** Engine listeners: the report collector and the notifier (each only when asked for). */
  readonly listeners: readonly EventListener[];
  /** Writes the report and delivers pending notifications. Never throws, never changes the exit code. */
  close(outcome: Outcome, plan: Policy | null): Promise<void>;
}

/** `--report-dir` and `--notify-webhook` for one CLI run. The webhook URL is a secret: never printed. */
function openRunOutputs(
  verb: Verb,
  o: Pick<Options, "reportDir" | "notifyWebhook"> &
    Partial<Pick<Options, "target" | "image" | "startedBy" | "ruleArn" | "listenerArn">>,
  io: CliIO,
): RunOutputs {
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const collector = o.reportDir !== undefined ? new ReportCollector() : null;
  const notifier =
    o.notifyWebhook !== undefined
      ? createWebhookNotifier({
          url: o.notifyWebhook,
          context: {
            image: o.image ?? null,
            target: o.target ?? "local",
            scope: o.target
              ? rolloutScope({ target: o.target, ruleArn: o.ruleArn, listenerArn: o.listenerArn })
              : null,
            verb,
          },
          log,
        })
      : null;
  return {
    listeners: [collector?.listener, notifier?.listener].filter((l): l is EventListener => l !== undefined),
    async close(outcome, plan) {
      if (collector !== null && o.reportDir !== undefined) {
        try {
          const rendered = renderReport(outcome, collector.events, {
            plan,
            generatedAt: Date.now(),
            toolVersion: packageVersion(),
            verb,
            by: o.startedBy ?? null,
            droppedEvents: collector.dropped,
          });
          await writeReport(o.reportDir, rendered);
          log(`report: ${o.reportDir}/report.md (also report.json, timeline.svg)`);
        } catch (e) {
          log(`report: could not write ${o.reportDir}: ${toGrayDeployError(e).message}`);
        }
      }
      if (notifier !== null) {
        notifier.notifyOutcome(outcome, Date.now());
        await notifier.flush();
      }
    },
  };
}

/** The plan a report shows: the stored rollout's (authoritative, also for promote/abort), else the options'. */
async function planOf(
  outcome: Outcome,
  options: Options,
  verb: Verb,
  runtime: Awaited<ReturnType<typeof openTarget>> | null,
): Promise<Policy | null> {
  if (options.reportDir === undefined) return null;
  if (outcome.rolloutId !== null && runtime !== null) {
    const stored = await runtime.ports.store.load(rolloutScope(options)).catch(() => null);
    if (stored?.state.id === outcome.rolloutId) return stored.state.plan;
  }
  return verb === "deploy-gray" ? policyFromOptions(options) : null;
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
    ...(p.blockers.length > 0
      ? ["Blockers (deploy-gray would refuse):", ...p.blockers.map((b) => `  - ${b}`)]
      : []),
    "",
  ].join("\n");
}
