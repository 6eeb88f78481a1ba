import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { optionsTableMarkdown } from "../../src/app/schema.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("embeds the options table exactly as the schema renders it (run `npx tsx scripts/options-table.ts --write`)", () => {
    const start = readme.indexOf("<!-- options-table:start");
    const end = readme.indexOf("<!-- options-table:end -->");
    expect(start).toBeGreaterThan(0);
    const embedded = readme.slice(readme.indexOf("\n", start) + 1, end).trim();
    expect(embedded).toBe(optionsTableMarkdown());
  });

  it("starts its Quick start with the two commands a fresh machine runs", () => {
    const quick = readme.slice(readme.indexOf("## Quick start"));
    const blocks = [...quick.matchAll(/```sh\n([^`]+)```/g)].map((m) => m[1]!.trim());
    expect(blocks[0]).toBe("npm ci && npx gray-deploy deploy-gray --target local");
    expect(blocks[1]).toBe("npm ci && npm test");
  });

  it("names the test command .ci/run runs", () => {
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(ci).toMatch(/^npm test$/m);
    expect(ci).toMatch(/^npm ci /m);
  });
});
