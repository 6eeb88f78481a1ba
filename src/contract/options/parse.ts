/** Parsing one raw option value by its definition: no defaults, no cross-field rules. */
import { formatDuration, type Parsed, parseDuration, parseRate } from "../units.js";
import type { OptionDef } from "./def.js";

export function parseValue(def: OptionDef, raw: unknown): Parsed<unknown> {
  switch (def.kind) {
    case "duration":
      return bounded(parseDuration(raw), def, (v) => formatDuration(v));
    case "rate":
      return bounded(parseRate(raw), def, (v) => `${Number((v * 100).toPrecision(6))}%`);
    case "integer": {
      const n = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isInteger(n)) {
        return { ok: false, message: `${JSON.stringify(raw)} is not a whole number` };
      }
      return bounded({ ok: true, value: n }, def, String);
    }
    case "boolean": {
      if (typeof raw === "boolean") return { ok: true, value: raw };
      if (raw === "true") return { ok: true, value: true };
      if (raw === "false") return { ok: true, value: false };
      return { ok: false, message: `${JSON.stringify(raw)} is not true or false` };
    }
    case "enum": {
      const choices = def.choices ?? [];
      if (typeof raw === "string" && choices.includes(raw)) return { ok: true, value: raw };
      return { ok: false, message: `${JSON.stringify(raw)} is not one of ${choices.join(", ")}` };
    }
    case "steps":
      return parseSteps(raw);
    case "json": {
      const parsed = def.parseJson?.(raw) ?? { ok: false, issues: [{ path: "", message: "no parser" }] };
      if (parsed.ok) return { ok: true, value: parsed.value };
      return {
        ok: false,
        message: parsed.issues.map((i) => `${i.path ? `${i.path}: ` : ""}${i.message}`).join("; "),
      };
    }
    case "list": {
      const items = Array.isArray(raw)
        ? raw
        : typeof raw === "string"
          ? raw
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "")
          : null;
      if (items === null || !items.every((i) => typeof i === "string")) {
        return { ok: false, message: "expected a comma-separated list of names" };
      }
      return { ok: true, value: items };
    }
    case "string": {
      if (typeof raw !== "string" || raw.trim() === "")
        return { ok: false, message: "expected a non-empty string" };
      const value = raw.trim();
      if (def.pattern && !def.pattern.re.test(value)) {
        const shown = def.sensitive ? "the value" : JSON.stringify(value);
        return { ok: false, message: `${shown} is not valid: expected ${def.pattern.hint}` };
      }
      return { ok: true, value };
    }
  }
}

function bounded(p: Parsed<number>, def: OptionDef, fmt: (v: number) => string): Parsed<number> {
  if (!p.ok) return p;
  if (def.min !== undefined && p.value < def.min) {
    return { ok: false, message: `${fmt(p.value)} is below the minimum ${fmt(def.min)}` };
  }
  if (def.max !== undefined && p.value > def.max) {
    return { ok: false, message: `${fmt(p.value)} is above the maximum ${fmt(def.max)}` };
  }
  return p;
}

/** Parses "5,25,50,100" (or [5, 25, 50, 100] from a config file): strictly increasing, 1..100, ending at 100. */
export function parseSteps(raw: unknown): Parsed<readonly number[]> {
  const parts: unknown[] | null = Array.isArray(raw)
    ? raw
    : typeof raw === "string"
      ? raw.split(",").map((s) => s.trim())
      : typeof raw === "number"
        ? [raw]
        : null;
  if (parts === null || parts.length === 0) {
    return { ok: false, message: "expected comma-separated percentages such as 5,25,50,100" };
  }
  const steps: number[] = [];
  for (const p of parts) {
    const n = typeof p === "string" && /^\d+$/.test(p) ? Number(p) : p;
    if (typeof n !== "number" || !Number.isInteger(n)) {
      return {
        ok: false,
        message: `${JSON.stringify(p)} is not a whole percentage (write e.g. 5,25,50,100)`,
      };
    }
    if (n < 1 || n > 100) return { ok: false, message: `step ${n} is out of range: each step is 1 to 100` };
    const prev = steps[steps.length - 1];
    if (prev !== undefined && n <= prev) {
      return { ok: false, message: `steps must be strictly increasing, but ${n} follows ${prev}` };
    }
    steps.push(n);
  }
  if (steps[steps.length - 1] !== 100) {
    return {
      ok: false,
      message: `the last step must be 100 (the new version takes all traffic before promotion)`,
    };
  }
  return { ok: true, value: steps };
}
