import { describe, expect, it } from "vitest";
import type { Outcome, OutcomeDecision } from "../../src/contract/outcome.js";
import { wayBackFacts } from "../../src/report/way-back.js";

const code = (s: string) => `\`${s}\``;
const scale = (pool: "gray" | "stable", from: number, to: number): OutcomeDecision => ({
  at: "2026-12-02T04:00:00.000Z",
  kind: "scale",
  phase: "shifting",
  reason: `${pool} ${from} → ${to}`,
  capacity: { pool, from, to },
  evidence: [],
});
const outcome = (o: Partial<Outcome>) => ({ decisions: [], ...o }) as Outcome;

describe("report.md's facts for issue 17", () => {
  it("shows how each fleet followed the load, in order, and the keep-previous window's end", () => {
    const facts = wayBackFacts(
      outcome({
        decisions: [scale("stable", 4, 6), scale("gray", 2, 3), scale("gray", 3, 5), scale("gray", 5, 4)],
        keepPreviousUntil: "2026-12-02T04:30:00.000Z",
      }),
      code,
    );
    expect(facts).toEqual([
      ["Followed the load", "gray 2 → 3 → 5 → 4; stable 4 → 6 (4 change(s); reasons under All decisions)"],
      ["Previous version warm until", "2026-12-02T04:30:00.000Z (a rollback until then is one weight write)"],
    ]);
  });

  it("names rollback-release's window on a promotion, and what a restore undoes", () => {
    expect(wayBackFacts(outcome({ rollbackReleaseUntil: "2026-12-03T04:00:00.000Z" }), code)).toEqual([
      ["Way back", "`gray-deploy rollback-release` until 2026-12-03T04:00:00.000Z"],
    ]);
    const [restore] = wayBackFacts(
      outcome({ restoreOf: { rolloutId: "r-1", image: "gw:2", version: "7" } }),
      code,
    );
    expect(restore).toEqual([
      "Rolls back",
      "the release of rollout `r-1` (`gw:2`, version `7`): the version before it back on stable",
    ]);
    expect(wayBackFacts(outcome({}), code)).toEqual([]);
  });
});
