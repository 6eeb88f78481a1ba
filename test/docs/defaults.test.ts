/**
 * The runbooks' table of default thresholds is the schema's: each row's AWS and local defaults equal
 * what the options resolve to, so the on-call document cannot drift from the tool. And the exit-code
 * table lists exactly the contract's codes.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { OPTION_NAMES, type OptionName, rawDefault } from "../../src/app/schema.js";
import { ExitCode } from "../../src/contract/outcome.js";
import { kebab } from "./commands.js";

const RUNBOOKS = ["gray-deployment-runbook.md", "gray-deployment-runbook.pt-BR.md"];
const read = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), "utf8");

function defaultsRows(markdown: string): string[][] {
  const start = markdown.indexOf("<!-- defaults-table:start -->");
  const end = markdown.indexOf("<!-- defaults-table:end -->");
  expect(start, "defaults-table markers").toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  return markdown
    .slice(start, end)
    .split("\n")
    .filter((l) => l.startsWith("| `--"))
    .map((l) =>
      l
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

describe("runbook defaults table", () => {
  for (const name of RUNBOOKS) {
    it(`${name}: every default equals the schema's, per target`, () => {
      const rows = defaultsRows(read(name));
      expect(rows.length).toBeGreaterThanOrEqual(15);
      for (const [flag, aws, local] of rows) {
        const option = OPTION_NAMES.find((n) => `\`--${kebab(n)}\`` === flag) as OptionName | undefined;
        expect(option, `${flag} is not an option`).toBeDefined();
        expect(aws, `${flag} on aws`).toBe(String(rawDefault(option!, "aws")));
        expect(local, `${flag} on local`).toBe(String(rawDefault(option!, "local")));
      }
    });
  }

  it("both runbooks list the same options in the same order", () => {
    const flags = (name: string) => defaultsRows(read(name)).map((r) => r[0]);
    expect(flags(RUNBOOKS[1]!)).toEqual(flags(RUNBOOKS[0]!));
  });
});

describe("runbook exit codes", () => {
  for (const name of RUNBOOKS) {
    it(`${name}: the exit-code table has every code of the contract, with its outcome`, () => {
      const rows = read(name)
        .split("\n")
        .filter((l) => /^\| [0-9] +\| `[a-z-]+` /.test(l))
        .map((l) => l.split("|").map((c) => c.trim()));
      const table = rows.map((r) => [Number(r[1]), r[2]!.replace(/`/g, "")] as const);
      expect(table.map(([code]) => code).sort()).toEqual(Object.values(ExitCode).sort());
      const expected: Record<number, string> = {
        0: "promoted / restored", // rollback-release's outcome shares promoted's code (issue 17)
        1: "failed",
        2: "refused",
        3: "rolled-back",
        4: "paused",
        5: "aborted",
        6: "refused",
        7: "rollback-failed",
      };
      for (const [code, outcome] of table) expect(outcome, `exit ${code}`).toBe(expected[code]);
    });
  }
});
