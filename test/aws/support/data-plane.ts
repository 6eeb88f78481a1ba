/**
 * The emulated ALB data plane: what the real load balancer and the real instances would do, played
 * on this machine around the AWS emulator, so gray-deploy's AWS adapters are tested with real traffic.
 *
 * - Forwarding: the local WeightedProxy (src/local/proxy.ts) whose WeightSource polls DescribeRules
 *   on the emulator: whatever gray-deploy writes with ModifyRule is what the proxy applies, weights
 *   and stickiness both. Polls read the AWS API only when the emulator's generation moved
 *   (GET /_gray/generation: a write the data plane reads) or 2 s after the last read.
 * - Instances: every target registered in the stable or gray target group that belongs to one of the
 *   Auto Scaling groups is a real process of the sample service. It runs the image of the launch
 *   template version its instance was launched from (read from that version's user data), with the
 *   fault knobs the test chose for that image. Deregistered targets are drained and stopped.
 * - Health: the proxy's health checks are reported into the emulator's target health
 *   (POST /_gray/target-health), so DescribeTargetHealth, gray-deploy's waits and the emulator's
 *   instance refresh all see what the processes really do.
 * - Metrics: every request is measured (src/local/metrics.ts) and each complete period is written to
 *   the emulator's CloudWatch as the ALB would publish it: per target group (LoadBalancer +
 *   TargetGroup dimensions) RequestCount, HTTPCode_Target_5XX_Count, TargetConnectionErrorCount,
 *   TargetResponseTime (Values/Counts, seconds), HealthyHostCount, UnHealthyHostCount; and the load
 *   balancer's own HTTPCode_ELB_5XX_Count. Zero counts are absent, as on AWS. By default a period is
 *   written as soon as it ends (the fast tests); `periodMs: 60_000, albDelayMs: 120_000` is what AWS
 *   does (one-minute periods, complete about two minutes late), for the tests and benchmarks about it.
 * - The service's own metrics (`service`): every instance publishes Embedded Metric Format documents
 *   (examples/sample-gateway, METRICS_*), and this plays the CloudWatch agent: it stores their data
 *   with PutMetricData (StorageResolution as published) `service.delayMs` after each is written.
 * - Customers: the local load generator, open loop, through the proxy.
 */
