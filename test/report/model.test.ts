/** report.json: what it holds, built from real engine runs in virtual time; and the file writer. */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { ReportCollector, renderReport, writeReport } from "../../src/report/index.js";
import { cell } from "../../src/report/markdown.js";
import { SCENARIOS } from "./scenarios.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("report.json", () => {
  it("holds the Outcome, the plan, every observation with both versions' numbers, every decision with evidence", async () => {
    const run = await SCENARIOS["rolled-back"]();
    const { json } = renderReport(run.outcome, run.events, {
      plan: run.plan,
      verb: "deploy-gray",
      by: "maria.souza",
    });
    const r = JSON.parse(json);
    expect(r.reportVersion).toBe(1);
    expect(r.outcome).toEqual(JSON.parse(JSON.stringify(run.outcome)));
    expect(r.plan.steps).toEqual([5, 25, 50, 100]);
    expect(r.plan.thresholds.rollbackErrorRate).toBe(0.02);

    const observed = run.events.filter((e) => e.type === "observation");
    expect(r.observations).toHaveLength(observed.length);
    expect(observed.length).toBeGreaterThan(3);
    const judged = r.observations.filter((o: { verdict: string | null }) => o.verdict !== null);
    expect(judged.length).toBeGreaterThan(0);
    for (const o of judged) {
      expect(o.weights.stable + o.weights.gray).toBe(100);
      for (const pool of ["stable", "gray"]) {
        const s = o.rollbackWindow[pool];
        expect(s).toEqual(
          expect.objectContaining({ requests: expect.any(Number), errors: expect.any(Number) }),
        );
        expect("p95Ms" in s && "p99Ms" in s && "errorRate" in s).toBe(true);
      }
      expect(Object.keys(o.gates)).toContain("error-rate");
    }
    // The last judged observation failed, and says which gate and why (the gate depends on the
    // core's analysis; the report only has to carry it).
    const last = judged[judged.length - 1];
    expect(last.verdict).toBe("fail");
    const failed = Object.entries(last.gates)
      .filter(([, v]) => v === "fail")
      .map(([g]) => g);
    expect(failed.length).toBeGreaterThan(0);
    expect(last.notes.some((n: string) => n.startsWith(`${failed[0]}: `))).toBe(true);

    expect(r.decisions.map((d: { kind: string }) => d.kind)).toEqual(["set-weights", "rollback"]);
    const failing = r.decisions[1].evidence.filter((g: { verdict: string }) => g.verdict === "fail");
    expect(failing.length).toBeGreaterThan(0);
    expect(Object.keys(failing[0].values).length).toBeGreaterThan(0);
    expect(r.weightChanges.map((w: { gray: number }) => w.gray)).toEqual([5, 0]);
    expect(r.timings.phases.map((p: { phase: string }) => p.phase)).toEqual([
      "preparing",
      "scaling",
      // The local target's default synthetic charge runs in smoke, before the first customer.
      "smoke",
      "shifting",
      "rolling-back",
      "rolled-back",
    ]);
    expect(r.people).toEqual({ startedBy: "maria.souza", approvals: [], ranBy: "maria.souza" });
    expect(
      r.log.some(
        (l: { level: string; message: string }) => l.level === "warn" && /rolling back/.test(l.message),
      ),
    ).toBe(true);
    expect(r.coverage.note).toBeNull();
  });

  it("records who approved, and that a later run joined the rollout half-way", async () => {
    const run = await SCENARIOS["approved-promoted"]();
    const { report } = renderReport(run.outcome, run.events, {
      plan: run.plan,
      verb: "promote",
      by: "joao.lima",
    });
    expect(report.people.approvals).toEqual([
      expect.objectContaining({ gate: "step:50", by: "joao.lima", reason: "dashboards look fine" }),
    ]);
    expect(report.outcome.outcome).toBe("promoted");
    expect(report.coverage.note).toMatch(/joined the rollout/);
    // The pause the promote run did not see begin is reconstructed from the stored decision.
    expect(report.timings.phases[0]).toMatchObject({ phase: "paused" });
  });

  it("a refused run has an Outcome and a note, and nothing else to show", async () => {
    const run = await SCENARIOS.refused();
    const { report, markdown } = renderReport(run.outcome, run.events);
    expect(report.outcome.outcome).toBe("refused");
    expect(report.observations).toEqual([]);
    expect(report.coverage.note).toMatch(/refused before anything changed/);
    expect(markdown).toMatch(/another rollout holds the lock/);
  });
});

describe("report.md escaping", () => {
  it("keeps table cells in their column and tags inert", () => {
    expect(cell("a | b\nc <script>alert(1)</script> p95 < 500ms")).toBe(
      "a \\| b c &lt;script>alert(1)&lt;/script> p95 < 500ms",
    );
  });
});

describe("writing and collecting", () => {
  it("writeReport writes the three files, creating the directory", async () => {
    const base = await mkdtemp(join(tmpdir(), "gray-report-"));
    dirs.push(base);
    const run = await SCENARIOS.promoted();
    const dir = join(base, "nested", "reports");
    const written = await writeReport(dir, renderReport(run.outcome, run.events, { plan: run.plan }));
    expect(written.map((p) => p.slice(dir.length + 1)).sort()).toEqual([
      "report.json",
      "report.md",
      "timeline.svg",
    ]);
    expect((await readdir(dir)).sort()).toEqual(["report.json", "report.md", "timeline.svg"]);
    expect(JSON.parse(await readFile(join(dir, "report.json"), "utf8")).outcome.outcome).toBe("promoted");
    expect(await readFile(join(dir, "report.md"), "utf8")).toMatch(/^## ✅ Promoted/);
  });

  it("the collector keeps phases, decisions and the outcome past its bound and counts what it dropped", () => {
    const c = new ReportCollector(3);
    const obs = { type: "observation", at: 1 } as unknown as EngineEvent;
    for (let i = 0; i < 5; i++) c.listener(obs);
    c.listener({ type: "phase", at: 2, from: "shifting", to: "rolling-back", rolloutId: "r" });
    c.listener({ type: "log", at: 3, level: "info", message: "x" });
    c.listener({ type: "log", at: 3, level: "warn", message: "kept" });
    expect(c.events.map((e) => e.type)).toEqual([
      "observation",
      "observation",
      "observation",
      "phase",
      "log",
    ]);
    expect(c.dropped).toBe(3);
  });
});
