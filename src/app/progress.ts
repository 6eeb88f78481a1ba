/**
 * Human progress on stderr: one line per observation with weights and per-version numbers, one per
 * decision with its reason. On a terminal the observation line is a live status line rewritten in
 * place; elsewhere (CI logs) every line is plain text without control characters.
 */
import { formatRate } from "../contract/units.js";
import type { VersionStats } from "../core/types.js";
import type { EngineEvent } from "../engine/events.js";

export interface ProgressSink {
  write(text: string): void;
  readonly isTTY?: boolean;
}

const time = (at: number) => new Date(at).toISOString().slice(11, 19);
const ms = (v: number | null) => (v === null ? "-" : `${Math.round(v)}ms`);

function versionLine(label: string, s: VersionStats): string {
  const r = s.requests > 0 ? s.errors / s.requests : null;
  return `${label} ${s.requests} req ${formatRate(r)} err p95 ${ms(s.p95Ms)} p99 ${ms(s.p99Ms)}`;
}

export function formatEvent(e: EngineEvent): string | null {
  switch (e.type) {
    case "phase":
      return `${time(e.at)} phase ${e.from ?? "-"} → ${e.to}`;
    case "observation": {
      const w = e.observation.rollback;
      const weights = `stable ${e.weights.stable}% / gray ${e.weights.gray}%`;
      if (w === null)
        return `${time(e.at)} ${weights} | metrics unavailable: ${e.observation.errors.join("; ")}`;
      const verdict = e.analysis ? ` | ${e.analysis.verdict}` : "";
      return `${time(e.at)} ${weights} | ${versionLine("stable", w.stable)} | ${versionLine("gray", w.gray)}${verdict}`;
    }
    case "decision":
      if (e.decision.kind === "wait") return null;
      return `${time(e.at)} decision ${e.decision.kind}: ${e.decision.reason}`;
    case "weights":
      return null;
    case "log":
      return `${time(e.at)} ${e.level === "info" ? "" : `${e.level.toUpperCase()} `}${e.message}`;
    case "outcome":
      return `${time(e.at)} outcome ${e.outcome.outcome} (exit ${e.outcome.exitCode}): ${e.outcome.reason}`;
    case "synthetic":
      return `${time(e.at)} synthetic ${e.run.name} #${e.run.n} (${e.run.when}) ${e.run.ok ? "ok" : "FAILED"}: ${e.run.detail}`;
    case "hook": {
      const c = e.call;
      const what = c.gating ? c.stage : `${c.stage}, notify only`;
      return `${time(e.at)} hook ${c.hook} (${what}, ${c.instance}) ${c.result}: ${c.detail}`;
    }
    case "pilot":
      return `${time(e.at)} chosen-customers rule ${e.enabled ? "on: its requests go to gray" : "off: its requests go to stable"} (verified)`;
  }
}

export function progressPrinter(sink: ProgressSink): (e: EngineEvent) => void {
  let live = false;
  return (e) => {
    const line = formatEvent(e);
    if (line === null) return;
    if (sink.isTTY) {
      if (e.type === "observation") {
        sink.write(`\r\x1b[2K${line}`);
        live = true;
        return;
      }
      if (live) sink.write("\r\x1b[2K");
      live = false;
    }
    sink.write(`${line}\n`);
  };
}
