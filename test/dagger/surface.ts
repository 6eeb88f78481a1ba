/**
 * The module's surface written BY HAND from the issues' spec — the object, its functions, every
 * argument with its type (Secrets where credentials pass), optionality, default, the cache policy and
 * the documentation — and the two views of it the engine has, normalised to one shape:
 *
 * - `surfaceOfScan`: what the SDK's introspector reads from src/ (surface.test.ts);
 * - `surfaceOfTypeDefs`: what the module registers with the engine through the SDK's entrypoint
 *   (rehearsal.test.ts, recorded by the engine double).
 *
 * Both tests compare against `EXPECTED`, the one source of truth.
 */
import type { RecordedArg, RecordedFunction, RecordedTypeDef } from "./engine/double.js";
import type { ScannedArgument, ScannedObject } from "./scan.js";

// Types as `dagger call --help` names them.
export const STR = "String";
const INT = "Integer";
const BOOL = "Boolean";
const LIST = "[String]";
export const SECRET = "Secret";
const SERVICE = "Service";
const FILE = "File";
const DIR = "Directory";

/** How an argument may be omitted: a literal default, optional without default, or required. */
export const OPTIONAL = { optional: true } as const;
export const REQUIRED = { required: true } as const;
export type Presence =
  | { default: string | number | boolean | readonly string[] }
  | typeof OPTIONAL
  | typeof REQUIRED;
export const d = (value: string | number | boolean | readonly string[]): Presence => ({ default: value });

export type Arg = readonly [name: string, type: string, presence: Presence];

/**
 * What a build context never needs, whoever's directory it is: the CLI drops these from a `--source`
 * it uploads (cmd/dagger flags.go: the argument's `ignore` as the host directory's exclude). Only
 * patterns safe for any service: a team's vendor/, test/ or sdk/ may be part of its build.
 */
export const SOURCE_IGNORE = [".git", "**/node_modules", ".dagger", "**/.terraform"];

const CREDENTIALS: Arg[] = [
  ["awsAccessKeyId", SECRET, OPTIONAL],
  ["awsSecretAccessKey", SECRET, OPTIONAL],
  ["awsSessionToken", SECRET, OPTIONAL],
  ["webIdentityToken", SECRET, OPTIONAL],
];

/** Where AWS is and who calls it: the region, an endpoint (a URL or a Dagger Service), a role, credentials. */
const REACH_AWS: Arg[] = [
  ["region", STR, OPTIONAL],
  ["endpoint", STR, OPTIONAL],
  ["endpointService", SERVICE, OPTIONAL],
  ["roleArn", STR, OPTIONAL],
  ...CREDENTIALS,
];

const BUILD: Arg[] = [
  ["dockerfile", STR, d("Dockerfile")],
  ["platform", STR, OPTIONAL],
  ["buildArgs", LIST, d([])],
  ["buildTarget", STR, OPTIONAL],
];

/** The local environment (local target only): load, fleet size, faults injected into the release. */
const LOCAL: Arg[] = [
  ["rps", INT, OPTIONAL],
  ["instances", INT, OPTIONAL],
  ["grayErrorRate", STR, OPTIONAL],
  ["grayLatencyMs", INT, OPTIONAL],
  ["grayCrash", BOOL, OPTIONAL],
  ["baselineErrorRate", STR, OPTIONAL],
  ["grayPaymentFault", BOOL, OPTIONAL],
  ["pilotShare", STR, OPTIONAL],
];

/** Where the rollout lives on AWS and what it moves. */
const AWS_RESOURCES: Arg[] = [
  ["listenerArn", STR, OPTIONAL],
  ["ruleArn", STR, OPTIONAL],
  ["stableTargetGroupArn", STR, OPTIONAL],
  ["grayTargetGroupArn", STR, OPTIONAL],
  ["stableAsg", STR, OPTIONAL],
  ["grayAsg", STR, OPTIONAL],
  ["launchTemplate", STR, OPTIONAL],
  ["ami", STR, OPTIONAL],
  ["stateTable", STR, OPTIONAL],
  ["pilotRuleArn", STR, OPTIONAL],
  ["alarms", LIST, OPTIONAL],
  ["smokeHeader", SECRET, OPTIONAL], // sensitive: a Secret
  ["smokeUrl", STR, OPTIONAL],
  ["smokePaths", LIST, OPTIONAL],
  ["smokeStatuses", LIST, OPTIONAL],
];

