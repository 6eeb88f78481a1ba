/** The history/trends rule of the Zabbix metric reader (pure: no server). */
import { describe, expect, it } from "vitest";
import { planWindow } from "../../src/zabbix/metrics.js";

const MIN = 60_000;
const HOUR = 3_600_000;
const H = 1_800_000_000_000 - (1_800_000_000_000 % HOUR); // an hour boundary
const opts = { historyMaxMs: 6 * HOUR, trendLagMs: 2 * HOUR, now: H + 48 * HOUR };

describe("planWindow", () => {
  it("reads rollout-sized windows from history only", () => {
    expect(planWindow({ start: H + 7 * MIN, end: H + 17 * MIN }, opts)).toEqual([
      { source: "history", start: H + 7 * MIN, end: H + 17 * MIN },
    ]);
    // Exactly the threshold is still history.
    expect(planWindow({ start: H, end: H + 6 * HOUR }, opts)).toEqual([
      { source: "history", start: H, end: H + 6 * HOUR },
    ]);
  });

  it("splits a long window: ragged edges from history, whole hours from trends", () => {
    expect(planWindow({ start: H + 20 * MIN, end: H + 10 * HOUR + 5 * MIN }, opts)).toEqual([
      { source: "history", start: H + 20 * MIN, end: H + HOUR },
      { source: "trends", start: H + HOUR, end: H + 10 * HOUR },
      { source: "history", start: H + 10 * HOUR, end: H + 10 * HOUR + 5 * MIN },
    ]);
    // Hour-aligned edges need no history.
    expect(planWindow({ start: H, end: H + 12 * HOUR }, opts)).toEqual([
      { source: "trends", start: H, end: H + 12 * HOUR },
    ]);
  });

  it("keeps the hours that may not be in the trends table yet on history", () => {
    // Now is 30 min past H+12h: hours ending after H+10h30 (2 h lag, rounded down to H+10h) are read from history.
    const now = H + 12 * HOUR + 30 * MIN;
    expect(planWindow({ start: H, end: now }, { ...opts, now })).toEqual([
      { source: "trends", start: H, end: H + 10 * HOUR },
      { source: "history", start: H + 10 * HOUR, end: now },
    ]);
  });

  it("falls back to history when no whole hour is old enough for trends", () => {
    const now = H + 9 * HOUR;
    expect(planWindow({ start: H + 2 * HOUR, end: H + 9 * HOUR }, { ...opts, now })).toEqual([
      { source: "trends", start: H + 2 * HOUR, end: H + 7 * HOUR },
      { source: "history", start: H + 7 * HOUR, end: H + 9 * HOUR },
    ]);
    expect(
      planWindow({ start: H + 5 * HOUR + MIN, end: H + 12 * HOUR }, { ...opts, now: H + 12 * HOUR }),
    ).toEqual([
      { source: "history", start: H + 5 * HOUR + MIN, end: H + 6 * HOUR },
      { source: "trends", start: H + 6 * HOUR, end: H + 10 * HOUR },
      { source: "history", start: H + 10 * HOUR, end: H + 12 * HOUR },
    ]);
    expect(planWindow({ start: H + 3 * HOUR, end: H + 10 * HOUR }, { ...opts, now: H + 5 * HOUR })).toEqual([
      { source: "history", start: H + 3 * HOUR, end: H + 10 * HOUR },
    ]);
  });

  it("`historyOnly` (for `last`) never uses trends", () => {
    expect(planWindow({ start: H, end: H + 24 * HOUR }, { ...opts, historyOnly: true })).toEqual([
      { source: "history", start: H, end: H + 24 * HOUR },
    ]);
  });
});
