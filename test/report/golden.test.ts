/**
 * Golden files: the Markdown summary and the SVG chart of deterministic rollouts (the real engine in
 * virtual time) must equal the files under test/fixtures/report/. After an intended change, run
 * `UPDATE_GOLDEN=1 npx vitest run test/report/golden.test.ts` and review the diff like code.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderReport } from "../../src/report/index.js";
import { SCENARIO_NAMES, SCENARIOS } from "./scenarios.js";

const DIR = new URL("../fixtures/report/", import.meta.url).pathname;
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function golden(name: string, actual: string): void {
  const path = join(DIR, name);
  if (UPDATE || !existsSync(path)) {
    if (!UPDATE && process.env.CI) throw new Error(`missing golden file ${path}`);
    mkdirSync(DIR, { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual, `${name} differs from its golden file (UPDATE_GOLDEN=1 to accept)`).toBe(
    readFileSync(path, "utf8"),
  );
}

describe("report golden files", () => {
  for (const name of SCENARIO_NAMES) {
    it(`${name}: report.md and timeline.svg`, async () => {
      const run = await SCENARIOS[name]();
      const verb = name === "approved-promoted" ? "promote" : name === "aborted" ? "abort" : "deploy-gray";
      const rendered = renderReport(run.outcome, run.events, {
        plan: run.plan,
        toolVersion: "0.0.0-test",
        verb,
        by: verb === "promote" ? "joao.lima" : verb === "abort" ? "oncall" : "maria.souza",
      });
      golden(`${name}.golden.md`, rendered.markdown);
      golden(`${name}.golden.svg`, rendered.svg);
    });
  }

  it("the runbook's example chart is the rolled-back-at-50 golden chart", () => {
    const docs = new URL("../../docs/images/timeline-example.svg", import.meta.url).pathname;
    const fixture = readFileSync(join(DIR, "rolled-back-at-50.golden.svg"), "utf8");
    if (UPDATE) writeFileSync(docs, fixture);
    expect(
      readFileSync(docs, "utf8"),
      "cp test/fixtures/report/rolled-back-at-50.golden.svg docs/images/timeline-example.svg",
    ).toBe(fixture);
  });

  it("the same run renders the same bytes twice", async () => {
    const a = await SCENARIOS["rolled-back"]();
    const b = await SCENARIOS["rolled-back"]();
    const ra = renderReport(a.outcome, a.events, { plan: a.plan });
    const rb = renderReport(b.outcome, b.events, { plan: b.plan });
    expect(ra.markdown).toBe(rb.markdown);
    expect(ra.svg).toBe(rb.svg);
    expect(ra.json).toBe(rb.json);
  });
});
