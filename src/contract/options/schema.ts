/**
 * The options schema: option groups assembled once (src/app/schema.ts), with the targets that give
 * per-target defaults. Every front end derives from it: the CLI flag is the kebab-case of the name
 * (`--rollback-window`), the Dagger argument and the config-file key are the name itself
 * (`rollbackWindow`), the README's table is `tableMarkdown()`.
 */
import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import type { Parsed } from "../units.js";
import {
  type CheckContext,
  cliFlag,
  type FrontEnd,
  kebabName,
  type OptionDef,
  type OptionDefs,
  type OptionGroup,
  type OptionIssue,
  type RawOptions,
  ROLLOUT,
  type TargetName,
  type TargetOptionInfo,
  type Verb,
} from "./def.js";
import { parseValue } from "./parse.js";

export interface ResolveContext {
  readonly verb: Verb;
  /** Environment variables for `env` fallbacks (the CLI passes process.env; Dagger passes none). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Which front end asks, to refuse options it does not expose. Default: cli. */
  readonly frontEnd?: FrontEnd;
}

/** The option that chooses the target; its default is the default target. */
export const TARGET_OPTION = "target";

export class OptionSchema<D extends OptionDefs, V> {
  readonly defs: D;
  readonly names: readonly (keyof D & string)[];
  readonly #groupOf = new Map<string, OptionGroup>();
  readonly #groups: readonly OptionGroup[];
  readonly #targets: readonly TargetOptionInfo[];

  constructor(groups: readonly OptionGroup[], targets: readonly TargetOptionInfo[]) {
    const defs: Record<string, OptionDef> = {};
    for (const g of groups) {
      for (const [name, def] of Object.entries(g.defs)) {
        if (name in defs) throw new Error(`option ${name} is declared twice (group ${g.name})`);
        defs[name] = def;
        this.#groupOf.set(name, g);
      }
    }
    this.defs = defs as unknown as D;
    this.names = Object.keys(defs) as (keyof D & string)[];
    this.#groups = groups;
    this.#targets = targets;
  }

  has(name: string): name is keyof D & string {
    return this.#groupOf.has(name);
  }

  def(name: keyof D & string): OptionDef {
    return this.defs[name] as OptionDef;
  }

  /** The group an option belongs to (its owner). */
  groupOf(name: keyof D & string): string {
    return this.#groupOf.get(name)?.name ?? "";
  }

  verbsOf(name: keyof D & string): readonly Verb[] {
    return this.def(name).verbs ?? ROLLOUT;
  }

  frontEndsOf(name: keyof D & string): readonly FrontEnd[] {
    return this.def(name).frontEnds ?? ["cli", "dagger"];
  }

  /** Targets the option applies to. */
  targetsOf(name: keyof D & string): readonly TargetName[] {
    const only = this.#groupOf.get(name)?.target;
    return only === undefined ? this.#targets.map((t) => t.name) : [only];
  }

  /** Whether the option must be given for this verb on this target (where it applies). */
  isRequired(name: keyof D & string, verb: Verb, target: TargetName): boolean {
    if (
      this.inapplicable(name, verb, target, "cli") !== undefined &&
      this.inapplicable(name, verb, target, "dagger") !== undefined
    )
      return false;
    const required = this.#targets.find((t) => t.name === target)?.required ?? {};
    return this.def(name).requiredFor?.includes(verb) === true || required[name]?.includes(verb) === true;
  }

  /** The default of an option for a target, written as a user would write it, or undefined. */
  rawDefault(name: keyof D & string, target: TargetName): string | number | boolean | undefined {
    const def = this.def(name);
    if (def.default !== undefined) return def.default;
    return this.#targets.find((t) => t.name === target)?.defaults[name];
  }

