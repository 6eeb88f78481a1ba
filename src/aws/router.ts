/**
 * The TrafficRouter port over an ALB: the weighted forward action of one listener rule (`ruleArn`,
 * the Terraform module's layout) or of the listener's default action (`listenerArn` alone).
 *
 * - preflight: reads everything it checks (listener, rule, load balancer, both target groups, their
 *   attributes, the smoke route) and writes nothing; every mismatch is a PreflightError that names the
 *   resource and the fix.
 * - setWeights: describe → build the desired action list (forward.ts) → write only if it differs.
 *   The engine reads the weights back (getWeights) before it moves on.
 * - Stickiness: `off` (rollback) disables target-group stickiness on the action, so clients holding a
 *   stickiness cookie cannot keep reaching gray; `configured` restores what the rollout found at
 *   preflight. Because a rollback leaves it off, the next rollout's preflight takes the duration the
 *   previous rollout recorded (`rememberedStickiness`) when the action has none.
 */

import type { Action, Rule } from "@aws-sdk/client-elastic-load-balancing-v2";
import { AbortedError, PreflightError, ProviderError, VerificationError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import type { FleetHealth, PoolHealth, Weights } from "../core/types.js";
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
import type { AwsApi } from "./api.js";
import { isAwsCode } from "./errors.js";
import {
  describeForwardProblem,
  desiredActions,
  type ForwardState,
  type ForwardTargets,
  forwardGroups,
  forwardMatches,
  readForward,
} from "./forward.js";
import type { AwsPilotRule } from "./pilot.js";
import { countHealth, targetStates } from "./target-health.js";

export interface SmokeConfig {
  /** Base URL of the load balancer; default http(s)://<ALB DNS name>:<listener port>. */
  readonly url?: string | undefined;
  /** The header that routes to gray through the smoke rule. The value is a secret: never printed. */
  readonly header: { readonly name: string; readonly value: string };
  readonly paths: readonly string[];
  readonly statuses: readonly number[];
  /** Per request. Default 10 s. */
  readonly timeoutMs?: number;
}

export interface AwsRouterOptions extends ForwardTargets {
  readonly api: AwsApi;
  readonly listenerArn: string;
  readonly ruleArn?: string | undefined;
  /**
   * The stickiness a rollout in progress recorded at its preflight (a resumed rollout, or `promote`
   * and `abort` from another process, never run preflight here). undefined: unknown.
   */
  readonly configuredStickiness?: number | null | undefined;
  /** The stickiness the previous rollout of this scope recorded; restored when the action has none. */
  readonly rememberedStickiness?: number | null | undefined;
  readonly smoke?: SmokeConfig | undefined;
  /** For the waits between smoke attempts. Default: the system clock. */
  readonly clock?: Clock | undefined;
  /** The chosen-customers rule (--pilot-rule-arn), when the rollout has that step. */
  readonly pilot?: AwsPilotRule | undefined;
}

const NOT_FOUND = [
  "ListenerNotFound",
  "ListenerNotFoundException",
  "RuleNotFound",
  "RuleNotFoundException",
  "TargetGroupNotFound",
  "TargetGroupNotFoundException",
  "LoadBalancerNotFound",
  "LoadBalancerNotFoundException",
];

export class AwsTrafficRouter implements TrafficRouter {
  readonly #o: AwsRouterOptions;
  readonly #clock: Clock;
  readonly #targets: ForwardTargets;
  /** What `configured` means; undefined until known (then `configured` keeps what the action has). */
  #configured: number | null | undefined;
  #smokeUrl: string | undefined;
  readonly smokeTest?: (signal?: AbortSignal) => Promise<readonly string[]>;
  readonly grayRequest?: (request: GrayRequest, signal?: AbortSignal) => Promise<GrayAnswer>;
  readonly setPilot?: (enabled: boolean, signal?: AbortSignal) => Promise<void>;
  readonly getPilot?: (signal?: AbortSignal) => Promise<boolean>;

  constructor(options: AwsRouterOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock();
    this.#targets = {
      stableTargetGroupArn: options.stableTargetGroupArn,
      grayTargetGroupArn: options.grayTargetGroupArn,
    };
    this.#configured = options.configuredStickiness;
    this.#smokeUrl = options.smoke?.url;
    if (options.smoke !== undefined) {
      const smoke = options.smoke;
      this.smokeTest = (signal) => this.#smoke(smoke, signal);
      this.grayRequest = (request, signal) => this.#grayRequest(smoke, request, signal);
    }
    const pilot = options.pilot;
    if (pilot !== undefined) {
      this.setPilot = (enabled, signal) => pilot.set(enabled, signal);
      this.getPilot = (signal) => pilot.get(signal);
    }
  }

  /** Where the weights live, for messages. */
  get #where(): string {
    return this.#o.ruleArn === undefined
      ? `listener ${this.#o.listenerArn} (default action)`
      : `rule ${this.#o.ruleArn}`;
  }

  async preflight(signal?: AbortSignal): Promise<RouterPreflight> {
    const { api, listenerArn, ruleArn } = this.#o;
    const { stableTargetGroupArn: stableTg, grayTargetGroupArn: grayTg } = this.#targets;
    const notFound = (what: string, field: string, fix: string) => (e: unknown) => {
      if (isAwsCode(e, ...NOT_FOUND))
        throw new PreflightError(`${what} does not exist`, { field, fix, cause: e });
      throw e;
    };

    const [listeners, rules, groups] = await Promise.all([
      api.elb
        .describeListeners({ ListenerArns: [listenerArn] }, signal)
        .catch(
          notFound(
            `listener ${listenerArn}`,
            "listenerArn",
            "pass the ARN of the ALB listener that serves the service (terraform output listener_arn)",
          ),
        ),
      ruleArn === undefined
        ? Promise.resolve(null)
        : api.elb
            .describeRules({ RuleArns: [ruleArn] }, signal)
            .catch(
              notFound(
                `rule ${ruleArn}`,
                "ruleArn",
                "pass the ARN of the rule holding the weighted forward action (terraform output rule_arn), or omit --rule-arn to use the listener's default action",
              ),
            ),
      api.elb.describeTargetGroups({ TargetGroupArns: [stableTg, grayTg] }, signal).catch((e: unknown) => {
        if (!isAwsCode(e, ...NOT_FOUND)) throw e;
        // One call names no culprit: find which one is missing.
        return Promise.all(
          [
            [stableTg, "stableTargetGroupArn"],
            [grayTg, "grayTargetGroupArn"],
          ].map(([arn, field]) =>
            api.elb
              .describeTargetGroups({ TargetGroupArns: [arn!] }, signal)
              .catch(notFound(`target group ${arn}`, field!, "pass the ARN of an existing target group")),
          ),
        ).then(() => {
          throw e;
        });
      }),
    ]);
    const listener = listeners.Listeners?.[0];
    if (listener === undefined) {
      throw new PreflightError(`listener ${listenerArn} does not exist`, { field: "listenerArn" });
    }
    const lbArn = listener.LoadBalancerArn ?? "";
    let actions: readonly Action[];
    if (ruleArn !== undefined) {
      const rule = rules?.Rules?.[0];
      if (rule === undefined)
        throw new PreflightError(`rule ${ruleArn} does not exist`, { field: "ruleArn" });
      if (rule.IsDefault) {
        throw new PreflightError(`rule ${ruleArn} is the listener's default rule`, {
          field: "ruleArn",
          fix: "omit --rule-arn to shift the listener's default action, or pass the weighted rule",
        });
      }
      actions = rule.Actions ?? [];
    } else {
      actions = listener.DefaultActions ?? [];
    }

    const byArn = new Map((groups.TargetGroups ?? []).map((g) => [g.TargetGroupArn ?? "", g]));
    for (const [arn, field, side] of [
      [stableTg, "stableTargetGroupArn", "stable"],
      [grayTg, "grayTargetGroupArn", "gray"],
    ] as const) {
      const tg = byArn.get(arn);
      if (tg === undefined) throw new PreflightError(`${side} target group ${arn} does not exist`, { field });
      const lbs = tg.LoadBalancerArns ?? [];
      if (lbs.length > 0 && !lbs.includes(lbArn)) {
        throw new PreflightError(
          `${side} target group ${arn} belongs to load balancer ${lbs.join(", ")}, not to ${lbArn} (the listener's)`,
          { field, fix: `pass the ${side} target group of the service behind ${listenerArn}` },
        );
      }
    }

    const read = readForward(actions, this.#targets);
    if (!read.ok) {
      throw new PreflightError(describeForwardProblem(read.problem, this.#where, this.#targets), {
        field: "grayTargetGroupArn",
        fix: "make the forward action a weighted forward to exactly the stable and the gray target group (the Terraform module's weighted rule does), or pass the target groups it holds",
      });
    }
    const forward = read.forward;

    const weightedPriority = ruleArn === undefined ? null : Number(rules?.Rules?.[0]?.Priority);
    const [lbs, attributes, smokeRoute, pilotRule] = await Promise.all([
      api.elb.describeLoadBalancers({ LoadBalancerArns: [lbArn] }, signal),
      api.elb.describeTargetGroupAttributes({ TargetGroupArn: grayTg }, signal),
      this.#o.smoke === undefined ? Promise.resolve(null) : this.#findSmokeRoute(signal),
      this.#o.pilot === undefined ? Promise.resolve(null) : this.#o.pilot.preflight(weightedPriority, signal),
    ]);
    const lb = lbs.LoadBalancers?.[0];
    const state = lb?.State?.Code;
    if (state !== undefined && state !== "active") {
      throw new PreflightError(`load balancer ${lbArn} is ${state}, not active`, {
        fix: "wait until the load balancer is active, then deploy again",
      });
    }
    const delay = Number(
      attributes.Attributes?.find((a) => a.Key === "deregistration_delay.timeout_seconds")?.Value ?? 300,
    );
    const drainDelayMs = (Number.isFinite(delay) ? delay : 300) * 1000;

    let stickiness = forward.stickinessSeconds;
    const facts: string[] = [];
    const remembered = this.#o.rememberedStickiness;
    if (stickiness === null && remembered !== undefined && remembered !== null) {
      stickiness = remembered;
      facts.push(
        `target-group stickiness is off on the action (the previous rollout's rollback turned it off); it is restored to ${remembered}s with the first weight`,
      );
    }
    this.#configured = stickiness;

    if (this.#o.smoke !== undefined && this.#smokeUrl === undefined && lb?.DNSName) {
      const protocol = (listener.Protocol ?? "HTTP").toLowerCase() === "https" ? "https" : "http";
      this.#smokeUrl = `${protocol}://${lb.DNSName}:${listener.Port ?? (protocol === "https" ? 443 : 80)}`;
    }

    facts.unshift(
      `${this.#where} on load balancer ${lb?.LoadBalancerName ?? lbArn}: forward to stable ${stableTg} (weight ${forward.raw.stable}) and gray ${grayTg} (weight ${forward.raw.gray})`,
      `target-group stickiness: ${forward.stickinessSeconds === null ? "off" : `${forward.stickinessSeconds}s`} (rollback turns it off so no cookie keeps a client on gray)`,
      `gray's deregistration delay: ${formatDuration(drainDelayMs)}`,
    );
    if (smokeRoute !== null) facts.push(smokeRoute);
    if (pilotRule !== null) facts.push(pilotRule);
    return { weights: forward.weights, drainDelayMs, stickinessSeconds: stickiness, facts };
  }

  async getWeights(signal?: AbortSignal): Promise<Weights> {
    return (await this.#read(signal)).forward.weights;
  }

  async setWeights(weights: Weights, options: SetWeightsOptions, signal?: AbortSignal): Promise<void> {
    const { stable, gray } = weights;
    if (![stable, gray].every((w) => Number.isInteger(w) && w >= 0 && w <= 100) || stable + gray !== 100) {
      throw new VerificationError(
        `weights stable ${stable} / gray ${gray} are not whole percentages summing to 100`,
        {
          retryable: false,
        },
      );
    }
    const { actions, forward } = await this.#read(signal);
    const stickiness =
      options.stickiness === "off"
        ? null
        : this.#configured === undefined
          ? forward.stickinessSeconds // unknown here: leave the action's own setting alone
          : this.#configured;
    if (forwardMatches(forward, weights, stickiness)) return;
    const desired = desiredActions(actions, forward, this.#targets, weights, stickiness);
    if (this.#o.ruleArn !== undefined) {
      await this.#o.api.elb.modifyRule({ RuleArn: this.#o.ruleArn, Actions: desired }, signal);
    } else {
      await this.#o.api.elb.modifyListener(
        { ListenerArn: this.#o.listenerArn, DefaultActions: desired },
        signal,
      );
    }
  }

  async targetHealth(signal?: AbortSignal): Promise<FleetHealth> {
    const [stable, gray] = await Promise.all([
      this.#poolHealth(this.#targets.stableTargetGroupArn, signal),
      this.#poolHealth(this.#targets.grayTargetGroupArn, signal),
    ]);
    return { stable, gray };
  }

  async #poolHealth(targetGroupArn: string, signal?: AbortSignal): Promise<PoolHealth> {
    return countHealth(await targetStates(this.#o.api, targetGroupArn, signal));
  }

  /** The action list and its forward action as the load balancer has them now. */
  async #read(signal?: AbortSignal): Promise<{ actions: Action[]; forward: ForwardState }> {
    let actions: Action[];
    if (this.#o.ruleArn !== undefined) {
      const out = await this.#o.api.elb.describeRules({ RuleArns: [this.#o.ruleArn] }, signal);
      actions = out.Rules?.[0]?.Actions ?? [];
    } else {
      const out = await this.#o.api.elb.describeListeners({ ListenerArns: [this.#o.listenerArn] }, signal);
      actions = out.Listeners?.[0]?.DefaultActions ?? [];
    }
    const read = readForward(actions, this.#targets);
    if (!read.ok) {
      throw new VerificationError(
        `${describeForwardProblem(read.problem, this.#where, this.#targets)}: someone changed it during the rollout`,
        {
          retryable: false,
          fix: "restore the weighted forward action to the stable and gray target groups (Terraform must ignore changes to it), then run `gray-deploy abort`",
        },
      );
    }
    return { actions, forward: read.forward };
  }

  /** Finds the listener rule that routes the smoke header straight to gray; returns a fact. */
  async #findSmokeRoute(signal?: AbortSignal): Promise<string> {
    const smoke = this.#o.smoke!;
    const rules: Rule[] = [];
    let marker: string | undefined;
    do {
      const page = await this.#o.api.elb.describeRules(
        { ListenerArn: this.#o.listenerArn, ...(marker === undefined ? {} : { Marker: marker }) },
        signal,
      );
      rules.push(...(page.Rules ?? []));
      marker = page.NextMarker;
    } while (marker !== undefined && marker !== "");
    const weighted = rules.find((r) => r.RuleArn === this.#o.ruleArn);
    const priority = (r: Rule) => (r.Priority === "default" ? Number.POSITIVE_INFINITY : Number(r.Priority));
    const name = smoke.header.name.toLowerCase();
    const route = rules.find((r) => {
      if (r.IsDefault) return false;
      const header = (r.Conditions ?? []).find(
        (c) => c.Field === "http-header" && c.HttpHeaderConfig?.HttpHeaderName?.toLowerCase() === name,
      );
      if (header === undefined || !(header.HttpHeaderConfig?.Values ?? []).includes(smoke.header.value))
        return false;
      const forwards = (r.Actions ?? []).filter((a) => a.Type === "forward");
      if (forwards.length !== 1) return false;
      const groups = forwardGroups(forwards[0]!);
      const tuples = forwards[0]!.ForwardConfig?.TargetGroups ?? [];
      const onlyGray =
        groups.includes(this.#targets.grayTargetGroupArn) &&
        groups.every(
          (g) =>
            g === this.#targets.grayTargetGroupArn ||
            (tuples.find((t) => t.TargetGroupArn === g)?.Weight ?? 1) === 0,
        );
      return onlyGray && (weighted === undefined || priority(r) < priority(weighted));
    });
    if (route === undefined) {
      throw new PreflightError(
        `smoke checks are configured but listener ${this.#o.listenerArn} has no rule, evaluated before the weighted one, that forwards requests carrying the ${smoke.header.name} header (with the configured value) only to the gray target group`,
        {
          field: "smokeHeader",
          fix: "enable the Terraform module's smoke rule (enable_smoke_rule) and pass its header (the value is in the SSM parameter smoke_header_ssm_parameter), or drop --smoke-header to skip the smoke test",
        },
      );
    }
    return `smoke route: rule ${route.RuleArn} (priority ${route.Priority}) sends ${smoke.header.name} to gray; checks ${smoke.paths.join(", ")} expecting ${smoke.statuses.join("/")}`;
  }

  /** The load balancer's URL for smoke checks: --smoke-url, or its DNS name and the listener's port. */
  async #base(signal?: AbortSignal): Promise<string> {
    if (this.#smokeUrl !== undefined) return this.#smokeUrl;
    const listener = (
      await this.#o.api.elb.describeListeners({ ListenerArns: [this.#o.listenerArn] }, signal)
    ).Listeners?.[0];
    const lbArn = listener?.LoadBalancerArn;
    const lb =
      lbArn === undefined
        ? undefined
        : (await this.#o.api.elb.describeLoadBalancers({ LoadBalancerArns: [lbArn] }, signal))
            .LoadBalancers?.[0];
    if (!lb?.DNSName) {
      throw new PreflightError("the smoke checks have no URL: the load balancer's DNS name is unknown", {
        field: "smokeUrl",
        fix: "pass --smoke-url (the service's URL through the load balancer)",
      });
    }
    const protocol = (listener?.Protocol ?? "HTTP").toLowerCase() === "https" ? "https" : "http";
    this.#smokeUrl = `${protocol}://${lb.DNSName}:${listener?.Port ?? (protocol === "https" ? 443 : 80)}`;
    return this.#smokeUrl;
  }

  /**
   * One synthetic request through the smoke rule (the smoke header added): the answer whatever its
   * status; no answer is a retryable ProviderError naming neither headers nor body (secrets).
   */
  async #grayRequest(smoke: SmokeConfig, r: GrayRequest, signal?: AbortSignal): Promise<GrayAnswer> {
    const base = await this.#base(signal);
    const url = new URL(r.path, base.endsWith("/") ? base : `${base}/`).toString();
    const { request } = await import("undici");
    try {
      const res = await request(url, {
        method: r.method as "GET",
        headers: { ...r.headers, [smoke.header.name]: smoke.header.value },
        body: r.body,
        headersTimeout: r.timeoutMs,
        bodyTimeout: r.timeoutMs,
        ...(signal === undefined ? {} : { signal }),
      });
      const body = (await res.body.text()).slice(0, 65_536);
      const pool = res.headers["x-gray-deploy-pool"];
      return { status: res.statusCode, body, pool: typeof pool === "string" ? pool : null };
    } catch (e) {
      if (signal?.aborted) throw new AbortedError("synthetic transaction aborted", { cause: signal.reason });
      throw new ProviderError(`${r.method} ${url}: ${e instanceof Error ? e.message : String(e)}`, {
        retryable: true,
      });
    }
  }

  /** Requests each smoke path through the load balancer with the smoke header; all must answer as expected. */
  async #smoke(smoke: SmokeConfig, signal?: AbortSignal): Promise<readonly string[]> {
    const base = this.#smokeUrl;
    if (base === undefined) {
      throw new PreflightError("the smoke test has no URL: the load balancer's DNS name is unknown", {
        field: "smokeUrl",
        fix: "pass --smoke-url (the service's URL through the load balancer)",
      });
    }
    const checked: string[] = [];
    // The HTTP client loads when a smoke check runs: a rollout without one never needs it.
    const { request } = await import("undici");
    for (const path of smoke.paths) {
      const url = new URL(path, base.endsWith("/") ? base : `${base}/`).toString();
      const what = `GET ${url} with the ${smoke.header.name} header`;
      let status: number;
      try {
        status = await retry(
          RETRY.smokeCheck,
          async () => {
            const res = await request(url, {
              method: "GET",
              headers: { [smoke.header.name]: smoke.header.value },
              headersTimeout: smoke.timeoutMs ?? 10_000,
              bodyTimeout: smoke.timeoutMs ?? 10_000,
              ...(signal === undefined ? {} : { signal }),
            });
            await res.body.dump();
            return res.statusCode;
          },
          { clock: this.#clock, signal },
        );
      } catch (e) {
        if (signal?.aborted) throw new AbortedError("smoke test aborted", { cause: signal.reason });
        throw new VerificationError(
          `smoke test ${what} failed: ${e instanceof Error ? e.message : String(e)}`,
          {
            retryable: false,
            fix: "check that --smoke-url reaches the load balancer from where gray-deploy runs",
          },
        );
      }
      if (!smoke.statuses.includes(status)) {
        throw new VerificationError(
          `smoke test ${what} answered ${status}, expected ${smoke.statuses.join(" or ")}`,
          {
            retryable: false,
            fix: "gray must serve the new version correctly before customers reach it; see the gray instances' logs",
          },
        );
      }
      checked.push(`${what} → ${status}`);
    }
    return checked;
  }
}
