/**
 * The module's surface as the Dagger engine registers it, read by the SDK's own introspector from
 * src/, compared with the surface written here BY HAND from the spec: the object, its
 * functions, every argument with its type (Secrets where credentials pass), optionality, default,
 * the cache policy and the presence of documentation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type ScannedArgument, type ScannedModule, type ScannedObject, scanModule } from "./scan.js";

// Types as `dagger call --help` names them.
const STR = "String";
const INT = "Integer";
const BOOL = "Boolean";
const LIST = "[String]";
const SECRET = "Secret";
const FILE = "File";
const DIR = "Directory";

/** How an argument may be omitted: a literal default, optional without default, or required. */
const OPTIONAL = { optional: true } as const;
const REQUIRED = { required: true } as const;
type Presence =
  | { default: string | number | boolean | readonly string[] }
  | typeof OPTIONAL
  | typeof REQUIRED;
const d = (value: string | number | boolean | readonly string[]): Presence => ({ default: value });

type Arg = readonly [name: string, type: string, presence: Presence];

const SOURCE_IGNORE = [".git", "**/node_modules", ".dagger", "sdk", "**/.terraform"];

const CREDENTIALS: Arg[] = [
  ["awsAccessKeyId", SECRET, OPTIONAL],
  ["awsSecretAccessKey", SECRET, OPTIONAL],
  ["awsSessionToken", SECRET, OPTIONAL],
  ["webIdentityToken", SECRET, OPTIONAL],
];

const BUILD: Arg[] = [
  ["dockerfile", STR, d("Dockerfile")],
  ["platform", STR, OPTIONAL],
  ["buildArgs", LIST, d([])],
  ["buildTarget", STR, OPTIONAL],
];

/** Options shared by every verb that reaches a stored rollout on AWS. */
const AWS_CONTROL: Arg[] = [
  ["target", STR, d("local")],
  ["startedBy", STR, OPTIONAL],
  ["region", STR, OPTIONAL],
  ["endpoint", STR, OPTIONAL],
  ["roleArn", STR, OPTIONAL],
  ["listenerArn", STR, OPTIONAL],
  ["ruleArn", STR, OPTIONAL],
  ["stateTable", STR, OPTIONAL],
  ["lockLease", STR, OPTIONAL], // 2m on aws, 30s on local
  ["config", FILE, OPTIONAL],
];

/** The Zabbix connection of business-metric gates (deploy-gray, plan, promote). */
const ZABBIX: Arg[] = [
  ["zabbixUrl", STR, OPTIONAL],
  ["zabbixToken", SECRET, OPTIONAL], // sensitive: a Secret
  ["zabbixTimeout", STR, d("10s")],
];

