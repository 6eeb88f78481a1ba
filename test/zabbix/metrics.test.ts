/**
 * ZabbixMetricReader against the real Zabbix 6.0: values pushed with zabbix_sender at known
 * timestamps into this file's own hosts (a stable ASG of two instances, a gray ASG of one), read
 * back per version over windows, with exact expected sums, averages and rates.
 */
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PreflightError, ProviderError } from "../../src/contract/errors.js";
import { conditionalExcessPValue } from "../../src/core/stats.js";
import { ValueType, type ZabbixClient } from "../../src/zabbix/client.js";
import {
  asgTagSelectors,
  type MetricWindow,
  type VersionSelectors,
  ZabbixMetricReader,
  type ZabbixMetricReaderOptions,
} from "../../src/zabbix/metrics.js";
import {
  createFleet,
  DEFAULT_FLEET_ITEMS,
  type Fleet,
  requireZabbix,
  type SendValue,
  sendMany,
  zabbixClient,
} from "../support/zabbix.js";

const S = 1_000;
const MIN = 60_000;
const HOUR = 3_600_000;
/** The core's defaults for its relative gate (options relativeErrorMargin, relativeSignificance). */
const MARGIN = 0.005;
const SIGNIFICANCE = 0.001;

let client: ZabbixClient;
let fleet: Fleet;
let byTag: VersionSelectors;
let base: number;
const visible: number[] = [];

function reader(opts: Partial<ZabbixMetricReaderOptions> = {}): ZabbixMetricReader {
  return new ZabbixMetricReader({ client, selectors: byTag, ...opts });
}

