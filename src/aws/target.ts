/**
 * The AWS target behind the ports: ALB weights (router.ts), launch template + Auto Scaling groups
 * (fleet.ts), CloudWatch (metrics.ts) and the DynamoDB state table (store.ts), all over one
 * AwsConnection (api.ts).
 *
 * `status`, `promote` and `abort` take only the listener/rule and the state table: the rest of the
 * resources (target groups, groups, launch template, refresh preferences) is read from the stored
 * rollout, where `deploy-gray` wrote it when it acquired the lock. So an operator can abort from a
 * laptop with three flags, and the guard can act from the table alone.
 */
import { PreflightError, ProviderError, StateError } from "../contract/errors.js";
import { type CheckOptions, pilotCondition } from "../core/options/checks.js";
import type { PlanOptions } from "../core/options/plan.js";
import type { SignalOptions } from "../core/options/signal.js";
import { type ServiceSignal, serviceSignalOf } from "../core/policy.js";
import { isTerminal } from "../core/state.js";
import { systemClock } from "../engine/clock.js";
import type { ReleaseOptions } from "../engine/options/release.js";
import type { TargetDeps, TargetRuntime } from "../engine/targets.js";
import type { Fleet, MetricSource, TrafficRouter } from "../ports/index.js";
import { checkStateTable } from "./bootstrap.js";
import { type AwsConnection, type CallCounter, createAwsApi } from "./connection.js";
import { AwsFleet } from "./fleet.js";
import { LambdaHookCaller } from "./lambda-hooks.js";
import { AwsMetricSource, arnSuffix } from "./metrics.js";
import { type AwsOptions, awsScope, loadBalancerArnOf } from "./options.js";
import { AwsPilotRule } from "./pilot.js";
import { AwsTrafficRouter, type SmokeConfig } from "./router.js";
import { ServiceMetricSource } from "./service/source.js";
import { DynamoRolloutStore, type StoredItem } from "./store.js";

/** What the AWS target reads: its coordinates and the plan's timings it needs to drive the fleet. */
export type AwsTargetOptions = AwsOptions &
  Pick<PlanOptions, "interval" | "metricPeriod" | "instanceWarmup" | "refreshMinHealthy"> &
  Partial<Pick<PlanOptions, "metricsDelay">> &
  Partial<SignalOptions> &
  Partial<Pick<ReleaseOptions, "startedBy">> &
  Partial<Pick<CheckOptions, "pilotHeader" | "pilotCookie">>;

/** What a stored rollout records about its AWS resources (the store's `context`). */
export interface AwsResources {
  readonly kind: "aws";
  readonly region: string;
  readonly listenerArn: string;
  readonly ruleArn: string | null;
  readonly loadBalancerArn: string;
  readonly stableTargetGroupArn: string;
  readonly grayTargetGroupArn: string;
  readonly stableAsg: string;
  readonly grayAsg: string;
  readonly launchTemplate: string;
  readonly instanceWarmupMs: number;
  readonly refreshMinHealthy: number;
  /** The chosen-customers rule (absent in rollouts recorded before it existed). */
  readonly pilotRuleArn?: string | null;
  /** Promotion's refresh checkpoints and their bake (absent: none; older rollouts). */
  readonly refreshCheckpoints?: readonly number[];
  readonly refreshCheckpointDelayMs?: number;
}

export interface AwsTargetDeps extends TargetDeps {
  /** Attempts per AWS call (SDK standard retry strategy). Default 5. */
  readonly maxAttempts?: number;
}

export interface AwsTargetRuntime extends TargetRuntime {
  /** AWS calls made through this runtime, per operation. */
  readonly calls: CallCounter;
  readonly connection: AwsConnection;
  /** The resources the ports drive; null for a control verb with no stored rollout. */
  readonly resources: AwsResources | null;
}

function resourcesFromOptions(o: AwsTargetOptions): AwsResources | null {
  const {
    region,
    listenerArn,
    stableTargetGroupArn,
    grayTargetGroupArn,
    stableAsg,
    grayAsg,
    launchTemplate,
  } = o;
  if (
    region === undefined ||
    listenerArn === undefined ||
    stableTargetGroupArn === undefined ||
    grayTargetGroupArn === undefined ||
    stableAsg === undefined ||
    grayAsg === undefined ||
    launchTemplate === undefined
  ) {
    return null;
  }
  return {
    kind: "aws",
    region,
    listenerArn,
    ruleArn: o.ruleArn ?? null,
    loadBalancerArn: loadBalancerArnOf(listenerArn),
    stableTargetGroupArn,
    grayTargetGroupArn,
    stableAsg,
    grayAsg,
    launchTemplate,
    instanceWarmupMs: o.instanceWarmup,
    refreshMinHealthy: o.refreshMinHealthy,
    pilotRuleArn: o.pilotRuleArn ?? null,
    ...(o.refreshCheckpoints === undefined
      ? {}
      : {
          refreshCheckpoints: [...o.refreshCheckpoints],
          refreshCheckpointDelayMs: o.refreshCheckpointDelay,
        }),
  };
}

