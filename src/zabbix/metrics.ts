/**
 * Reads business metrics from Zabbix per version: the hosts of the gray Auto Scaling group against
 * the hosts of the stable one, over the same time windows, so that a gate can compare them.
 *
 * Selection. Each version is a `HostSelector`: host groups and/or host tags (e.g. the tag `asg`
 * holding the ASG's name, which is how instances are usually registered). Hosts are resolved again
 * on every read (instances come and go during a rollout). A host matched by both versions is an
 * error: the comparison would count it twice.
 *
 * Values. Items are selected on those hosts by exact key; they must be numeric (float or unsigned).
 * A metric is either one key with an aggregation over the samples of all the version's items in the
 * window, or a rate: the sum of a numerator key over the sum of a denominator key (declined ÷
 * attempted), the shape the core's relative gate tests with `conditionalExcessPValue`.
 * - sum, avg, min, max, count: over every sample of every item of the version in the window (avg is
 *   the mean of the samples; sum suits counters pushed as per-interval increments).
 * - last: each item's latest sample in the window, averaged over the version's items (so a gray
 *   fleet smaller than stable's stays comparable); `samples` is the number of items that had one.
 * A version with no sample has `value: null` (never 0): absent data must make a gate inconclusive.
 *
 * Windows are [start, end) in epoch ms; a sample belongs to a window by its Zabbix clock (seconds
 * plus nanoseconds). All windows of one read are answered from the same API calls.
 *
 * History or trends. Zabbix keeps every value (history, `history.get`) for the item's history
 * period, and one row per item per hour (trends: count, min, avg, max; `trend.get`) for longer.
 * - A window no longer than `historyMaxMs` (default 6 h) is read from history only: exact.
 * - A longer window reads its whole hours from trends and its ragged edges from history: the part
 *   before the first whole hour, and the part after the last hour that is surely in the trends
 *   table. Zabbix writes an hour's trend when the item's first value of a later hour is synced, or
 *   at hh:55 of the next hour at the latest, so hours ending less than `trendLagMs` (default 2 h)
 *   before now are read from history. A trend row gives count, min, max exactly and sum = avg × count:
 *   exact for float items (Zabbix stores the average as a double), but Zabbix stores the average of
 *   an unsigned item's hour rounded down to an integer, so a sum or avg over trends of unsigned
 *   items can be low by up to (count − 1) per hour: those results carry `exact: false`.
 * - `last` always reads history (trends have no last value).
 * History must still hold the edges of a long window (the item's history period).
 *
 * Failures. Zabbix down, slow (past `timeoutMs` for the whole read) or failing is a MEASUREMENT
 * error: a retryable ProviderError with the reason, never a value. A wrong token is a
 * CredentialsError; a selector naming a host group that does not exist, overlapping versions or a
 * non-numeric item is a PreflightError (the configuration, not the moment, is wrong).
 */
import {
  AbortedError,
  InvalidInputError,
  isGrayDeployError,
  PreflightError,
  ProviderError,
} from "../contract/errors.js";
import type { Pool, TimeWindow } from "../core/types.js";
import { systemClock } from "../engine/clock.js";
import { checkKey, checkWindows, describe } from "./checks.js";
import type { HistoryRecord, ZabbixClient, ZabbixItem } from "./client.js";
import {
  AGGREGATIONS,
  type MetricWindow,
  type RateMetric,
  type ValueMetric,
  type VersionRate,
  type VersionSelectors,
  type VersionValue,
  type ZabbixMetric,
} from "./model.js";
import { ValueType } from "./value-type.js";
import {
  accumulate,
  aggregate,
  HOUR,
  type ItemData,
  mergeRanges,
  POOLS,
  planWindow,
  type ReadSegment,
  type Resolved,
  sourceOf,
} from "./windows.js";

export * from "./model.js";
export { planWindow, type ReadSegment } from "./windows.js";

