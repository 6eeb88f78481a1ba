/**
 * The module as Dagger engine 0.21.9 really runs it, rehearsed from the TypeScript runtime's source
 * (test/dagger/engine/runtime.ts names each step after the file it copies): the files dagger.json
 * includes, package.json and tsconfig.json rewritten, `npm install --omit=dev` from the lockfile with
 * npm 11.8.0 on Node 24.13.1, the SDK library generated, and every call made through the published
 * SDK's own entrypoint (@dagger.io/dagger 0.21.9), connected to an engine double that serves Dagger's
 * published schema and rejects any query the engine would reject.
 *
 * Through it: the module registers as 0.21 registers it, through the SDK's ModuleTypes introspection
 * (typedefs compared with surface.ts, the surface test's source of truth); deploy-gray runs a real
 * local rollout to promoted and one to rolled-back; plan and status run on the AWS emulator reached as
 * a Dagger Service with credentials passed as Secrets. And every call fails, as in the engine, when a
 * package the module needs at run time is a devDependency — while registration still succeeds, which
 * is why a surface check alone never saw it.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Outcome } from "../../src/contract/outcome.js";
import { buildWorld, STATE_TABLE, type World } from "../aws/support/world.js";
import { type AwsClients, awsClients } from "../support/aws-fixture.js";
import { type Emulator, startEmulator } from "../support/emulator.js";
import { LATENCY_MARGINS, REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { type CallRun, callFunction, type Given, mainObject, register } from "./engine/call.js";
import type { RecordedModule } from "./engine/double.js";
import {
  disposeBundledLibrary,
  type PreparedModule,
  setupContainer,
  toolchainMissing,
} from "./engine/runtime.js";
import { constructorOfTypeDefs, expectedConstructor, expectedSurface, surfaceOfTypeDefs } from "./surface.js";

/**
 * A short local rollout: two steps and one return step of a few seconds each. Gray starts at 50% and a
 * step may extend to 20 s, so a loaded machine's slower load generator still brings the evidence a
 * step needs (--min-requests) before it would be judged inconclusive and pause.
 */
const SHORT_LOCAL: Record<string, Given> = {
  target: "local",
  instances: 2,
  rps: 200,
  steps: "50,100",
  bake: "3s",
  maxBake: "20s",
  promotionWindow: "2s",
  rollbackWindow: "2s",
  metricsDelay: "1s",
  metricPeriod: "1s",
  interval: "500ms",
  returnSteps: "100",
  returnBake: "3s",
  minRequests: 30,
  healthyTimeout: "60s",
  // Latency is not what this file tests (test/support/margins.ts).
  ...LATENCY_MARGINS,
};

const KEY_ID = "AKIAREHEARSALKEY0001";
const SECRET_KEY = "rehearsal/secret+access/key0000000000000";

/**
 * A package the module needs at run time, moved back to devDependencies: typescript, which the SDK's
 * entrypoint imports on every call (the engine's failure this file guards against). Every package
 * src/ imports is checked against the same install below, without installing once more for each.
 */
const RUNTIME_PROBES = ["typescript"] as const;

const works: string[] = [];
/** The module with one runtime dependency moved to devDependencies, prepared while the rest runs. */
const broken = new Map<string, Promise<PreparedModule>>();
let mod: PreparedModule;
let registration: CallRun;
let registered: RecordedModule;
let emu: Emulator;
let aws: AwsClients;
let world: World;

async function workDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gray-deploy-engine-"));
  works.push(dir);
  return dir;
}

/** The call's JSON result: the function's string, itself JSON (an Outcome or a report). */
function json<T>(run: CallRun): T {
  expect(run.error, run.output).toBeUndefined();
  expect(typeof run.value).toBe("string");
  return JSON.parse(run.value as string) as T;
}

/** Nothing the SDK sent was refused by the schema or asked for something the double lacks. */
function cleanProtocol(run: CallRun): void {
  expect(run.double.rejected).toEqual([]);
  expect(run.double.unimplemented).toEqual([]);
  expect(run.hung, `the process did not exit after returning:\n${run.output}`).toBe(false);
}

