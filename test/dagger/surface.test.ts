/**
 * The module's surface as the SDK's own introspector reads it from src/, compared with the surface
 * written BY HAND from the spec (surface.ts, shared with the engine rehearsal, which compares
 * what the module registers through the SDK's entrypoint with the same expectations): the object,
 * its functions, every argument with its type (Secrets where credentials pass), optionality, default,
 * the cache policy and the presence of documentation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { constructed } from "./harness.js";
import { type ScannedModule, type ScannedObject, scanModule } from "./scan.js";
import {
  CONSTRUCTOR,
  constructorOfScan,
  EXPECTED,
  expectedConstructor,
  expectedSurface,
  PROPERTIES,
  SECRET,
  type Surface,
  surfaceOfScan,
  typeName,
} from "./surface.js";

let module: ScannedModule;
let gray: ScannedObject;
let actual: Surface;
const wanted = expectedSurface({ registered: false });

beforeAll(async () => {
  module = await scanModule();
  gray = module.objects.GrayDeploy!;
  actual = surfaceOfScan(gray);
}, 60_000);

describe("the gray-deploy module as the Dagger engine sees it", () => {
  it("is the object GrayDeploy, documented, its constructor taking the options functions share, kept as private state", () => {
    expect(Object.keys(module.objects)).toEqual(["GrayDeploy"]);
    expect(gray.name).toBe("GrayDeploy");
    expect(gray.description).not.toBe("");
    expect(module.description).toMatch(/^Gray \(canary\) deployments/);
    expect(constructorOfScan(gray)).toEqual(expectedConstructor());
    expect(Object.keys(constructorOfScan(gray))).toEqual(CONSTRUCTOR.map(([n]) => n));
    const undocumented = gray.constructorArguments.filter((a) => a.description.trim().length < 10);
    expect(undocumented.map((a) => a.name)).toEqual([]);
    // Kept as fields (private: not functions): the option values in one, each Dagger object in its own.
    expect([...gray.properties].sort()).toEqual([...PROPERTIES].sort());
    expect(Object.keys(gray.functions).filter((f) => gray.properties.includes(f))).toEqual([]);
  });

  it("keeps every constructor argument it is given for the function called next, as the engine restores it", () => {
    // Each argument given a value of its type; the state must carry all of them (harness: `constructed`).
    const given = Object.fromEntries(
      gray.constructorArguments.map((a) => {
        const t = typeName(a.type);
        if (["File", "Service", "Secret"].includes(t)) return [a.name, { [a.name]: "a Dagger object" }];
        return [a.name, t === "Integer" ? 7 : t === "Boolean" ? true : t === "[String]" ? ["x"] : "x"];
      }),
    );
    const state = constructed(gray, given);
    // The engine sends the state as JSON and hands the fields back: values survive, objects by name.
    const { options, ...objects } = JSON.parse(JSON.stringify(state)) as Record<string, unknown>;
    const values = JSON.parse(options as string) as Record<string, unknown>;
    expect({ ...values, ...objects }).toEqual(given);
  });

  it("has exactly the functions of the spec", () => {
    expect(Object.keys(gray.functions).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    describe(name, () => {
      it("takes exactly the expected arguments, with their types, optionality and defaults", () => {
        const fn = gray.functions[name]!;
        expect(Object.keys(actual[name]!.args).sort()).toEqual(Object.keys(wanted[name]!.args).sort());
        expect(actual[name]!.args).toEqual(wanted[name]!.args);
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
        // The module's arguments (what every function needs) come before the function's name.
        const arg = `--[a-z-]+ (\\S+|"[^"]*") `; // a value with spaces is quoted ("dashboards look fine")
        expect(fn.description).toMatch(new RegExp(`Example: \`dagger call (${arg})*${kebab}( |\`)`));
        const undocumented = fn.arguments.filter((a) => a.description.trim().length < 10).map((a) => a.name);
        expect(undocumented).toEqual([]);
      });

      it("uploads no directory the caller did not pass, and leaves out of one what no build needs", () => {
        expect(actual[name]!.directories).toEqual(wanted[name]!.directories);
      });
    });
  }

  it("passes every credential as a Secret, never as a string", () => {
    const ctor = { name: "constructor", arguments: gray.constructorArguments };
    for (const fn of [ctor, ...Object.values(gray.functions)]) {
      for (const a of fn.arguments) {
        if (/key|token|secret|password|webhook/i.test(a.name)) {
          expect([fn.name, a.name, typeName(a.type)]).toEqual([fn.name, a.name, SECRET]);
        }
      }
    }
  });
});
