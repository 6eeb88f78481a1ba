/**
 * Parsing and validation of gate declarations: the `gates` option (config file key `gates`, a list;
 * `--gates` with a JSON object or list, repeatable; Dagger `gates`, a string holding the same JSON).
 *
 * A declaration, as written (YAML):
 *
 * ```yaml
 * gates:
 *   - name: pix-declines               # reported as custom:pix-declines
 *     source: cloudwatch               # or zabbix
 *     namespace: TecPag/Payments
 *     numerator: PaymentsDeclined      # a rate: Sum(numerator) ÷ Sum(denominator) per version…
 *     denominator: PaymentsAttempted
 *     dimensions: { AutoScalingGroupName: "{asg}", Method: pix }   # …{asg} is each version's ASG
 *     test: { margin: 0.5% }           # rule: gray worse than stable by more than 0.5 points (tested)
 *     minSamples: 200                  # fewer attempts in the window: inconclusive
 *   - name: settlement-latency
 *     source: cloudwatch
 *     namespace: TecPag/Payments
 *     metricName: SettlementLatency
 *     statistic: p99
 *     dimensions: { TargetGroup: "{targetGroup}" }
 *     max: 800                         # rule: an absolute limit on gray's value
 *   - name: pix-declines-zabbix
 *     source: zabbix
 *     numeratorKey: payments.declined
 *     denominatorKey: payments.attempted
 *     hosts: { tag: asg }              # hosts tagged asg=<each version's ASG> (the default)
 *     ratio: { tolerance: 50% }        # rule: at most stable's value × 1.5
 * ```
 *
 * The fields of the metric are the source's (each source registers its parser: GateSourceSpec); the
 * name, the rule, the window and the limits are common to every source.
 *
 * Every problem is reported at once, each naming the gate and the field:
 * `--gates[1].metricName: required (gate "settlement-latency")`.
 */
import { parseRate } from "../contract/units.js";
import type { GateSourceSpec, IssueFn } from "./source.js";
import type { GateMetric, GateRule, GateSpec, GateWindowName } from "./types.js";

export interface GateIssue {
  /** Relative to the option: `[1].metricName`. */
  readonly path: string;
  readonly message: string;
}

export type ParsedGates =
  | { readonly ok: true; readonly value: readonly GateSpec[] }
  | { readonly ok: false; readonly issues: readonly GateIssue[] };

export const MAX_GATES = 20;
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const RULES = ["max", "min", "ratio", "test"] as const;
const COMMON = ["name", "source", "window", "minSamples", "maxErrors", ...RULES] as const;

/** Defaults: a rate needs 100 in its denominator before a verdict; a value one datapoint. */
export const DEFAULT_MIN_SAMPLES = { rate: 100, value: 1 } as const;
export const DEFAULT_MAX_ERRORS = 3;
export const DEFAULT_TEST_MARGIN = 0.005;

/** Turns what a front end or a config file holds into a list of raw declarations. */
export function declarations(raw: unknown, issues: GateIssue[], what = "gate"): unknown[] {
  const fromJson = (text: string, where: string): unknown[] => {
    try {
      const v: unknown = JSON.parse(text);
      return Array.isArray(v) ? v : [v];
    } catch (e) {
      issues.push({
        path: where,
        message: `is not valid JSON (${e instanceof Error ? e.message : String(e)}): pass a ${what} object or a list of them`,
      });
      return [];
    }
  };
  if (typeof raw === "string") return fromJson(raw, "");
  if (Array.isArray(raw)) {
    // A repeated CLI flag gives one JSON text per occurrence; a config file gives the objects.
    return raw.flatMap((item, i) => (typeof item === "string" ? fromJson(item, `[${i}]`) : [item]));
  }
  if (raw !== null && typeof raw === "object") return [raw];
  issues.push({ path: "", message: `expected a list of ${what} declarations (objects), or their JSON` });
  return [];
}