export interface ZabbixMetricReaderOptions {
  readonly client: ZabbixClient;
  readonly selectors: VersionSelectors;
  /** Windows up to this length are read from history only. Default 6 h. */
  readonly historyMaxMs?: number;
  /** Hours ending less than this before now are read from history, not trends. Default 2 h. */
  readonly trendLagMs?: number;
  /** Deadline for one whole read (several API calls). Default 30 s. */
  readonly timeoutMs?: number;
  /** history.get page size. Default 50 000. */
  readonly pageSize?: number;
  /** Clock, for the trend lag. Default: the system clock. */
  readonly now?: () => number;
}

export class ZabbixMetricReader {
  readonly #client: ZabbixClient;
  readonly #selectors: VersionSelectors;
  readonly #historyMaxMs: number;
  readonly #trendLagMs: number;
  readonly #timeoutMs: number;
  readonly #pageSize: number;
  readonly #now: () => number;

  constructor(options: ZabbixMetricReaderOptions) {
    const issues: { field: string; message: string }[] = [];
    for (const pool of POOLS) {
      const s = options.selectors[pool];
      const groups = s?.groups ?? [];
      const tags = s?.tags ?? [];
      if (groups.length === 0 && tags.length === 0) {
        issues.push({
          field: `zabbix.${pool}`,
          message: "needs host groups or host tags (it would select every host)",
        });
      }
      if (groups.some((g) => typeof g !== "string" || g === "")) {
        issues.push({ field: `zabbix.${pool}.groups`, message: "group names must be non-empty" });
      }
      if (tags.some((t) => typeof t?.tag !== "string" || t.tag === "" || typeof t.value !== "string")) {
        issues.push({
          field: `zabbix.${pool}.tags`,
          message: "each tag needs a non-empty `tag` and a string `value`",
        });
      }
    }
    const positive = (name: string, v: number | undefined, dflt: number): number => {
      const x = v ?? dflt;
      if (!Number.isFinite(x) || x <= 0) issues.push({ field: name, message: "must be a positive number" });
      return x;
    };
    this.#historyMaxMs = positive("historyMaxMs", options.historyMaxMs, 6 * HOUR);
    this.#trendLagMs = positive("trendLagMs", options.trendLagMs, 2 * HOUR);
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs, 30_000);
    this.#pageSize = positive("pageSize", options.pageSize, 50_000);
    if (issues.length > 0) throw new InvalidInputError(issues);
    this.#client = options.client;
    this.#selectors = options.selectors;
    this.#now = options.now ?? systemClock().now;
  }

  /** Reads either kind of metric. */
  read(
    metric: RateMetric,
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
  ): Promise<MetricWindow<VersionRate>[]>;
  read(metric: ValueMetric, windows: readonly TimeWindow[], signal?: AbortSignal): Promise<MetricWindow[]>;
  read(metric: ZabbixMetric, windows: readonly TimeWindow[], signal?: AbortSignal): Promise<MetricWindow[]>;
  read(metric: ZabbixMetric, windows: readonly TimeWindow[], signal?: AbortSignal): Promise<MetricWindow[]> {
    return metric.kind === "rate"
      ? this.readRate(metric, windows, signal)
      : this.readValue(metric, windows, signal);
  }

  /** One key, aggregated per version over each window. */
  async readValue(
    metric: ValueMetric,
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
  ): Promise<MetricWindow[]> {
    checkKey("key", metric.key);
    if (!AGGREGATIONS.includes(metric.aggregation)) {
      throw new InvalidInputError([
        {
          field: "aggregation",
          message: `must be one of ${AGGREGATIONS.join(", ")}; got ${String(metric.aggregation)}`,
        },
      ]);
    }
    checkWindows(windows);
    const historyOnly = metric.aggregation === "last";
    return this.#withDeadline(signal, async (sig) => {
      const now = this.#now();
      const plans = windows.map((w) => planWindow(w, this.#plan(now, historyOnly)));
      const resolved = await this.#load([metric.key], plans, sig);
      return windows.map((w, i) => {
        const plan = plans[i]!;
        let exact = true;
        const per = {} as Record<Pool, VersionValue>;
        for (const pool of POOLS) {
          const items = resolved.items[pool].get(metric.key) ?? [];
          const acc = accumulate(items, plan);
          if (!acc.exact && (metric.aggregation === "sum" || metric.aggregation === "avg")) exact = false;
          per[pool] = {
            ...aggregate(acc, metric.aggregation),
            hosts: resolved.hosts[pool].length,
            items: items.length,
          };
        }
        return {
          start: w.start,
          end: w.end,
          stable: per.stable,
          gray: per.gray,
          source: sourceOf(plan),
          exact,
        };
      });
    });
  }

  /** Sum of a numerator key over the sum of a denominator key, per version and window. */
  async readRate(
    metric: RateMetric,
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
  ): Promise<MetricWindow<VersionRate>[]> {
    checkKey("numeratorKey", metric.numeratorKey);
    checkKey("denominatorKey", metric.denominatorKey);
    checkWindows(windows);
    return this.#withDeadline(signal, async (sig) => {
      const now = this.#now();
      const plans = windows.map((w) => planWindow(w, this.#plan(now, false)));
      const resolved = await this.#load([metric.numeratorKey, metric.denominatorKey], plans, sig);
      return windows.map((w, i) => {
        const plan = plans[i]!;
        let exact = true;
        const per = {} as Record<Pool, VersionRate>;
        for (const pool of POOLS) {
          const numItems = resolved.items[pool].get(metric.numeratorKey) ?? [];
          const denItems = resolved.items[pool].get(metric.denominatorKey) ?? [];
          const num = accumulate(numItems, plan);
          const den = accumulate(denItems, plan);
          if (!num.exact || !den.exact) exact = false;
          // A counter pushed only when it moves (declines) has no sample in a quiet window: with its
          // items present and the denominator measured, that is 0, not "unknown".
          const measurable = den.count > 0 && den.sum > 0 && numItems.length > 0;
          per[pool] = {
            value: measurable ? num.sum / den.sum : null,
            samples: den.count,
            hosts: resolved.hosts[pool].length,
            items: denItems.length,
            numerator: num.sum,
            denominator: den.sum,
            numeratorSamples: num.count,
            numeratorItems: numItems.length,
          };
        }
        return {
          start: w.start,
          end: w.end,
          stable: per.stable,
          gray: per.gray,
          source: sourceOf(plan),
          exact,
        };
      });
    });
  }

  /**
   * Checks, before a rollout changes anything, that the metric can be measured: the API answers
   * with this token, the selectors' groups exist and do not overlap, stable has hosts, and each of
   * the metric's keys is a numeric item on stable's hosts. Gray may have no host yet (its instances
   * are launched by the rollout). Resolves with facts for `plan` and reports; throws
   * PreflightError, CredentialsError or a retryable ProviderError.
   */
  async preflight(metric: ZabbixMetric, signal?: AbortSignal): Promise<string[]> {
    const keys = metric.kind === "rate" ? [metric.numeratorKey, metric.denominatorKey] : [metric.key];
    for (const k of keys) checkKey("key", k);
    return this.#withDeadline(signal, async (sig) => {
      const version = await this.#client.version(sig);
      const hosts = await this.#resolveHosts(sig);
      if (hosts.stable.length === 0) {
        throw new PreflightError(
          `no Zabbix host matches the stable selector (${describe(this.#selectors.stable)})`,
          {
            fix: "check the host group names or tags that select stable's hosts in Zabbix",
          },
        );
      }
      const items = await this.#numericItems([...hosts.stable, ...hosts.gray], keys, sig);
      const stableIds = new Set(hosts.stable);
      const facts = [`Zabbix API ${version} at ${this.#client.url}`];
      for (const pool of POOLS) {
        const n = hosts[pool].length;
        facts.push(
          `${pool}: ${n} Zabbix host(s) (${describe(this.#selectors[pool])})${n === 0 ? ", none yet" : ""}`,
        );
      }
      for (const k of keys) {
        const onStable = items.filter((i) => i.key_ === k && stableIds.has(i.hostid)).length;
        if (onStable === 0) {
          throw new PreflightError(`stable's Zabbix hosts have no item with key ${k}`, {
            field: "key",
            fix: "check the item key (exact, with parameters) and that stable's hosts have that item",
          });
        }
        facts.push(`item ${k}: on ${onStable} of ${hosts.stable.length} stable host(s)`);
      }
      return facts;
    });
  }

  #plan(now: number, historyOnly: boolean) {
    return { historyMaxMs: this.#historyMaxMs, trendLagMs: this.#trendLagMs, now, historyOnly };
  }

  /** Runs `fn` under the read's deadline; the deadline passing is a retryable measurement error. */
  async #withDeadline<T>(
    signal: AbortSignal | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    try {
      return await fn(combined);
    } catch (e) {
      if (e instanceof AbortedError && deadline.aborted && !signal?.aborted) {
        throw new ProviderError(
          `Zabbix metric read did not finish within ${this.#timeoutMs} ms (the API is slow)`,
          {
            retryable: true,
            cause: e,
            fix: "check the Zabbix frontend and its database; a shorter window or fewer hosts also help",
          },
        );
      }
      if (isGrayDeployError(e)) throw e;
      throw new ProviderError(`Zabbix metric read failed: ${e instanceof Error ? e.message : String(e)}`, {
        retryable: false,
        cause: e,
      });
    }
  }

  /** Hosts, items, then the history and trends every plan needs, fetched once per range. */
  async #load(
    keys: readonly string[],
    plans: readonly ReadSegment[][],
    signal: AbortSignal,
  ): Promise<Resolved> {
    const hosts = await this.#resolveHosts(signal);
    const allHostIds = [...hosts.stable, ...hosts.gray];
    const pool = new Map<string, Pool>();
    for (const p of POOLS) for (const id of hosts[p]) pool.set(id, p);

    const data = new Map<string, ItemData>();
    for (const item of await this.#numericItems(allHostIds, keys, signal)) {
      data.set(item.itemid, {
        item,
        valueType: Number(item.value_type) as ValueType,
        samples: [],
        trends: [],
      });
    }

    const historyRanges = mergeRanges(plans.flat().filter((s) => s.source === "history"));
    const trendRanges = mergeRanges(plans.flat().filter((s) => s.source === "trends"));
    const byType = new Map<ValueType, string[]>();
    for (const d of data.values()) {
      const list = byType.get(d.valueType) ?? [];
      list.push(d.item.itemid);
      byType.set(d.valueType, list);
    }
    const jobs: Promise<void>[] = [];
    for (const [valueType, itemids] of byType) {
      for (const r of historyRanges) jobs.push(this.#fetchHistory(itemids, valueType, r, data, signal));
    }
    if (data.size > 0)
      for (const r of trendRanges) jobs.push(this.#fetchTrends([...data.keys()], r, data, signal));
    await Promise.all(jobs);

    const byPool: Record<Pool, Map<string, ItemData[]>> = { stable: new Map(), gray: new Map() };
    for (const d of data.values()) {
      const p = pool.get(d.item.hostid);
      if (p === undefined) continue;
      const list = byPool[p].get(d.item.key_) ?? [];
      list.push(d);
      byPool[p].set(d.item.key_, list);
    }
    return { hosts, items: byPool };
  }

  /** Items with the keys on the hosts; a non-numeric one is a PreflightError. */
  async #numericItems(
    hostids: readonly string[],
    keys: readonly string[],
    signal: AbortSignal,
  ): Promise<ZabbixItem[]> {
    const items = await this.#client.items(hostids, keys, signal);
    for (const item of items) {
      const vt = Number(item.value_type);
      if (vt !== ValueType.Float && vt !== ValueType.Unsigned) {
        throw new PreflightError(
          `Zabbix item ${item.key_} (itemid ${item.itemid}, host id ${item.hostid}) is not numeric (value type ${item.value_type}): only float and unsigned items can be aggregated`,
          { field: "key" },
        );
      }
    }
    return items;
  }

  async #resolveHosts(signal: AbortSignal): Promise<Record<Pool, readonly string[]>> {
    const names = [...new Set(POOLS.flatMap((p) => this.#selectors[p].groups ?? []))];
    const groupIds = new Map<string, string>();
    if (names.length > 0) {
      for (const g of await this.#client.hostGroups(names, signal)) groupIds.set(g.name, g.groupid);
      const missing = names.filter((n) => !groupIds.has(n));
      if (missing.length > 0) {
        throw new PreflightError(`Zabbix host group(s) not found: ${missing.join(", ")}`, {
          field: "groups",
          fix: "name existing host groups (exact names) in the Zabbix selectors",
        });
      }
    }
    const [stable, gray] = await Promise.all(
      POOLS.map(async (p) => {
        const s = this.#selectors[p];
        const groupids = (s.groups ?? []).map((g) => groupIds.get(g)!);
        const found = await this.#client.hosts(
          { ...(groupids.length ? { groupids } : {}), ...(s.tags?.length ? { tags: s.tags } : {}) },
          signal,
        );
        return found;
      }),
    );
    const both = stable!.filter((h) => gray!.some((g) => g.hostid === h.hostid));
    if (both.length > 0) {
      throw new PreflightError(
        `Zabbix host(s) ${both.map((h) => h.host).join(", ")} match both the stable and the gray selector: they would be counted for both versions`,
        { fix: "make the selectors disjoint (e.g. tag asg = each version's ASG name)" },
      );
    }
    return { stable: stable!.map((h) => h.hostid), gray: gray!.map((h) => h.hostid) };
  }

  async #fetchHistory(
    itemids: string[],
    valueType: ValueType,
    range: { start: number; end: number },
    data: Map<string, ItemData>,
    signal: AbortSignal,
  ): Promise<void> {
    // Whole seconds covering [start, end); samples are then filtered to the millisecond.
    const timeTill = Math.ceil(range.end / 1000);
    let timeFrom = Math.floor(range.start / 1000);
    const seen = new Set<string>();
    const add = (rows: readonly HistoryRecord[]): void => {
      for (const r of rows) {
        const id = `${r.itemid}:${r.clock}:${r.ns}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const ns = Number(r.ns);
        const t = Number(r.clock) * 1000 + Math.floor(ns / 1e6);
        if (t < range.start || t >= range.end) continue;
        const v = Number(r.value);
        if (!Number.isFinite(v)) continue;
        data.get(r.itemid)?.samples.push({ t, ns, v });
      }
    };
    for (;;) {
      const page = await this.#client.history(
        { itemids, valueType, timeFrom, timeTill, limit: this.#pageSize },
        signal,
      );
      add(page);
      if (page.length < this.#pageSize) return;
      const lastClock = Number(page[page.length - 1]!.clock);
      if (lastClock > timeFrom) {
        // The next page starts at the last second seen: its other values may not all have come.
        timeFrom = lastClock;
        continue;
      }
      // A whole page within one second: read that second without a limit, then go past it.
      add(await this.#client.history({ itemids, valueType, timeFrom, timeTill: timeFrom }, signal));
      if (timeFrom >= timeTill) return;
      timeFrom += 1;
    }
  }

  async #fetchTrends(
    itemids: string[],
    range: { start: number; end: number },
    data: Map<string, ItemData>,
    signal: AbortSignal,
  ): Promise<void> {
    const rows = await this.#client.trends(
      { itemids, timeFrom: range.start / 1000, timeTill: range.end / 1000 - 1 },
      signal,
    );
    for (const r of rows) {
      const hour = Number(r.clock) * 1000;
      if (hour < range.start || hour >= range.end) continue;
      data.get(r.itemid)?.trends.push({
        hour,
        num: Number(r.num),
        min: Number(r.value_min),
        avg: Number(r.value_avg),
        max: Number(r.value_max),
      });
    }
  }
}
