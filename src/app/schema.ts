/**
 * The options schema of gray-deploy: every option group, assembled once, with the registered
 * targets' defaults. Every front end derives from this: the CLI's flags, the Dagger arguments (the
 * parity test), the config-file keys, the README's options table.
 *
 * Each group is declared by the part of the code that reads it (see docs/architecture.md, "Adding
 * things"); the groups of targets and gate sources come from src/app/registry.ts.
 */
import {
  ALL_VERBS,
  type FrontEnd,
  type OptionDef,
  type OptionGroup,
  optionGroup,
  type RawOptions,
  type TargetName,
  type Values,
  type Verb,
} from "../contract/options/def.js";
import { OptionSchema, type ResolveContext } from "../contract/options/schema.js";
import type { Parsed } from "../contract/units.js";
import { capacityOptions } from "../core/options/capacity.js";
import { checkOptions } from "../core/options/checks.js";
import { planOptions } from "../core/options/plan.js";
import { signalOptions } from "../core/options/signal.js";
import { thresholdOptions } from "../core/options/thresholds.js";
import { wayBackOptions } from "../core/options/way-back.js";
import { controlOptions } from "../engine/options/control.js";
import { releaseOptions } from "../engine/options/release.js";
import type { TargetDefinition } from "../engine/targets.js";
import { gateOptions } from "../gates/options.js";
import { parseGates as parseGateSpecs } from "../gates/spec.js";
import { outputOptions } from "./options.js";
import { GATE_SOURCES, TARGETS } from "./registry.js";

export {
  ALL_VERBS,
  CONTROL,
  cliFlag,
  type FrontEnd,
  type OptionDef,
  type OptionKind,
  type RawOptions,
  ROLLOUT,
  type TargetName,
  VERBS,
  type Verb,
} from "../contract/options/def.js";
export type { ResolveContext } from "../contract/options/schema.js";

/** A target's name; `Target` for the callers that read it as the option's value. */
export type Target = TargetName;

const targetOptions = optionGroup({
  name: "target",
  defs: {
    target: {
      kind: "enum",
      choices: TARGETS.map((t) => t.name),
      default: TARGETS[0].name,
      verbs: ALL_VERBS,
      description: `Where to deploy: ${TARGETS.map((t) => `\`${t.name}\` ${t.summary}`).join("; ")}.`,
    },
  },
});

/** Who reads a source's gates on a target: undefined when someone does, else why nobody does. */
function served(source: string, target: string): string | undefined {
  const targets: readonly Pick<TargetDefinition<never>, "name" | "ownGateSource">[] = TARGETS;
  const s = GATE_SOURCES.find((x) => x.name === source);
  const t = targets.find((x) => x.name === target);
  if (s === undefined || t === undefined) return undefined; // reported by the parser or the target
  if ("open" in s || t.ownGateSource === source) return undefined;
  const owners = targets.filter((x) => x.ownGateSource === source).map((x) => x.name);
  return `${source} gates are read by the ${owners.join("/")} target's own metrics: use --target ${owners.join("/")}, or a source with its own connection on --target ${target}`;
}

/** Whether a target calls a kind of hook: HTTP hooks run anywhere, others need their target's connection. */
function servedHook(kind: string, target: string): string | undefined {
  if (kind === "http") return undefined;
  const targets: readonly Pick<TargetDefinition<never>, "name" | "hookKinds">[] = TARGETS;
  const t = targets.find((x) => x.name === target);
  if (t === undefined || t.hookKinds?.includes(kind) === true) return undefined;
  const owners = targets.filter((t) => t.hookKinds?.includes(kind)).map((t) => t.name);
  return `${kind} hooks are invoked through the ${owners.join("/")} target's connection: use --target ${owners.join("/")}, or an HTTP hook (url) on --target ${target}`;
}

const GROUPS = [
  targetOptions,
  releaseOptions,
  ...TARGETS.map((t) => t.options),
  gateOptions(GATE_SOURCES, served),
  ...GATE_SOURCES.flatMap((s) => ("options" in s ? [s.options] : [])),
  planOptions,
  checkOptions(servedHook),
  capacityOptions,
  wayBackOptions,
  thresholdOptions,
  signalOptions,
  outputOptions,
  controlOptions,
] as const;

type Intersect<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type GroupDefs<G> = G extends OptionGroup<infer D> ? D : never;
type AllGroups =
  | (typeof GROUPS)[number]
  | (typeof TARGETS)[number]["options"]
  | Extract<(typeof GATE_SOURCES)[number], { options: unknown }>["options"];

type AllDefs = Intersect<GroupDefs<AllGroups>>;

/** Fully resolved options: durations in ms, rates as fractions, lists as arrays. */
export type Options = Values<AllDefs>;
export type OptionName = keyof AllDefs & string;

export const SCHEMA = new OptionSchema<AllDefs, Options>(GROUPS as readonly OptionGroup[], TARGETS);

export const OPTION_DEFS: AllDefs = SCHEMA.defs;
export const OPTION_NAMES: readonly OptionName[] = SCHEMA.names;

/**
 * Validates raw options for a verb and returns them resolved with the target's defaults.
 * Throws InvalidInputError listing every problem, each naming the option and the fix.
 */
export const resolveOptions = (raw: RawOptions, ctx: ResolveContext): Options => SCHEMA.resolve(raw, ctx);

/** The zod schema behind resolveOptions, for callers that want the issues rather than an exception. */
export const rawOptionsSchema = (ctx: ResolveContext) => SCHEMA.zod(ctx);

export const defOf = (name: OptionName): OptionDef => SCHEMA.def(name);
export const rawDefault = (name: OptionName, target: TargetName) => SCHEMA.rawDefault(name, target);
export const defaultText = (name: OptionName): string | undefined => SCHEMA.defaultText(name);
export const parseOptionValue = (name: OptionName, raw: unknown): Parsed<unknown> =>
  SCHEMA.parseValue(name, raw);
export const optionVerbs = (name: OptionName): readonly Verb[] => SCHEMA.verbsOf(name);
export const optionFrontEnds = (name: OptionName): readonly FrontEnd[] => SCHEMA.frontEndsOf(name);
export const inapplicable = (name: OptionName, verb: Verb, target: TargetName, frontEnd: FrontEnd) =>
  SCHEMA.inapplicable(name, verb, target, frontEnd);
export const crossFieldIssues = (o: Options, verb: Verb) => SCHEMA.crossFieldIssues(o, verb);
export const optionsTableMarkdown = (): string => SCHEMA.tableMarkdown();

/** Parses gate declarations with the registered sources (what the `gates` option does). */
export const parseGates = (raw: unknown) => parseGateSpecs(raw, GATE_SOURCES);
