/**
 * Every command in the docs exists: each `gray-deploy …` line in docs/, README.md and the IaC and
 * example READMEs is checked against the CLI's real verbs and flags (buildProgram), each
 * `dagger call …` line against the Dagger module's real functions and arguments, read by the Dagger
 * SDK's own introspector (scanModule from test/dagger/scan.ts). The checker itself is tested on
 * lines that must fail.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import { scanModule } from "../dagger/scan.js";
import {
  type CliSurface,
  checkDaggerCall,
  checkGrayDeploy,
  cliSurface,
  commandLines,
  type DaggerSurface,
  kebab,
  words,
} from "./commands.js";

const REPO = new URL("../../", import.meta.url).pathname;

function markdownFiles(): string[] {
  const out: string[] = [join(REPO, "README.md")];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name.startsWith(".")) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".md")) out.push(path);
    }
  };
  for (const dir of ["docs", "IaC", "examples", "ci"]) {
    try {
      walk(join(REPO, dir));
    } catch {
      // a folder that does not exist (yet) has no commands
    }
  }
  return out;
}

const cli: CliSurface = cliSurface(buildProgram("0.0.0"));
let dagger: DaggerSurface;

beforeAll(async () => {
  const module = await scanModule();
  const object = module.objects.GrayDeploy;
  if (!object) throw new Error("the Dagger module has no GrayDeploy object");
  const functions = new Map<string, Map<string, boolean>>();
  for (const fn of Object.values(object.functions)) {
    functions.set(
      kebab(fn.name),
      new Map(fn.arguments.map((a) => [kebab(a.name), a.type?.kind === "BOOLEAN_KIND"])),
    );
  }
  const constructorArgs = new Map(
    object.constructorArguments.map((a) => [kebab(a.name), a.type?.kind === "BOOLEAN_KIND"] as const),
  );
  dagger = { functions, constructorArgs };
}, 120_000);

describe("commands in the docs", () => {
  const files = markdownFiles();

  it("finds the runbooks and the architecture document", () => {
    const names = files.map((f) => relative(REPO, f));
    expect(names).toEqual(
      expect.arrayContaining([
        "README.md",
        "docs/gray-deployment-runbook.md",
        "docs/gray-deployment-runbook.pt-BR.md",
        "docs/architecture.md",
      ]),
    );
  });

  it("every gray-deploy command line uses a real verb and only that verb's flags", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const c of commandLines(relative(REPO, file), readFileSync(file, "utf8"))) {
        const p = checkGrayDeploy(c, cli);
        if (p === null) continue;
        checked++;
        problems.push(...p.map((x) => `${x.where}\n    → ${x.problem}`));
      }
    }
    expect(problems, problems.join("\n")).toEqual([]);
    // The runbooks alone hold dozens; a parser that finds none would make this test pass vacuously.
    expect(checked).toBeGreaterThan(60);
  });

  it("every dagger call line uses a real function of the module and only its arguments", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const c of commandLines(relative(REPO, file), readFileSync(file, "utf8"))) {
        const p = checkDaggerCall(c, dagger);
        if (p === null) continue;
        checked++;
        problems.push(...p.map((x) => `${x.where}\n    → ${x.problem}`));
      }
    }
    expect(problems, problems.join("\n")).toEqual([]);
    expect(checked).toBeGreaterThan(5);
  });

  it("the English and Portuguese runbooks give the same commands", () => {
    // Same commands in the same order: programs, verbs and flags; values (a --reason) may be translated.
    const shape = (text: string) =>
      words(text)
        .flat()
        .filter((w) => /^(npx|gray-deploy|dagger|call|--[a-z-]+)/.test(w) || /^[a-z]+(-[a-z]+)*$/.test(w))
        .map((w) => w.split("=")[0] ?? w)
        .filter(
          (w, i, all) =>
            w.startsWith("--") ||
            ["npx", "gray-deploy", "dagger", "call"].includes(w) ||
            ["gray-deploy", "call"].includes(all[i - 1] ?? ""),
        )
        .join(" ");
    const cmds = (name: string) =>
      commandLines(name, readFileSync(join(REPO, "docs", name), "utf8"))
        .filter((c) => checkGrayDeploy(c, cli) !== null || checkDaggerCall(c, dagger) !== null)
        .map((c) => shape(c.text));
    expect(cmds("gray-deployment-runbook.pt-BR.md")).toEqual(cmds("gray-deployment-runbook.md"));
  });
});

describe("the checker", () => {
  const line = (text: string) => ({ file: "x.md", line: 1, text });

  it("rejects an unknown verb, a flag of another verb and an unknown flag", () => {
    expect(checkGrayDeploy(line("gray-deploy deploy --target aws"), cli)?.[0]?.problem).toMatch(
      /not a gray-deploy verb/,
    );
    expect(checkGrayDeploy(line("npx gray-deploy status --image x"), cli)?.[0]?.problem).toMatch(
      /--image is not an option of `gray-deploy status`/,
    );
    expect(checkGrayDeploy(line("gray-deploy deploy-gray --bake-time 5m"), cli)).toHaveLength(1);
    expect(checkGrayDeploy(line("gray-deploy deploy-gray --bake 5m --json"), cli)).toEqual([]);
    expect(checkGrayDeploy(line("ls gray-deploy-state"), cli)).toBeNull();
    expect(checkGrayDeploy(line("forward: stable 100 ◄── gray-deploy moves these"), cli)).toBeNull();
  });

  it("reads commands after prompts, pipes, assignments and in CI YAML", () => {
    expect(
      checkGrayDeploy(
        line("AWS_PROFILE=stg npx gray-deploy status --config f.json --json | jq .outcome"),
        cli,
      ),
    ).toEqual([]);
    expect(checkGrayDeploy(line("run: npx gray-deploy promote --reasons x"), cli)?.[0]?.problem).toMatch(
      /--reasons/,
    );
    expect(checkGrayDeploy(line(`gray-deploy abort --reason "stop --now please"`), cli)).toEqual([]);
    expect(words(`a "b c" 'd|e' | f`)).toEqual([["a", "b c", "d|e"], ["f"]]);
  });

  it("rejects an unknown Dagger function or argument, and stops at a chained call", () => {
    expect(checkDaggerCall(line("dagger call deploy --target local"), dagger)?.[0]?.problem).toMatch(
      /not a function/,
    );
    expect(checkDaggerCall(line("dagger call --targets local deploy-gray"), dagger)?.[0]?.problem).toMatch(
      /--targets/,
    );
    expect(checkDaggerCall(line("dagger call deploy-gray --target local"), dagger)?.[0]?.problem).toMatch(
      /--target is not an argument/,
    );
    expect(
      checkDaggerCall(
        line("dagger -m github.com/tecpag/gray-deploy call --target local deploy-gray --supersede"),
        dagger,
      ),
    ).toEqual([]);
    expect(checkDaggerCall(line("dagger call build --source . export --path ./image.tar"), dagger)).toEqual(
      [],
    );
    expect(checkDaggerCall(line("dagger functions"), dagger)).toBeNull();
    expect(checkDaggerCall(line("dagger -m examples/dagger-consumer call rehearse"), dagger)).toBeNull();
    expect(
      checkDaggerCall(line("dagger -m github.com/tecpag/gray-deploy@v0.1.0 call deploy"), dagger),
    ).toHaveLength(1);
  });

  it("joins continued lines in code blocks and reads inline code", () => {
    const md = [
      "Run `gray-deploy status --config a.json`:",
      "```sh",
      "gray-deploy deploy-gray \\",
      "  --bake 5m",
      "```",
    ].join("\n");
    expect(commandLines("x.md", md).map((c) => c.text)).toEqual([
      "gray-deploy status --config a.json",
      "gray-deploy deploy-gray --bake 5m",
    ]);
  });
});