/** Business-metric gates and the Zabbix connection they read. */
const GATES: Arg[] = [
  ["gates", STR, OPTIONAL], // JSON text of the gate list
  ["zabbixUrl", STR, OPTIONAL],
  ["zabbixToken", SECRET, OPTIONAL], // sensitive: a Secret
  ["zabbixTimeout", STR, OPTIONAL],
];

/** The rollout plan (steps, bakes, windows, capacity, lock) and its thresholds. */
const PLAN: Arg[] = [
  ["steps", STR, OPTIONAL],
  ["approveBefore", LIST, OPTIONAL],
  ["interval", STR, OPTIONAL], // 30s on aws, 1s on local
  ["bake", STR, OPTIONAL], // 12m / 13s
  ["maxBake", STR, OPTIONAL],
  ["rollbackWindow", STR, OPTIONAL],
  ["promotionWindow", STR, OPTIONAL],
  ["metricPeriod", STR, OPTIONAL],
  ["metricsDelay", STR, OPTIONAL],
  ["returnSteps", STR, OPTIONAL],
  ["returnBake", STR, OPTIONAL],
  ["onInconclusive", STR, OPTIONAL],
  ["minGrayCapacity", INT, OPTIONAL],
  ["healthyTimeout", STR, OPTIONAL],
  ["instanceWarmup", STR, OPTIONAL],
  ["refreshMinHealthy", INT, OPTIONAL],
  ["maxPause", STR, OPTIONAL],
  ["lockLease", STR, OPTIONAL], // 2m on aws, 30s on local
  // Payment-grade checks (issue 16): JSON texts, a list, and the secrets they name in one Secret.
  ["synthetic", STR, OPTIONAL],
  ["syntheticInterval", STR, OPTIONAL],
  ["hooks", STR, OPTIONAL],
  ["observeGates", LIST, OPTIONAL],
  ["pilotHeader", STR, OPTIONAL],
  ["pilotCookie", STR, OPTIONAL],
  ["checkSecrets", SECRET, OPTIONAL],
  ["rollbackErrorRate", STR, OPTIONAL],
  ["rollbackP99", STR, OPTIONAL],
  ["rollbackUnhealthy", INT, OPTIONAL],
  ["promoteErrorRate", STR, OPTIONAL],
  ["promoteP95", STR, OPTIONAL],
  ["minRequests", INT, OPTIONAL],
  ["evidenceEvents", INT, OPTIONAL],
  ["relativeSignificance", STR, OPTIONAL],
  ["relativeErrorMargin", STR, OPTIONAL],
  ["latencyTolerance", STR, OPTIONAL],
  ["latencySlack", STR, OPTIONAL],
  ["sequentialAlpha", STR, OPTIONAL],
  ["sequentialTolerance", STR, OPTIONAL],
  ["signal", STR, OPTIONAL],
  ["servicePeriod", STR, OPTIONAL],
  ["serviceDelay", STR, OPTIONAL],
  ["serviceNamespace", STR, OPTIONAL],
  ["serviceRequests", STR, OPTIONAL],
  ["serviceErrors", STR, OPTIONAL],
  ["serviceLatency", STR, OPTIONAL],
  ["serviceLatencyUnit", STR, OPTIONAL],
  ["serviceDimensions", LIST, OPTIONAL],
  // Issue 17: the local peak rehearsal, following the load, the way back, the refresh's checkpoints.
  ["rpsRamp", INT, OPTIONAL],
  ["instanceCapacity", INT, OPTIONAL],
  ["grayCapacity", STR, OPTIONAL],
  ["followLoadDelay", STR, OPTIONAL],
  ["keepPrevious", STR, OPTIONAL],
  ["rollbackReleaseWindow", STR, OPTIONAL],
  ["refreshCheckpoints", STR, OPTIONAL],
  ["refreshCheckpointDelay", STR, OPTIONAL],
];

/**
 * The module's constructor (issue 18): every option two or more functions take — the target, the
 * config file, who acts, what to deploy, the local environment, where the rollout lives on AWS and the
 * credentials, the gates, the plan and its thresholds, the webhook, the operator's reason — given
 * once, before the function (`dagger call --target local --bake 5m deploy-gray`). Kept as private
 * state, never exposed.
 */
