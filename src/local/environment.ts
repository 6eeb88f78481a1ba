/**
 * The local environment: the weighted proxy, the stable pool of sample-service processes, metrics
 * measured from the traffic and a load generator, wired into the ports the engine drives. The engine
 * cannot tell it from AWS. The load is NOT started here: the engine starts and stops it around the
 * rollout. The rollout store is not part of it (see src/local/memory-store.ts).
 */
import { AbortedError } from "../contract/errors.js";
import { pilotCondition } from "../core/options/checks.js";
import { serviceSignalOf } from "../core/policy.js";
import { systemClock } from "../engine/clock.js";
import type { Clock } from "../ports/index.js";
import { LocalAutoscaler } from "./autoscaler.js";
import { LocalFleet } from "./fleet.js";
import { LoadGenerator } from "./load.js";
import { TrafficMetrics } from "./metrics.js";
import type { LocalTargetOptions } from "./options.js";
import { type HealthCheckOptions, type ProxyStats, StaticWeightSource, WeightedProxy } from "./proxy.js";
import { LoadRamp } from "./ramp.js";
import { LocalTrafficRouter, PILOT_ROUTE, pilotRoute } from "./router.js";
import { LocalServiceMetrics } from "./service-metrics.js";

/** The version label the local stable pool runs before any release. */
export const LOCAL_STABLE_VERSION = "gray-deploy/sample-gateway:stable";
/** The release label when options carry no image (the contract's local default). */
export const LOCAL_RELEASE_VERSION = "gray-deploy/sample-gateway:next";

export interface LocalEnvironmentDeps {
  /** Aborts the start-up; once created, the environment lives until `dispose()`. */
  readonly signal?: AbortSignal;
  /** Human progress lines (instance start-up failures, refresh steps); never one per request. */
  readonly log?: (line: string) => void;
  /** Target-group stickiness "configured" on the local forward action. Default null (off). */
  readonly stickinessSeconds?: number | null;
  /** Stable's version at the start. Default LOCAL_STABLE_VERSION. */
  readonly stableVersion?: string;
  /** Health checks of the proxy (defaults: GET /health every 500 ms, thresholds 2/2). */
  readonly healthCheck?: Partial<HealthCheckOptions>;
  /** Deregistration delay of the proxy. Default 5 s. */
  readonly drainTimeoutMs?: number;
  /** Epoch milliseconds for the metric periods. Default: `clock`'s. */
  readonly now?: () => number;
  /** For the fleet's waits and every timestamp. Default: the system clock. */
  readonly clock?: Clock;
  /** The service to run. Default examples/sample-gateway/server.mjs. */
  readonly serverPath?: string;
}

export interface LocalEnvironment {
  readonly router: LocalTrafficRouter;
  readonly fleet: LocalFleet;
  readonly metrics: TrafficMetrics;
  /** What the processes publish about themselves (--signal service); null otherwise. */
  readonly serviceMetrics: LocalServiceMetrics | null;
  readonly load: LoadGenerator;
  /** The chosen customers' share of the load (requests carrying the pilot header or cookie); null without one. */
  readonly pilotLoad: LoadGenerator | null;
  /** The proxy itself, for its cumulative counters (`stats()`) and target states. */
  readonly proxy: WeightedProxy;
  readonly proxyUrl: string;
  /** Stable's target tracking on requests per instance (null with an unbounded --instance-capacity). */
  readonly autoscaler: LocalAutoscaler | null;
  /** Starts the customers (and the rehearsed peak of --rps-ramp, if any). */
  begin(): void;
  /** Stops the load, every child process and the proxy. Idempotent; safe after any error. */
  dispose(): Promise<void>;
}

