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
 *
 * Counts are read at each period boundary, whatever the sinks' speed, and stamped with the period
 * they were read for; the sinks never hold up a reading. CloudWatch puts run side by side. One
 * zabbix_sender run at a time: values read while one runs go together in the next (each keeps its own
 * clock). So a datum's lateness is bounded by about two sender runs, instead of growing with every
 * period while a loaded machine makes one publication take longer than a period.
 */
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { request } from "undici";
import type { Pool } from "../../src/core/types.js";
import type { EmulatedAlb } from "../aws/support/data-plane.js";
import type { World } from "../aws/support/world.js";
import { type SendValue, sendMany } from "../support/zabbix.js";

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
  /** The reading of the counters in progress (readings never overlap: each is an increment on the last). */
  #collecting: Promise<unknown> | null = null;
  /** Publications under way (stop() waits for them). */
  readonly #inflight = new Set<Promise<void>>();
  /** The zabbix_sender run under way, and the batch that will follow it. */
  #zabbixBusy: Promise<void> = Promise.resolve();
  #zabbixNext: { values: SendValue[]; sent: Promise<void> } | null = null;
  #stopped = false;
  /** Everything published, per pool. */
  readonly totals: Record<Pool, Counts> = {
    stable: { attempted: 0, declined: 0 },
    gray: { attempted: 0, declined: 0 },
  };
  /** Periods published, and how long a period's publication took (ms). */
  readonly publishMs: number[] = [];
  /** Per period published: ms from the period's end until every sink had accepted it. */
  readonly lateMs: number[] = [];
  /** Boundaries at which the previous reading was still under way (its increments go in the next). */
  skipped = 0;
  /** Reads of a process's /metrics that failed or timed out, per pool. */
  readonly readFailures: Record<Pool, number> = { stable: 0, gray: 0 };
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

  /** Ticks at period boundaries (a few ms after): reads the period that just ended, then publishes it. */
  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      const now = Date.now();
      const boundary = Math.floor(now / this.#periodMs) * this.#periodMs;
      const periodStart = boundary - this.#periodMs;
      if (this.#collecting !== null) {
        // The last reading is still under way: its successor takes these increments too.
        this.skipped++;
      } else {
        const reading = this.#collect();
        this.#collecting = reading;
        const job = reading
          .finally(() => {
            this.#collecting = null;
          })
          .then((sums) => this.#publish(periodStart, sums))
          .catch((e) => {
            this.errors.push(String(e));
          });
        this.#inflight.add(job);
        void job.finally(() => this.#inflight.delete(job));
      }
      this.#timer = setTimeout(tick, boundary + this.#periodMs + 20 - Date.now());
    };
    const now = Date.now();
    // Baseline every process's counters first, so the first period published is a whole one.
    const baseline = this.#collect();
    this.#collecting = baseline;
    void baseline.finally(() => {
      this.#collecting = null;
    });
    this.#timer = setTimeout(tick, Math.ceil(now / this.#periodMs) * this.#periodMs + 20 - now);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await Promise.all([...this.#inflight]);
  }

  /** Lateness of the publications, for a failing test's message. */
  describeLateness(): string {
    const s = [...this.lateMs].sort((a, b) => a - b);
    if (s.length === 0) return "counters: nothing published";
    return `counters: ${s.length} periods published, in the sinks ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms (median) and ${s.at(-1)!.toFixed(0)} ms (max) after their period ended; ${this.skipped} boundaries skipped while a reading was under way; failed reads: stable ${this.readFailures.stable}, gray ${this.readFailures.gray}`;
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
          // A bound, not a clock: a loaded machine's process answers late, and a read given up on
          // leaves its increments to a later reading (readings never overlap; a boundary reached
          // during one is skipped). At 1 s, every read of a busy process could fail in a row.
          const res = await request(`http://127.0.0.1:${m.port}/metrics`, {
            headersTimeout: 5000,
            bodyTimeout: 5000,
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
          this.readFailures[m.pool]++;
        }
      }),
    );
    return sums;
  }

  async #publish(periodStart: number, sums: Record<Pool, Counts>): Promise<void> {
    const t0 = performance.now();
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
      if (values.length > 0) jobs.push(this.#toZabbix(values));
    }
    await Promise.all(jobs);
    for (const p of POOLS) {
      this.totals[p].attempted += sums[p].attempted;
      this.totals[p].declined += sums[p].declined;
    }
    this.publishMs.push(performance.now() - t0);
    this.lateMs.push(Date.now() - (periodStart + this.#periodMs));
  }

  /**
   * Queues values for Zabbix: one zabbix_sender run at a time, the values queued meanwhile in the
   * next run. Resolves when the run carrying these values has been accepted by the trapper.
   */
  #toZabbix(values: readonly SendValue[]): Promise<void> {
    if (this.#zabbixNext === null) {
      const next: { values: SendValue[]; sent: Promise<void> } = { values: [], sent: Promise.resolve() };
      next.sent = this.#zabbixBusy.then(async () => {
        // From here on, newer values start the batch after this one.
        this.#zabbixNext = null;
        await sendMany(next.values, { wait: false });
      });
      this.#zabbixBusy = next.sent.catch(() => undefined);
      this.#zabbixNext = next;
    }
    this.#zabbixNext.values.push(...values);
    return this.#zabbixNext.sent;
  }
}

/**
 * Rollout timings for these tests: windows of 3 s ending 6 s ago. The README's rule for business
 * metrics: --metrics-delay above how late a pushed value is readable. Here that is the period (1 s),
 * at most two zabbix_sender runs (one under way, then the one carrying the value) and Zabbix's history
 * sync; each of those took seconds on a loaded 2-core machine (stress-ng on one core, 3 workers).
 * The bakes are the least the plan allows with that delay (bake ≥ promotion window + delay, return
 * bake ≥ rollback window + delay), plus a second; an inconclusive step is extended up to 40 s, so a
 * burst of lateness is waited out rather than judged.
 */
export const BUSINESS_TIMINGS = {
  steps: "25,100",
  metricsDelay: "6s",
  rollbackWindow: "3s",
  promotionWindow: "3s",
  bake: "10s",
  maxBake: "40s",
  returnSteps: "100",
  returnBake: "10s",
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
