/**
 * report.md: what a person reads in ten seconds — the outcome and its reason first, then the steps
 * (weights, durations, verdicts, both versions' numbers), the evidence behind the decisive decision,
 * and what to do next when a person has to act. GitHub-flavoured Markdown, fit for
 * $GITHUB_STEP_SUMMARY; deterministic for the same report (golden-file tested).
 */
import type { OutcomeDecision, OutcomeKind, OutcomeStep } from "../contract/outcome.js";
import { formatDuration, formatRate } from "../contract/units.js";
import { checksSections } from "./checks-md.js";
import type { Report, ReportObservation, ReportStats } from "./model.js";
import { wayBackFacts } from "./way-back.js";

const HEADLINE: Record<OutcomeKind, { icon: string; title: string }> = {
  promoted: { icon: "✅", title: "Promoted" },
  "rolled-back": { icon: "↩️", title: "Rolled back" },
  paused: { icon: "⏸️", title: "Paused" },
  aborted: { icon: "⏹️", title: "Aborted" },
  refused: { icon: "⛔", title: "Refused" },
  "rollback-failed": { icon: "🚨", title: "ROLLBACK FAILED" },
  failed: { icon: "❌", title: "Failed" },
  "in-progress": { icon: "🔄", title: "In progress" },
  restored: { icon: "⏪", title: "Previous release restored" },
};

const VERDICT: Record<string, string> = {
  pass: "✅ pass",
  fail: "❌ fail",
  inconclusive: "⚠️ inconclusive",
  pending: "⏳ pending",
  aborted: "⏹️ aborted",
};

/** Escapes text for a table cell or a line: pipes, newlines, backslashes and tag-like brackets. */
export function cell(s: string): string {
  return (
    s
      .replace(/\r?\n/g, " ")
      .replace(/\\/g, "\\\\")
      .replace(/\|/g, "\\|")
      // Only a `<` that could open an HTML tag is escaped, so "p95 < 500ms" stays readable as text.
      .replace(/<(?=[A-Za-z/!?])/g, "&lt;")
  );
}

const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const clock = (isoTime: string) => `${isoTime.slice(11, 19)}`;
const dateTime = (isoTime: string) => `${isoTime.slice(0, 10)} ${isoTime.slice(11, 19)} UTC`;
const ms = (v: number | null) => (v === null ? "–" : `${Math.round(v)}ms`);
/** A duration as a person reads it: whole seconds from one second on (12s, not 12s30ms). */
const took = (v: number) => (v < 1000 ? `${Math.round(v)}ms` : formatDuration(Math.round(v / 1000) * 1000));

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

function statsCell(s: ReportStats | undefined): string {
  if (s === undefined || s.requests === 0) return "no traffic";
  return `${s.requests} req · ${formatRate(s.errorRate)} err · p95 ${ms(s.p95Ms)} · p99 ${ms(s.p99Ms)}`;
}

/**
 * The last observation made while a step ran: its numbers are what the step ended on. An
 * observation at the very instant a step began was the previous step's last (it decided to move on).
 */
function lastObservationOf(step: OutcomeStep, observations: readonly ReportObservation[]) {
  const start = Date.parse(step.startedAt);
  const end = step.endedAt === null ? Number.POSITIVE_INFINITY : Date.parse(step.endedAt);
  let found: ReportObservation | undefined;
  for (const o of observations) {
    const at = Date.parse(o.at);
    if (at > start && at <= end && o.rollbackWindow !== null) found = o;
  }
  return found;
}

/** The decision that settled the outcome: the last one that ended, paused or reversed the rollout. */
export function decisiveDecision(r: Report): OutcomeDecision | null {
  const ds = r.outcome.decisions;
  const settling = ["rollback", "pause", "await-approval", "promote", "done"];
  for (let i = ds.length - 1; i >= 0; i--) {
    if (settling.includes(ds[i]!.kind)) return ds[i]!;
  }
  return r.outcome.lastDecision ?? ds[ds.length - 1] ?? null;
}

interface Peak {
  errorRate: number | null;
  p95: number | null;
  p99: number | null;
  observations: number;
}

function peaks(observations: readonly ReportObservation[], pool: "stable" | "gray"): Peak {
  const p: Peak = { errorRate: null, p95: null, p99: null, observations: 0 };
  const max = (a: number | null, b: number | null) => (b === null ? a : a === null ? b : Math.max(a, b));
  for (const o of observations) {
    const s = o.rollbackWindow?.[pool];
    if (s === undefined || s.requests === 0) continue;
    p.observations++;
    p.errorRate = max(p.errorRate, s.errorRate);
    p.p95 = max(p.p95, s.p95Ms);
    p.p99 = max(p.p99, s.p99Ms);
  }
  return p;
}