beforeAll(async () => {
  await requireZabbix();
  client = zabbixClient();
  const t0 = performance.now();
  fleet = await createFleet({
    stable: 2,
    gray: 1,
    label: "metrics",
    items: [...DEFAULT_FLEET_ITEMS, { key: "payments.note", valueType: ValueType.Text }],
  });
  console.log(
    `[zabbix] 3 hosts with 6 trapper items each created and accepted by the trapper in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  byTag = asgTagSelectors(fleet.asgs);
  // Whole minutes, 15 minutes ago: well inside history, clear of "now".
  base = Math.floor(Date.now() / MIN) * MIN - 15 * MIN;
  const [s1, s2] = fleet.stable as [string, string];
  const g1 = fleet.gray[0]!;
  const at = (host: string, key: string, offsetMs: number, value: number | string): SendValue => ({
    host,
    key,
    value,
    clock: base + offsetMs,
  });
  const r = await sendMany([
    // payments.attempted / payments.declined: gray declines ~9%, stable <1%.
    at(s1, "payments.attempted", 5 * S, 100),
    at(s1, "payments.attempted", 35 * S, 120),
    at(s1, "payments.attempted", 65 * S, 80),
    at(s2, "payments.attempted", 10 * S, 90),
    at(s2, "payments.attempted", 40 * S, 110),
    at(g1, "payments.attempted", 5 * S, 50),
    at(g1, "payments.attempted", 35 * S, 50),
    at(g1, "payments.attempted", 65 * S, 60),
    at(s1, "payments.declined", 5 * S, 1),
    at(s1, "payments.declined", 65 * S, 2),
    at(s2, "payments.declined", 40 * S, 1),
    at(g1, "payments.declined", 5 * S, 5),
    at(g1, "payments.declined", 35 * S, 6),
    at(g1, "payments.declined", 65 * S, 4),
    // http.requests / http.errors: both versions healthy.
    at(s1, "http.requests", 5 * S, 1000),
    at(s2, "http.requests", 10 * S, 1000),
    at(g1, "http.requests", 5 * S, 400),
    at(s1, "http.errors", 5 * S, 2),
    at(s2, "http.errors", 10 * S, 1),
    at(g1, "http.errors", 5 * S, 1),
    // A float gauge.
    at(s1, "payments.latency.ms", 5 * S, 100.5),
    at(s1, "payments.latency.ms", 35 * S, 120.25),
    at(s2, "payments.latency.ms", 10 * S, 80),
    at(g1, "payments.latency.ms", 5 * S, 200),
    at(g1, "payments.latency.ms", 65 * S, 150.75),
    at(g1, "payments.note", 5 * S, "not a number"),
  ]);
  visible.push(r.visibleAfterMs);
});

afterAll(async () => {
  await fleet?.dispose();
  await client?.close();
  if (visible.length) {
    console.log(
      `[zabbix] zabbix_sender → readable through the API: ${visible.map((v) => `${v.toFixed(0)} ms`).join(", ")}`,
    );
  }
});

const W1 = () => ({ start: base, end: base + 60 * S });
const W2 = () => ({ start: base, end: base + 120 * S });
/** Starts exactly on samples at +5 s and ends exactly on samples at +35 s: [start, end). */
const W3 = () => ({ start: base + 5 * S, end: base + 35 * S });
const EMPTY = () => ({ start: base + 100 * S, end: base + 200 * S });

describe("per-version aggregation over windows", () => {
  it("sums a counter per version over several windows in one read", async () => {
    const t0 = performance.now();
    const [w1, w2, w3, empty] = await reader().readValue(
      { kind: "value", key: "payments.attempted", aggregation: "sum" },
      [W1(), W2(), W3(), EMPTY()],
    );
    console.log(`[zabbix] 4 windows × 2 versions read in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(w1).toMatchObject({
      ...W1(),
      source: "history",
      exact: true,
      stable: { value: 420, samples: 4, hosts: 2, items: 2 },
      gray: { value: 100, samples: 2, hosts: 1, items: 1 },
    });
    expect(w2).toMatchObject({ stable: { value: 500, samples: 5 }, gray: { value: 160, samples: 3 } });
    // [+5 s, +35 s): the samples at +5 s count, those at +35 s do not.
    expect(w3).toMatchObject({ stable: { value: 190, samples: 2 }, gray: { value: 50, samples: 1 } });
    // No sample: null, never 0.
    expect(empty).toMatchObject({
      stable: { value: null, samples: 0, hosts: 2 },
      gray: { value: null, samples: 0, hosts: 1 },
    });
  });

  it("avg, min, max, count and last", async () => {
    const r = reader();
    const read = async (aggregation: "avg" | "min" | "max" | "count" | "last", key = "payments.attempted") =>
      (await r.readValue({ kind: "value", key, aggregation }, [W2()]))[0]!;
    expect(await read("avg")).toMatchObject({ stable: { value: 100, samples: 5 }, gray: { value: 160 / 3 } });
    expect(await read("min")).toMatchObject({ stable: { value: 80 }, gray: { value: 50 } });
    expect(await read("max")).toMatchObject({ stable: { value: 120 }, gray: { value: 60 } });
    expect(await read("count")).toMatchObject({ stable: { value: 5, samples: 5 }, gray: { value: 3 } });
    // Each host's latest sample (stable-1: 80 at +65 s, stable-2: 110 at +40 s), averaged over hosts.
    expect(await read("last")).toMatchObject({
      stable: { value: 95, samples: 2 },
      gray: { value: 60, samples: 1 },
    });
    const lat = await read("avg", "payments.latency.ms");
    expect(lat.stable.value).toBeCloseTo((100.5 + 120.25 + 80) / 3, 12);
    expect(lat.gray.value).toBeCloseTo((200 + 150.75) / 2, 12);
    expect(lat.stable.samples).toBe(3);
  });

  it("selects hosts by group, by tag, or by both, with the same result", async () => {
    const metric = { kind: "value", key: "payments.attempted", aggregation: "sum" } as const;
    const [tagged] = await reader().readValue(metric, [W2()]);
    const [grouped] = await reader({
      selectors: { stable: { groups: [fleet.groups.stable] }, gray: { groups: [fleet.groups.gray] } },
    }).readValue(metric, [W2()]);
    // One group holding both versions, split by the `role` tag.
    const [mixed] = await reader({
      selectors: {
        stable: { groups: [fleet.group], tags: [{ tag: "role", value: "stable" }] },
        gray: { groups: [fleet.group], tags: [{ tag: "role", value: "gray" }] },
      },
    }).readValue(metric, [W2()]);
    for (const r of [grouped, mixed]) {
      expect(r).toEqual(tagged);
    }
    expect(tagged).toMatchObject({ stable: { value: 500, hosts: 2 }, gray: { value: 160, hosts: 1 } });
  });

  it("pages history.get and gets the same values (page size 2, several values per second)", async () => {
    const metric = { kind: "value", key: "payments.attempted", aggregation: "sum" } as const;
    const [paged] = await reader({ pageSize: 2 }).readValue(metric, [W2()]);
    expect(paged).toMatchObject({ stable: { value: 500, samples: 5 }, gray: { value: 160, samples: 3 } });
  });

  it("a version whose hosts are not registered (yet) has no value, hosts: 0", async () => {
    const [w] = await reader({
      selectors: {
        stable: byTag.stable,
        gray: { tags: [{ tag: "asg", value: `${fleet.id}-not-launched` }] },
      },
    }).readValue({ kind: "value", key: "payments.attempted", aggregation: "sum" }, [W2()]);
    expect(w).toMatchObject({
      stable: { value: 500 },
      gray: { value: null, samples: 0, hosts: 0, items: 0 },
    });
  });
});

