/**
 * Business metrics of the emulated data plane's real processes, published per version the way a
 * payment service's own instrumentation would: every period, each sample-gateway process's counters
 * (GET /metrics: payments attempted and declined, never faulted) are read, turned into per-process
 * increments and summed per Auto Scaling group, then
 * - written to the emulator's CloudWatch: namespace TecPag/Payments, PaymentsAttempted and
 *   PaymentsDeclined with the dimension AutoScalingGroupName (what `{asg}` substitutes), one datum
 *   per period stamped with the period's start;
 * - and, when a Zabbix fleet is given, pushed with the real zabbix_sender to the version's host (one
 *   host per ASG, tagged asg=<the ASG's name>) as trapper items payments.attempted/payments.declined.
 * Nothing here is simulated: the counts are what the processes answered to the load generator's
 * requests through the proxy.
 */
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { request } from "undici";
import type { Pool } from "../../src/core/types.js";
import type { EmulatedAlb } from "../aws/support/data-plane.js";
import type { World } from "../aws/support/world.js";
import { sendMany } from "../support/zabbix.js";

export const NAMESPACE = "TecPag/Payments";
const POOLS: readonly Pool[] = ["stable", "gray"];

interface Counts {
  attempted: number;
  declined: number;
}

export class BusinessCounters {
  readonly #alb: EmulatedAlb;
  readonly #w: World;
  readonly #periodMs: number;
  readonly #zabbixHosts: Readonly<Record<Pool, string>> | null;
  readonly #last = new Map<string, Counts>();
  #timer: NodeJS.Timeout | null = null;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Everything published, per pool. */
  readonly totals: Record<Pool, Counts> = {
    stable: { attempted: 0, declined: 0 },
    gray: { attempted: 0, declined: 0 },
  };
  /** Periods published, and how long a period's publication took (ms). */
  readonly publishMs: number[] = [];
  readonly errors: string[] = [];

  constructor(o: {
    alb: EmulatedAlb;
    world: World;
    periodMs: number;
    zabbixHosts?: Readonly<Record<Pool, string>>;
  }) {
    this.#alb = o.alb;
    this.#w = o.world;
    this.#periodMs = o.periodMs;
    this.#zabbixHosts = o.zabbixHosts ?? null;
  }

  /** Ticks at period boundaries (a few ms after), publishing the period that just ended. */
  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      const now = Date.now();
      const boundary = Math.floor(now / this.#periodMs) * this.#periodMs;
      const periodStart = boundary - this.#periodMs;
      this.#chain = this.#chain
        .then(() => this.#publish(periodStart))
        .catch((e) => {
          this.errors.push(String(e));
        });
      this.#timer = setTimeout(tick, boundary + this.#periodMs + 20 - Date.now());
    };
    const now = Date.now();
    // Baseline every process's counters first, so the first period published is a whole one.
    this.#chain = this.#collect().then(() => undefined);
    this.#timer = setTimeout(tick, Math.ceil(now / this.#periodMs) * this.#periodMs + 20 - now);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#chain;
  }