function resourcesFromStore(item: StoredItem | null): AwsResources | null {
  const c = item?.context;
  if (c?.kind !== "aws") return null;
  const strings = [
    "region",
    "listenerArn",
    "loadBalancerArn",
    "stableTargetGroupArn",
    "grayTargetGroupArn",
    "stableAsg",
    "grayAsg",
    "launchTemplate",
  ];
  if (!strings.every((k) => typeof c[k] === "string") || typeof c.instanceWarmupMs !== "number") return null;
  return c as unknown as AwsResources;
}

/** `Name: value` → header; the value is never part of any message. */
export function parseSmokeHeader(raw: string): { name: string; value: string } {
  const at = raw.indexOf(":");
  return { name: raw.slice(0, at).trim(), value: raw.slice(at + 1).trim() };
}

/** Ports for a control verb with nothing stored: every call says there is no rollout to act on. */
class NoRollout {
  constructor(private readonly scope: string) {}
  fail(): never {
    throw new StateError(`no rollout is recorded for ${this.scope}: its AWS resources are unknown`, {
      fix: "start one with `gray-deploy deploy-gray --target aws …`",
    });
  }
}

export async function openAwsTarget(
  o: AwsTargetOptions,
  deps: AwsTargetDeps = {},
): Promise<AwsTargetRuntime> {
  if (o.region === undefined || o.stateTable === undefined) {
    throw new PreflightError("the AWS target needs --region and --state-table", {
      field: o.region === undefined ? "region" : "stateTable",
    });
  }
  const connection = createAwsApi({
    region: o.region,
    endpoint: o.endpoint,
    ...(deps.credentials === undefined ? { roleArn: o.roleArn } : { credentials: deps.credentials }),
    ...(deps.maxAttempts === undefined ? {} : { maxAttempts: deps.maxAttempts }),
    ...(deps.log === undefined ? {} : { log: deps.log }),
    ...(deps.clock === undefined ? {} : { now: () => deps.clock!.now() }),
  });
  try {
    const { api } = connection;
    const scope = awsScope(o);
    await checkStateTable(api, o.stateTable, deps.signal);
    const probe = new DynamoRolloutStore({ api, table: o.stateTable });
    const stored = await probe.loadItem(scope, deps.signal);
    const resources = resourcesFromOptions(o) ?? resourcesFromStore(stored);
    const store = new DynamoRolloutStore({
      api,
      table: o.stateTable,
      ...(resources === null ? {} : { context: { ...resources } }),
    });
    const plan = stored?.state.plan;
    const intervalMs = o.interval ?? plan?.intervalMs ?? 30_000;
    const pollMs = Math.min(5000, Math.max(100, Math.floor(intervalMs / 2)));
    const live = stored !== null && !isTerminal(stored.state.phase);
    // The signal a live rollout was planned with, else the one the options choose.
    const fromOptions =
      o.signal === "service" && o.metricPeriod !== undefined && o.metricsDelay !== undefined
        ? serviceSignalOf({ ...o, metricPeriod: o.metricPeriod, metricsDelay: o.metricsDelay })
        : null;
    const service: { signal: ServiceSignal; periodMs: number } | null =
      live && plan !== undefined
        ? plan.signal === undefined
          ? null
          : { signal: plan.signal, periodMs: plan.metricPeriodMs }
        : fromOptions === null || o.servicePeriod === undefined
          ? null
          : { signal: fromOptions, periodMs: o.servicePeriod };
    // The load balancer's period (the guard's beside a service signal).
    const metricPeriodMs = o.metricPeriod ?? plan?.signal?.guard.periodMs ?? plan?.metricPeriodMs ?? 60_000;

    let router: TrafficRouter;
    let fleet: Fleet;
    let metrics: MetricSource;
    let guard: MetricSource | undefined;
    if (resources === null) {
      const none = new NoRollout(scope);
      const fail = async () => none.fail();
      router = { preflight: fail, getWeights: fail, setWeights: fail, targetHealth: fail };
      fleet = {
        preflight: fail,
        prepare: fail,
        scaleGray: fail,
        promote: fail,
        revertStable: fail,
        retireGray: fail,
        releaseStable: fail,
      };
      metrics = { read: fail };
    } else {
      const smoke: SmokeConfig | undefined =
        o.smokeHeader === undefined
          ? undefined
          : {
              url: o.smokeUrl,
              header: parseSmokeHeader(o.smokeHeader),
              paths: o.smokePaths,
              statuses: o.smokeStatuses.map(Number),
            };
      router = new AwsTrafficRouter({
        api,
        clock: deps.clock,
        listenerArn: resources.listenerArn,
        ruleArn: resources.ruleArn ?? undefined,
        stableTargetGroupArn: resources.stableTargetGroupArn,
        grayTargetGroupArn: resources.grayTargetGroupArn,
        configuredStickiness: live ? stored.state.stickinessSeconds : undefined,
        rememberedStickiness: stored?.state.stickinessSeconds,
        smoke,
        pilot:
          resources.pilotRuleArn === undefined || resources.pilotRuleArn === null
            ? undefined
            : new AwsPilotRule({
                api,
                ruleArn: resources.pilotRuleArn,
                targets: {
                  stableTargetGroupArn: resources.stableTargetGroupArn,
                  grayTargetGroupArn: resources.grayTargetGroupArn,
                },
                expect: pilotCondition(o),
              }),
      });
      fleet = new AwsFleet({
        api,
        clock: deps.clock,
        stableAsg: resources.stableAsg,
        grayAsg: resources.grayAsg,
        stableTargetGroupArn: resources.stableTargetGroupArn,
        grayTargetGroupArn: resources.grayTargetGroupArn,
        launchTemplate: resources.launchTemplate,
        instanceWarmupMs: resources.instanceWarmupMs,
        refreshMinHealthy: resources.refreshMinHealthy,
        refreshCheckpoints: resources.refreshCheckpoints,
        refreshCheckpointDelayMs: resources.refreshCheckpointDelayMs,
        pollMs,
        log: deps.log,
      });
      const alb = new AwsMetricSource({
        api,
        loadBalancerArn: resources.loadBalancerArn,
        stableTargetGroupArn: resources.stableTargetGroupArn,
        grayTargetGroupArn: resources.grayTargetGroupArn,
        periodMs: metricPeriodMs,
        asgs: { stable: resources.stableAsg, gray: resources.grayAsg },
      });
      metrics = alb;
      if (service !== null) {
        // --signal service: the gates read the service's metrics; the ALB's guard them.
        const lb = arnSuffix(resources.loadBalancerArn);
        metrics = new ServiceMetricSource({
          api,
          clock: deps.clock ?? systemClock(),
          metrics: service.signal.metrics,
          periodMs: service.periodMs,
          identities: {
            stable: {
              asg: resources.stableAsg,
              targetGroup: arnSuffix(resources.stableTargetGroupArn),
              loadBalancer: lb,
            },
            gray: {
              asg: resources.grayAsg,
              targetGroup: arnSuffix(resources.grayTargetGroupArn),
              loadBalancer: lb,
            },
          },
          alarms: (names, signal) => alb.alarms(names, signal),
        });
        guard = alb;
      }
    }
    if (o.alarms.length > 0 && metrics.alarms !== undefined) {
      // An alarm gate that names no alarm would make every evaluation inconclusive: refuse up front.
      await metrics.alarms(o.alarms, deps.signal).catch((e: unknown) => {
        if (e instanceof ProviderError && /do not exist/.test(e.message)) {
          throw new PreflightError(e.message, {
            field: "alarms",
            fix: e.fix ?? "correct --alarms",
            cause: e,
          });
        }
        throw e;
      });
    }
    const where = resources?.ruleArn ?? resources?.listenerArn ?? scope;
    const identity = (pool: "stable" | "gray") =>
      resources === null
        ? {}
        : {
            asg: pool === "stable" ? resources.stableAsg : resources.grayAsg,
            targetGroup: arnSuffix(
              pool === "stable" ? resources.stableTargetGroupArn : resources.grayTargetGroupArn,
            ),
            loadBalancer: arnSuffix(resources.loadBalancerArn),
          };
    return {
      ports: { router, fleet, metrics, store, ...(guard === undefined ? {} : { guard }) },
      identities: { stable: identity("stable"), gray: identity("gray") },
      found: stored?.state ?? null,
      hookCallers: { lambda: new LambdaHookCaller(api, o.region) },
      calls: connection.calls,
      connection,
      resources,
      description:
        resources === null
          ? `aws ${o.region}${o.endpoint ? ` via ${o.endpoint}` : ""}: no rollout recorded for ${scope} in ${o.stateTable}`
          : `aws ${o.region}${o.endpoint ? ` via ${o.endpoint}` : ""}: ${where}; stable ${resources.stableAsg}, gray ${resources.grayAsg}; state in ${o.stateTable}`,
      async dispose() {
        connection.destroy();
      },
    };
  } catch (e) {
    connection.destroy();
    throw e;
  }
}
