/**
 * Calls the module class the way the Dagger runtime does, without an engine: the object is made from
 * the class's prototype without running a constructor (the runtime restores state by assignment),
 * and a function receives its arguments positionally in the order the SDK's introspector recorded
 * (the runtime's `Executor.getResult`). Only the engine-touching services are replaced: container
 * builds and pushes are recorded; AWS, the local environment and the engine run for real.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Container, Directory, File, Secret } from "@dagger.io/dagger";
import { openTarget } from "../../src/app/targets.js";
import { openAwsSession } from "../../src/dagger/credentials.js";
import { ecrLogin, type RegistryAuth } from "../../src/dagger/registry.js";
import type { BuildSpec, ModuleServices } from "../../src/dagger/service.js";
import { systemClock } from "../../src/engine/clock.js";
import { GrayDeploy } from "../../src/index.js";
import type { ScannedObject } from "./scan.js";

/** GrayDeploy with its services swapped, as a test would wire them. */
export class TestGrayDeploy extends GrayDeploy {
  declare testServices: ModuleServices;
  protected override services(): ModuleServices {
    return this.testServices;
  }
}

/** An instance as the runtime builds one: `Object.create(prototype)` plus assigned state. */
export function moduleWith(services: ModuleServices): TestGrayDeploy {
  const mod = Object.create(TestGrayDeploy.prototype) as TestGrayDeploy;
  return Object.assign(mod, { testServices: services });
}

/**
 * Calls `fn` with named arguments as `dagger call --ctor-arg … fn --arg …` does: the module's
 * constructor runs first with those that are its own, positionally in the introspector's order (the
 * runtime's `new obj(...Object.values(inputs))`); its result's own fields, each of which must be a
 * declared property (the runtime's `loadResult` refuses any other), become the object's state by
 * assignment; then the function gets its own arguments positionally.
 */
export function invoke<T>(
  scanned: ScannedObject,
  mod: GrayDeploy,
  fn: string,
  named: Record<string, unknown>,
): T {
  const order = scanned.functions[fn]?.arguments.map((a) => a.name);
  if (order === undefined) throw new Error(`no function ${fn}`);
  const ctor = scanned.constructorArguments.map((a) => a.name);
  const unknown = Object.keys(named).filter((k) => !order.includes(k) && !ctor.includes(k));
  if (unknown.length > 0) throw new Error(`${fn} has no argument(s) ${unknown.join(", ")}`);
  Object.assign(mod, constructed(scanned, named));
  const method = (mod as unknown as Record<string, (...args: unknown[]) => T>)[fn]!;
  return method.apply(
    mod,
    order.map((n) => named[n]),
  );
}

/** The module's state after its constructor ran with `named`'s constructor arguments, as the engine keeps it. */
export function constructed(scanned: ScannedObject, named: Record<string, unknown>): Record<string, unknown> {
  const Module = GrayDeploy as unknown as new (...args: unknown[]) => GrayDeploy;
  const built = new Module(...scanned.constructorArguments.map((a) => named[a.name]));
  const state = { ...built } as Record<string, unknown>;
  const undeclared = Object.keys(state).filter((k) => !scanned.properties.includes(k));
  if (undeclared.length > 0) throw new Error(`could not find result property ${undeclared.join(", ")}`);
  // Fields left undefined are not sent to the engine (JSON), so they come back absent.
  return Object.fromEntries(Object.entries(state).filter(([, v]) => v !== undefined));
}

export const secret = (value: string) => ({ plaintext: async () => value }) as unknown as Secret;

export const file = (name: string, text: string) =>
  ({ name: async () => name, contents: async () => text }) as unknown as File;

/** A directory argument; the recorded engine never reads it. */
export const directory = (label: string) => ({ label }) as unknown as Directory;

export interface Recorded {
  readonly builds: { source: Directory; spec: BuildSpec }[];
  readonly pushes: { ref: string; auth: RegistryAuth; container: unknown }[];
  readonly written: string[];
  readonly sessions: number;
  readonly directories: Record<string, string>[];
}

/** Services for a test: recorded container engine, real AWS access, real targets, collected logs. */
export function testServices(over: Partial<ModuleServices> = {}): {
  services: ModuleServices;
  recorded: Recorded;
  text: () => string;
} {
  const recorded = { builds: [], pushes: [], written: [], sessions: 0, directories: [] } as {
    directories: Recorded["directories"];
    builds: Recorded["builds"];
    pushes: Recorded["pushes"];
    written: string[];
    sessions: number;
  };
  const services: ModuleServices = {
    containers: {
      build(source, spec) {
        recorded.builds.push({ source, spec });
        return { builtFrom: source, spec } as unknown as Container;
      },
      files(files) {
        recorded.directories.push(files);
        return { files } as unknown as Directory;
      },
      async publish(container, ref, auth) {
        recorded.pushes.push({ ref, auth, container });
        const digest = createHash("sha256").update(ref).digest("hex");
        return `${ref.replace(/:[^/:]+$/, "")}@sha256:${digest}`;
      },
    },
    aws: {
      openSession: (input, needs) => {
        recorded.sessions++;
        return openAwsSession(input, needs, { now: Date.now });
      },
      registryLogin: (session) => ecrLogin(session),
    },
    openTarget: (o, deps) => openTarget(o, deps),
    bootstrap: async () => {
      throw new Error("bootstrap is not wired in this test");
    },
    clock: systemClock(),
    newId: () => randomUUID(),
    write: (text) => {
      recorded.written.push(text);
    },
    onInterrupt: () => () => {},
    ...over,
  };
  return { services, recorded, text: () => recorded.written.join("") };
}
