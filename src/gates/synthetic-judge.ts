import {
  isObject,
  type PLACEHOLDERS,
  RUNS_KEPT,
  type SyntheticRun,
  type SyntheticSpec,
  syntheticGateName,
} from "./synthetic.js";
import type { GateResult } from "./verdict.js";

/** Substitutes `{release}`, `{rolloutId}` and `{n}` in a text. */
export function fill(text: string, values: Readonly<Record<(typeof PLACEHOLDERS)[number], string>>): string {
  return text.replace(/\{(release|rolloutId|n)\}/g, (_w, p: (typeof PLACEHOLDERS)[number]) => values[p]);
}

/** The body with every string filled. */
export function fillBody(
  v: unknown,
  values: Readonly<Record<(typeof PLACEHOLDERS)[number], string>>,
): unknown {
  if (typeof v === "string") return fill(v, values);
  if (Array.isArray(v)) return v.map((x) => fillBody(x, values));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fillBody(x, values)]));
  return v;
}

function at(doc: unknown, path: readonly (string | number)[]): { found: boolean; value: unknown } {
  let cur: unknown = doc;
  for (const seg of path) {
    if (typeof seg === "number") {
      if (!Array.isArray(cur) || seg >= cur.length) return { found: false, value: undefined };
      cur = cur[seg];
    } else {
      if (!isObject(cur) || !Object.hasOwn(cur, seg)) return { found: false, value: undefined };
      cur = cur[seg];
    }
  }
  return { found: true, value: cur };
}

const equal = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const shown = (v: unknown) => {
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 60 ? `${t.slice(0, 57)}…` : t;
};

/** Judges one answer: its status, then each JSON expectation. The detail names what was seen. */
export function judgeAnswer(
  spec: SyntheticSpec,
  answer: { readonly status: number; readonly body: string },
): { ok: boolean; detail: string } {
  const head = `${spec.method} ${spec.path} → ${answer.status}`;
  if (!spec.expect.statuses.includes(answer.status)) {
    let hint = "";
    try {
      const doc = JSON.parse(answer.body) as unknown;
      const fields = spec.expect.json
        .map((e) => ({ e, v: at(doc, e.path) }))
        .filter((x) => x.v.found)
        .map((x) => `${x.e.text.split(/\s/)[0]} = ${shown(x.v.value)}`);
      if (fields.length > 0) hint = ` (${fields.join(", ")})`;
    } catch {
      // not JSON: the status says enough
    }
    return { ok: false, detail: `${head}, expected ${spec.expect.statuses.join(" or ")}${hint}` };
  }
  if (spec.expect.json.length === 0) return { ok: true, detail: head };
  let doc: unknown;
  try {
    doc = JSON.parse(answer.body);
  } catch {
    return { ok: false, detail: `${head} but the body is not JSON` };
  }
  const seen: string[] = [];
  for (const e of spec.expect.json) {
    const v = at(doc, e.path);
    const path = e.text.split(/\s/)[0]!;
    if (e.op === "exists") {
      if (!v.found) return { ok: false, detail: `${head} but ${path} is missing (expected ${e.text})` };
      seen.push(`${path} present`);
      continue;
    }
    const matches = v.found && equal(v.value, e.value);
    if ((e.op === "==") !== matches) {
      return {
        ok: false,
        detail: `${head} but ${path} = ${v.found ? shown(v.value) : "missing"} (expected ${e.text})`,
      };
    }
    seen.push(`${path} = ${shown(v.value)}`);
  }
  return { ok: true, detail: `${head}, ${seen.join(", ")}` };
}

/** A one-line description for plans: `POST /v1/payments expecting 201, $.status == "approved"`. */
export function describeSynthetic(s: SyntheticSpec): string {
  const secrets = Object.entries(s.secretHeaders).map(([h, v]) => `${h} from $${v.env}`);
  return `${syntheticGateName(s.name)}: ${s.method} ${s.path} expecting ${s.expect.statuses.join("/")}${s.expect.json.length > 0 ? `, ${s.expect.json.map((e) => e.text).join(", ")}` : ""}${secrets.length > 0 ? ` (${secrets.join(", ")})` : ""}`;
}

/**
 * The gate of one transaction over the current step's runs (oldest first): fail when its last
 * `failAfter` runs all failed; inconclusive with no run yet, or a failure streak still short of it;
 * pass otherwise. The reason carries the evidence: the last answer and how many runs there were.
 */
export function syntheticGate(spec: SyntheticSpec, runs: readonly SyntheticRun[]): GateResult {
  const gate = syntheticGateName(spec.name);
  const latest = runs.filter((r) => r.name === spec.name).at(-1);
  if (latest?.unsent) {
    return {
      gate,
      verdict: "inconclusive",
      reason: `${gate} could not run: ${latest.detail}`,
      values: { unsent: 1 },
    };
  }
  const mine = runs.filter((r) => r.name === spec.name && !r.unsent);
  const last = mine[mine.length - 1];
  if (last === undefined) {
    return {
      gate,
      verdict: "inconclusive",
      reason: `${gate}: no run in this step yet`,
      values: { runs: 0, failures: 0, streak: 0 },
    };
  }
  let streak = 0;
  for (let i = mine.length - 1; i >= 0 && !mine[i]!.ok; i--) streak++;
  const failures = mine.filter((r) => !r.ok).length;
  const values = {
    runs: mine.length,
    failures,
    streak,
    lastStatus: last.status,
    lastAt: new Date(last.at).toISOString(),
  };
  const tally = `${mine.length} run(s) in this step, ${failures} failed`;
  if (streak >= spec.failAfter) {
    return {
      gate,
      verdict: "fail",
      reason: `${gate} failed ${streak} time(s) in a row: ${last.detail} (${tally})`,
      values,
    };
  }
  if (streak > 0) {
    return {
      gate,
      verdict: "inconclusive",
      reason: `${gate} failed its last run (${streak} of ${spec.failAfter} in a row fail the step): ${last.detail} (${tally})`,
      values,
    };
  }
  return { gate, verdict: "pass", reason: `${gate}: ${last.detail} (${tally})`, values };
}

/** Adds new runs to the kept ones (idempotent by name and time), keeping the last RUNS_KEPT of each. */
export function mergeRuns(
  kept: readonly SyntheticRun[],
  fresh: readonly SyntheticRun[] | null | undefined,
): SyntheticRun[] {
  if (!fresh || fresh.length === 0) return [...kept];
  const key = (r: SyntheticRun) => `${r.name}@${r.at}@${r.n}`;
  const all = new Map(kept.map((r) => [key(r), r]));
  for (const r of fresh) all.set(key(r), r);
  const sorted = [...all.values()].sort((a, b) => a.at - b.at || a.n - b.n);
  const count = new Map<string, number>();
  const out: SyntheticRun[] = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const r = sorted[i]!;
    const c = count.get(r.name) ?? 0;
    if (c >= RUNS_KEPT) continue;
    count.set(r.name, c + 1);
    out.push(r);
  }
  return out.reverse();
}
