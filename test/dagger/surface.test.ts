/**
 * The module's surface as the SDK's own introspector reads it from src/, compared with the surface
 * written BY HAND from the spec (surface.ts, shared with the engine rehearsal, which compares
 * what the module registers through the SDK's entrypoint with the same expectations): the object,
 * its functions, every argument with its type (Secrets where credentials pass), optionality, default,
 * the cache policy and the presence of documentation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type ScannedModule, type ScannedObject, scanModule } from "./scan.js";
import { EXPECTED, expectedSurface, SECRET, type Surface, surfaceOfScan, typeName } from "./surface.js";

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
        expect(fn.description).toContain(`Example: \`dagger call ${kebab}`);
        const undocumented = fn.arguments.filter((a) => a.description.trim().length < 10).map((a) => a.name);
        expect(undocumented).toEqual([]);
      });

      it("uploads no directory the caller did not pass, and leaves out of one what no build needs", () => {
        expect(actual[name]!.directories).toEqual(wanted[name]!.directories);
      });
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
