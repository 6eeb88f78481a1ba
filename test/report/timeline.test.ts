/**
 * Structure of timeline.svg, parsed as XML: a valid standalone SVG with a viewBox, the three
 * panels' axes, exactly one path per series, one marker per decision, nothing executable or
 * external (GitHub renders SVG through <img>, which would drop or block those).
 */
import { DOMParser, type Element } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import { renderReport } from "../../src/report/index.js";
import { el, escapeXml, num } from "../../src/report/svg.js";
import { SERIES, shortImage, timeStep } from "../../src/report/timeline.js";
import { SCENARIO_NAMES, SCENARIOS } from "./scenarios.js";

function parse(svg: string) {
  const problems: string[] = [];
  const doc = new DOMParser({
    onError: (level, message) => {
      problems.push(`${level}: ${message}`);
    },
  }).parseFromString(svg, "image/svg+xml");
  expect(problems).toEqual([]);
  return doc;
}

function all(root: { getElementsByTagName(n: string): ArrayLike<Element> }, tag: string): Element[] {
  return Array.from(root.getElementsByTagName(tag));
}

const byClass = (root: Parameters<typeof all>[0], tag: string, cls: string) =>
  all(root, tag).filter((e) => (e.getAttribute("class") ?? "").split(" ").includes(cls));

/** Every coordinate pair of a path's d attribute. */
function coordinates(d: string): [number, number][] {
  const nums = (d.match(/-?\d+(\.\d+)?(e-?\d+)?/g) ?? []).map(Number);
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < nums.length; i += 2) pairs.push([nums[i]!, nums[i + 1]!]);
  return pairs;
}