  /** Per pool, the increments of every live process since the last collection. */
  async #collect(): Promise<Record<Pool, Counts>> {
    const sums: Record<Pool, Counts> = {
      stable: { attempted: 0, declined: 0 },
      gray: { attempted: 0, declined: 0 },
    };
    const machines = this.#alb.machines().filter((m) => m.alive && m.port !== null);
    await Promise.all(
      machines.map(async (m) => {
        try {
          const res = await request(`http://127.0.0.1:${m.port}/metrics`, {
            headersTimeout: 1000,
            bodyTimeout: 1000,
          });
          const body = (await res.body.json()) as { payments: Counts };
          const prev = this.#last.get(m.instanceId) ?? { attempted: 0, declined: 0 };
          this.#last.set(m.instanceId, {
            attempted: body.payments.attempted,
            declined: body.payments.declined,
          });
          sums[m.pool].attempted += body.payments.attempted - prev.attempted;
          sums[m.pool].declined += body.payments.declined - prev.declined;
        } catch {
          // A process stopping between the listing and the read: its last counts are lost, as an
          // instance's last unpublished metrics are when it terminates.
        }
      }),
    );
    return sums;
  }

  async #publish(periodStart: number): Promise<void> {
    const t0 = performance.now();
    const sums = await this.#collect();
    const { fx } = this.#w;
    const data = POOLS.filter((p) => sums[p].attempted > 0).flatMap((p) => {
      const dims = [{ Name: "AutoScalingGroupName", Value: fx[p].asgName }];
      const ts = new Date(periodStart);
      return [
        {
          MetricName: "PaymentsAttempted",
          Dimensions: dims,
          Timestamp: ts,
          Value: sums[p].attempted,
          Unit: "Count" as const,
          // High-resolution: the gates read it at sub-minute periods (CloudWatch keeps others per minute).
          StorageResolution: 1,
        },
        {
          MetricName: "PaymentsDeclined",
          Dimensions: dims,
          Timestamp: ts,
          Value: sums[p].declined,
          Unit: "Count" as const,
          StorageResolution: 1,
        },
      ];
    });
    const jobs: Promise<unknown>[] = [];
    if (data.length > 0) {
      jobs.push(
        this.#w.aws.cloudWatch.send(new PutMetricDataCommand({ Namespace: NAMESPACE, MetricData: data })),
      );
    }
    const hosts = this.#zabbixHosts;
    if (hosts !== null) {
      const values = POOLS.filter((p) => sums[p].attempted > 0).flatMap((p) => [
        { host: hosts[p], key: "payments.attempted", value: sums[p].attempted, clock: periodStart },
        { host: hosts[p], key: "payments.declined", value: sums[p].declined, clock: periodStart },
      ]);
      if (values.length > 0) jobs.push(sendMany(values, { wait: false }));
    }
    await Promise.all(jobs);
    for (const p of POOLS) {
      this.totals[p].attempted += sums[p].attempted;
      this.totals[p].declined += sums[p].declined;
    }
    this.publishMs.push(performance.now() - t0);
  }
}

/** Rollout timings for these tests: windows of 3 s ending 3 s ago (Zabbix's history syncer lags ~1 s). */
export const BUSINESS_TIMINGS = {
  steps: "25,100",
  // The README's rule for business metrics: above the push interval (1 s here) plus a few seconds.
  // At 2 s, pushes a loaded machine delayed left the window without stable's data (inconclusive).
  metricsDelay: "3s",
  rollbackWindow: "3s",
  promotionWindow: "3s",
  bake: "6s",
  maxBake: "20s",
  returnSteps: "100",
  returnBake: "6s",
} as const;

/** declined ÷ attempted, CloudWatch, tested against stable. */
export const CLOUDWATCH_RATE_GATE = {
  name: "pix-declines",
  source: "cloudwatch",
  namespace: NAMESPACE,
  numerator: "PaymentsDeclined",
  denominator: "PaymentsAttempted",
  dimensions: { AutoScalingGroupName: "{asg}" },
  test: { margin: "0.5%" },
  minSamples: 20,
} as const;

/** The same rate with an absolute ceiling. */
export const CLOUDWATCH_CEILING_GATE = {
  name: "decline-ceiling",
  source: "cloudwatch",
  namespace: NAMESPACE,
  numerator: "PaymentsDeclined",
  denominator: "PaymentsAttempted",
  dimensions: { AutoScalingGroupName: "{asg}" },
  max: "15%",
  minSamples: 20,
} as const;

/** declined ÷ attempted from Zabbix, hosts tagged asg=<each version's ASG>, tested against stable. */
export const ZABBIX_RATE_GATE = {
  name: "pix-declines-zabbix",
  source: "zabbix",
  numeratorKey: "payments.declined",
  denominatorKey: "payments.attempted",
  hosts: { tag: "asg" },
  test: { margin: "0.5%" },
  minSamples: 20,
} as const;

/** A short unique fixture name (resource names, ASG names, Zabbix tags) per test. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36).slice(-5)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`;
}
