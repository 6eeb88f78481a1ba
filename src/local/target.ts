/**
 * The local target behind the ports: the embedded environment (proxy, processes, measured traffic)
 * and an in-memory store — a local rollout lives and dies with the process that runs it. The load
 * generator runs only while the rollout does.
 */
import type { TargetDefinition, TargetDeps, TargetRuntime } from "../engine/targets.js";
import type { LocalEnvironment } from "./environment.js";
import { LOCAL_SYNTHETIC, type LocalTargetOptions, localOptions } from "./options.js";

export type { LocalTargetOptions };

export interface LocalTargetRuntime extends TargetRuntime {
  readonly environment: LocalEnvironment;
}

export async function openLocalTarget(
  o: LocalTargetOptions,
  deps: TargetDeps = {},
): Promise<LocalTargetRuntime> {
  const [{ createLocalEnvironment }, { MemoryRolloutStore }] = await Promise.all([
    import("./environment.js"),
    import("./memory-store.js"),
  ]);
  const environment = await createLocalEnvironment(o, {
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.log ? { log: deps.log } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  return {
    environment,
    ports: {
      router: environment.router,
      fleet: environment.fleet,
      // --signal service: the processes' own metrics, with the proxy's (the load balancer's) guarding them.
      metrics: environment.serviceMetrics ?? environment.metrics,
      ...(environment.serviceMetrics === null ? {} : { guard: environment.metrics }),
      store: new MemoryRolloutStore(),
    },
    // No Auto Scaling groups here: a business gate selects each pool's hosts explicitly.
    identities: { stable: {}, gray: {} },
    description: `local: proxy ${environment.proxyUrl}, ${o.instances} stable instance(s), ${o.rps} requests/s${o.rpsRamp === undefined ? "" : ` climbing to ${o.rpsRamp}`}, ${o.instanceCapacity} requests/s per instance`,
    async begin() {
      environment.begin();
    },
    async dispose() {
      await environment.dispose();
    },
  };
}

/** The embedded environment: the default target, for demos and tests. */
export const localTarget = {
  name: "local",
  summary: "runs the embedded environment (real proxy, processes and traffic on this machine)",
  options: localOptions,
  defaults: {
    image: "gray-deploy/sample-gateway:next",
    interval: "1s",
    bake: "13s",
    maxBake: "30s",
    rollbackWindow: "10s",
    promotionWindow: "12s",
    metricPeriod: "1s",
    metricsDelay: "1s",
    servicePeriod: "1s",
    serviceDelay: "1s",
    returnBake: "11s",
    healthyTimeout: "30s",
    instanceWarmup: "0s",
    lockLease: "30s",
    syntheticInterval: "2s",
    synthetic: LOCAL_SYNTHETIC,
    followLoadDelay: "2s",
  },
  storedRollouts: false,
  minPromotionTimeoutMs: 120_000,
  scopeOf: () => "local",
  open: openLocalTarget,
} satisfies TargetDefinition<LocalTargetOptions>;