describe("timeline.svg structure", () => {
  for (const name of SCENARIO_NAMES) {
    it(`${name}: parses as SVG with axes, one path per series and one marker per decision`, async () => {
      const run = await SCENARIOS[name]();
      const { svg, report } = renderReport(run.outcome, run.events, { plan: run.plan });
      const doc = parse(svg);
      const root = doc.documentElement!;
      expect(root.tagName).toBe("svg");
      expect(root.getAttribute("xmlns")).toBe("http://www.w3.org/2000/svg");

      // viewBox: four numbers, origin 0 0, the same size as width/height.
      const vb = (root.getAttribute("viewBox") ?? "").split(/\s+/).map(Number);
      expect(vb).toHaveLength(4);
      expect(vb.slice(0, 2)).toEqual([0, 0]);
      expect(vb[2]).toBeGreaterThan(100);
      expect(vb[3]).toBeGreaterThan(100);
      expect(Number(root.getAttribute("width"))).toBe(vb[2]);
      expect(Number(root.getAttribute("height"))).toBe(vb[3]);
      expect(all(doc, "title")[0]?.textContent).toContain(run.outcome.outcome);

      // Nothing executable, nothing external, no web fonts.
      for (const tag of ["script", "foreignObject", "iframe", "image", "use", "style", "link"]) {
        expect(all(doc, tag), tag).toHaveLength(0);
      }
      for (const e of all(doc, "*")) {
        for (const a of Array.from(e.attributes)) {
          expect(a.name.toLowerCase().startsWith("on"), `${e.tagName} ${a.name}`).toBe(false);
          expect(["href", "xlink:href", "src"]).not.toContain(a.name);
          if (a.name !== "xmlns") expect(a.value).not.toMatch(/(https?:|data:|url\()/);
        }
      }
      expect(svg).not.toMatch(/@font-face|@import/);

      // Axes: time and value axes for each of the three panels, with labelled ticks.
      const axes = byClass(doc, "g", "axis").map((g) => g.getAttribute("data-axis"));
      expect(axes.sort()).toEqual(
        ["x-error-rate", "x-latency", "x-weight", "y-error-rate", "y-latency", "y-weight"].sort(),
      );
      for (const g of byClass(doc, "g", "axis")) {
        const labels = all(g, "text").map((t) => t.textContent);
        expect(labels.length, g.getAttribute("data-axis") ?? "").toBeGreaterThanOrEqual(2);
      }
      const yWeightLabels = all(
        byClass(doc, "g", "axis").find((g) => g.getAttribute("data-axis") === "y-weight")!,
        "text",
      );
      expect(yWeightLabels.map((t) => t.textContent)).toEqual(["0%", "25%", "50%", "75%", "100%"]);

      // Exactly one path per series, each inside the view box.
      const series = byClass(doc, "path", "series");
      expect(series.map((p) => p.getAttribute("data-series"))).toEqual([...SERIES]);
      for (const p of series) {
        for (const [x, y] of coordinates(p.getAttribute("d") ?? "")) {
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThanOrEqual(vb[2]!);
          expect(y).toBeGreaterThanOrEqual(0);
          expect(y).toBeLessThanOrEqual(vb[3]!);
        }
      }
      const d = (s: string) =>
        series.find((p) => p.getAttribute("data-series") === s)?.getAttribute("d") ?? "";
      if (run.outcome.rolloutId !== null) {
        expect(d("weight-gray")).toMatch(/^M/);
        expect(d("weight-stable")).toMatch(/^M/);
      }
      if (report.observations.some((o) => (o.rollbackWindow?.stable.requests ?? 0) > 0)) {
        expect(d("error-rate-stable")).toMatch(/^M/);
        expect(d("p95-stable")).toMatch(/^M/);
        expect(d("p99-stable")).toMatch(/^M/);
      }

      // One marker per decision, in order, each with its kind.
      const markers = byClass(doc, "g", "decision");
      expect(markers.map((m) => m.getAttribute("data-kind"))).toEqual(
        run.outcome.decisions.map((x) => x.kind),
      );
      expect(markers.map((m) => m.getAttribute("data-at"))).toEqual(run.outcome.decisions.map((x) => x.at));
      for (const m of markers) {
        expect(all(m, "circle")).toHaveLength(1);
        expect(all(m, "line")).toHaveLength(1);
      }
    });
  }

  it("draws gray's weight reaching 100% when the release was promoted, and back to 0%", async () => {
    const run = await SCENARIOS.promoted();
    const doc = parse(renderReport(run.outcome, run.events, { plan: run.plan }).svg);
    const gray = byClass(doc, "path", "series").find((p) => p.getAttribute("data-series") === "weight-gray")!;
    const ys = coordinates(gray.getAttribute("d")!).map(([, y]) => y);
    const axis = byClass(doc, "g", "axis").find((g) => g.getAttribute("data-axis") === "y-weight")!;
    const tickY = (label: string) => {
      const t = all(axis, "text").find((x) => x.textContent === label)!;
      return Number(t.getAttribute("y")) - 4;
    };
    expect(Math.min(...ys)).toBeCloseTo(tickY("100%"), 0);
    expect(ys[ys.length - 1]).toBeCloseTo(tickY("0%"), 0);
  });

  it("plots gray's error rate above the rollback line when the release was rolled back", async () => {
    const run = await SCENARIOS["rolled-back"]();
    const doc = parse(renderReport(run.outcome, run.events, { plan: run.plan }).svg);
    const path = byClass(doc, "path", "series").find(
      (p) => p.getAttribute("data-series") === "error-rate-gray",
    )!;
    const threshold = byClass(doc, "g", "threshold").find((g) =>
      all(g, "text")[0]?.textContent?.startsWith("roll back > 2%"),
    )!;
    const lineY = Number(all(threshold, "line")[0]!.getAttribute("y1"));
    const ys = coordinates(path.getAttribute("d")!).map(([, y]) => y);
    // SVG y grows downwards: above the line means a smaller y.
    expect(Math.min(...ys)).toBeLessThan(lineY);
  });
});

describe("SVG writer", () => {
  it("escapes text and attribute values, and drops characters XML cannot hold", () => {
    expect(escapeXml(`<a href="x">&'\u0007`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    const out = el("text", { x: 1.006, "data-note": `"quoted" <b>` }, escapeXml("5 < 6 & 7"));
    expect(out).toBe(`<text x="1.01" data-note="&quot;quoted&quot; &lt;b&gt;">5 &lt; 6 &amp; 7</text>`);
    expect(el("g", { hidden: true, skip: false, none: undefined })).toBe(`<g hidden="hidden"/>`);
  });

  it("refuses scripts, event handlers and external references", () => {
    expect(() => el("script", {}, "alert(1)")).toThrow(/not allowed/);
    expect(() => el("foreignObject")).toThrow(/not allowed/);
    expect(() => el("rect", { onclick: "x()" })).toThrow(/not allowed/);
    expect(() => el("a", { href: "https://example.com" })).toThrow(/not allowed/);
    expect(() => el("rect", { "bad name": 1 })).toThrow(/invalid attribute/);
  });

  it("rounds coordinates and rejects non-finite ones", () => {
    expect(num(1 / 3)).toBe("0.33");
    expect(num(-0.001)).toBe("0");
    expect(() => num(Number.NaN)).toThrow(RangeError);
  });

  it("chooses human time ticks and short image names", () => {
    expect(timeStep(90_000)).toBe(10_000);
    expect(timeStep(100_000)).toBe(15_000);
    expect(timeStep(3_600_000)).toBe(600_000);
    expect(timeStep(8_000)).toBe(1000);
    expect(shortImage("123456789012.dkr.ecr.sa-east-1.amazonaws.com/team/gatewaypix:1.4.2")).toBe(
      "gatewaypix:1.4.2",
    );
    expect(shortImage(`reg.example/app@sha256:${"a".repeat(64)}`)).toBe("app@sha256:aaaaaaaaaaaa");
    expect(shortImage(null)).toBe("(no image)");
  });
});