beforeAll(async () => {
  const missing = toolchainMissing();
  if (missing) throw new Error(missing);
  for (const dep of RUNTIME_PROBES) {
    const prepared = workDir().then((work) =>
      setupContainer({
        work,
        editPackageJson: (pkg) => {
          const deps = pkg.dependencies as Record<string, string>;
          const dev = pkg.devDependencies as Record<string, string>;
          if (deps[dep] === undefined) throw new Error(`${dep} is not a dependency any more: probe another`);
          dev[dep] = deps[dep];
          delete deps[dep];
        },
      }),
    );
    prepared.catch(() => {}); // reported by the test that awaits it
    broken.set(dep, prepared);
  }
  [mod, emu] = await Promise.all([setupContainer({ work: await workDir() }), startEmulator()]);
  aws = awsClients(emu.clientConfig());
  [registration, world] = await Promise.all([register(mod), buildWorld(emu, aws)]);
  registered = registration.double.registered!;
}, 240_000);

afterAll(async () => {
  aws?.destroy();
  await emu?.stop();
  await Promise.all(works.map((w) => rm(w, { recursive: true, force: true })));
  await disposeBundledLibrary();
});

describe("the engine's install of the module", () => {
  it("installs with npm install --omit=dev from the lockfile, without the runtime's TypeScript mount", () => {
    expect(mod.installed.npmRan).toBe(true);
    expect(mod.installed.mountedTypescript).toBe(false);
  });

  it("declares in dependencies, and so installs, every package src/ imports", async () => {
    const imported = new Set<string>();
    // .cjs too: the AWS SDK's clients load by require from src/aws/sdk.cjs.
    const files = (await readdir(join(mod.context, "src"), { recursive: true })).filter(
      (f) => f.endsWith(".ts") || f.endsWith(".cjs"),
    );
    for (const file of files) {
      const text = await readFile(join(mod.context, "src", file), "utf8");
      for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
        if (fileName.startsWith(".") || fileName.startsWith("node:")) continue;
        imported.add(
          fileName
            .split("/")
            .slice(0, fileName.startsWith("@") ? 2 : 1)
            .join("/"),
        );
      }
    }
    imported.delete("@dagger.io/dagger"); // the runtime's generated SDK, never installed
    expect([...imported]).toEqual(expect.arrayContaining(["zod", "@aws-sdk/client-ec2"])); // it sees imports
    const pkg = JSON.parse(await readFile(join(mod.context, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect([...imported].filter((name) => pkg.dependencies[name] === undefined)).toEqual([]);
    expect(
      [...imported].filter((name) => !existsSync(join(mod.dir, "node_modules", name, "package.json"))),
    ).toEqual([]);
  });
});

describe("registration (ModuleTypes: what dagger functions lists)", () => {
  it("introspects src/ and registers through the SDK's introspection entrypoint, with queries the schema accepts", () => {
    expect(registration.code, registration.output).toBe(0);
    cleanProtocol(registration);
    expect(registration.double.queries.length).toBeGreaterThan(10);
    expect(registered).toBeDefined();
  });

  it("registers the surface of surface.ts: functions, arguments, types, defaults, cache policy", () => {
    const main = mainObject(registered);
    expect(registered.objects.map((o) => o.name)).toEqual(["GrayDeploy"]);
    expect(registered.description).toMatch(/^Gray \(canary\) deployments/);
    expect(main.description).not.toBe("");
    expect(surfaceOfTypeDefs(main)).toEqual(expectedSurface({ registered: true }));
    expect(constructorOfTypeDefs(main)).toEqual(expectedConstructor());
    const undocumented = (main.functions ?? []).flatMap((f) =>
      f.args.filter((a) => a.description.trim().length < 10).map((a) => `${f.name}.${a.name}`),
    );
    expect(undocumented).toEqual([]);
  });
});

// The promoted rollout runs alone: it needs its load generator to keep up on a loaded machine, and
// every call is CPU-heavy (the SDK's introspector parses src/ and the declarations it imports on every
// call, in the engine too). The other calls and the self-checks then run at once.
describe("a release", () => {
  it(
    "deploy-gray --target local: a real local rollout, its Outcome JSON returned through returnValue",
    async () => {
      const run = await callFunction(mod, registered, "deployGray", { ...SHORT_LOCAL, startedBy: "octocat" });
      cleanProtocol(run);
      expect(run.code, run.output).toBe(0);
      const outcome = json<Outcome>(run);
      expect(outcome).toMatchObject({ outcome: "promoted", exitCode: 0, target: "local" });
      expect(outcome.steps.map((s) => `${s.kind}:${s.weight}:${s.verdict}`)).toEqual([
        "forward:50:pass",
        "forward:100:pass",
        "return:100:pass",
      ]);
      // Progress went to the function's log, which the engine shows.
      expect(run.output).toMatch(/→ promoted/);
    },
    REAL_TIME_TEST_TIMEOUT_MS,
  );
});

describe.concurrent("calls", () => {
  it(
    "deploy-gray of a bad release: the call fails with the outcome and its reason, as dagger call shows it",
    async () => {
      const run = await callFunction(mod, registered, "deployGray", { ...SHORT_LOCAL, grayErrorRate: "20%" });
      cleanProtocol(run);
      expect(run.value).toBeUndefined();
      expect(run.error).toMatch(/^rolled-back \(exit 3\): /);
      expect(run.code).toBe(1); // the entrypoint exits 1 after returnError
    },
    REAL_TIME_TEST_TIMEOUT_MS,
  );

  it(
    "plan --target aws and status, on the AWS emulator reached as a Service, credentials as Secrets",
    async () => {
      const reach: Record<string, Given> = {
        target: "aws",
        region: emu.region,
        endpointService: { service: `127.0.0.1:${emu.port}` },
        awsAccessKeyId: { secret: KEY_ID },
        awsSecretAccessKey: { secret: SECRET_KEY },
        stateTable: STATE_TABLE,
        listenerArn: world.fx.listenerArn,
        ruleArn: world.fx.ruleArn,
      };
      const [plan, status] = await Promise.all([
        callFunction(mod, registered, "plan", {
          ...reach,
          image: world.release,
          stableTargetGroupArn: world.fx.stable.targetGroupArn,
          grayTargetGroupArn: world.fx.gray.targetGroupArn,
          stableAsg: world.fx.stable.asgName,
          grayAsg: world.fx.gray.asgName,
          launchTemplate: world.fx.launchTemplate.id,
        }),
        callFunction(mod, registered, "status", reach),
      ]);
      for (const run of [plan, status]) {
        cleanProtocol(run);
        expect(run.code, `${run.error}\n${run.output}`).toBe(0);
        // The endpoint came from the Service; the keys from the Secrets, never printed.
        expect(run.output).toContain(`via http://127.0.0.1:${emu.port}`);
        expect(run.output).not.toContain(KEY_ID);
        expect(run.output).not.toContain(SECRET_KEY);
      }
      const report = json<{ target: string; scope: string; steps: unknown[] }>(plan);
      expect(report).toMatchObject({ target: "aws", scope: world.fx.ruleArn });
      expect(report.steps.length).toBeGreaterThan(0);
      const outcome = json<Outcome>(status);
      expect(outcome.reason).toContain(`no rollout is recorded for ${world.fx.ruleArn}`);
    },
    REAL_TIME_TEST_TIMEOUT_MS,
  );

  for (const dep of RUNTIME_PROBES) {
    it(
      `self-check: with ${dep} moved back to devDependencies the module no longer loads, as in the engine`,
      async () => {
        const module = await broken.get(dep)!;
        if (dep === "typescript") {
          // Registration neither installs nor loads the module: `dagger functions` still lists its
          // functions, which is how the surface test stayed green while every call failed.
          const types = await register(module);
          expect(types.code, types.output).toBe(0);
          expect(surfaceOfTypeDefs(mainObject(types.double.registered!))).toEqual(
            expectedSurface({ registered: true }),
          );
        }
        // Every call loads the module, and fails there, before the function runs.
        const run = await callFunction(module, registered, "plan", { target: "local" });
        expect(run.code).not.toBe(0);
        expect(run.double.result).toBeUndefined();
        expect(run.output).toContain(`Cannot find package '${dep}'`);
      },
      REAL_TIME_TEST_TIMEOUT_MS,
    );
  }
});
