/**
 * What an option is: the shape every option group (src/<owner>/options.ts) declares its options in,
 * and the verbs and front ends they apply to. The groups are assembled into the one schema in
 * src/app/schema.ts; this folder holds the machinery every front end derives from (parsing, defaults,
 * applicability, the README table).
 *
 * Definitions used throughout (the docs and `--help` quote them):
 * - interval (`--interval`): how often the engine observes metrics and health while a step bakes.
 * - bake (`--bake`): the minimum time at a step before it may pass.
 * - windows (`--rollback-window`, `--promotion-window`): the trailing spans of metrics the gates
 *   evaluate; rollback gates look at the rollback window, the pass criteria at the promotion window.
 * - metric period (`--metric-period`): the granularity of the metric source.
 * - metrics delay (`--metrics-delay`): how far behind "now" the newest complete metrics are.
 *
 * Raw values are written as a person writes them (`5m`, `2%`, `5,25,50,100`); resolving turns them
 * into milliseconds, fractions and arrays, applies the target's defaults, and checks every field and
 * every cross-field rule, reporting all problems at once.
 */

/** A target's name (`local`, `aws`): targets are registered in src/app/registry.ts. */
export type TargetName = string;

export const VERBS = [
  "deploy-gray",
  "plan",
  "status",
  "promote",
  "abort",
  "rollback-release",
  "bootstrap",
] as const;
export type Verb = (typeof VERBS)[number];

/** deploy-gray and plan: the default verbs of an option. */
export const ROLLOUT: readonly Verb[] = ["deploy-gray", "plan"];
/** Every verb that addresses a rollout (all but bootstrap). */
export const CONTROL: readonly Verb[] = [
  "deploy-gray",
  "plan",
  "status",
  "promote",
  "abort",
  "rollback-release",
];
export const ALL_VERBS: readonly Verb[] = VERBS;

export type OptionKind =
  | "string"
  | "boolean"
  | "integer"
  | "duration"
  | "rate"
  | "steps"
  | "list"
  | "enum"
  /** Structured values: a JSON text on the command line and in Dagger, a YAML/JSON list in a config file. */
  | "json";

/** Front ends that expose an option. Most are in both; a few only make sense in one. */
export type FrontEnd = "cli" | "dagger";

export interface JsonIssue {
  readonly path: string;
  readonly message: string;
}

export type ParsedJson =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly issues: readonly JsonIssue[] };

export interface OptionDef {
  readonly kind: OptionKind;
  /** One sentence for `--help`, Dagger docs and the options table. */
  readonly description: string;
  /** Default written as a user would write it, the same for every target. */
  readonly default?: string | number | boolean;
  /** Every target gives its own default (TargetOptionInfo.defaults); durations and load only. */
  readonly perTarget?: true;
  readonly choices?: readonly string[];
  /** Inclusive bounds: integers as is, durations in ms, rates as fractions. */
  readonly min?: number;
  readonly max?: number;
  readonly unit?: string;
  /** Verbs that accept the option. Default: deploy-gray and plan. */
  readonly verbs?: readonly Verb[];
  /** Verbs for which the option is required wherever it applies. */
  readonly requiredFor?: readonly Verb[];
  /** Front ends exposing it. Default: both. */
  readonly frontEnds?: readonly FrontEnd[];
  /** For strings: a pattern and what a valid value looks like. */
  readonly pattern?: { readonly re: RegExp; readonly hint: string };
  /** Environment variables read, in order, when the option is not given (CLI only). */
  readonly env?: readonly string[];
  /** The value is sensitive: it is never printed, logged or stored. */
  readonly sensitive?: boolean;
  /**
   * For `json` options: parses and validates the value (the list itself, or its JSON text, or one
   * JSON text per repeated flag), reporting every problem with its path inside the value.
   */
  readonly parseJson?: (raw: unknown) => ParsedJson;
}

export type OptionDefs = Readonly<Record<string, OptionDef>>;

/** A problem with one option (or a place inside a structured one: `gates[1].metricName`). */
export interface OptionIssue {
  readonly field: string;
  readonly message: string;
}

export interface CheckContext {
  readonly verb: Verb;
  readonly target: TargetName;
  /** Every resolved option of the call, for rules that read another group's options. */
  readonly all: Readonly<Record<string, unknown>>;
}

/**
 * Options of one concern, declared by the part of the code that reads them (release and control by
 * the engine's verbs, the plan and thresholds by the core, AWS coordinates by the AWS target, the
 * local environment by the local target, each gate source's connection by its source, output by the
 * application layer).
 */
export interface OptionGroup<D extends OptionDefs = OptionDefs> {
  readonly name: string;
  readonly defs: D;
  /** The one target these options apply to; given for another target they are an error. */
  readonly target?: TargetName;
  /** Rules that involve more than one option, over resolved values (invalid ones are undefined). */
  check?(o: Values<D>, ctx: CheckContext): readonly OptionIssue[];
}

/** Declares a group with its literal types kept (so `Values<typeof group.defs>` is precise). */
export function optionGroup<const D extends OptionDefs>(g: OptionGroup<D>): OptionGroup<D> {
  return g;
}

/** What a target says about options: its own defaults and what it requires. */
export interface TargetOptionInfo {
  readonly name: TargetName;
  /** Defaults of `perTarget` options (and any other option whose default differs here). */
  readonly defaults: Readonly<Record<string, string | number>>;
  /** Options required on this target, for these verbs. */
  readonly required?: Readonly<Record<string, readonly Verb[]>>;
}

type KindValue<D> = D extends { kind: "enum"; choices: readonly (infer C)[] }
  ? C
  : D extends { kind: "boolean" }
    ? boolean
    : D extends { kind: "integer" | "duration" | "rate" }
      ? number
      : D extends { kind: "steps" }
        ? readonly number[]
        : D extends { kind: "list" }
          ? readonly string[]
          : D extends { kind: "json"; parseJson: (raw: unknown) => infer R }
            ? R extends { ok: true; value: infer T }
              ? T
              : never
            : string;

type HasDefault<D> = D extends { default: unknown }
  ? true
  : D extends { kind: "list" | "boolean" | "json" }
    ? true
    : D extends { perTarget: true }
      ? true
      : false;

/** Resolved values of a group's options: durations in ms, rates as fractions, lists as arrays. */
export type Values<D extends OptionDefs> = {
  readonly [K in keyof D]: HasDefault<D[K]> extends true ? KindValue<D[K]> : KindValue<D[K]> | undefined;
};

/** Raw input from a front end or a config file: strings as typed, numbers/booleans from JSON or YAML. */
export type RawOptions = Partial<Record<string, unknown>>;

/** `rollbackWindow` → `rollback-window`. */
export const kebabName = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const cliFlag = (name: string): string => `--${kebabName(name)}`;