  /** The default as documentation shows it: one value, or one per target ("12m on aws, 13s on local"). */
  defaultText(name: keyof D & string): string | undefined {
    const def = this.def(name);
    if (def.default !== undefined && def.default !== false) return String(def.default);
    const per = [...this.#targets]
      .sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((t) => (t.defaults[name] === undefined ? [] : [`${t.defaults[name]} on ${t.name}`]));
    return per.length > 0 ? per.join(", ") : undefined;
  }

  /** Parses one raw value according to its definition (no defaults, no cross-field rules). */
  parseValue(name: keyof D & string, raw: unknown): Parsed<unknown> {
    return parseValue(this.def(name), raw);
  }

  /** Why an option cannot be used for this verb, target and front end; undefined when it can. */
  inapplicable(
    name: keyof D & string,
    verb: Verb,
    target: TargetName,
    frontEnd: FrontEnd,
  ): string | undefined {
    if (!this.verbsOf(name).includes(verb)) {
      return `not an option of \`${verb}\` (it applies to: ${this.verbsOf(name).join(", ")})`;
    }
    if (!this.frontEndsOf(name).includes(frontEnd)) return `not available from ${frontEnd}`;
    const targets = this.targetsOf(name);
    if (!targets.includes(target)) return `applies only to --target ${targets.join("/")}, not ${target}`;
    return undefined;
  }

  /**
   * One config file serves every verb, target and front end: keys another verb, target or front end
   * needs (the target group ARNs for `status`, `reportDir` for Dagger) are left out instead of
   * refused. Unknown keys stay in, so resolving still rejects them with a suggestion.
   */
  applicableConfig(config: RawOptions, verb: Verb, target: TargetName, frontEnd: FrontEnd): RawOptions {
    return Object.fromEntries(
      Object.entries(config).filter(
        ([key]) => !this.has(key) || this.inapplicable(key, verb, target, frontEnd) === undefined,
      ),
    );
  }

  /** The target a raw input chooses (the default target when it names none or an unknown one). */
  targetOf(raw: RawOptions): TargetName {
    const def = this.def(TARGET_OPTION as keyof D & string);
    const parsed = parseValue(def, raw[TARGET_OPTION] ?? def.default);
    return parsed.ok ? (parsed.value as TargetName) : String(def.default);
  }

  /**
   * Validates raw options for a verb and returns them resolved with the target's defaults.
   * Throws InvalidInputError listing every problem, each naming the option and the fix.
   */
  resolve(raw: RawOptions, ctx: ResolveContext): V {
    const result = this.zod(ctx).safeParse(raw);
    if (!result.success) {
      throw new InvalidInputError(
        result.error.issues.map((i) => ({ field: String(i.path[0] ?? ""), message: i.message })),
      );
    }
    return result.data as V;
  }

  /** The zod schema behind `resolve`, for callers that want the issues rather than an exception. */
  zod(ctx: ResolveContext) {
    const frontEnd = ctx.frontEnd ?? "cli";
    return z
      .record(z.string(), z.unknown())
      .superRefine((input, zc) => {
        for (const key of Object.keys(input)) {
          if (!this.has(key)) {
            const guess = this.closest(key);
            zc.addIssue({
              code: "custom",
              path: [key],
              message: `unknown option "${key}"${guess ? `; did you mean ${guess} (${cliFlag(guess)})?` : ""}`,
            });
          }
        }
      })
      .transform((input, zc) => {
        const target = this.targetOf(input);
        const required = this.#targets.find((t) => t.name === target)?.required ?? {};
        const out: Record<string, unknown> = {};
        for (const name of this.names) {
          const def = this.def(name);
          const explicit = input[name];
          const why = this.inapplicable(name, ctx.verb, target, frontEnd);
          if (why !== undefined) {
            if (explicit !== undefined) zc.addIssue({ code: "custom", path: [name], message: why });
            out[name] = empty(def);
            continue;
          }
          let value = explicit;
          if (value === undefined && def.env && ctx.env) {
            value = def.env.map((v) => ctx.env?.[v]).find((v) => v !== undefined && v !== "");
          }
          if (value === undefined) value = this.rawDefault(name, target);
          if (value === undefined) {
            out[name] = empty(def);
            const needed = def.requiredFor?.includes(ctx.verb) || required[name]?.includes(ctx.verb);
            if (out[name] === undefined && needed) {
              zc.addIssue({
                code: "custom",
                path: [name],
                message: `is required for \`${ctx.verb} --target ${target}\`${def.pattern ? ` (${def.pattern.hint})` : ""}`,
              });
            }
            continue;
          }
          if (def.kind === "json" && def.parseJson) {
            // Each problem names its place inside the value: --gates[1].metricName.
            const parsed = def.parseJson(value);
            if (parsed.ok) out[name] = parsed.value;
            else
              for (const i of parsed.issues) {
                zc.addIssue({ code: "custom", path: [`${name}${i.path}`], message: i.message });
              }
            continue;
          }
          const parsed = parseValue(def, value);
          if (!parsed.ok) zc.addIssue({ code: "custom", path: [name], message: parsed.message });
          else out[name] = parsed.value;
        }
        return out;
      })
      .superRefine((o, zc) => {
        for (const issue of this.crossFieldIssues(o, ctx.verb)) {
          zc.addIssue({ code: "custom", path: [issue.field], message: issue.message });
        }
      });
  }

  /** Every group's rules that involve more than one option (groups of another target are skipped). */
  crossFieldIssues(o: Readonly<Record<string, unknown>>, verb: Verb): OptionIssue[] {
    const target = String(o[TARGET_OPTION] ?? "");
    const ctx: CheckContext = { verb, target, all: o };
    return this.#groups
      .filter((g) => g.check !== undefined && (g.target === undefined || g.target === target))
      .flatMap((g) => [...(g.check?.(o as never, ctx) ?? [])]);
  }

  /** The options table of the README and the docs, as Markdown. */
  tableMarkdown(): string {
    const esc = (s: string) => s.replace(/\|/g, "\\|");
    const rows = this.names.map((name) => {
      const def = this.def(name);
      const fe = this.frontEndsOf(name);
      const where = fe.length === 2 ? "" : ` (${fe[0]} only)`;
      const verbs = this.verbsOf(name);
      const targets = this.targetsOf(name);
      const scope = [
        targets.length === 1 ? targets[0] : "both targets",
        verbs.length >= 5 ? "all verbs" : verbs.join(", "),
      ].join("; ");
      const kind = `${def.kind}${def.unit ? ` (${def.unit})` : ""}`;
      return `| \`--${kebabName(name)}\`${where} | \`${name}\` | ${kind} | ${esc(this.defaultText(name) ?? "")} | ${scope} | ${esc(def.description)} |`;
    });
    return [
      "| CLI flag | Dagger argument / config key | Type | Default | Applies to | Meaning |",
      "|---|---|---|---|---|---|",
      ...rows,
    ].join("\n");
  }

  closest(key: string): (keyof D & string) | undefined {
    const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
    const k = norm(key);
    let best: (keyof D & string) | undefined;
    let bestDist = 3;
    for (const name of this.names) {
      const dist = levenshtein(k, norm(name));
      if (dist < bestDist) {
        best = name;
        bestDist = dist;
      }
    }
    return best;
  }
}

/** What a resolved option holds when not given: an empty list, false, or undefined. */
function empty(def: OptionDef): unknown {
  return def.kind === "list" || def.kind === "json" ? [] : def.kind === "boolean" ? false : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
