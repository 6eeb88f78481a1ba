/**
 * The emulated ALB data plane: what the real load balancer and the real instances would do, played
 * on this machine around the AWS emulator, so gray-deploy's AWS adapters are tested with real traffic.
 *
 * - Forwarding: the local WeightedProxy (src/local/proxy.ts) whose WeightSource polls DescribeRules
 *   on the emulator: whatever gray-deploy writes with ModifyRule is what the proxy applies, weights
 *   and stickiness both.
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
 *   balancer's own HTTPCode_ELB_5XX_Count. Zero counts are absent, as on AWS.
 * - Customers: the local load generator, open loop, through the proxy.
 */
import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { type MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import { DescribeRulesCommand, DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { findImageReference } from "../../../src/aws/user-data.js";
import type { Pool } from "../../../src/core/types.js";
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
  /** Metric period (the rollout's --metric-period). */
  readonly periodMs: number;
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

/** Polls the weighted rule; the proxy reads the cached forward action on every request. */
class RuleWeightSource implements WeightSource {
  #config: ForwardConfig = { weights: { stable: 100, gray: 0 }, stickinessSeconds: null };
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  /** Every change of the forward action the data plane applied, with when. */
  readonly changes: { at: number; config: ForwardConfig }[] = [];

  constructor(
    private readonly aws: AwsClients,
    private readonly fx: AwsFixture,
  ) {}

  get(): ForwardConfig {
    return this.#config;
  }

  async poll(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const out = await this.aws.elb.send(new DescribeRulesCommand({ RuleArns: [this.fx.ruleArn] }));
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
  #unsubscribe: (() => void) | null = null;
  #publishing = new Set<Promise<void>>();
  #stopped = false;
  /** Errors the data plane met (a test may assert there are none). */
  readonly errors: string[] = [];
  /** Periods written to CloudWatch. */
  published = 0;
  /** Every instance the fleet reconciler saw in each Auto Scaling group (by group name). */
  readonly instancesSeen = new Map<string, Set<string>>();

  constructor(o: DataPlaneOptions) {
    this.o = o;
    this.weights = new RuleWeightSource(o.aws, o.fx);
    this.metrics = new TrafficMetrics({ periodMs: o.periodMs, retentionMs: 120_000 });
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
      const put = this.#publish(p).catch((e) => {
        this.errors.push(`PutMetricData: ${String(e)}`);
      });
      this.#publishing.add(put);
      void put.finally(() => this.#publishing.delete(put));
    });
    this.load = new LoadGenerator({ url, rps: this.o.rps ?? 100 });
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
      const [groups, stableHealth, grayHealth] = await Promise.all([
        aws.autoScaling.send(
          new DescribeAutoScalingGroupsCommand({
            AutoScalingGroupNames: [fx.stable.asgName, fx.gray.asgName],
          }),
        ),
        aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: fx.stable.targetGroupArn })),
        aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: fx.gray.targetGroupArn })),
      ]);
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
        const process = new ServiceInstance({ id, pool, version: image, faults });
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
    this.#unsubscribe?.();
    await this.load?.close().catch(() => undefined);
    await this.#reconciling?.catch(() => undefined);
    await Promise.all([...this.#publishing]);
    await this.proxy.close();
    await Promise.all([...this.#machines.values()].map((m) => m.process.stop(500)));
    this.#machines.clear();
  }
}