export async function createLocalEnvironment(
  options: LocalTargetOptions,
  deps: LocalEnvironmentDeps = {},
): Promise<LocalEnvironment> {
  const { signal } = deps;
  if (signal?.aborted)
    throw new AbortedError("aborted before the local environment started", { cause: signal.reason });
  const log = deps.log ?? (() => {});
  const stickinessSeconds = deps.stickinessSeconds ?? null;
  const clock = deps.clock ?? systemClock();

  const longestWindow = Math.max(options.rollbackWindow, options.promotionWindow) + options.metricsDelay;
  const metrics = new TrafficMetrics({
    periodMs: options.metricPeriod,
    // The engine never reads further back than its longest window; keep a margin and at least two
    // minutes for reports, and no more: ~14 KB per pool and period with traffic.
    retentionMs: Math.max(longestWindow + 10 * options.metricPeriod, 120_000),
    now: deps.now ?? (() => clock.now()),
  });
  // --signal service: the processes publish their own metrics (EMF), read back with their lateness.
  const service = serviceSignalOf(options);
  const serviceMetrics =
    service === null || options.servicePeriod === undefined
      ? null
      : new LocalServiceMetrics({
          metrics: service.metrics,
          periodMs: options.servicePeriod,
          clock,
          retentionMs: Math.max(
            longestWindow + (options.serviceDelay ?? 0) + 10 * options.servicePeriod,
            120_000,
          ),
        });
  const pilot = pilotCondition(options);
  const source = new StaticWeightSource({
    weights: { stable: 100, gray: 0 },
    stickinessSeconds,
    ...(pilot === null ? {} : { routes: [pilotRoute([pilot], false)] }),
  });
  const proxy = new WeightedProxy({
    weights: source,
    sink: metrics,
    now: () => clock.now(),
    ...(deps.healthCheck === undefined ? {} : { healthCheck: deps.healthCheck }),
    ...(deps.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: deps.drainTimeoutMs }),
  });
  const fleet = new LocalFleet({
    proxy,
    instances: options.instances,
    stableVersion: deps.stableVersion ?? LOCAL_STABLE_VERSION,
    releaseVersion: options.image ?? LOCAL_RELEASE_VERSION,
    grayErrorRate: options.grayErrorRate,
    grayLatencyMs: options.grayLatencyMs,
    grayCrash: options.grayCrash,
    baselineErrorRate: options.baselineErrorRate,
    grayPaymentFault: options.grayPaymentFault,
    instanceWarmupMs: options.instanceWarmup,
    capacityRps: options.instanceCapacity,
    refreshMinHealthy: options.refreshMinHealthy,
    healthyTimeoutMs: options.healthyTimeout,
    log,
    clock,
    ...(deps.serverPath === undefined ? {} : { serverPath: deps.serverPath }),
    ...(serviceMetrics === null || service === null
      ? {}
      : {
          emf: (pool, version) => ({
            periodMs: options.servicePeriod!,
            namespace: service.metrics.namespace,
            dimensions: serviceMetrics.dimensionsOf(pool, version),
            receive: (data) => serviceMetrics.receive(data),
          }),
        }),
  });
  let load: LoadGenerator | null = null;
  let pilotLoad: LoadGenerator | null = null;
  let ramp: LoadRamp | null = null;
  let autoscaler: LocalAutoscaler | null = null;

  let disposing: Promise<void> | null = null;
  const dispose = (): Promise<void> => {
    disposing ??= (async () => {
      // Each step runs whatever the previous one did: children must die even if the proxy misbehaves.
      const steps: (() => Promise<void> | void)[] = [
        () => ramp?.stop(),
        () => autoscaler?.stop(),
        () => load?.close(),
        () => pilotLoad?.close(),
        () => log(servedSummary(proxy.stats())),
        () => fleet.dispose(),
        () => proxy.close(),
        () => metrics.close(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (e) {
          log(`local environment: dispose step failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    })();
    return disposing;
  };

  try {
    const proxyUrl = await proxy.start();
    log(`local proxy listening on ${proxyUrl}; starting ${options.instances} stable instances`);
    await fleet.start(signal);
    // With a chosen-customers rule, part of the customers carry its header or cookie.
    const pilotRps = pilot === null ? 0 : Math.max(1, Math.round(options.rps * options.pilotShare));
    load = new LoadGenerator({ url: proxyUrl, rps: Math.max(1, options.rps - pilotRps) });
    if (pilot !== null) {
      const value = pilot.header.toLowerCase() === "cookie" ? options.pilotCookie! : pilot.values[0]!;
      pilotLoad = new LoadGenerator({ url: proxyUrl, rps: pilotRps, headers: { [pilot.header]: value } });
    }
    const generator = load;
    const router = new LocalTrafficRouter({
      proxy,
      source,
      stickinessSeconds,
      grayVersion: () => fleet.grayVersion,
      clock,
      ...(pilot === null ? {} : { pilot: [pilot] }),
    });
    const perInstance = (await fleet.sizes()).perInstanceRps;
    if (perInstance !== null) {
      autoscaler = new LocalAutoscaler({ proxy, fleet, targetRps: perInstance, clock });
      autoscaler.start();
    }
    if (options.rpsRamp !== undefined) {
      // The customers without the chosen-customers header climb; those with it keep their share.
      ramp = new LoadRamp(generator, {
        from: Math.max(1, options.rps - pilotRps),
        to: Math.max(1, options.rpsRamp - pilotRps),
        overMs: options.steps.length * options.bake,
        clock,
      });
    }
    const begin = () => {
      generator.start();
      pilotLoad?.start();
      ramp?.start();
    };
    return {
      router,
      fleet,
      metrics,
      serviceMetrics,
      load,
      pilotLoad,
      proxy,
      proxyUrl,
      autoscaler,
      begin,
      dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * The proxy's account of who reached gray, logged when the environment stops: customers (by weight,
 * stickiness or the chosen-customers rule) apart from the header route that only smoke checks and
 * synthetic transactions use.
 */
export function servedSummary(stats: ProxyStats): string {
  const gray = (route: string) => stats.routes[route]?.gray ?? 0;
  const customers = gray("weighted") + gray("sticky") + gray(PILOT_ROUTE);
  return `local proxy: gray served ${customers} customer request(s) (by weight ${gray("weighted")}, sticky ${gray("sticky")}, chosen customers ${gray(PILOT_ROUTE)}) and ${gray("header")} smoke/synthetic request(s) through the header route`;
}