describe("rates from two counters", () => {
  it("sums numerator and denominator per version: the inputs of the core's relative test", async () => {
    const [w2] = await reader().readRate(
      { kind: "rate", numeratorKey: "payments.declined", denominatorKey: "payments.attempted" },
      [W2()],
    );
    expect(w2).toMatchObject({
      exact: true,
      stable: { numerator: 4, denominator: 500, value: 4 / 500, samples: 5, numeratorSamples: 3, items: 2 },
      gray: { numerator: 15, denominator: 160, value: 15 / 160, samples: 3, numeratorSamples: 3, items: 1 },
    });
    // Declines only in gray: significant at the core's defaults (margin 0.5%, significance 0.1%).
    expect(pValue(w2!, MARGIN)).toBeLessThan(SIGNIFICANCE);

    const [healthy] = await reader().readRate(
      { kind: "rate", numeratorKey: "http.errors", denominatorKey: "http.requests" },
      [W2()],
    );
    expect(healthy).toMatchObject({
      stable: { numerator: 3, denominator: 2000 },
      gray: { numerator: 1, denominator: 400 },
    });
    expect(pValue(healthy!, MARGIN)).toBeGreaterThan(SIGNIFICANCE);
  });

  it("a quiet numerator is 0 when the denominator was measured; no denominator is null", async () => {
    // [+10 s, +35 s): stable attempted 90 (stable-2 at +10 s), no declines; gray has no sample.
    const [w] = await reader().readRate(
      { kind: "rate", numeratorKey: "payments.declined", denominatorKey: "payments.attempted" },
      [{ start: base + 10 * S, end: base + 35 * S }],
    );
    expect(w).toMatchObject({
      stable: { value: 0, numerator: 0, denominator: 90, numeratorSamples: 0, numeratorItems: 2 },
      gray: { value: null, numerator: 0, denominator: 0, samples: 0 },
    });
  });
});

describe("configuration errors are preflight errors", () => {
  it("a host matched by both versions", async () => {
    const e = await reader({ selectors: { stable: { groups: [fleet.group] }, gray: byTag.gray } })
      .readValue({ kind: "value", key: "payments.attempted", aggregation: "sum" }, [W1()])
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as Error).message).toContain(fleet.gray[0]!);
  });

  it("a host group that does not exist", async () => {
    const e = await reader({ selectors: { stable: { groups: [`${fleet.id}/nope`] }, gray: byTag.gray } })
      .readValue({ kind: "value", key: "payments.attempted", aggregation: "sum" }, [W1()])
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as Error).message).toContain(`${fleet.id}/nope`);
  });

  it("a text item", async () => {
    const e = await reader()
      .readValue({ kind: "value", key: "payments.note", aggregation: "count" }, [W1()])
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as Error).message).toMatch(/payments\.note.*not numeric/);
  });

  it("selectors that would match every host, bad windows", async () => {
    expect(() => new ZabbixMetricReader({ client, selectors: { stable: {}, gray: byTag.gray } })).toThrow(
      /zabbix\.stable/,
    );
    await expect(
      reader().readValue({ kind: "value", key: "k", aggregation: "sum" }, [{ start: 10, end: 10 }]),
    ).rejects.toThrow(/windows\[0\]/);
  });
});

