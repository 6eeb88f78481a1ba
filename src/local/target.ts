/**
 * The local target behind the ports: the embedded environment (proxy, processes, measured traffic)
 * and an in-memory store — a local rollout lives and dies with the process that runs it. The load
 * generator runs only while the rollout does.
 */
import type { Options } from "../contract/options.js";
import type { TargetDeps, TargetRuntime } from "../engine/targets.js";
import { createLocalEnvironment, type LocalEnvironment } from "./environment.js";
import { MemoryRolloutStore } from "./memory-store.js";

export interface LocalTargetRuntime extends TargetRuntime {
  readonly environment: LocalEnvironment;
}

export async function openLocalTarget(o: Options, deps: TargetDeps = {}): Promise<LocalTargetRuntime> {
  const environment = await createLocalEnvironment(o, {
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });
  return {
    environment,
    ports: {
      router: environment.router,
      fleet: environment.fleet,
      metrics: environment.metrics,
      store: new MemoryRolloutStore(),
    },
    description: `local: proxy ${environment.proxyUrl}, ${o.instances} stable instance(s), ${o.rps} requests/s`,
    async begin() {
      environment.load.start();
    },
    async dispose() {
      await environment.dispose();
    },
  };
}
