/**
 * The TrafficRouter port over the local weighted proxy: the local twin of the ALB forward action.
 * Weights and stickiness are written into the proxy's weight source and take effect on the next
 * request; `getWeights` reads back what the proxy applies.
 */
import { request } from "undici";
import { AbortedError, InvalidInputError, PreflightError, VerificationError } from "../contract/errors.js";
import type { FleetHealth, Weights } from "../core/types.js";
import type { RouterPreflight, SetWeightsOptions, TrafficRouter } from "../ports/index.js";
import { describeError, POOL_HEADER, type StaticWeightSource, type WeightedProxy } from "./proxy.js";

export interface LocalRouterOptions {
  readonly proxy: WeightedProxy;
  readonly source: StaticWeightSource;
  /** Target-group stickiness "configured" on the forward action; null: none. */
  readonly stickinessSeconds: number | null;
  /** Paths the smoke test GETs through the gray header route. Default ["/health"]. */
  readonly smokePaths?: readonly string[];
  /**
   * The deregistration delay reported to the engine, which waits it out before retiring gray.
   * Default 1 s: locally that wait is only a courtesy, because `retireGray` itself deregisters and
   * waits for every in-flight request to finish (up to the proxy's drain timeout) before stopping a
   * process; an ALB-sized delay would only lengthen every local run.
   */
  readonly drainDelayMs?: number;
  /** The version gray is expected to answer with (the smoke test checks it), when known. */
  readonly grayVersion?: () => string | null;
}

export class LocalTrafficRouter implements TrafficRouter {
  readonly #o: LocalRouterOptions;

  constructor(options: LocalRouterOptions) {
    this.#o = options;
  }

  async preflight(signal?: AbortSignal): Promise<RouterPreflight> {
    aborted(signal);
    const { proxy } = this.#o;
    const url = proxy.url;
    const health = proxy.health();
    if (health.stable.healthy === 0) {
      throw new PreflightError(`the local proxy at ${url} has no healthy stable target`, {
        fix: "the stable pool must be running before a rollout: restart the run",
      });
    }
    const config = proxy.forwardConfig();
    const hc = proxy.healthCheck;
    return {
      weights: config.weights,
      drainDelayMs: Math.min(this.#o.drainDelayMs ?? 1000, proxy.drainTimeoutMs),
      stickinessSeconds: this.#o.stickinessSeconds,
      facts: [
        `local weighted proxy at ${url}: stable ${config.weights.stable}, gray ${config.weights.gray}`,
        `stable pool: ${health.stable.healthy} healthy, ${health.stable.unhealthy} unhealthy; gray pool: ${health.gray.healthy} healthy`,
        `health check GET ${hc.path} every ${hc.intervalMs} ms, healthy after ${hc.healthyThreshold}, unhealthy after ${hc.unhealthyThreshold}`,
        `stickiness: ${this.#o.stickinessSeconds === null ? "off" : `${this.#o.stickinessSeconds}s`}; smoke route: header ${POOL_HEADER}: gray`,
      ],
    };
  }

  async getWeights(signal?: AbortSignal): Promise<Weights> {
    aborted(signal);
    const w = this.#o.proxy.forwardConfig().weights;
    return { stable: w.stable, gray: w.gray };
  }

  async setWeights(weights: Weights, options: SetWeightsOptions, signal?: AbortSignal): Promise<void> {
    aborted(signal);
    const { stable, gray } = weights;
    if (
      !Number.isInteger(stable) ||
      !Number.isInteger(gray) ||
      stable < 0 ||
      gray < 0 ||
      stable + gray !== 100
    ) {
      throw new InvalidInputError([
        {
          field: "weights",
          message: `stable ${stable} / gray ${gray} are not whole percentages summing to 100`,
        },
      ]);
    }
    this.#o.source.set({
      weights: { stable, gray },
      stickinessSeconds: options.stickiness === "off" ? null : this.#o.stickinessSeconds,
    });
  }

  async targetHealth(signal?: AbortSignal): Promise<FleetHealth> {
    aborted(signal);
    return this.#o.proxy.health();
  }

  /**
   * GETs each smoke path through the proxy with the gray header route, before any customer reaches
   * gray: each must answer 200 from the gray pool (and from gray's version, when known).
   */
  async smokeTest(signal?: AbortSignal): Promise<readonly string[]> {
    aborted(signal);
    const checked: string[] = [];
    const expected = this.#o.grayVersion?.() ?? null;
    for (const path of this.#o.smokePaths ?? ["/health"]) {
      const what = `GET ${path} with ${POOL_HEADER}: gray`;
      let status: number;
      let pool: unknown;
      let version: unknown;
      try {
        const res = await request(`${this.#o.proxy.url}${path}`, {
          method: "GET",
          headers: { [POOL_HEADER]: "gray" },
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
          ...(signal === undefined ? {} : { signal }),
        });
        await res.body.dump();
        status = res.statusCode;
        pool = res.headers[POOL_HEADER];
        version = res.headers["x-service-version"];
      } catch (e) {
        if (signal?.aborted) throw new AbortedError("smoke test aborted", { cause: signal.reason });
        throw new VerificationError(`smoke test ${what} failed: ${describeError(e)}`, {
          retryable: false,
          cause: e,
        });
      }
      const problem =
        status !== 200
          ? `answered ${status}`
          : pool !== "gray"
            ? `was served by the ${String(pool)} pool, not gray`
            : expected !== null && version !== expected
              ? `was answered by version ${String(version)}, expected ${expected}`
              : null;
      if (problem !== null) {
        throw new VerificationError(`smoke test ${what} ${problem}`, {
          retryable: false,
          fix: "gray must be healthy and serve the new version before it gets traffic; see the gray instances' logs",
        });
      }
      checked.push(`${what} → 200 from gray (${String(version)})`);
    }
    return checked;
  }
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError("aborted", { cause: signal.reason });
}