export const CONSTRUCTOR: Arg[] = [
  ["target", STR, OPTIONAL],
  ["config", FILE, OPTIONAL],
  ["startedBy", STR, OPTIONAL],
  ["image", STR, OPTIONAL], // local: gray-deploy/sample-gateway:next; aws: required or built
  ["commit", STR, OPTIONAL],
  ...LOCAL,
  ...REACH_AWS,
  ...AWS_RESOURCES,
  ...GATES,
  ...PLAN,
  ["notifyWebhook", SECRET, OPTIONAL], // deploy-gray, promote, abort
  ["reason", STR, OPTIONAL], // promote, abort, rollback-release
];

/** The module's fields: the option values as one JSON text, and each Dagger object by name. */
export const PROPERTIES = [
  "options",
  ...CONSTRUCTOR.filter(([, type]) => [FILE, SERVICE, SECRET].includes(type)).map(([name]) => name),
];

export interface ExpectedFunction {
  readonly args: readonly Arg[];
  readonly returns: string;
  /** `@func({ cache: "never" })`: side effects or live reads. */
  readonly cache: "never" | "default";
  /**
   * Directory arguments and the patterns the CLI leaves out of them. None has a `defaultPath`: a
   * contextual directory is uploaded from the module's repository on every call that omits it.
   */
  readonly directories?: Readonly<Record<string, { readonly ignore: readonly string[] }>>;
}

export const EXPECTED: Record<string, ExpectedFunction> = {
  // A pure function of its inputs: the engine may cache it.
  build: {
    args: [["source", DIR, REQUIRED], ...BUILD],
    returns: "Container",
    cache: "default",
    directories: { source: { ignore: SOURCE_IGNORE } },
  },
  publish: {
    args: [["repository", STR, REQUIRED], ["source", DIR, REQUIRED], ["tag", STR, OPTIONAL], ...BUILD],
    returns: STR,
    cache: "never",
    directories: { source: { ignore: SOURCE_IGNORE } },
  },
  // Its options are the module's; it keeps the one only it takes and the build inputs.
  deployGray: {
    args: [
      ["supersede", BOOL, OPTIONAL],
      ["source", DIR, OPTIONAL],
      ["repository", STR, OPTIONAL],
      ["tag", STR, OPTIONAL],
      ...BUILD,
    ],
    returns: STR,
    cache: "never",
    directories: { source: { ignore: SOURCE_IGNORE } },
  },
  plan: { args: [], returns: STR, cache: "never" },
  status: { args: [], returns: STR, cache: "never" },
  // The Dagger counterpart of the CLI's --report-dir: the stored rollout's report files.
  report: { args: [], returns: DIR, cache: "never" },
  promote: { args: [["full", BOOL, OPTIONAL]], returns: STR, cache: "never" },
  abort: { args: [], returns: STR, cache: "never" },
  rollbackRelease: { args: [], returns: STR, cache: "never" },
  bootstrap: { args: [], returns: STR, cache: "never" },
};

type ArgsSurface = Record<string, readonly [string, string, Presence]>;

/** The constructor's arguments as expected, in declaration order. */
export function expectedConstructor(): ArgsSurface {
  return Object.fromEntries(CONSTRUCTOR.map(([n, t, p]) => [n, [n, t, p] as const]));
}

/** The constructor's arguments as the SDK's introspector reads them. */
export function constructorOfScan(obj: ScannedObject): ArgsSurface {
  return Object.fromEntries(
    obj.constructorArguments.map((a) => [a.name, [a.name, typeName(a.type), presence(a)] as const]),
  );
}

/** The constructor's arguments as the module registered them (`withConstructor`). */
export function constructorOfTypeDefs(obj: RecordedTypeDef): ArgsSurface {
  return Object.fromEntries(
    (obj.ctor?.args ?? []).map((a) => [
      a.name,
      [a.name, typeDefName(a.typeDef), registeredPresence(a)] as const,
    ]),
  );
}

const KIND_NAMES: Readonly<Record<string, string>> = {
  STRING_KIND: STR,
  INTEGER_KIND: INT,
  BOOLEAN_KIND: BOOL,
};

