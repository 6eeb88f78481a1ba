/**
 * The engine's events of one run, kept for its report (index.ts renders them). Apart from the
 * renderers so that a front end can collect while a run goes on and load the renderers (d3 among
 * them) only when it writes the report.
 */
import type { EngineEvent } from "../engine/events.js";

/**
 * Collects engine events for a report. Bounded: past `maxEvents`, further observations and info
 * lines are dropped (counted), while phases, decisions, weights, warnings and the outcome are kept.
 */
export class ReportCollector {
  private readonly kept: EngineEvent[] = [];
  private droppedCount = 0;

  constructor(private readonly maxEvents = 20_000) {}

  /** The listener to pass as (or fan out from) the engine's onEvent. */
  readonly listener = (e: EngineEvent): void => {
    if (
      this.kept.length >= this.maxEvents &&
      (e.type === "observation" || (e.type === "log" && e.level === "info"))
    ) {
      this.droppedCount++;
      return;
    }
    this.kept.push(e);
  };

  get events(): readonly EngineEvent[] {
    return this.kept;
  }

  get dropped(): number {
    return this.droppedCount;
  }
}