/** deploy-gray's and plan's options (the rollout plan, its thresholds, the local environment). */
const ROLLOUT: Arg[] = [
  ["target", STR, d("local")],
  ["image", STR, OPTIONAL], // local: gray-deploy/sample-gateway:next; aws: required or built
  ["commit", STR, OPTIONAL],
  ["startedBy", STR, OPTIONAL],
  ["region", STR, OPTIONAL],
  ["endpoint", STR, OPTIONAL],
  ["roleArn", STR, OPTIONAL],
  ["listenerArn", STR, OPTIONAL],
  ["ruleArn", STR, OPTIONAL],
  ["stableTargetGroupArn", STR, OPTIONAL],
  ["grayTargetGroupArn", STR, OPTIONAL],
  ["stableAsg", STR, OPTIONAL],
  ["grayAsg", STR, OPTIONAL],
  ["launchTemplate", STR, OPTIONAL],
  ["ami", STR, OPTIONAL],
  ["stateTable", STR, OPTIONAL],
  ["alarms", LIST, OPTIONAL],
  ["gates", STR, OPTIONAL], // JSON text of the gate list
  ...ZABBIX,
  ["smokeHeader", SECRET, OPTIONAL], // sensitive: a Secret
  ["smokeUrl", STR, OPTIONAL],
  ["smokePaths", LIST, d(["/health"])],
  ["smokeStatuses", LIST, d(["200"])],
  ["steps", STR, d("5,25,50,100")],
  ["approveBefore", LIST, OPTIONAL],
  ["interval", STR, OPTIONAL], // 30s on aws, 1s on local
  ["bake", STR, OPTIONAL], // 12m / 13s
  ["maxBake", STR, OPTIONAL],
  ["rollbackWindow", STR, OPTIONAL],
  ["promotionWindow", STR, OPTIONAL],
  ["metricPeriod", STR, OPTIONAL],
  ["metricsDelay", STR, OPTIONAL],
  ["returnSteps", STR, d("50,100")],
  ["returnBake", STR, OPTIONAL],
  ["onInconclusive", STR, d("pause")],
  ["minGrayCapacity", INT, d(1)],
  ["healthyTimeout", STR, OPTIONAL],
  ["instanceWarmup", STR, OPTIONAL],
  ["refreshMinHealthy", INT, d(90)],
  ["maxPause", STR, d("1h")],
  ["lockLease", STR, OPTIONAL],
  ["rollbackErrorRate", STR, d("2%")],
  ["rollbackP99", STR, d("2s")],
  ["rollbackUnhealthy", INT, d(1)],
  ["promoteErrorRate", STR, d("1%")],
  ["promoteP95", STR, d("500ms")],
  ["minRequests", INT, d(100)],
  ["evidenceEvents", INT, d(10)],
  ["relativeSignificance", STR, d("0.1%")],
  ["relativeErrorMargin", STR, d("0.5%")],
  ["latencyTolerance", STR, d("50%")],
  ["latencySlack", STR, d("50ms")],
  ["sequentialAlpha", STR, d("1%")],
  ["sequentialTolerance", STR, d("25%")],
  ["rps", INT, d(200)],
  ["instances", INT, d(4)],
  ["grayErrorRate", STR, d("0%")],
  ["grayLatencyMs", INT, d(0)],
  ["grayCrash", BOOL, d(false)],
  ["baselineErrorRate", STR, d("0%")],
  ["config", FILE, OPTIONAL],
];

interface ExpectedFunction {
  readonly args: readonly Arg[];
  readonly returns: string;
  /** `@func({ cache: "never" })`: side effects or live reads. */
  readonly cache: "never" | "default";
  /** Directory arguments loaded from the module's context when omitted. */
  readonly defaultPaths?: Readonly<Record<string, string>>;
}

const EXPECTED: Record<string, ExpectedFunction> = {
  // A pure function of its inputs: the engine may cache it.
  build: {
    args: [["source", DIR, REQUIRED], ...BUILD],
    returns: "Container",
    cache: "default",
    defaultPaths: { source: "/" },
  },
  publish: {
    args: [
      ["repository", STR, REQUIRED],
      ["source", DIR, REQUIRED],
      ["tag", STR, OPTIONAL],
      ["commit", STR, OPTIONAL],
      ...BUILD,
      ["region", STR, OPTIONAL],
      ["endpoint", STR, OPTIONAL],
      ["roleArn", STR, OPTIONAL],
      ...CREDENTIALS,
    ],
    returns: STR,
    cache: "never",
    defaultPaths: { source: "/" },
  },
  deployGray: {
    args: [
      ...ROLLOUT,
      ["notifyWebhook", SECRET, OPTIONAL],
      ["supersede", BOOL, d(false)],
      ["source", DIR, OPTIONAL],
      ["repository", STR, OPTIONAL],
      ["tag", STR, OPTIONAL],
      ...BUILD,
      ...CREDENTIALS,
    ],
    returns: STR,
    cache: "never",
    defaultPaths: { source: "/" },
  },
  plan: { args: [...ROLLOUT, ...CREDENTIALS], returns: STR, cache: "never" },
  status: { args: [...AWS_CONTROL, ...CREDENTIALS], returns: STR, cache: "never" },
  // The Dagger counterpart of the CLI's --report-dir: the stored rollout's report files.
  report: { args: [...AWS_CONTROL, ...CREDENTIALS], returns: DIR, cache: "never" },
  promote: {
    args: [
      ...AWS_CONTROL,
      ...ZABBIX,
      ["notifyWebhook", SECRET, OPTIONAL],
      ["full", BOOL, d(false)],
      ["reason", STR, OPTIONAL],
      ...CREDENTIALS,
    ],
    returns: STR,
    cache: "never",
  },
  abort: {
    args: [...AWS_CONTROL, ["notifyWebhook", SECRET, OPTIONAL], ["reason", STR, OPTIONAL], ...CREDENTIALS],
    returns: STR,
    cache: "never",
  },
  bootstrap: {
    args: [
      ["target", STR, d("local")],
      ["region", STR, OPTIONAL],
      ["endpoint", STR, OPTIONAL],
      ["roleArn", STR, OPTIONAL],
      ["stateTable", STR, OPTIONAL],
      ["config", FILE, OPTIONAL],
      ...CREDENTIALS,
    ],
    returns: STR,
    cache: "never",
  },
};

