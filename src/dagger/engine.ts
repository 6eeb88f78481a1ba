/**
 * The real services of a function call inside the Dagger engine: container builds and pushes through
 * the Dagger API, AWS through the SDK, the target adapters through the engine's `openTarget`.
 * Tests replace this file's parts (see ModuleServices); nothing here runs at import time.
 */
import { randomUUID } from "node:crypto";
import { type Container, type Directory, dag, type Platform } from "@dagger.io/dagger";
import { targetOf } from "../app/requests.js";
import { openTarget } from "../app/targets.js";
import { StateError } from "../contract/errors.js";
import { systemClock } from "../engine/clock.js";
import { openAwsSession } from "./credentials.js";
import { ecrLogin, type RegistryAuth } from "./registry.js";
import { type BuildSpec, type ContainerEngine, type ModuleServices, processServices } from "./service.js";

/** Dockerfile builds with `Directory.dockerBuild`, pushes with `withRegistryAuth(...).publish`. */
export const daggerContainers: ContainerEngine = {
  build(source: Directory, spec: BuildSpec): Container {
    return source.dockerBuild({
      dockerfile: spec.dockerfile,
      ...(spec.platform ? { platform: spec.platform as Platform } : {}),
      ...(spec.target ? { target: spec.target } : {}),
      buildArgs: spec.buildArgs.map((arg) => {
        const eq = arg.indexOf("=");
        return { name: arg.slice(0, eq), value: arg.slice(eq + 1) };
      }),
    });
  },
  files(files: Record<string, string>): Directory {
    return Object.entries(files).reduce(
      (dir, [name, contents]) => dir.withNewFile(name, contents),
      dag.directory(),
    );
  },
  async publish(container: Container, ref: string, auth: RegistryAuth): Promise<string> {
    // The password goes to the engine as a Secret under a random name: never in a log or a trace.
    const password = dag.setSecret(`gray-deploy-registry-${randomUUID()}`, auth.password);
    return container.withRegistryAuth(auth.address, auth.username, password).publish(ref);
  },
};

/** Everything a real call uses. */
export function engineServices(): ModuleServices {
  return processServices({
    containers: daggerContainers,
    aws: {
      openSession: (input, needs) => openAwsSession(input, needs, { now: Date.now }),
      registryLogin: (session) => ecrLogin(session),
    },
    openTarget: (o, deps) => openTarget(o, deps),
    async bootstrap(o, deps) {
      const prepare = targetOf(o).bootstrap;
      if (prepare === undefined) throw new StateError(`--target ${o.target} has nothing to bootstrap`);
      return prepare(o, deps);
    },
    clock: systemClock(),
  });
}