/** A type as `dagger call --help` names it, from its kind, its name and (lists) its element's. */
function named(kind: string, name: string | undefined, element: () => string): string {
  if (kind === "LIST_KIND") return `[${element()}]`;
  return KIND_NAMES[kind] ?? name ?? kind;
}

export function typeName(t: ScannedArgument["type"]): string {
  if (t === undefined) return "unresolved";
  return named(t.kind, t.name, () => typeName(t.typeDef as ScannedArgument["type"]));
}

export function presence(a: ScannedArgument): Presence {
  if (a.defaultValue !== undefined) return d(a.defaultValue as string);
  return a.isOptional ? OPTIONAL : REQUIRED;
}

/** One function as both views normalise it. */
export interface FunctionSurface {
  /** name → [name, type as `dagger call --help` names it, presence] */
  readonly args: Record<string, readonly [string, string, Presence]>;
  readonly returns: string;
  readonly cache: "never" | "default";
  /** Directory arguments: their contextual default path ("" for none) and ignore patterns. */
  readonly directories: Record<string, { readonly defaultPath: string; readonly ignore: readonly string[] }>;
}

export type Surface = Record<string, FunctionSurface>;

const PRIMITIVE = new Set([STR, INT, BOOL]);

/**
 * The expected surface. `registered` applies the SDK's register.ts rule: a default that is not a
 * primitive (a list) is not sent to the engine; the argument is registered optional instead, and the
 * function's own default applies when the engine passes nothing.
 */
export function expectedSurface(opts: { registered: boolean }): Surface {
  const out: Surface = {};
  for (const [name, fn] of Object.entries(EXPECTED)) {
    const args: Record<string, readonly [string, string, Presence]> = {};
    for (const [arg, type, p] of fn.args) {
      const listDefault = "default" in p && !PRIMITIVE.has(type);
      args[arg] = [arg, type, opts.registered && listDefault ? OPTIONAL : p];
    }
    const directories: FunctionSurface["directories"] = {};
    for (const [arg, dir] of Object.entries(fn.directories ?? {})) {
      directories[arg] = { defaultPath: "", ignore: [...dir.ignore] };
    }
    out[name] = { args, returns: fn.returns, cache: fn.cache, directories };
  }
  return out;
}

/** The SDK introspector's view of one object. */
export function surfaceOfScan(obj: ScannedObject): Surface {
  const out: Surface = {};
  for (const [name, fn] of Object.entries(obj.functions)) {
    const directories: FunctionSurface["directories"] = {};
    for (const a of fn.arguments) {
      if (typeName(a.type) === DIR)
        directories[a.name] = { defaultPath: a.defaultPath ?? "", ignore: a.ignore ?? [] };
    }
    out[name] = {
      args: Object.fromEntries(
        fn.arguments.map((a) => [a.name, [a.name, typeName(a.type), presence(a)] as const]),
      ),
      returns: typeName(fn.returnType),
      cache: fn.cache === "never" ? "never" : "default",
      directories,
    };
  }
  return out;
}

/** A registered typedef's type as `dagger call --help` names it. */
export function typeDefName(t: RecordedTypeDef): string {
  return named(t.kind, t.name, () => typeDefName(t.elementType!));
}

function registeredPresence(a: RecordedArg): Presence {
  if (a.defaultValue !== undefined) return d(JSON.parse(a.defaultValue) as string);
  return a.typeDef.optional ? OPTIONAL : REQUIRED;
}

/** The engine's view: what the module registered (recorded by the engine double). */
export function surfaceOfTypeDefs(obj: RecordedTypeDef): Surface {
  const out: Surface = {};
  for (const fn of obj.functions ?? []) out[fn.name] = functionSurface(fn);
  return out;
}

function functionSurface(fn: RecordedFunction): FunctionSurface {
  const directories: FunctionSurface["directories"] = {};
  for (const a of fn.args) {
    if (typeDefName(a.typeDef) === DIR)
      directories[a.name] = { defaultPath: a.defaultPath, ignore: a.ignore };
  }
  return {
    args: Object.fromEntries(
      fn.args.map((a) => [a.name, [a.name, typeDefName(a.typeDef), registeredPresence(a)] as const]),
    ),
    returns: typeDefName(fn.returnType),
    cache: fn.cachePolicy === "Never" ? "never" : "default",
    directories,
  };
}