import {
  DescribeAutoScalingGroupsCommand,
  type DescribeAutoScalingGroupsCommandOutput,
} from "@aws-sdk/client-auto-scaling";
import { type MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  type DescribeTargetHealthCommandOutput,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { findImageReference } from "../../../src/aws/user-data.js";
import type { Pool } from "../../../src/core/types.js";
import type { EmfDatum } from "../../../src/local/emf.js";
import { type InstanceFaults, NO_FAULTS, ServiceInstance } from "../../../src/local/instance.js";
import { LoadGenerator } from "../../../src/local/load.js";
import { type PeriodSnapshot, TrafficMetrics } from "../../../src/local/metrics.js";
import {
  type ForwardConfig,
  type TargetState,
  WeightedProxy,
  type WeightSource,
} from "../../../src/local/proxy.js";
import type { AwsClients, AwsFixture } from "../../support/aws-fixture.js";
import type { Emulator, TargetHealthState } from "../../support/emulator.js";

export interface DataPlaneOptions {
  readonly emu: Emulator;
  readonly aws: AwsClients;
  readonly fx: AwsFixture;
  /** The load balancer's metric period (the rollout's --metric-period). */
  readonly periodMs: number;
  /** How long after its period ends the load balancer's data is written. Default 0. */
  readonly albDelayMs?: number;
  /** The instances publish their own metrics (--signal service). */
  readonly service?: ServicePublishing;
  /** Fault knobs of the processes running `image`. */
  readonly faults?: (image: string) => InstanceFaults;
  readonly rps?: number;
  /**
   * How often the weights and the fleet are read from the emulator. Default 250 / 400 ms: polling
   * was most of the emulator's work (at 100 / 150 ms, ~27 calls a second per data plane), and
   * gray-deploy's windows are whole seconds.
   */
  readonly weightPollMs?: number;
  readonly reconcileMs?: number;
  /** How often the proxy health-checks each target (two checks in a row decide). Default 250 ms. */
  readonly healthCheckMs?: number;
}

/** How the instances publish their own metrics, and how late the agent stores them. */
export interface ServicePublishing {
  /** The instances' period (METRICS_PERIOD_MS). */
  readonly periodMs: number;
  /** The CloudWatch agent's flush and CloudWatch's ingestion: from a document written to stored. */
  readonly delayMs: number;
  /** Default GrayDeploy/Service. */
  readonly namespace?: string;
  /** An instance's dimensions. Default: AutoScalingGroupName = its group. */
  readonly dimensions?: (m: { pool: Pool; asg: string; version: string }) => Record<string, string>;
}

/** One load-balancer period as the data plane wrote it. */
export interface AlbPeriod {
  readonly start: number;
  readonly publishedAt: number;
  readonly grayRequests: number;
  readonly gray5xx: number;
}

/** A process standing for one EC2 instance. */
interface Machine {
  readonly instanceId: string;
  readonly pool: Pool;
  readonly image: string;
  readonly process: ServiceInstance;
  port: number | null;
  /** What we last told the emulator about its health. */
  reported: TargetHealthState | null;
}

/**
 * How often a poller reads the emulator's AWS API although its generation did not move: a backstop
 * only (the generation moves on every write a data plane reads), cheap at one read per 2 s.
 */
const FULL_READ_MS = 2_000;

/**
 * A poller's reads of the AWS API, made only when the emulator's state may have changed since the
 * last one (Emulator.generation), or FULL_READ_MS after it. A tick that finds nothing new costs one
 * small control request instead of 1–3 AWS calls (issue 14: at 250 / 400 ms, that polling was most of
 * the emulator's CPU and a large share of the tests' own).
 */
class ChangeWatch {
  #seen: number | null = null;
  #at = 0;

  constructor(private readonly emu: Emulator) {}

  /** `read()`'s result, or undefined when nothing changed since the last successful read. */
  async read<T>(read: () => Promise<T>): Promise<T | undefined> {
    // Taken before the read: a change during it moves the generation again, so it is read next time.
    const generation = await this.emu.generation().catch(() => null);
    if (generation !== null && generation === this.#seen && Date.now() - this.#at < FULL_READ_MS) {
      return undefined;
    }
    const out = await read();
    this.#seen = generation;
    this.#at = Date.now();
    return out;
  }
}

/** Polls the weighted rule; the proxy reads the cached forward action on every request. */
class RuleWeightSource implements WeightSource {
  #config: ForwardConfig = { weights: { stable: 100, gray: 0 }, stickinessSeconds: null };
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  /** Every change of the forward action the data plane applied, with when. */
  readonly changes: { at: number; config: ForwardConfig }[] = [];
  readonly #watch: ChangeWatch;

  constructor(
    private readonly aws: AwsClients,
    private readonly fx: AwsFixture,
    emu: Emulator,
  ) {
    this.#watch = new ChangeWatch(emu);
  }

  get(): ForwardConfig {
    return this.#config;
  }

  async poll(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const out = await this.#watch.read(() =>
        this.aws.elb.send(new DescribeRulesCommand({ RuleArns: [this.fx.ruleArn] })),
      );
      if (out === undefined) return;
      const forward = out.Rules?.[0]?.Actions?.find((a) => a.Type === "forward")?.ForwardConfig;
      const weightOf = (arn: string) =>
        forward?.TargetGroups?.find((t) => t.TargetGroupArn === arn)?.Weight ?? 0;
      const sticky = forward?.TargetGroupStickinessConfig;
      const next: ForwardConfig = {
        weights: {
          stable: weightOf(this.fx.stable.targetGroupArn),
          gray: weightOf(this.fx.gray.targetGroupArn),
        },
        stickinessSeconds: sticky?.Enabled ? (sticky.DurationSeconds ?? 3600) : null,
      };
      const c = this.#config;
      if (
        c.weights.stable !== next.weights.stable ||
        c.weights.gray !== next.weights.gray ||
        c.stickinessSeconds !== next.stickinessSeconds
      ) {
        this.#config = next;
        this.changes.push({ at: Date.now(), config: next });
      }
    } catch {
      // The emulator is being reset or stopped: keep the last config.
    } finally {
      this.#busy = false;
    }
  }

  start(everyMs: number): void {
    this.#timer = setInterval(() => void this.poll(), everyMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

export class EmulatedAlb {
  readonly o: DataPlaneOptions;
  readonly weights: RuleWeightSource;
  readonly metrics: TrafficMetrics;
  readonly proxy: WeightedProxy;
  load!: LoadGenerator;
  readonly #machines = new Map<string, Machine>();
  readonly #imageOfVersion = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #reconciling: Promise<void> | null = null;
  /** The fleet's last read: the groups, then the stable and gray target health. */
  #fleet:
    | [
        DescribeAutoScalingGroupsCommandOutput,
        DescribeTargetHealthCommandOutput,
        DescribeTargetHealthCommandOutput,
      ]
    | null = null;
  /** The fleet reader's change watch (the weights have their own). */
  readonly #fleetWatch: ChangeWatch;
  #unsubscribe: (() => void) | null = null;
  #publishing = new Set<Promise<void>>();
  #stopped = false;
  /** Errors the data plane met (a test may assert there are none). */
  readonly errors: string[] = [];
  /** Periods written to CloudWatch. */
  published = 0;
  /** Every load-balancer period written, with when. */
  readonly albPeriods: AlbPeriod[] = [];
  /** Service datapoints stored (the agent's PutMetricData), per pool. */
  readonly serviceStored: Record<Pool, number> = { stable: 0, gray: 0 };
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Every instance the fleet reconciler saw in each Auto Scaling group (by group name). */
  readonly instancesSeen = new Map<string, Set<string>>();

  constructor(o: DataPlaneOptions) {
    this.o = o;
    this.weights = new RuleWeightSource(o.aws, o.fx, o.emu);
    this.#fleetWatch = new ChangeWatch(o.emu);
    this.metrics = new TrafficMetrics({
      periodMs: o.periodMs,
      retentionMs: Math.max(120_000, 3 * o.periodMs + (o.albDelayMs ?? 0)),
    });
    this.proxy = new WeightedProxy({
      weights: this.weights,
      sink: this.metrics,
      // Checks fast enough that an instance is in service (and reported healthy) within ~1 s.
      healthCheck: {
        intervalMs: o.healthCheckMs ?? 250,
        timeoutMs: 1000,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
      },
      drainTimeoutMs: 1000,
    });
  }

  /** Starts forwarding, the fleet reconciler and the metric publisher; `startLoad` sends the customers. */
  async start(): Promise<void> {
    await this.weights.poll();
    this.weights.start(this.o.weightPollMs ?? 250);
    const url = await this.proxy.start();
    await this.reconcile();
    this.#timer = setInterval(() => void this.reconcile(), this.o.reconcileMs ?? 400);
    this.#unsubscribe = this.metrics.onPeriod((p) => {
      this.#later(this.o.albDelayMs ?? 0, () => this.#publish(p));
    });
    this.load = new LoadGenerator({ url, rps: this.o.rps ?? 100 });
  }

  /** Runs `write` after `ms` (at once for 0), tracked so stop() waits for it and cancels what is pending. */
  #later(ms: number, write: () => Promise<void>): void {
    const run = () => {
      if (this.#stopped) return;
      const put = write().catch((e) => {
        if (!this.#stopped) this.errors.push(`PutMetricData: ${String(e)}`);
      });
      this.#publishing.add(put);
      void put.finally(() => this.#publishing.delete(put));
    };
    if (ms <= 0) {
      run();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }

  /** The CloudWatch agent: an instance's EMF data, stored `service.delayMs` after it was written. */
  #agent(pool: Pool, data: readonly EmfDatum[]): void {
    const s = this.o.service;
    if (s === undefined) return;
    this.#later(s.delayMs, async () => {
      const byNamespace = new Map<string, MetricDatum[]>();
      for (const d of data) {
        const list = byNamespace.get(d.namespace) ?? [];
        list.push({
          MetricName: d.name,
          Dimensions: Object.entries(d.dimensions).map(([Name, Value]) => ({ Name, Value })),
          Timestamp: new Date(d.timestamp),
          StorageResolution: d.storageResolution,
          ...(d.unit === undefined ? {} : { Unit: d.unit as MetricDatum["Unit"] }),
          ...(d.values.length === 1 && d.counts[0] === 1
            ? { Value: d.values[0]! }
            : { Values: [...d.values], Counts: [...d.counts] }),
        });
        byNamespace.set(d.namespace, list);
      }
      for (const [Namespace, MetricData] of byNamespace) {
        for (let i = 0; i < MetricData.length; i += 500) {
          await this.o.aws.cloudWatch.send(
            new PutMetricDataCommand({ Namespace, MetricData: MetricData.slice(i, i + 500) }),
          );
        }
      }
      this.serviceStored[pool]++;
    });
  }

  /** Customers start arriving (once stable serves: a real service has traffic before any rollout). */
  startLoad(): void {
    this.load.start();
  }

  get url(): string {
    return this.proxy.url;
  }

  /** Instances by pool and image (and the port their process listens on, once it does). */
  machines(): { instanceId: string; pool: Pool; image: string; alive: boolean; port: number | null }[] {
    return [...this.#machines.values()].map((m) => ({
      instanceId: m.instanceId,
      pool: m.pool,
      image: m.image,
      alive: m.process.alive,
      port: m.port,
    }));
  }

  /** Waits until at least `n` instances of `pool` are healthy in the proxy. */
  async waitHealthy(pool: Pool, n: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.proxy.health()[pool].healthy < n) {
      if (Date.now() > deadline) throw new Error(`data plane: ${pool} has fewer than ${n} healthy targets`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  reconcile(): Promise<void> {
    this.#reconciling ??= this.#reconcile().finally(() => {
      this.#reconciling = null;
    });
    return this.#reconciling;
  }

  async #imageOf(version: string): Promise<string> {
    const known = this.#imageOfVersion.get(version);
    if (known !== undefined) return known;
    const out = await this.o.aws.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: this.o.fx.launchTemplate.id,
        Versions: [version],
      }),
    );
    const ud = Buffer.from(
      out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.UserData ?? "",
      "base64",
    ).toString();
    const found = findImageReference(ud);
    const image = found.kind === "found" ? found.ref : `unknown-image-of-v${version}`;
    this.#imageOfVersion.set(version, image);
    return image;
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped) return;
    const { aws, fx } = this.o;
    try {
      const read = await this.#fleetWatch.read(() =>
        Promise.all([
          aws.autoScaling.send(
            new DescribeAutoScalingGroupsCommand({
              AutoScalingGroupNames: [fx.stable.asgName, fx.gray.asgName],
            }),
          ),
          aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: fx.stable.targetGroupArn })),
          aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: fx.gray.targetGroupArn })),
        ]),
      );
      // Nothing changed in the emulator: the last read still holds, and what changed here (the
      // proxy's health checks, a process that died) is still acted on below.
      if (read !== undefined) this.#fleet = read;
      if (this.#fleet === null) return;
      const [groups, stableHealth, grayHealth] = this.#fleet;
      const versionOf = new Map<string, string>();
      for (const g of groups.AutoScalingGroups ?? []) {
        const seen = this.instancesSeen.get(g.AutoScalingGroupName ?? "") ?? new Set<string>();
        this.instancesSeen.set(g.AutoScalingGroupName ?? "", seen);
        for (const i of g.Instances ?? []) {
          versionOf.set(i.InstanceId ?? "", i.LaunchTemplate?.Version ?? "");
          seen.add(i.InstanceId ?? "");
        }
      }
      const wanted = new Map<string, { pool: Pool; state: string }>();
      for (const [pool, out] of [
        ["stable", stableHealth],
        ["gray", grayHealth],
      ] as const) {
        for (const d of out.TargetHealthDescriptions ?? []) {
          const id = d.Target?.Id ?? "";
          const state = d.TargetHealth?.State ?? "";
          if (!versionOf.has(id) || state === "draining" || state === "unused") continue;
          wanted.set(id, { pool, state });
        }
      }
      // New instances: start their process, running the image of the version they were launched from.
      for (const [id, { pool }] of wanted) {
        if (this.#machines.has(id)) continue;
        const image = await this.#imageOf(versionOf.get(id)!);
        if (this.#stopped) return;
        const faults = this.o.faults?.(image) ?? NO_FAULTS;
        const s = this.o.service;
        const asg = pool === "stable" ? fx.stable.asgName : fx.gray.asgName;
        const process = new ServiceInstance({
          id,
          pool,
          version: image,
          faults,
          ...(s === undefined
            ? {}
            : {
                emf: {
                  periodMs: s.periodMs,
                  namespace: s.namespace ?? "GrayDeploy/Service",
                  dimensions: s.dimensions?.({ pool, asg, version: versionOf.get(id)! }) ?? {
                    AutoScalingGroupName: asg,
                  },
                  receive: (data) => this.#agent(pool, data),
                },
              }),
        });
        const m: Machine = { instanceId: id, pool, image, process, port: null, reported: null };
        this.#machines.set(id, m);
        process.listening.then(
          (port) => {
            m.port = port;
            this.#syncTargets();
          },
          () => this.#syncTargets(),
        );
      }
      // Gone instances: out of the proxy (drain), then stopped.
      const gone = [...this.#machines.values()].filter((m) => !wanted.has(m.instanceId));
      for (const m of gone) this.#machines.delete(m.instanceId);
      if (gone.length > 0) {
        const drained = this.#syncTargets();
        void drained.then(() => Promise.all(gone.map((m) => m.process.stop(1000))));
      }
      await this.#reportHealth(wanted);
    } catch (e) {
      if (!this.#stopped) this.errors.push(`reconcile: ${String(e)}`);
    }
  }

  #syncTargets(): Promise<void> {
    const targets = (pool: Pool) =>
      [...this.#machines.values()]
        .filter((m) => m.pool === pool && m.port !== null && m.process.alive)
        .map((m) => ({ id: m.instanceId, host: "127.0.0.1", port: m.port! }));
    return Promise.all([
      this.proxy.setTargets("stable", targets("stable")),
      this.proxy.setTargets("gray", targets("gray")),
    ]).then(() => undefined);
  }

  /** Tells the emulator what the proxy's health checks see (only changes). */
  async #reportHealth(registered: Map<string, { pool: Pool; state: string }>): Promise<void> {
    const seen = new Map(this.proxy.targets().map((t) => [t.id, t.state] as const));
    const reports: { targetGroupArn: string; targetId: string; state: TargetHealthState }[] = [];
    for (const m of this.#machines.values()) {
      const proxyState: TargetState | undefined = seen.get(m.instanceId);
      const state: TargetHealthState = !m.process.alive
        ? "unhealthy"
        : proxyState === "healthy"
          ? "healthy"
          : proxyState === "unhealthy"
            ? "unhealthy"
            : "initial";
      const current = registered.get(m.instanceId)?.state;
      if (state === current && m.reported === state) continue;
      if (state === "initial" && current === "initial") continue;
      reports.push({
        targetGroupArn: m.pool === "stable" ? this.o.fx.stable.targetGroupArn : this.o.fx.gray.targetGroupArn,
        targetId: m.instanceId,
        state,
      });
      m.reported = state;
    }
    if (reports.length > 0) {
      await this.o.emu.setTargetHealth(reports).catch((e) => {
        // A target deregistered between our read and this report: the next round settles it.
        if (!String(e).includes("409")) throw e;
      });
    }
  }

  async #publish(p: PeriodSnapshot): Promise<void> {
    const { fx } = this.o;
    const ts = new Date(p.start);
    const data: MetricDatum[] = [];
    const lb = { Name: "LoadBalancer", Value: fx.loadBalancerDimension };
    for (const pool of ["stable", "gray"] as const) {
      const s = p[pool];
      const dims = [
        lb,
        { Name: "TargetGroup", Value: (pool === "stable" ? fx.stable : fx.gray).targetGroupDimension },
      ];
      const count = (name: string, value: number) => {
        if (value > 0)
          data.push({ MetricName: name, Dimensions: dims, Timestamp: ts, Value: value, Unit: "Count" });
      };
      count("RequestCount", s.requests);
      count("HTTPCode_Target_5XX_Count", s.target5xx);
      count("TargetConnectionErrorCount", s.connectionErrors);
      const { valuesMs, counts } = s.latencyDistribution();
      for (let i = 0; i < valuesMs.length; i += 150) {
        data.push({
          MetricName: "TargetResponseTime",
          Dimensions: dims,
          Timestamp: ts,
          Values: valuesMs.slice(i, i + 150).map((v) => v / 1000),
          Counts: counts.slice(i, i + 150),
          Unit: "Seconds",
        });
      }
      if (s.healthyMin !== null) {
        data.push({
          MetricName: "HealthyHostCount",
          Dimensions: dims,
          Timestamp: ts,
          Value: s.healthyMin,
          Unit: "Count",
        });
      }
      if (s.unhealthyMax !== null) {
        data.push({
          MetricName: "UnHealthyHostCount",
          Dimensions: dims,
          Timestamp: ts,
          Value: s.unhealthyMax,
          Unit: "Count",
        });
      }
    }
    this.albPeriods.push({
      start: p.start,
      publishedAt: Date.now(),
      grayRequests: p.gray.requests,
      gray5xx: p.gray.target5xx,
    });
    if (p.lbErrors > 0) {
      data.push({
        MetricName: "HTTPCode_ELB_5XX_Count",
        Dimensions: [lb],
        Timestamp: ts,
        Value: p.lbErrors,
        Unit: "Count",
      });
    }
    for (let i = 0; i < data.length; i += 500) {
      await this.o.aws.cloudWatch.send(
        new PutMetricDataCommand({ Namespace: "AWS/ApplicationELB", MetricData: data.slice(i, i + 500) }),
      );
    }
    this.published++;
  }

  /** Stops everything this data plane started. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.weights.stop();
    if (this.#timer) clearInterval(this.#timer);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#unsubscribe?.();
    await this.load?.close().catch(() => undefined);
    await this.#reconciling?.catch(() => undefined);
    await Promise.all([...this.#publishing]);
    await this.proxy.close();
    await Promise.all([...this.#machines.values()].map((m) => m.process.stop(500)));
    this.#machines.clear();
  }
}