function typeName(t: ScannedArgument["type"]): string {
  if (t === undefined) return "unresolved";
  switch (t.kind) {
    case "STRING_KIND":
      return STR;
    case "INTEGER_KIND":
      return INT;
    case "BOOLEAN_KIND":
      return BOOL;
    case "LIST_KIND":
      return `[${typeName(t.typeDef as ScannedArgument["type"])}]`;
    case "OBJECT_KIND":
      return t.name ?? "object";
    default:
      return t.kind;
  }
}

function presence(a: ScannedArgument): Presence {
  if (a.defaultValue !== undefined) return d(a.defaultValue as string);
  return a.isOptional ? OPTIONAL : REQUIRED;
}

let module: ScannedModule;
let gray: ScannedObject;

beforeAll(async () => {
  module = await scanModule();
  gray = module.objects.GrayDeploy!;
}, 60_000);

describe("the gray-deploy module as the Dagger engine sees it", () => {
  it("is the object GrayDeploy, documented, with no constructor arguments and no state", () => {
    expect(Object.keys(module.objects)).toEqual(["GrayDeploy"]);
    expect(gray.name).toBe("GrayDeploy");
    expect(gray.description).not.toBe("");
    expect(module.description).toMatch(/^Gray \(canary\) deployments/);
    expect(gray.constructorArguments).toEqual([]);
    expect(gray.properties).toEqual([]);
  });

  it("has exactly the functions of the spec", () => {
    expect(Object.keys(gray.functions).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    describe(name, () => {
      it("takes exactly the expected arguments, with their types, optionality and defaults", () => {
        const fn = gray.functions[name]!;
        const actual = Object.fromEntries(
          fn.arguments.map((a) => [a.name, [a.name, typeName(a.type), presence(a)]]),
        );
        const wanted = Object.fromEntries(expected.args.map((a) => [a[0], [...a]]));
        expect(Object.keys(actual).sort()).toEqual(Object.keys(wanted).sort());
        expect(actual).toEqual(wanted);
        expect(fn.arguments.every((a) => !a.isVariadic && !a.isNullable)).toBe(true);
      });

      it(`returns ${expected.returns} and is ${expected.cache === "never" ? "never cached" : "cacheable"}`, () => {
        const fn = gray.functions[name]!;
        expect(typeName(fn.returnType)).toBe(expected.returns);
        expect(fn.cache ?? "default").toBe(expected.cache);
      });

      it("has a one-line summary, an example `dagger call` line and a description for every argument", () => {
        const fn = gray.functions[name]!;
        const [summary] = fn.description.split("\n");
        expect(summary!.length).toBeGreaterThan(20);
        const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
        expect(fn.description).toContain(`Example: \`dagger call ${kebab}`);
        const undocumented = fn.arguments.filter((a) => a.description.trim().length < 10).map((a) => a.name);
        expect(undocumented).toEqual([]);
      });

      if (expected.defaultPaths) {
        it("loads its source from the module's context when omitted, without VCS data or dependencies", () => {
          for (const [arg, path] of Object.entries(expected.defaultPaths!)) {
            const a = gray.functions[name]!.arguments.find((x) => x.name === arg)!;
            expect(a.defaultPath).toBe(path);
            expect(a.ignore).toEqual(SOURCE_IGNORE);
          }
        });
      }
    });
  }

  it("passes every credential as a Secret, never as a string", () => {
    for (const fn of Object.values(gray.functions)) {
      for (const a of fn.arguments) {
        if (/key|token|secret|password|webhook/i.test(a.name)) {
          expect([fn.name, a.name, typeName(a.type)]).toEqual([fn.name, a.name, SECRET]);
        }
      }
    }
  });
});
