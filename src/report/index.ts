/**
 * Reports of a rollout: report.json (everything), report.md (the ten-second summary) and
 * timeline.svg (the chart). Front ends collect the engine's events with a ReportCollector, then call
 * renderReport with the Outcome; the CLI writes the files with writeReport (`--report-dir`), the
 * Dagger module can return them as a Directory.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Outcome } from "../contract/outcome.js";
import type { EngineEvent } from "../engine/events.js";
import { renderMarkdown } from "./markdown.js";
import { type BuildReportOptions, buildReport, type Report } from "./model.js";
import { renderTimeline } from "./timeline.js";

export { ReportCollector } from "./collector.js";
export { renderMarkdown } from "./markdown.js";
export type { BuildReportOptions, Report } from "./model.js";
export { buildReport } from "./model.js";
export { renderTimeline } from "./timeline.js";

export interface RenderedReport {
  readonly report: Report;
  /** report.json */
  readonly json: string;
  /** report.md */
  readonly markdown: string;
  /** timeline.svg */
  readonly svg: string;
}

export const REPORT_FILES = {
  json: "report.json",
  markdown: "report.md",
  svg: "timeline.svg",
} as const;

/**
 * Renders the three report files from an Outcome and the engine events of the run (empty for a
 * refused run or `status`). Pure: no clock and no I/O.
 *
 * @example
 * const collector = new ReportCollector();
 * const outcome = await deployGray(options, ports, { ...ctx, onEvent: collector.listener });
 * const { json, markdown, svg } = renderReport(outcome, collector.events, { plan: policyFromOptions(options) });
 */
export function renderReport(
  outcome: Outcome,
  events: readonly EngineEvent[] = [],
  options: BuildReportOptions = {},
): RenderedReport {
  const report = buildReport(outcome, events, options);
  return {
    report,
    json: `${JSON.stringify(report, null, 2)}\n`,
    markdown: renderMarkdown(report),
    svg: renderTimeline(report),
  };
}

/** The rendered files by name, e.g. for a Dagger Directory (`withNewFile(name, contents)`). */
export function reportFiles(r: RenderedReport): Record<string, string> {
  return {
    [REPORT_FILES.json]: r.json,
    [REPORT_FILES.markdown]: r.markdown,
    [REPORT_FILES.svg]: r.svg,
  };
}

/**
 * Writes report.json, report.md and timeline.svg into `dir` (created if missing). Each file is
 * written beside its final name and renamed, so a reader never sees half a file.
 */
export async function writeReport(dir: string, r: RenderedReport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, contents] of Object.entries(reportFiles(r))) {
    const path = join(dir, name);
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, contents, "utf8");
    await rename(tmp, path);
    written.push(path);
  }
  return written;
}
