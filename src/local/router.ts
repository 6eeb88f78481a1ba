/**
 * The TrafficRouter port over the local weighted proxy: the local twin of the ALB forward action.
 * Weights and stickiness are written into the proxy's weight source and take effect on the next
 * request; `getWeights` reads back what the proxy applies.
 */
import { request } from "undici";
import {
  AbortedError,
  InvalidInputError,
  PreflightError,
  ProviderError,
  VerificationError,
} from "../contract/errors.js";
import type { FleetHealth, Weights } from "../core/types.js";
import { systemClock } from "../engine/clock.js";
import { RETRY, retry } from "../engine/retry.js";
import type {
  Clock,
  GrayAnswer,
  GrayRequest,
  RouterPreflight,
  SetWeightsOptions,
  TrafficRouter,
} from "../ports/index.js";
import {
  describeError,
  type HeaderCondition,
  POOL_HEADER,
  type StaticWeightSource,
  type WeightedProxy,
} from "./proxy.js";

/** The id of the chosen-customers route in the proxy's forward config (and its counters). */
export const PILOT_ROUTE = "pilot";
/** Where the chosen-customers rule sits: before the weighted split, after the smoke header. */
const PILOT_PRIORITY = 10;
const TO_GRAY: Weights = { stable: 0, gray: 1 };
const TO_STABLE: Weights = { stable: 1, gray: 0 };
/** The most of an answer's body kept for judging (a synthetic transaction's answer is small). */
const MAX_BODY = 65_536;

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
  /** The chosen-customers rule's conditions (--pilot-header/--pilot-cookie); absent: no such rule. */
  readonly pilot?: readonly HeaderCondition[];
  /** For the waits between smoke attempts. Default: the system clock. */
  readonly clock?: Clock;
}

/** The chosen-customers route, forwarding to stable (off) or gray (on). */
export function pilotRoute(conditions: readonly HeaderCondition[], enabled: boolean) {
  return { id: PILOT_ROUTE, priority: PILOT_PRIORITY, conditions, weights: enabled ? TO_GRAY : TO_STABLE };
}

export class LocalTrafficRouter implements TrafficRouter {
  readonly #o: LocalRouterOptions;

  readonly setPilot?: (enabled: boolean, signal?: AbortSignal) => Promise<void>;
  readonly getPilot?: (signal?: AbortSignal) => Promise<boolean>;

  constructor(options: LocalRouterOptions) {
    this.#o = options;
    const conditions = options.pilot;
    if (conditions !== undefined) {
      this.setPilot = async (enabled, signal) => {
        aborted(signal);
        const c = this.#o.source.get();
        const others = (c.routes ?? []).filter((r) => r.id !== PILOT_ROUTE);
        this.#o.source.set({ ...c, routes: [...others, pilotRoute(conditions, enabled)] });
      };
      this.getPilot = async (signal) => {
        aborted(signal);
        const route = this.#o.proxy.forwardConfig().routes?.find((r) => r.id === PILOT_ROUTE);
        return route !== undefined && route.weights.gray > 0;
      };
    }
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
        ...(this.#o.pilot === undefined
          ? []
          : [
              `chosen-customers rule: requests with ${this.#o.pilot.map((c) => `${c.header}: ${c.values.join(" or ")}`).join(" and ")} go to ${config.routes?.find((r) => r.id === PILOT_ROUTE)?.weights.gray ? "GRAY" : "stable"} until the first step switches them to gray`,
            ]),
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
      ...this.#o.source.get(),
      weights: { stable, gray },
      stickinessSeconds: options.stickiness === "off" ? null : this.#o.stickinessSeconds,
    });
  }

  async targetHealth(signal?: AbortSignal): Promise<FleetHealth> {
    aborted(signal);
    return this.#o.proxy.health();
  }

  /** A synthetic transaction through the gray header route (x-gray-deploy-pool: gray). */
  async grayRequest(r: GrayRequest, signal?: AbortSignal): Promise<GrayAnswer> {
    aborted(signal);
    return sendToGray(this.#o.proxy.url, r, { [POOL_HEADER]: "gray" }, signal);
  }

  /**
   * GETs each smoke path through the proxy with the gray header route, before any customer reaches
   * gray: each must answer 200 from the gray pool (and from gray's version, when known). An answer is
   * judged once, and a wrong one fails at once; no answer (refused, reset, no headers within 10 s) is
   * asked again on a new attempt (RETRY.smokeCheck, as the AWS router does): one silent moment of a
   * loaded machine is no evidence against the release, three are.
   */
  async smokeTest(signal?: AbortSignal): Promise<readonly string[]> {
    aborted(signal);
    const checked: string[] = [];
    const expected = this.#o.grayVersion?.() ?? null;
    for (const path of this.#o.smokePaths ?? ["/health"]) {
      const what = `GET ${path} with ${POOL_HEADER}: gray`;
      const unanswered: string[] = [];
      let answer: { status: number; pool: unknown; version: unknown };
      try {
        answer = await retry(
          RETRY.smokeCheck,
          async () => {
            const res = await request(`${this.#o.proxy.url}${path}`, {
              method: "GET",
              headers: { [POOL_HEADER]: "gray" },
              headersTimeout: 10_000,
              bodyTimeout: 10_000,
              ...(signal === undefined ? {} : { signal }),
            });
            await res.body.dump();
            return {
              status: res.statusCode,
              pool: res.headers[POOL_HEADER],
              version: res.headers["x-service-version"],
            };
          },
          {
            clock: this.#o.clock ?? systemClock(),
            signal,
            onFailure: (f) => unanswered.push(`attempt ${f.attempt}: ${describeError(f.error)}`),
          },
        );
      } catch (e) {
        if (signal?.aborted) throw new AbortedError("smoke test aborted", { cause: signal.reason });
        throw new VerificationError(`smoke test ${what} got no answer (${unanswered.join("; ")})`, {
          retryable: false,
          cause: e,
          fix: "gray never answered through the load balancer: see the gray instances' logs",
        });
      }
      const { status, pool, version } = answer;
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
      const after =
        unanswered.length === 0 ? "" : ` after ${unanswered.length} unanswered (${unanswered.join("; ")})`;
      checked.push(`${what} → 200 from gray (${String(version)})${after}`);
    }
    return checked;
  }
}

/**
 * Sends a synthetic request to gray through the proxy's header route: what the load balancer answers,
 * whatever the status. No answer (refused, reset, timed out): a retryable ProviderError, naming
 * neither the headers nor the body (they may hold secrets).
 */
export async function sendToGray(
  base: string,
  r: GrayRequest,
  header: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<GrayAnswer> {
  try {
    const res = await request(`${base}${r.path}`, {
      method: r.method as "GET",
      headers: { ...r.headers, ...header },
      body: r.body,
      headersTimeout: r.timeoutMs,
      bodyTimeout: r.timeoutMs,
      ...(signal === undefined ? {} : { signal }),
    });
    const text = await res.body.text();
    const pool = res.headers[POOL_HEADER];
    return {
      status: res.statusCode,
      body: text.slice(0, MAX_BODY),
      pool: typeof pool === "string" ? pool : null,
    };
  } catch (e) {
    if (signal?.aborted) throw new AbortedError("synthetic transaction aborted", { cause: signal.reason });
    throw new ProviderError(`${r.method} ${r.path}: ${describeError(e)}`, { retryable: true });
  }
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError("aborted", { cause: signal.reason });
}