describe("preflight", () => {
  it("states what it found: version, hosts per version, items per key", async () => {
    const facts = await reader().preflight({
      kind: "rate",
      numeratorKey: "payments.declined",
      denominatorKey: "payments.attempted",
    });
    expect(facts[0]).toMatch(/^Zabbix API 6\.0\.\d+ at http/);
    expect(facts).toEqual(
      expect.arrayContaining([
        `stable: 2 Zabbix host(s) (tag asg=${fleet.asgs.stable})`,
        `gray: 1 Zabbix host(s) (tag asg=${fleet.asgs.gray})`,
        "item payments.declined: on 2 of 2 stable host(s)",
        "item payments.attempted: on 2 of 2 stable host(s)",
      ]),
    );
  });

  it("gray without hosts yet is fine; stable without hosts or without the item is not", async () => {
    const grayLater = reader({
      selectors: { stable: byTag.stable, gray: { tags: [{ tag: "asg", value: `${fleet.id}-later` }] } },
    });
    expect(
      await grayLater.preflight({ kind: "value", key: "payments.attempted", aggregation: "sum" }),
    ).toContain(`gray: 0 Zabbix host(s) (tag asg=${fleet.id}-later), none yet`);
    const noStable = reader({
      selectors: { stable: { tags: [{ tag: "asg", value: `${fleet.id}-typo` }] }, gray: byTag.gray },
    });
    await expect(
      noStable.preflight({ kind: "value", key: "payments.attempted", aggregation: "sum" }),
    ).rejects.toThrow(PreflightError);
    const e = await reader()
      .preflight({ kind: "rate", numeratorKey: "payments.refused", denominatorKey: "payments.attempted" })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as Error).message).toContain("payments.refused");
  });
});

describe("Zabbix down or slow is a retryable measurement error", () => {
  let hung: Server;
  let hungPort = 0;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    hung = createTcpServer((s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    hungPort = await new Promise<number>((resolve) =>
      hung.listen(0, "127.0.0.1", () => resolve((hung.address() as { port: number }).port)),
    );
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => hung?.close(r));
  });

  it("an API that does not answer: ProviderError at the read's deadline", async () => {
    const { ZabbixClient } = await import("../../src/zabbix/client.js");
    const slow = new ZabbixClient({
      url: `http://127.0.0.1:${hungPort}/api_jsonrpc.php`,
      token: "x".repeat(64),
      timeoutMs: 10_000,
    });
    const t0 = performance.now();
    const e = await new ZabbixMetricReader({ client: slow, selectors: byTag, timeoutMs: 400 })
      .readRate({ kind: "rate", numeratorKey: "payments.declined", denominatorKey: "payments.attempted" }, [
        W1(),
      ])
      .catch((x: unknown) => x);
    const ms = performance.now() - t0;
    await slow.close();
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).retryable).toBe(true);
    expect((e as Error).message).toContain("did not finish within 400 ms");
    // Cut at the read's deadline, not the client's 10 s.
    expect(ms).toBeLessThan(10_000);
  });

  it("an API that is down: ProviderError naming the reason", async () => {
    const { ZabbixClient } = await import("../../src/zabbix/client.js");
    const port = await new Promise<number>((resolve) => {
      const s = createTcpServer();
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const down = new ZabbixClient({ url: `http://127.0.0.1:${port}/api_jsonrpc.php`, token: "x".repeat(64) });
    const e = await new ZabbixMetricReader({ client: down, selectors: byTag })
      .readValue({ kind: "value", key: "payments.attempted", aggregation: "sum" }, [W1()])
      .catch((x: unknown) => x);
    await down.close();
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).retryable).toBe(true);
    expect((e as Error).message).toContain("ECONNREFUSED");
  });
});

