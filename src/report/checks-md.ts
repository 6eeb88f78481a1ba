/**
 * report.md's sections about the payment-grade checks: the synthetic transactions run against gray,
 * every lifecycle hook call, and the observe-only gates (judged and reported, never counted).
 */
import type { Report } from "./model.js";

const clock = (iso: string) => iso.slice(11, 19);
const took = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`);

/** markdown.ts's own cell escaping and table writer. */
export interface Markdown {
  readonly cell: (s: string) => string;
  readonly table: (head: readonly string[], rows: readonly (readonly string[])[]) => string[];
}

const HOOK_RESULT: Record<string, string> = {
  pass: "✅ pass",
  "not-yet": "⏳ not yet",
  fail: "❌ fail",
  skipped: "⏭️ overridden",
};

export function checksSections(r: Report, md: Markdown): string[] {
  const lines: string[] = [];
  const table = (
    head: readonly string[],
    rows: readonly (readonly string[])[],
    cell: (s: string) => string,
  ) =>
    md.table(
      head,
      rows.map((row) => row.map(cell)),
    );
  const cell = md.cell;
  if (r.synthetic.length > 0) {
    const names = [...new Set(r.synthetic.map((s) => s.name))];
    lines.push("### Synthetic transactions", "");
    lines.push(
      ...table(
        ["Transaction", "Before traffic", "During steps", "Failed", "Last run"],
        names.map((name) => {
          const runs = r.synthetic.filter((s) => s.name === name);
          const pre = runs.filter((s) => s.when === "pre-traffic");
          const step = runs.filter((s) => s.when === "step");
          const last = runs[runs.length - 1]!;
          const failed = runs.filter((s) => !s.ok && !s.unsent).length;
          const unsent = runs.filter((s) => s.unsent).length;
          return [
            `\`synthetic:${name}\``,
            pre.length === 0 ? "–" : pre.every((s) => s.ok) ? "✅ pass" : "❌ fail",
            `${step.length} run(s)`,
            `${failed}${unsent > 0 ? ` (+${unsent} not sent)` : ""}`,
            `${clock(last.at)} ${last.ok ? "✅" : "❌"} ${last.detail} (${took(last.ms)})`,
          ];
        }),
        cell,
      ),
      "",
    );
  }
  if (r.hooks.length > 0) {
    lines.push("### Lifecycle hooks", "");
    lines.push(
      ...table(
        ["Time", "Hook", "Stage", "Ask", "Result", "Detail"],
        r.hooks.map((h) => [
          clock(h.at),
          `\`${h.hook}\` (${h.kind})`,
          `${h.stage}${h.instance !== h.stage ? ` · ${h.instance}` : ""}${h.gating ? "" : " · notify only"}`,
          String(h.ask),
          HOOK_RESULT[h.result] ?? h.result,
          `${h.detail} (${took(h.ms)})`,
        ]),
        cell,
      ),
      "",
    );
  }
  const observed = [...new Set(r.observations.flatMap((o) => o.observed ?? []))];
  if (observed.length > 0) {
    lines.push("### Observe-only gates", "");
    lines.push(
      "Judged at every observation and reported here; they never held or failed a step (--observe-gates).",
      "",
    );
    lines.push(
      ...table(
        ["Gate", "Pass", "Inconclusive", "Fail", "Last time it did not pass"],
        observed.map((gate) => {
          const seen = r.observations.filter((o) => o.observed?.includes(gate));
          const count = (v: string) => String(seen.filter((o) => o.gates[gate as never] === v).length);
          const note = [...seen]
            .reverse()
            .map((o) => ({ at: o.at, note: o.notes.find((n) => n.startsWith(`${gate}: `)) }))
            .find((x) => x.note !== undefined);
          return [
            `\`${gate}\``,
            count("pass"),
            count("inconclusive"),
            count("fail"),
            note ? `${clock(note.at)} ${note.note!.slice(gate.length + 2)}` : "–",
          ];
        }),
        cell,
      ),
      "",
    );
  }
  return lines;
}
