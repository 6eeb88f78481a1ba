/**
 * The load balancer's guard beside a service signal (src/gates/guard.ts), table-driven: ELB and
 * target 5xx roll back whatever the service says; a disagreement between the signals is
 * inconclusive with its numbers; agreement passes. And through analyse(): the guard is judged even
 * when the service's metrics cannot be read, and only with a service signal.
 */
import { describe, expect, it } from "vitest";
import { policyOf } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import { analyse, type Observation } from "../../src/core/analysis.js";
import type { GuardReading, VersionStats, WindowStats } from "../../src/core/types.js";
import { signalGuardGate } from "../../src/gates/guard.js";

const T = policyOf(resolveOptions({ target: "local" }, { verb: "deploy-gray" })).thresholds;

const s = (requests: number, errors: number): VersionStats => ({
  requests,
  errors,
  p95Ms: requests > 0 ? 100 : null,
  p99Ms: requests > 0 ? 200 : null,
  hasData: requests > 0,
});
const NONE: VersionStats = { requests: 0, errors: 0, p95Ms: null, p99Ms: null, hasData: false };
const WINDOW = { start: Date.UTC(2026, 0, 5, 10, 0), end: Date.UTC(2026, 0, 5, 10, 5) };
const w = (gray: VersionStats, stable: VersionStats, lbErrors: number | null = null): WindowStats => ({
  ...WINDOW,
  gray,
  stable,
  lbErrors,
});
const reading = (alb: WindowStats, service: WindowStats): GuardReading => ({ window: WINDOW, alb, service });

describe("the load-balancer guard of a service signal", () => {
  const cases: [string, GuardReading | null, "pass" | "inconclusive" | "fail", RegExp][] = [
    [
      "signals agree",
      reading(w(s(3000, 6), s(57_000, 110)), w(s(3002, 6), s(56_990, 110))),
      "pass",
      /agrees over 2026-01-05T10:00:00Z to 2026-01-05T10:05:00Z: gray 3000 requests \(service 3002\), 6 5xx/,
    ],
    ["no traffic in either", reading(w(NONE, s(1000, 1)), w(NONE, s(1000, 1))), "pass", /no gray traffic/],
    [
      "the load balancer sees gray's target 5xx over the limit while the service reports none",
      reading(w(s(3000, 150), s(57_000, 110)), w(s(3000, 0), s(57_000, 110))),
      "fail",
      /load balancer's metrics over .*gray error rate 5% > 2%/,
    ],
    [
      "load-balancer 5xx (no target group) above their baseline count against gray",
      reading(w(s(3000, 0), s(57_000, 0), 1200), w(s(3000, 0), s(57_000, 0))),
      "fail",
      /load-balancer 5xx/,
    ],
    [
      "the service's metrics stopped arriving",
      reading(w(s(3000, 3), s(57_000, 100)), w(NONE, s(57_000, 100))),
      "inconclusive",
      /counted 3000 gray requests, the service 0 \(no datapoint at all/,
    ],
    [
      "only some instances publish (a third of gray's requests missing)",
      reading(w(s(3000, 3), s(57_000, 100)), w(s(2000, 2), s(57_000, 100))),
      "inconclusive",
      /counted 3000 gray requests, the service 2000/,
    ],
    [
      "stable's metrics are missing from the service (the relative gates would compare nothing)",
      reading(w(s(3000, 3), s(57_000, 100)), w(s(3000, 3), NONE)),
      "inconclusive",
      /57000 stable requests, the service 0/,
    ],
    [
      "the service counts far more than the load balancer (dimensions select another fleet)",
      reading(w(s(3000, 3), s(57_000, 100)), w(s(9000, 3), s(57_000, 100))),
      "inconclusive",
      /the service counted 9000 gray requests, the load balancer only 3000/,
    ],
    [
      "the load balancer sees 5xx the service does not count (under the rollback limit)",
      reading(w(s(3000, 40), s(57_000, 100)), w(s(3000, 2), s(57_000, 100))),
      "inconclusive",
      /the load balancer saw 40 gray 5xx .*, the service counted 2/,
    ],
    [
      "a few 5xx apart is within tolerance",
      reading(w(s(3000, 9), s(57_000, 100)), w(s(3000, 6), s(57_000, 100))),
      "pass",
      /agrees/,
    ],
    ["unreadable", null, "inconclusive", /could not be read/],
  ];
  for (const [name, r, verdict, reason] of cases) {
    it(`${name}: ${verdict}`, () => {
      const g = signalGuardGate("gray", r, 0.001, T);
      expect(g.gate).toBe("signal-guard");
      expect(g.verdict, g.reason).toBe(verdict);
      expect(g.reason).toMatch(reason);
      if (r !== null) {
        expect(g.values).toMatchObject({
          windowStart: WINDOW.start,
          windowEnd: WINDOW.end,
          albRequests: r.alb.gray.requests,
          serviceRequests: r.service.gray.requests,
        });
      }
    });
  }
});

describe("analyse() with a service signal", () => {
  const base = (guard: GuardReading | null, rollback: WindowStats | null): Observation => ({
    at: WINDOW.end + 120_000,
    rollback,
    promotion: rollback,
    health: { stable: { healthy: 4, unhealthy: 0 }, gray: { healthy: 1, unhealthy: 0 } },
    alarms: [],
    guard,
    errors: rollback === null ? ["metrics: the service's metrics: throttled"] : [],
  });
  const healthy = w(s(3000, 3), s(57_000, 100));

  it("rolls back on the load balancer's 5xx even when the service's metrics cannot be read", () => {
    const a = analyse({
      subject: "gray",
      observation: base(reading(w(s(3000, 300), s(57_000, 100)), healthy), null),
      baseline: null,
      lbErrorBaselineRate: 0,
      guarded: true,
      thresholds: T,
    });
    expect(a.verdict).toBe("fail");
    expect(a.gates.map((g) => `${g.gate}:${g.verdict}`)).toEqual([
      "health:pass",
      "alarms:pass",
      "signal-guard:fail",
      "metrics:inconclusive",
    ]);
  });

  it("holds a step the signals disagree on, with every other gate passing", () => {
    const a = analyse({
      subject: "gray",
      observation: base(reading(healthy, w(NONE, s(57_000, 100))), healthy),
      baseline: null,
      lbErrorBaselineRate: 0,
      guarded: true,
      referenceWeight: 95,
      thresholds: { ...T, minRequests: 100 },
    });
    expect(a.verdict).toBe("inconclusive");
    expect(a.gates.filter((g) => g.verdict !== "pass").map((g) => g.gate)).toEqual(["signal-guard"]);
  });

  it("has no guard with the load balancer's signal", () => {
    const a = analyse({
      subject: "gray",
      observation: base(null, healthy),
      baseline: null,
      lbErrorBaselineRate: 0,
      thresholds: T,
    });
    expect(a.gates.map((g) => g.gate)).not.toContain("signal-guard");
  });
});
