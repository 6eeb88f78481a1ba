/**
 * The direction of imports under src/ (.dependency-cruiser.cjs, docs/architecture.md): the real
 * tree has no violation, and the same rules catch the cycles and the inverted imports src/ had
 * before issue 18 (a copy of their import lines in fixtures/before), so the check cannot pass by
 * checking nothing. `npm run lint` runs the same rules from the command line.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { cruise, type ICruiseResult, type IForbiddenRuleType } from "dependency-cruiser";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const config = require("../../.dependency-cruiser.cjs") as {
  forbidden: IForbiddenRuleType[];
  options: Record<string, unknown>;
};
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BEFORE = fileURLToPath(new URL("./fixtures/before/", import.meta.url));

async function violations(baseDir: string, atLeast: number): Promise<string[]> {
  const { doNotFollow, exclude, tsPreCompilationDeps } = config.options;
  const result = await cruise(["src"], {
    baseDir,
    validate: true,
    ruleSet: { forbidden: config.forbidden },
    doNotFollow,
    exclude,
    tsPreCompilationDeps,
  } as never);
  const output = result.output as ICruiseResult;
  expect(output.summary.totalCruised, `modules cruised under ${baseDir}src`).toBeGreaterThanOrEqual(atLeast);
  return output.summary.violations.map(
    (v) =>
      `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (${v.cycle.map((c) => c.name).join(" → ")})` : ""}`,
  );
}

describe("the direction of imports", () => {
  it("src/ keeps every rule", async () => {
    expect(await violations(ROOT, 90)).toEqual([]);
  }, 60_000);

  it("the rules catch the cycles and inverted imports src/ had before (fixtures/before)", async () => {
    const found = await violations(BEFORE, 8);
    const rules = (name: string) => found.filter((v) => v.startsWith(`${name}:`));
    expect(rules("no-circular").join("\n")).toMatch(/src\/core\/types\.ts → src\/gates\/types\.ts/);
    expect(rules("no-circular").join("\n")).toMatch(
      /src\/engine\/targets\.ts → src\/(aws|local)\/target\.ts/,
    );
    expect(rules("contract-is-innermost")).toEqual([
      "contract-is-innermost: src/contract/options.ts → src/gates/spec.ts",
    ]);
    expect(rules("engine-knows-no-adapter").length).toBe(2);
    expect(rules("adapter-families-are-self-contained")).toEqual([
      "adapter-families-are-self-contained: src/aws/target.ts → src/zabbix/gates.ts",
    ]);
  }, 60_000);
});
