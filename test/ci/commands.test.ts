/**
 * Every `dagger call …` and `gray-deploy …` command in ci/, .github/, examples/, docs/, README.md
 * and the module's own doc examples names real functions, verbs and flags, with values the schema
 * accepts, and passes credentials as secret providers. Also: the example module's calls into
 * gray-deploy (`dag.grayDeploy().deployGray({...})`) use real arguments.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import { REPO, type ScannedObject, scanModule } from "../dagger/scan.js";
import {
  checkCliCommand,
  checkDaggerCall,
  commandFiles,
  commandTexts,
  type FoundCommand,
  findCommands,
  functionOf,
} from "./commands.js";

let gray: ScannedObject;
let consumer: ScannedObject;
let commands: FoundCommand[];

beforeAll(async () => {
  const [main, example] = await Promise.all([
    scanModule(),
    scanModule(join(REPO, "examples/dagger-consumer/src"), "dagger-consumer"),
  ]);
  gray = main.objects.GrayDeploy!;
  consumer = example.objects.DaggerConsumer!;
  commands = [];
  for (const file of await commandFiles(REPO)) {
    for (const text of await commandTexts(REPO, file)) commands.push(...findCommands(file, text));
  }
}, 60_000);

const objectFor = (cmd: FoundCommand) => (cmd.module?.includes("dagger-consumer") ? consumer : gray);

describe("commands written in CI definitions, examples and docs", () => {
  it("finds the commands of every kind of file (the checker cannot pass by finding nothing)", () => {
    const files = new Set(commands.map((c) => c.file));
    for (const f of [
      "ci/github/gray-deploy.yml",
      "ci/gitlab/.gitlab-ci.yml",
      "ci/jenkins/Jenkinsfile",
      "examples/dagger-consumer/README.md",
      "src/index.ts",
      "README.md",
    ]) {
      expect([...files], f).toContain(f);
    }
    const functions = new Set(
      commands.filter((c) => c.kind === "dagger").map((c) => functionOf(c, objectFor(c)).name),
    );
    for (const fn of [
      "publish",
      "deploy-gray",
      "promote",
      "report",
      "status",
      "abort",
      "plan",
      "bootstrap",
    ]) {
      expect([...functions], fn).toContain(fn);
    }
  });

  it("every `dagger call` names a real function with real arguments and valid values", () => {
    const problems = commands
      .filter((c) => c.kind === "dagger")
      .flatMap((c) => checkDaggerCall(c, objectFor(c)));
    expect(problems).toEqual([]);
  });

  it("every `gray-deploy` command names a real verb with real flags and valid values", () => {
    const program = buildProgram("0.0.0");
    const problems = commands.filter((c) => c.kind === "cli").flatMap((c) => checkCliCommand(c, program));
    expect(problems).toEqual([]);
  });

  it("pins Dagger 0.21.9 wherever a CI installs it", async () => {
    for (const f of ["ci/github/gray-deploy.yml", "ci/gitlab/.gitlab-ci.yml", "ci/jenkins/Jenkinsfile"]) {
      const text = await readFile(join(REPO, f), "utf8");
      expect(text, f).toMatch(/0\.21\.9/);
      expect(text, f).not.toMatch(/version:\s*["']?latest/);
    }
  });
});

describe("the checker itself", () => {
  const check = (line: string) =>
    findCommands("t.sh", line).flatMap((c) =>
      c.kind === "dagger" ? checkDaggerCall(c, gray) : checkCliCommand(c, buildProgram("0.0.0")),
    );

  it("accepts real commands", () => {
    expect(check("dagger call --target local --bake 20s --steps 10,50,100 --gray-crash deploy-gray")).toEqual(
      [],
    );
    expect(check("dagger call --help")).toEqual([]);
    expect(check("dagger call --target local deploy-gray --help")).toEqual([]);
    expect(
      check(
        "dagger -m github.com/acme/gray-deploy@v1 call --target aws --web-identity-token env:T report export --path r",
      ),
    ).toEqual([]);
    expect(check("npx gray-deploy promote --target aws --full --reason 'looks fine' --json")).toEqual([]);
  });

  it.each([
    ["dagger call deploy --target local", /no function "deploy"/],
    ["dagger call deploy-gray --bake-time 5m", /has no --bake-time/],
    ["dagger call --bake 5 deploy-gray", /has no unit/],
    ["dagger call deploy-gray --bake 5m", /deploy-gray has no --bake/],
    ["dagger call --aws-secret-access-key wJalrXUtnFEMI status", /secret provider/],
    ["dagger call deploy-gray --target local", /deploy-gray has no --target/],
    ["dagger call --supersede deploy-gray", /--supersede is not an argument of GrayDeploy's constructor/],
    ["dagger call publish --region sa-east-1", /required --repository missing/],
    ["dagger call --target local deploy-gray stdout", /unexpected "stdout"/],
    ["gray-deploy deploy-gray --json --stepz 5,100", /has no --stepz/],
    ["npx gray-deploy rollout --target local", /no verb "rollout"/],
    ["gray-deploy plan --rollback-error-rate 3", /ambiguous|1 or more/],
  ])("rejects %s", (line, why) => {
    expect(check(line).join("\n")).toMatch(why);
  });
});

describe("examples/dagger-consumer", () => {
  it("is a module the SDK's introspector accepts, with documented functions", () => {
    expect(Object.keys(consumer.functions).sort()).toEqual(["rehearse", "release"]);
    for (const fn of Object.values(consumer.functions)) {
      expect(fn.cache).toBe("never");
      expect(fn.description).toMatch(/Example: `dagger -m examples\/dagger-consumer call/);
    }
    const source = consumer.functions.release!.arguments.find((a) => a.name === "source")!;
    expect(source.type?.name).toBe("Directory");
    expect(source.defaultPath).toBe("/examples/sample-gateway");
  });

  it("declares gray-deploy (this repository) as a dependency pinned to the same engine", async () => {
    const config = JSON.parse(await readFile(join(REPO, "examples/dagger-consumer/dagger.json"), "utf8"));
    const root = JSON.parse(await readFile(join(REPO, "dagger.json"), "utf8"));
    expect(config.dependencies).toEqual([{ name: "gray-deploy", source: "../.." }]);
    expect(config.engineVersion).toBe(root.engineVersion);
  });

  it("calls dag.grayDeploy({…}).deployGray with real arguments, passing its own source", async () => {
    const path = join(REPO, "examples/dagger-consumer/src/index.ts");
    const file = ts.createSourceFile(path, await readFile(path, "utf8"), ts.ScriptTarget.ES2022, true);
    const keys = (arg: ts.Expression | undefined) => {
      if (arg === undefined) return []; // deployGray() with every option given to the constructor
      expect(ts.isObjectLiteralExpression(arg)).toBe(true);
      return (arg as ts.ObjectLiteralExpression).properties.map((p) => p.name!.getText());
    };
    const calls: string[][] = [];
    const constructed: string[][] = [];
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) && node.expression.getText() === "dag.grayDeploy") {
        constructed.push(keys(node.arguments[0]));
      }
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        node.expression.name.text === "deployGray"
      ) {
        calls.push(keys(node.arguments[0]));
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
    expect(calls).toHaveLength(2);
    expect(constructed).toHaveLength(2);
    const known = new Set(gray.functions.deployGray!.arguments.map((a) => a.name));
    expect(calls.flat().filter((k) => !known.has(k))).toEqual([]);
    const ctor = new Set(gray.constructorArguments.map((a) => a.name));
    expect(constructed.flat().filter((k) => !ctor.has(k))).toEqual([]);
    expect(calls.some((k) => k.includes("source"))).toBe(true);
  });
});