/** Parses gate declarations; `sources` are the registered gate sources (src/app/registry.ts). */
export function parseGates(raw: unknown, sources: readonly GateSourceSpec[]): ParsedGates {
  const issues: GateIssue[] = [];
  const list = declarations(raw, issues);
  if (list.length > MAX_GATES) {
    issues.push({ path: "", message: `${list.length} gates declared; at most ${MAX_GATES}` });
  }
  const gates: GateSpec[] = [];
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    const g = parseGate(item, i, issues, sources);
    if (g === null) return;
    const first = seen.get(g.name);
    if (first !== undefined) {
      issues.push({
        path: `[${i}].name`,
        message: `"${g.name}" is already the name of gates[${first}]: names must be unique`,
      });
    } else seen.set(g.name, i);
    gates.push(g);
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: gates };
}

function parseGate(
  item: unknown,
  i: number,
  issues: GateIssue[],
  sources: readonly GateSourceSpec[],
): GateSpec | null {
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    issues.push({ path: `[${i}]`, message: "expected a gate declaration (an object with name, source, …)" });
    return null;
  }
  const o = item as Record<string, unknown>;
  const label = typeof o.name === "string" && o.name !== "" ? ` (gate "${o.name}")` : "";
  const before = issues.length;
  const issue: IssueFn = (field, message) =>
    issues.push({ path: `[${i}]${field ? `.${field}` : ""}`, message: `${message}${label}` });

  const name = o.name;
  if (name === undefined) issue("name", "required");
  else if (typeof name !== "string" || !NAME.test(name)) {
    issue("name", "must be lower-case letters, digits and dashes (at most 63), e.g. pix-declines");
  }
  const names = sources.map((s) => s.name);
  const choices = names.length === 2 ? `${names[0]} or ${names[1]}` : names.join(", ");
  const source = sources.find((s) => s.name === o.source);
  if (o.source === undefined) issue("source", `required: ${choices}`);
  else if (source === undefined) issue("source", `${JSON.stringify(o.source)} is not ${choices}`);
  for (const key of Object.keys(o)) {
    if ((COMMON as readonly string[]).includes(key) || source?.fields.includes(key)) continue;
    const owner = sources.find((s) => s.fields.includes(key));
    if (owner !== undefined && source !== undefined) issue(key, `applies to source ${owner.name} only`);
    else if (owner === undefined) issue(key, "unknown field");
  }

  let window: GateWindowName = "rollback";
  if (o.window !== undefined) {
    if (o.window === "rollback" || o.window === "promotion") window = o.window;
    else issue("window", `${JSON.stringify(o.window)} is not rollback or promotion`);
  }

  const metric: GateMetric | null = source?.parseMetric(o, issue) ?? null;

  const isRate = metric?.kind === "rate";
  const rules = RULES.filter((r) => o[r] !== undefined);
  let rule: GateRule | null = null;
  if (rules.length === 0) issue("", "needs a rule: one of max, min, ratio, test");
  else if (rules.length > 1) {
    issue(rules[1]!, `one rule per gate, but ${rules.join(" and ")} are given: declare another gate`);
  } else if (metric !== null) rule = parseRule(rules[0]!, o[rules[0]!], isRate, issue);

  const minSamples = integer(o.minSamples, isRate ? DEFAULT_MIN_SAMPLES.rate : DEFAULT_MIN_SAMPLES.value, {
    min: 1,
    max: 1e12,
    field: "minSamples",
    issue,
  });
  const maxErrors = integer(o.maxErrors, DEFAULT_MAX_ERRORS, {
    min: 1,
    max: 1000,
    field: "maxErrors",
    issue,
  });

  if (issues.length > before || metric === null || rule === null) return null;
  return { name: name as string, metric, rule, window, minSamples, maxErrors };
}

/** A number as written: 800, "800", or for rates also "5%" / 0.05. */
function limitValue(raw: unknown, isRate: boolean, field: string, issue: IssueFn): number | null {
  if (isRate) {
    const p = parseRate(raw);
    if (!p.ok) {
      issue(field, `${p.message} (the gate's metric is a rate)`);
      return null;
    }
    return p.value;
  }
  const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    issue(field, `${JSON.stringify(raw)} is not a number`);
    return null;
  }
  return n;
}

/** A tolerance or margin: a fraction (0.25) or a percentage ("25%"); up to 1000%. */
function fraction(raw: unknown, field: string, issue: IssueFn): number | null {
  if (typeof raw === "string" && /^\d+(\.\d+)?\s*%$/.test(raw.trim())) {
    const v = Number(raw.trim().slice(0, -1)) / 100;
    if (v <= 10) return v;
  } else if (typeof raw === "number" && Number.isFinite(raw) && raw >= 0 && raw < 1) return raw;
  else if (typeof raw === "string" && /^0?\.\d+$/.test(raw.trim())) return Number(raw);
  issue(field, `${JSON.stringify(raw)} is not a fraction (0.25) or a percentage (25%, at most 1000%)`);
  return null;
}

