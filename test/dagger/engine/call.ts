/**
 * Calls of the module through the rehearsed runtime, as `dagger call` makes them: the function and
 * its arguments are looked up in the typedefs the module registered (not in this file), arguments are
 * encoded as core/modfunc.go `setCallInputs` does (those given, then the registered defaults of the
 * others; objects as IDs), and a constructor argument goes through a constructor call whose result is
 * the function call's parent, as the engine chains them.
 */
import { EngineDouble, type RecordedFunction, type RecordedModule, type RecordedTypeDef } from "./double.js";
import { type EntrypointRun, moduleTypes, type PreparedModule, runEntrypoint } from "./runtime.js";

/** A value as the caller gives it on the command line. */
export type Given =
  | string
  | number
  | boolean
  | readonly string[]
  | { readonly secret: string }
  | { readonly service: string }
  | { readonly file: { readonly name: string; readonly contents: string } };

export interface CallRun extends EntrypointRun {
  readonly double: EngineDouble;
  /** The JSON the function returned, parsed; undefined when it failed. */
  readonly value: unknown;
  /** The error the call returned to the engine, as `dagger call` prints it. */
  readonly error: string | undefined;
}

export const MODULE_NAME = "gray-deploy";

/**
 * Registers the module as engine 0.21 does, through the SDK's ModuleTypes (runtime.ts `moduleTypes`):
 * the typedefs `dagger functions` lists, learnt without installing or loading the module.
 */
export async function register(mod: PreparedModule, timeoutMs = 120_000): Promise<CallRun> {
  const double = new EngineDouble(MODULE_NAME);
  const s = await double.start();
  try {
    const run = await moduleTypes(mod, s, double, { timeoutMs });
    return { ...run, double, value: undefined, error: undefined };
  } finally {
    await double.stop();
  }
}

/** The module's main object in its registered typedefs. */
export function mainObject(registered: RecordedModule): RecordedTypeDef {
  const name = MODULE_NAME.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  const main = registered.objects.find((o) => o.name === name);
  if (!main) throw new Error(`the module registered no object ${name}`);
  return main;
}

/**
 * Calls `fn` (its original name, e.g. deployGray) with `given` arguments. Arguments of the main
 * object's constructor among them are passed to a constructor call first, as `dagger call --region x
 * deploy-gray` does.
 */
export async function callFunction(
  mod: PreparedModule,
  registered: RecordedModule,
  fn: string,
  given: Readonly<Record<string, Given>>,
  timeoutMs = 180_000,
): Promise<CallRun> {
  const main = mainObject(registered);
  const target = (main.functions ?? []).find((f) => f.name === fn);
  if (!target) {
    const names = (main.functions ?? []).map((f) => f.name).join(", ");
    throw new Error(`${main.name} registered no function ${fn} (it has: ${names})`);
  }
  const double = new EngineDouble(MODULE_NAME);
  const ctorArgs = new Set((main.ctor?.args ?? []).map((a) => a.name));
  const forCtor = Object.fromEntries(Object.entries(given).filter(([k]) => ctorArgs.has(k)));
  const forFn = Object.fromEntries(Object.entries(given).filter(([k]) => !ctorArgs.has(k)));
  let parent: Record<string, unknown> = {};
  // The engine constructs the main object first whenever the module registered a constructor.
  if (main.ctor) {
    const built = await session(
      mod,
      double,
      { parentName: main.name!, name: "", parent: {}, inputArgs: encode(double, main.ctor, forCtor) },
      timeoutMs,
    );
    if (built.error !== undefined || built.code !== 0) return built;
    parent = built.value as Record<string, unknown>;
  }
  return session(
    mod,
    double,
    { parentName: main.name!, name: fn, parent, inputArgs: encode(double, target, forFn) },
    timeoutMs,
  );
}

/** core/modfunc.go `setCallInputs`: the given arguments, then the registered defaults of the rest. */
function encode(
  double: EngineDouble,
  fn: RecordedFunction,
  given: Readonly<Record<string, Given>>,
): Record<string, string> {
  const known = new Set(fn.args.map((a) => a.name));
  const unknown = Object.keys(given).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new Error(`${fn.name || "the constructor"} has no argument(s) ${unknown.join(", ")}`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) out[name] = JSON.stringify(toInput(double, value));
  for (const a of fn.args) {
    if (!(a.name in out) && a.defaultValue !== undefined) out[a.name] = a.defaultValue;
    if (!(a.name in out) && !a.typeDef.optional && a.defaultPath === "") {
      throw new Error(
        `${fn.name}: the required argument ${a.name} is missing (dagger call refuses the call)`,
      );
    }
    if (!(a.name in out) && a.defaultPath !== "") {
      throw new Error(
        `${fn.name}: ${a.name} has a contextual default (${a.defaultPath}), which this rehearsal does not load`,
      );
    }
  }
  return out;
}

function toInput(double: EngineDouble, value: Given): unknown {
  if (typeof value !== "object" || Array.isArray(value)) return value;
  if ("secret" in value) return double.secret(`arg-${Math.random().toString(36).slice(2)}`, value.secret);
  if ("service" in value) return double.service({ hostPort: value.service });
  if ("file" in value) return double.file(value.file.name, value.file.contents);
  throw new Error(`cannot encode ${JSON.stringify(value)}`);
}

async function session(
  mod: PreparedModule,
  double: EngineDouble,
  call: Parameters<EngineDouble["setCall"]>[0],
  timeoutMs: number,
): Promise<CallRun> {
  double.setCall(call);
  const s = await double.start();
  try {
    const run = await runEntrypoint(mod, s, double, { timeoutMs });
    const result = double.result;
    return {
      ...run,
      double,
      value: result?.kind === "value" ? JSON.parse(result.json) : undefined,
      error: result?.kind === "error" ? result.message : undefined,
    };
  } finally {
    await double.stop();
  }
}
