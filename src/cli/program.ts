/**
 * The command-line surface, generated from the options schema: each verb gets exactly the options
 * the schema gives it, as kebab-case flags with the schema's description and defaults. No option is
 * declared here by hand, so the CLI cannot drift from the contract.
 */
import { Command, Option } from "commander";
import {
  defaultText,
  OPTION_DEFS,
  OPTION_NAMES,
  type OptionDef,
  type OptionName,
  optionFrontEnds,
  optionVerbs,
  SCHEMA,
  VERBS,
  type Verb,
} from "../app/schema.js";
import { VERB_DEFINITIONS } from "../app/verbs.js";
import { kebab } from "../contract/errors.js";

/** Each verb's `--help` summary (src/app/verbs.ts). */
export const VERB_SUMMARIES: Readonly<Record<Verb, string>> = Object.fromEntries(
  Object.entries(VERB_DEFINITIONS).map(([verb, d]) => [verb, d.summary]),
) as Record<Verb, string>;

const VALUE_NAMES: Record<OptionDef["kind"], string> = {
  string: "<value>",
  boolean: "",
  integer: "<n>",
  duration: "<duration>",
  rate: "<rate>",
  steps: "<weights>",
  list: "<names>",
  enum: "<choice>",
  json: "<json>",
};

/** The default as the help text shows it (the contract's own wording). */
export const helpDefault = defaultText;

/** Flags of a verb, in schema order. */
export function cliOptionsOf(verb: Verb): OptionName[] {
  return OPTION_NAMES.filter((n) => optionVerbs(n).includes(verb) && optionFrontEnds(n).includes("cli"));
}

export function buildProgram(version: string): Command {
  const program = new Command("gray-deploy")
    .description(
      "Gray (canary) deployments on AWS ALB + Auto Scaling, gated by real metrics, with automatic rollback.\n" +
        "Durations take units (500ms, 30s, 5m); rates take a fraction (0.02) or a percentage (2%).",
    )
    .version(version)
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);
  for (const verb of VERBS) {
    const cmd = program.command(verb).description(VERB_SUMMARIES[verb]).allowExcessArguments(false);
    for (const name of cliOptionsOf(verb)) {
      const def: OptionDef = OPTION_DEFS[name];
      const flag = `--${kebab(name)}${def.kind === "boolean" ? "" : ` ${VALUE_NAMES[def.kind]}`}`;
      const extra = [
        def.choices ? `one of: ${def.choices.join(", ")}` : null,
        def.unit ? `unit: ${def.unit}` : null,
        def.env ? `env: ${def.env.join(", ")}` : null,
        SCHEMA.targetsOf(name).length === 1 ? `${SCHEMA.targetsOf(name)[0]} only` : null,
      ].filter(Boolean);
      // Defaults are applied by the schema for the chosen target, never by the parser; help shows them.
      const shown = helpDefault(name);
      if (shown !== undefined) extra.unshift(`default: ${shown}`);
      const option = new Option(flag, `${def.description}${extra.length ? ` (${extra.join("; ")})` : ""}`);
      // A structured option may be given several times (one JSON text each); the schema parses them all.
      if (def.kind === "json") {
        option.argParser((value: string, previous: unknown) => [
          ...(Array.isArray(previous) ? previous : []),
          value,
        ]);
      }
      cmd.addOption(option);
    }
  }
  return program;
}