function parseRule(
  kind: (typeof RULES)[number],
  raw: unknown,
  isRate: boolean,
  issue: IssueFn,
): GateRule | null {
  switch (kind) {
    case "max":
    case "min": {
      const limit = limitValue(raw, isRate, kind, issue);
      return limit === null ? null : { kind, limit };
    }
    case "ratio": {
      const o =
        raw !== null && typeof raw === "object" && !Array.isArray(raw)
          ? (raw as Record<string, unknown>)
          : { tolerance: raw };
      for (const k of Object.keys(o))
        if (k !== "tolerance" && k !== "worse") issue(`ratio.${k}`, "unknown field");
      if (o.tolerance === undefined) {
        issue("ratio.tolerance", "required, e.g. 25% (gray at most 1.25 × stable)");
        return null;
      }
      const tolerance = fraction(o.tolerance, "ratio.tolerance", issue);
      const worse = o.worse ?? "higher";
      if (worse !== "higher" && worse !== "lower") {
        issue("ratio.worse", `${JSON.stringify(worse)} is not higher or lower (which direction is bad)`);
        return null;
      }
      if (worse === "lower" && tolerance !== null && tolerance >= 1) {
        issue("ratio.tolerance", "must be below 100% when lower is worse");
        return null;
      }
      return tolerance === null ? null : { kind: "ratio", tolerance, worse };
    }
    case "test": {
      if (!isRate) {
        issue(
          "test",
          "the statistical test applies to rates (numerator and denominator); use max, min or ratio",
        );
        return null;
      }
      const o =
        raw === true
          ? {}
          : raw !== null && typeof raw === "object" && !Array.isArray(raw)
            ? (raw as Record<string, unknown>)
            : { margin: raw };
      for (const k of Object.keys(o)) if (k !== "margin") issue(`test.${k}`, "unknown field");
      if (o.margin === undefined) return { kind: "test", margin: DEFAULT_TEST_MARGIN };
      const p = parseRate(o.margin);
      if (!p.ok) {
        issue("test.margin", p.message);
        return null;
      }
      return { kind: "test", margin: p.value };
    }
  }
}

function integer(
  raw: unknown,
  dflt: number,
  o: { min: number; max: number; field: string; issue: IssueFn },
): number {
  if (raw === undefined) return dflt;
  const n = typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n) || n < o.min || n > o.max) {
    o.issue(o.field, `${JSON.stringify(raw)} is not a whole number from ${o.min} to ${o.max}`);
    return dflt;
  }
  return n;
}

/** `{asg}` → the version's ASG name, and so on; throws naming a placeholder with no value. */
export function substitute(
  text: string,
  identity: Readonly<Record<string, string | null | undefined>>,
): string {
  return text.replace(/\{([A-Za-z]+)\}/g, (_whole, p: string) => {
    const v = identity[p];
    if (v === undefined || v === null || v === "") {
      throw new Error(`{${p}} has no value for this version (yet)`);
    }
    return v;
  });
}

/** A one-line description of a gate, for plans, facts and reports. */
export function describeGate(g: GateSpec): string {
  const m = g.metric;
  const what = m.title ?? `${m.source} ${m.kind}`;
  const r = g.rule;
  const pct = (v: number) => `${Number((v * 100).toPrecision(6))}%`;
  const rate = m.kind === "rate";
  const rule =
    r.kind === "max"
      ? `≤ ${rate ? pct(r.limit) : r.limit}`
      : r.kind === "min"
        ? `≥ ${rate ? pct(r.limit) : r.limit}`
        : r.kind === "ratio"
          ? `${r.worse === "higher" ? "≤" : "≥"} stable × ${r.worse === "higher" ? 1 + r.tolerance : 1 - r.tolerance}`
          : `not worse than stable by more than ${pct(r.margin)} (tested)`;
  return `custom:${g.name}: ${what} ${rule} over the ${g.window} window`;
}