function nextSteps(r: Report): string[] {
  const o = r.outcome;
  switch (o.outcome) {
    case "paused":
      if (o.pause?.reason === "awaiting-approval") {
        return [
          `The rollout waits at the manual gate ${code(o.pause.gate ?? "?")}. Approve it with ${code("gray-deploy promote --reason …")} or back out with ${code("gray-deploy abort --reason …")} (same --target, --region, --listener-arn/--rule-arn and --state-table as the deploy). Until then traffic stays as it is: stable ${o.weights?.stable ?? "?"}% / gray ${o.weights?.gray ?? "?"}%.`,
        ];
      }
      if (o.pause?.reason === "promotion-failed") {
        return [
          `Promotion failed; gray (which passed analysis) serves the traffic. Retry with ${code("gray-deploy promote")}, or return to the previous version with ${code("gray-deploy abort")}. The runbook's "promotion failed half-way" section has the details.`,
        ];
      }
      return [
        `The analysis stayed inconclusive. Look at the evidence above (usually too little traffic or missing metrics), then accept the step with ${code("gray-deploy promote")} or back out with ${code("gray-deploy abort")}.`,
      ];
    case "rollback-failed":
      return [
        "**A person must act now.** Traffic may still reach the new version.",
        [
          "1. Set the weighted forward action to stable 100 / gray 0 (console or AWS CLI).",
          `2. Run ${code("gray-deploy abort")} to finish the cleanup.`,
          `3. Confirm with ${code("gray-deploy status")}: outcome ${code("aborted")}, weights stable 100% / gray 0%.`,
        ].join("\n"),
      ];
    case "refused":
    case "failed":
      return o.error?.fix && !o.reason.includes(o.error.fix) ? [`Fix: ${cell(o.error.fix)}`] : [];
    case "in-progress":
      return [`Another process runs this rollout; ${code("gray-deploy status")} shows where it stands.`];
    default:
      return [];
  }
}

function thresholdsLine(r: Report): string | null {
  const p = r.plan;
  if (p === null) return null;
  const t = p.thresholds;
  return (
    `Roll back when gray's error rate > ${formatRate(t.rollbackErrorRate)} or p99 > ${formatDuration(t.rollbackP99Ms)} over ${formatDuration(p.rollbackWindowMs)}, or more than ${t.rollbackUnhealthy} gray instance(s) fail health checks. ` +
    `A step passes after ≥ ${formatDuration(p.bakeMs)} with error rate < ${formatRate(t.promoteErrorRate)}, p95 < ${formatDuration(t.promoteP95Ms)} and ≥ ${t.minRequests} gray requests over ${formatDuration(p.promotionWindowMs)}. ` +
    `Steps ${p.steps.join(" → ")}%${p.approvals.length > 0 ? `, approvals before ${p.approvals.join(", ")}` : ""}.`
  );
}