describe("long windows: whole hours from trends, edges from history", () => {
  let trendFleet: Fleet;
  let h0: number;
  beforeAll(async () => {
    trendFleet = await createFleet({ stable: 1, gray: 1, label: "trends" });
    // Four hours a day and more ago: h0 … h3.
    h0 = Math.floor(Date.now() / HOUR) * HOUR - 30 * HOUR;
    const s = trendFleet.stable[0]!;
    const g = trendFleet.gray[0]!;
    const v = (host: string, key: string, at: number, value: number): SendValue => ({
      host,
      key,
      value,
      clock: at,
    });
    const r = await sendMany([
      v(s, "payments.attempted", h0 + 10 * MIN, 1000), // before the window
      v(s, "payments.attempted", h0 + 40 * MIN, 5), // head edge (history)
      v(s, "payments.attempted", h0 + HOUR + 1 * MIN, 10), // hour h1 (trends): 10 + 21, stored avg ⌊15.5⌋
      v(s, "payments.attempted", h0 + HOUR + 2 * MIN, 21),
      v(s, "payments.attempted", h0 + 2 * HOUR + 5 * MIN, 7), // hour h2 (trends)
      v(s, "payments.attempted", h0 + 3 * HOUR + 10 * MIN, 3), // tail edge (history); closes h2's trend
      v(s, "payments.attempted", h0 + 3 * HOUR + 40 * MIN, 999), // after the window
      v(s, "payments.latency.ms", h0 + HOUR + 1 * MIN, 1.5),
      v(s, "payments.latency.ms", h0 + HOUR + 2 * MIN, 2.25),
      v(s, "payments.latency.ms", h0 + 2 * HOUR + 5 * MIN, 4),
      v(s, "payments.latency.ms", h0 + 3 * HOUR + 10 * MIN, 8),
      v(g, "payments.attempted", h0 + HOUR + 1 * MIN, 4),
      v(g, "payments.attempted", h0 + 2 * HOUR + 1 * MIN, 6),
      v(g, "payments.attempted", h0 + 3 * HOUR + 45 * MIN, 100), // after the window; closes h2's trend
    ]);
    visible.push(r.visibleAfterMs);
    // The trends of h1 and h2 are written by the history syncer once later values arrived.
    const hosts = await client.hosts({ hosts: [s, g] });
    const items = await client.items(
      hosts.map((h) => h.hostid),
      ["payments.attempted", "payments.latency.ms"],
    );
    const deadline = performance.now() + 15_000;
    for (;;) {
      const rows = await client.trends({
        itemids: items.map((i) => i.itemid),
        timeFrom: (h0 + HOUR) / 1000,
        timeTill: (h0 + 2 * HOUR) / 1000,
      });
      if (rows.length >= 6) break; // 3 items × 2 hours
      if (performance.now() > deadline) throw new Error(`trends not written: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    await trendFleet?.dispose();
  });

  const window = () => ({ start: h0 + 30 * MIN, end: h0 + 3 * HOUR + 30 * MIN });
  const selectors = () => asgTagSelectors(trendFleet.asgs);

  it("float items: exact sums through trends", async () => {
    const [w] = await reader({ selectors: selectors(), historyMaxMs: HOUR }).readValue(
      { kind: "value", key: "payments.latency.ms", aggregation: "sum" },
      [window()],
    );
    expect(w!.source).toBe("trends+history");
    expect(w!.exact).toBe(true);
    expect(w!.stable.value).toBeCloseTo(1.5 + 2.25 + 4 + 8, 9);
    expect(w!.stable.samples).toBe(4);
  });

  it("unsigned items: trends hold the hour's average rounded down, so the sum is flagged inexact", async () => {
    const metric = { kind: "value", key: "payments.attempted", aggregation: "sum" } as const;
    const [viaTrends] = await reader({ selectors: selectors(), historyMaxMs: HOUR }).readValue(metric, [
      window(),
    ]);
    const [viaHistory] = await reader({ selectors: selectors(), historyMaxMs: 24 * HOUR }).readValue(metric, [
      window(),
    ]);
    expect(viaHistory).toMatchObject({
      source: "history",
      exact: true,
      stable: { value: 5 + 10 + 21 + 7 + 3, samples: 5 },
      gray: { value: 10, samples: 2 },
    });
    // 5 (history) + ⌊31/2⌋·2 (trend h1) + 7 (trend h2) + 3 (history): the trend rows were used.
    expect(viaTrends).toMatchObject({
      source: "trends+history",
      exact: false,
      stable: { value: 45, samples: 5 },
      gray: { value: 10, samples: 2 },
    });
    const [mx] = await reader({ selectors: selectors(), historyMaxMs: HOUR }).readValue(
      { kind: "value", key: "payments.attempted", aggregation: "max" },
      [window()],
    );
    expect(mx).toMatchObject({ exact: true, stable: { value: 21 }, gray: { value: 6 } });
  });

  it("`last` reads history even for a long window", async () => {
    const [w] = await reader({ selectors: selectors(), historyMaxMs: HOUR }).readValue(
      { kind: "value", key: "payments.attempted", aggregation: "last" },
      [window()],
    );
    expect(w).toMatchObject({ source: "history", stable: { value: 3, samples: 1 }, gray: { value: 6 } });
  });
});

/** What the core's relative gate computes from a rate window (gray against stable). */
function pValue(w: MetricWindow<import("../../src/zabbix/metrics.js").VersionRate>, margin: number): number {
  return conditionalExcessPValue(
    Math.round(w.gray.numerator),
    Math.round(w.gray.denominator),
    Math.round(w.stable.numerator),
    Math.round(w.stable.denominator),
    margin,
  );
}
