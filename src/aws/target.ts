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
import { type Options, rolloutScope } from "../contract/options.js";
import { isTerminal, type RolloutState } from "../core/state.js";
import type { TargetDeps, TargetRuntime } from "../engine/targets.js";
import { type GateReader, withGateReaders } from "../gates/source.js";
import type { Fleet, MetricSource, TrafficRouter } from "../ports/index.js";
import { ZabbixClient } from "../zabbix/client.js";
import { ZabbixGateReader } from "../zabbix/gates.js";
import { type AwsConnection, type CallCounter, createAwsApi } from "./api.js";
import { checkStateTable } from "./bootstrap.js";
import { AwsFleet } from "./fleet.js";
import { AwsMetricSource } from "./metrics.js";
import { AwsTrafficRouter, type SmokeConfig } from "./router.js";
import { DynamoRolloutStore, type StoredItem } from "./store.js";

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

/** `…:listener/app/NAME/LB/L` → `…:loadbalancer/app/NAME/LB`. */
export function loadBalancerArnOf(listenerArn: string): string {
  return listenerArn.replace(":listener/", ":loadbalancer/").replace(/\/[0-9a-f]+$/, "");
}

function resourcesFromOptions(o: Options): AwsResources | null {
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

export async function openAwsTarget(o: Options, deps: AwsTargetDeps = {}): Promise<AwsTargetRuntime> {
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
  });
  const disposers: (() => Promise<void>)[] = [];
  try {
    const { api } = connection;
    const scope = rolloutScope(o);
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
    const metricPeriodMs = o.metricPeriod ?? plan?.metricPeriodMs ?? 60_000;

    let router: TrafficRouter;
    let fleet: Fleet;
    let metrics: MetricSource;
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
      const live = stored !== null && !isTerminal(stored.state.phase);
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
        listenerArn: resources.listenerArn,
        ruleArn: resources.ruleArn ?? undefined,
        stableTargetGroupArn: resources.stableTargetGroupArn,
        grayTargetGroupArn: resources.grayTargetGroupArn,
        configuredStickiness: live ? stored.state.stickinessSeconds : undefined,
        rememberedStickiness: stored?.state.stickinessSeconds,
        smoke,
      });
      fleet = new AwsFleet({
        api,
        stableAsg: resources.stableAsg,
        grayAsg: resources.grayAsg,
        stableTargetGroupArn: resources.stableTargetGroupArn,
        grayTargetGroupArn: resources.grayTargetGroupArn,
        launchTemplate: resources.launchTemplate,
        instanceWarmupMs: resources.instanceWarmupMs,
        refreshMinHealthy: resources.refreshMinHealthy,
        pollMs,
        log: deps.log,
      });
      metrics = new AwsMetricSource({
        api,
        loadBalancerArn: resources.loadBalancerArn,
        stableTargetGroupArn: resources.stableTargetGroupArn,
        grayTargetGroupArn: resources.grayTargetGroupArn,
        periodMs: metricPeriodMs,
        asgs: { stable: resources.stableAsg, gray: resources.grayAsg },
      });
      const gates = await openGateReaders(o, stored?.state ?? null, resources, deps.signal);
      if (gates !== null) {
        metrics = withGateReaders(metrics, "cloudwatch", gates.readers);
        disposers.push(gates.dispose);
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
    return {
      ports: { router, fleet, metrics, store },
      calls: connection.calls,
      connection,
      resources,
      description:
        resources === null
          ? `aws ${o.region}${o.endpoint ? ` via ${o.endpoint}` : ""}: no rollout recorded for ${scope} in ${o.stateTable}`
          : `aws ${o.region}${o.endpoint ? ` via ${o.endpoint}` : ""}: ${where}; stable ${resources.stableAsg}, gray ${resources.grayAsg}; state in ${o.stateTable}`,
      async dispose() {
        connection.destroy();
        await Promise.all(disposers.map((d) => d().catch(() => undefined)));
      },
    };
  } catch (e) {
    connection.destroy();
    await Promise.all(disposers.map((d) => d().catch(() => undefined)));
    throw e;
  }
}

/**
 * Readers of business-metric gates from sources other than CloudWatch (Zabbix), for the gates of
 * this run (`--gates`) or of the stored rollout it continues; null when none is needed. The Zabbix
 * gates are checked here, before anything changes (a wrong token, group or key: exit 2). Verbs that
 * never observe (status, abort) do not take the Zabbix options and open no connection.
 */
async function openGateReaders(
  o: Options,
  stored: RolloutState | null,
  resources: AwsResources,
  signal: AbortSignal | undefined,
): Promise<{ readers: GateReader[]; dispose: () => Promise<void> } | null> {
  const live = stored !== null && !isTerminal(stored.phase) ? (stored.plan.gates ?? []) : [];
  const checked = o.gates.length > 0 ? o.gates : live;
  const zabbix = [...o.gates, ...live].filter((g) => g.metric.source === "zabbix");
  // The Zabbix options apply to deploy-gray, plan and promote only (their timeout has a default there).
  if (zabbix.length === 0 || o.zabbixTimeout === undefined) return null;
  if (o.zabbixUrl === undefined || o.zabbixToken === undefined) {
    throw new PreflightError(
      `the rollout's gate(s) ${[...new Set(zabbix.map((g) => g.name))].join(", ")} read Zabbix, but no Zabbix connection was given`,
      {
        field: o.zabbixUrl === undefined ? "zabbixUrl" : "zabbixToken",
        fix: "pass --zabbix-url and set GRAY_DEPLOY_ZABBIX_TOKEN (the Zabbix API token)",
      },
    );
  }
  const client = new ZabbixClient({ url: o.zabbixUrl, token: o.zabbixToken, timeoutMs: o.zabbixTimeout });
  const reader = new ZabbixGateReader({
    client,
    asgs: { stable: resources.stableAsg, gray: resources.grayAsg },
    timeoutMs: o.zabbixTimeout,
  });
  try {
    await reader.preflight(checked, signal);
  } catch (e) {
    await client.close().catch(() => undefined);
    throw e;
  }
  return { readers: [reader], dispose: () => client.close() };
}