export function renderMarkdown(r: Report): string {
  const o = r.outcome;
  const head = HEADLINE[o.outcome];
  const image = o.release.image ?? "(no image)";
  const lines: string[] = [];
  lines.push(`## ${head.icon} ${head.title}: ${cell(image)}`, "");
  lines.push(`**${cell(o.reason)}**`, "");

  const facts: [string, string][] = [];
  facts.push([
    "Outcome",
    `${code(o.outcome)} · exit ${o.exitCode}${o.pause ? ` · paused (${o.pause.reason}${o.pause.gate ? `, gate ${o.pause.gate}` : ""})` : ""}`,
  ]);
  if (o.rolloutId !== null)
    facts.push(["Rollout", `${code(o.rolloutId)} on ${o.target}${o.scope ? ` (${code(o.scope)})` : ""}`]);
  else facts.push(["Target", `${o.target}${o.scope ? ` (${code(o.scope)})` : ""}`]);
  if (o.release.version !== null || o.release.previousVersion !== null) {
    facts.push([
      "Versions",
      `new ${code(o.release.version ?? "?")}, stable was ${code(o.release.previousVersion ?? "?")}`,
    ]);
  }
  if (o.release.commit) facts.push(["Commit", code(o.release.commit)]);
  if (o.startedAt !== null) {
    const spent = o.durationMs !== null ? `, took ${took(o.durationMs)}` : "";
    facts.push(["Started", `${dateTime(o.startedAt)} by ${cell(o.release.startedBy ?? "unknown")}${spent}`]);
  }
  if (o.release.approvals.length > 0) {
    facts.push([
      "Approvals",
      o.release.approvals
        .map(
          (a) =>
            `${code(a.gate)} by ${cell(a.by)} at ${clock(a.at)}${a.reason ? ` (${cell(a.reason)})` : ""}`,
        )
        .join("; "),
    ]);
  }
  if (o.weights) facts.push(["Weights now", `stable ${o.weights.stable}% / gray ${o.weights.gray}%`]);
  facts.push(...wayBackFacts(o, code));
  if (r.run.verb && r.run.verb !== "deploy-gray")
    facts.push(["This run", `${code(r.run.verb)} by ${cell(r.run.by ?? "unknown")}`]);
  lines.push(
    ...table(
      ["", ""],
      facts.map(([k, v]) => [`**${k}**`, v]),
    ),
    "",
  );

  const next = nextSteps(r);
  if (next.length > 0) lines.push("### What to do", "", ...next.flatMap((l) => [l, ""]));

  if (o.steps.length > 0) {
    const window = r.plan ? ` over the rollback window (${formatDuration(r.plan.rollbackWindowMs)})` : "";
    lines.push("### Steps", "");
    lines.push(
      ...table(
        ["#", "Step", "Stable / gray", "Duration", "Verdict", "Gray (new)", "Stable"],
        o.steps.map((s, i) => {
          const obs = lastObservationOf(s, r.observations);
          const weights =
            s.kind === "pilot"
              ? "100% / 0% + chosen customers"
              : s.kind === "forward"
                ? `${100 - s.weight}% / ${s.weight}%`
                : `${s.weight}% / ${100 - s.weight}%`;
          return [
            String(i + 1),
            s.kind === "pilot"
              ? "chosen customers"
              : s.kind === "forward"
                ? `gray ${s.weight}%`
                : `back to stable ${s.weight}%`,
            weights,
            s.durationMs === null ? "running" : took(s.durationMs),
            VERDICT[s.verdict] ?? s.verdict,
            obs ? statsCell(obs.rollbackWindow?.gray) : "–",
            obs ? statsCell(obs.rollbackWindow?.stable) : "–",
          ];
        }),
      ),
      "",
      `Numbers: the last observation of each step${window}.${o.steps.some((s) => s.kind === "return") ? " Return steps judge the refreshed stable fleet." : ""}`,
      "",
    );
  }

  if (r.observations.length > 0) {
    const rows = (["gray", "stable"] as const).map((pool) => {
      const p = peaks(r.observations, pool);
      const version =
        pool === "gray" ? (o.release.version ?? o.release.image ?? "?") : (o.release.previousVersion ?? "?");
      return [
        pool === "gray" ? "gray (new)" : "stable",
        code(version),
        String(p.observations),
        formatRate(p.errorRate),
        ms(p.p95),
        ms(p.p99),
      ];
    });
    lines.push("### Per version (worst window seen)", "");
    lines.push(
      ...table(["Pool", "Version", "Windows with traffic", "Peak error rate", "Peak p95", "Peak p99"], rows),
      "",
    );
  }

  const decisive = decisiveDecision(r);
  if (decisive !== null) {
    lines.push(`### Decisive evidence: ${decisive.kind} at ${clock(decisive.at)} (${decisive.phase})`, "");
    lines.push(`> ${cell(decisive.reason)}`, "");
    if (decisive.evidence.length > 0) {
      const ranked = [...decisive.evidence].sort((a, b) => rank(b.verdict) - rank(a.verdict));
      lines.push(
        ...table(
          ["Gate", "Verdict", "Detail"],
          ranked.map((g) => [
            code(g.gate),
            `${VERDICT[g.verdict] ?? g.verdict}${g.observe ? " (observe only)" : ""}`,
            cell(g.reason),
          ]),
        ),
        "",
      );
    }
  }

  lines.push(...checksSections(r, { cell, table }));

  if (o.decisions.length > 0) {
    lines.push("<details><summary>All decisions</summary>", "");
    lines.push(
      ...table(
        ["Time", "Decision", "Phase", "Weights", "Reason"],
        o.decisions.map((d) => [
          clock(d.at),
          code(d.kind),
          d.phase,
          d.weights ? `${d.weights.stable} / ${d.weights.gray}` : "",
          cell(d.reason),
        ]),
      ),
      "",
      "</details>",
      "",
    );
  }

  const warnings = [
    ...o.warnings,
    ...(o.error && !o.reason.includes(o.error.message) ? [o.error.message] : []),
  ];
  if (warnings.length > 0) {
    lines.push("### Warnings", "", ...warnings.map((w) => `- ${cell(w)}`), "");
  }

  const policy = o.rolloutId !== null ? thresholdsLine(r) : null;
  const footer = [
    policy ? cell(policy) : null,
    r.coverage.note ? `Note: ${cell(r.coverage.note)}.` : null,
    `Full data: ${code("report.json")}; chart: ${code("timeline.svg")} (beside this file).`,
  ].filter((s): s is string => s !== null);
  lines.push(`<sub>${footer.join("<br>")}</sub>`, "");
  return lines.join("\n");
}

function rank(v: string): number {
  return v === "fail" ? 2 : v === "inconclusive" ? 1 : 0;
}
