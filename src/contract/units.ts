/**
 * Parsing and formatting of the two unit-bearing value kinds of the contract: durations and rates.
 *
 * Durations are always written with units so that `--bake 10` can never mean ten milliseconds to one
 * reader and ten minutes to another. Rates accept a fraction (`0.02`) or a percentage (`2%`); a bare
 * number of 1 or more is rejected because it is ambiguous (is `2` two percent or two hundred?).
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/** Result of parsing user input: a value, or a message that says what is wrong and how to write it. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * Parses `500ms`, `30s`, `5m`, `1h`, or compounds such as `1m30s`, into milliseconds.
 * @example parseDuration("1m30s") // { ok: true, value: 90000 }
 */
export function parseDuration(input: unknown): Parsed<number> {
  if (typeof input === "number") {
    return {
      ok: false,
      message: `a duration needs a unit: write "${input}s", "${input}m" or "${input}ms", not a bare number`,
    };
  }
  if (typeof input !== "string")
    return { ok: false, message: "a duration must be a string such as 30s or 5m" };
  const text = input.trim();
  if (text === "") return { ok: false, message: "a duration cannot be empty; write e.g. 30s or 5m" };
  if (/^\d+(\.\d+)?$/.test(text)) {
    return {
      ok: false,
      message: `"${text}" has no unit: write "${text}s", "${text}m" or "${text}ms"`,
    };
  }
  let total = 0;
  let consumed = 0;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(text); m !== null; m = DURATION_PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2] as Unit];
    consumed = DURATION_PART.lastIndex;
  }
  if (consumed !== text.length) {
    return {
      ok: false,
      message: `"${text}" is not a duration: use a number with a unit ms, s, m or h (e.g. 500ms, 30s, 5m, 1m30s)`,
    };
  }
  if (!Number.isFinite(total)) return { ok: false, message: `"${text}" is too large` };
  return { ok: true, value: Math.round(total) };
}

/** Formats milliseconds the way a person would write them: 90000 → "1m30s", 500 → "500ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(Math.round(ms));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return sign + parts.join("");
}

/**
 * Parses a rate given as a fraction (`0.02`, or the number 0.02 in a config file) or a percentage
 * (`2%`). Bare numbers of 1 or more are ambiguous and rejected.
 */
export function parseRate(input: unknown): Parsed<number> {
  if (typeof input === "number") return checkFraction(input, String(input));
  if (typeof input !== "string")
    return { ok: false, message: "a rate must be a fraction (0.02) or a percentage (2%)" };
  const text = input.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (pct) {
    const value = Number(pct[1]) / 100;
    if (value > 1) return { ok: false, message: `"${text}" is above 100%` };
    return { ok: true, value };
  }
  if (/^\d*\.?\d+$/.test(text)) return checkFraction(Number(text), text);
  return {
    ok: false,
    message: `"${text}" is not a rate: write a fraction such as 0.02 or a percentage such as 2%`,
  };
}

function checkFraction(value: number, text: string): Parsed<number> {
  if (!Number.isFinite(value) || value < 0) {
    return { ok: false, message: `"${text}" is not a rate between 0 and 1 (or 0% and 100%)` };
  }
  if (value >= 1) {
    return {
      ok: false,
      message: `"${text}" is ambiguous: write ${text}% for a percentage, or a fraction below 1 such as ${value / 100}`,
    };
  }
  return { ok: true, value };
}

/** Formats a fraction as a percentage with up to three significant decimals: 0.0205 → "2.05%". */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "n/a";
  const pct = rate * 100;
  const digits = pct === 0 ? 0 : pct < 0.1 ? 3 : pct < 10 ? 2 : 1;
  return `${Number(pct.toFixed(digits))}%`;
}
