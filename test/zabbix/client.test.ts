/**
 * ZabbixClient against the real Zabbix 6.0 server and frontend that scripts/zabbix/setup.sh starts,
 * and, for failures Zabbix cannot be made to produce on demand (a hung or broken web server), against
 * real local sockets that misbehave.
 */
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortedError, CredentialsError, ErrorCode, ProviderError } from "../../src/contract/errors.js";
import { atLeast, ValueType, ZabbixClient } from "../../src/zabbix/client.js";
import {
  createFleet,
  type Fleet,
  requireZabbix,
  sendMany,
  type ZabbixEnv,
  zabbixClient,
} from "../support/zabbix.js";

let env: ZabbixEnv;
let client: ZabbixClient;
let fleet: Fleet;

beforeAll(async () => {
  env = await requireZabbix();
  client = zabbixClient();
  fleet = await createFleet({ stable: 1, gray: 1, label: "client" });
});

afterAll(async () => {
  await fleet?.dispose();
  await client?.close();
});

describe("ZabbixClient against Zabbix 6.0", () => {
  it("reads the API version without credentials", async () => {
    const v = await client.version();
    expect(v).toBe(env.version);
    expect(v).toMatch(/^6\.0\./);
  });

  it("sends the token in the body's `auth` on 6.0: 6.0 ignores an Authorization header", async () => {
    // auto mode picks `body` for 6.0 and is authorised.
    const hosts = await client.hosts({ hosts: [env.stableHost] });
    expect(hosts.map((h) => h.host)).toEqual([env.stableHost]);
    // The same token as a bearer header is not seen by 6.0's api_jsonrpc.php at all.
    const header = new ZabbixClient({ url: env.url, token: env.token, authMode: "header" });
    try {
      const e = await header.hosts({ hosts: [env.stableHost] }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CredentialsError);
    } finally {
      await header.close();
    }
  });

  it("finds the set-up's hosts by tag and by group, with their tags", async () => {
    const byTag = await client.hosts({ tags: [{ tag: "asg", value: env.grayAsg }] });
    expect(byTag.map((h) => h.host)).toEqual([env.grayHost]);
    expect(byTag[0]!.tags).toEqual(
      expect.arrayContaining([
        { tag: "asg", value: env.grayAsg },
        { tag: "role", value: "gray" },
      ]),
    );
    const [group] = await client.hostGroups([env.hostGroup]);
    expect(group?.name).toBe(env.hostGroup);
    const byGroup = await client.hosts({ groupids: [group!.groupid] });
    expect(byGroup.map((h) => h.host).sort()).toEqual([env.grayHost, env.stableHost].sort());
    // Group and tag together: both must hold.
    const both = await client.hosts({ groupids: [group!.groupid], tags: [{ tag: "role", value: "stable" }] });
    expect(both.map((h) => h.host)).toEqual([env.stableHost]);
    // A tag value nobody has.
    expect(await client.hosts({ tags: [{ tag: "asg", value: "no-such-asg" }] })).toEqual([]);
  });

  it("lists items by host ids and exact keys, with their value types", async () => {
    const [host] = await client.hosts({ hosts: [env.stableHost] });
    const items = await client.items(
      [host!.hostid],
      ["payments.attempted", "payments.latency.ms", "no.such.key"],
    );
    const byKey = Object.fromEntries(items.map((i) => [i.key_, i]));
    expect(Object.keys(byKey).sort()).toEqual(["payments.attempted", "payments.latency.ms"]);
    expect(Number(byKey["payments.attempted"]!.value_type)).toBe(ValueType.Unsigned);
    expect(Number(byKey["payments.latency.ms"]!.value_type)).toBe(ValueType.Float);
    // Every key the set-up promised exists on both fixed hosts.
    const [gray] = await client.hosts({ hosts: [env.grayHost] });
    const all = await client.items([host!.hostid, gray!.hostid], env.itemKeys);
    expect(all).toHaveLength(2 * env.itemKeys.length);
  });

  it("reads history values sent with zabbix_sender, by value type and time range (inclusive seconds)", async () => {
    const host = fleet.gray[0]!;
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    const sent = await sendMany([
      { host, key: "payments.attempted", value: 7, clock: base },
      { host, key: "payments.attempted", value: 9, clock: base + 1_000 },
      { host, key: "payments.attempted", value: 11, clock: base + 2_000 },
      { host, key: "payments.latency.ms", value: 12.5, clock: base + 1_000 },
    ]);
    console.log(
      `[zabbix] 4 values visible through the API ${sent.visibleAfterMs.toFixed(0)} ms after zabbix_sender started (sender ${sent.senderMs.toFixed(0)} ms)`,
    );
    const [h] = await client.hosts({ hosts: [host] });
    const items = await client.items([h!.hostid], ["payments.attempted", "payments.latency.ms"]);
    const uint = items.find((i) => i.key_ === "payments.attempted")!;
    const flt = items.find((i) => i.key_ === "payments.latency.ms")!;
    const rows = await client.history({
      itemids: [uint.itemid],
      valueType: ValueType.Unsigned,
      timeFrom: base / 1000,
      timeTill: base / 1000 + 1,
    });
    expect(rows.map((r) => [Number(r.clock) * 1000, r.value])).toEqual([
      [base, "7"],
      [base + 1_000, "9"],
    ]);
    const floats = await client.history({
      itemids: [flt.itemid],
      valueType: ValueType.Float,
      timeFrom: base / 1000,
      timeTill: base / 1000 + 10,
    });
    expect(floats.map((r) => Number(r.value))).toEqual([12.5]);
    // Asking the float item's ids with the unsigned type returns nothing: the type selects the table.
    expect(
      await client.history({
        itemids: [flt.itemid],
        valueType: ValueType.Unsigned,
        timeFrom: base / 1000,
        timeTill: base / 1000 + 10,
      }),
    ).toEqual([]);
  });

  it("reads hourly trends: an hour is written once a value of a later hour arrives", async () => {
    const host = fleet.stable[0]!;
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 20 * 3_600_000;
    await sendMany([
      { host, key: "payments.latency.ms", value: 1.5, clock: hour + 60_000 },
      { host, key: "payments.latency.ms", value: 2.25, clock: hour + 120_000 },
      { host, key: "payments.attempted", value: 10, clock: hour + 60_000 },
      { host, key: "payments.attempted", value: 21, clock: hour + 120_000 },
      // The next hour's values make the server write the first hour's trends.
      { host, key: "payments.latency.ms", value: 4, clock: hour + 3_600_000 + 60_000 },
      { host, key: "payments.attempted", value: 4, clock: hour + 3_600_000 + 60_000 },
    ]);
    const [h] = await client.hosts({ hosts: [host] });
    const items = await client.items([h!.hostid], ["payments.attempted", "payments.latency.ms"]);
    const ids = items.map((i) => i.itemid);
    const started = performance.now();
    let rows = await client.trends({ itemids: ids, timeFrom: hour / 1000, timeTill: hour / 1000 + 3_599 });
    while (rows.length < 2 && performance.now() - started < 15_000) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await client.trends({ itemids: ids, timeFrom: hour / 1000, timeTill: hour / 1000 + 3_599 });
    }
    console.log(
      `[zabbix] trends of the closed hour readable ${(performance.now() - started).toFixed(0)} ms after the values were`,
    );
    const byKey = Object.fromEntries(rows.map((r) => [items.find((i) => i.itemid === r.itemid)!.key_, r]));
    expect(byKey["payments.latency.ms"]).toMatchObject({
      clock: String(hour / 1000),
      num: "2",
      value_min: "1.5",
      value_max: "2.25",
    });
    expect(Number(byKey["payments.latency.ms"]!.value_avg)).toBeCloseTo(1.875, 10);
    // Unsigned items: Zabbix stores the hour's average rounded DOWN to an integer (31 / 2 → 15).
    expect(byKey["payments.attempted"]).toMatchObject({
      num: "2",
      value_min: "10",
      value_avg: "15",
      value_max: "21",
    });
  });
});

describe("ZabbixClient errors", () => {
  it("an invalid token is a CredentialsError naming the method, never showing the token", async () => {
    const bad = "f".repeat(64);
    const c = new ZabbixClient({ url: env.url, token: bad });
    try {
      const e = await c.items(["1"], ["x"]).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CredentialsError);
      const err = e as CredentialsError;
      expect(err.code).toBe(ErrorCode.Credentials);
      expect(err.retryable).toBe(false);
      expect(err.message).toContain("item.get");
      expect(err.message).toContain("Not authorized");
      expect(JSON.stringify(err.toJSON()) + err.message + String(err.fix)).not.toContain(bad);
    } finally {
      await c.close();
    }
  });

  it("never reveals the token when inspected or serialised", () => {
    const text = inspect(client, { showHidden: true, depth: 10 }) + JSON.stringify(client);
    expect(text).not.toContain(env.token);
    expect(text).toContain(env.url);
  });

  it("a closed port is a retryable ProviderError, at once", async () => {
    const port = await closedPort();
    const c = new ZabbixClient({
      url: `http://127.0.0.1:${port}/api_jsonrpc.php`,
      token: env.token,
      timeoutMs: 30_000,
    });
    const t0 = performance.now();
    const e = await c.hosts({}).catch((x: unknown) => x);
    const ms = performance.now() - t0;
    await c.close();
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).retryable).toBe(true);
    // auto mode asks the version first; the message names the method the caller asked for.
    expect((e as ProviderError).message).toMatch(/host\.get.*connection refused \(ECONNREFUSED\)/);
    // At once: not at the client's 30 s deadline.
    expect(ms).toBeLessThan(10_000);
    console.log(`[zabbix] closed port detected in ${ms.toFixed(0)} ms`);
  });

  describe("a misbehaving web server in front of the API", () => {
    let hung: TcpServer;
    let http: Server;
    let hungPort = 0;
    let httpPort = 0;
    const open = new Set<import("node:net").Socket>();
    beforeAll(async () => {
      // Accepts connections and never answers: a frozen frontend.
      hung = createTcpServer((s) => {
        open.add(s);
        s.on("close", () => open.delete(s));
      });
      hungPort = await listen(hung);
      http = createServer((req, res) => {
        if (req.url?.startsWith("/dbdown")) {
          // Zabbix 6.0.14's answer, recorded with its PostgreSQL stopped (HTTP 200).
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(
              '{"jsonrpc":"2.0","error":{"code":1,"message":"Error connecting to database.","data":""},"id":1}',
            );
        } else if (req.url?.startsWith("/502")) {
          res.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>");
        } else {
          res.writeHead(200, { "content-type": "text/html" }).end("<html>a login page</html>");
        }
      });
      httpPort = await listen(http);
    });
    afterAll(async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => hung?.close(r));
      await new Promise((r) => http?.close(r));
    });

    it("no answer within the timeout is a retryable ProviderError at the deadline", async () => {
      const c = new ZabbixClient({
        url: `http://127.0.0.1:${hungPort}/api_jsonrpc.php`,
        token: env.token,
        timeoutMs: 300,
        authMode: "body",
      });
      const t0 = performance.now();
      const e = await c
        .history({ itemids: ["1"], valueType: 3, timeFrom: 0, timeTill: 1 })
        .catch((x: unknown) => x);
      const ms = performance.now() - t0;
      await c.close();
      expect(e).toBeInstanceOf(ProviderError);
      expect((e as ProviderError).retryable).toBe(true);
      expect((e as ProviderError).message).toContain("history.get");
      expect((e as ProviderError).message).toContain("no answer within 300 ms");
      expect(ms).toBeGreaterThanOrEqual(290);
      // At its deadline, not never (the server never answers): a bound a loaded machine keeps.
      expect(ms).toBeLessThan(10_000);
    });

    it("the caller's abort is an AbortedError, not a provider failure", async () => {
      const c = new ZabbixClient({
        url: `http://127.0.0.1:${hungPort}/api_jsonrpc.php`,
        token: env.token,
        timeoutMs: 5_000,
        authMode: "body",
      });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      const e = await c.hosts({}, ac.signal).catch((x: unknown) => x);
      await c.close();
      expect(e).toBeInstanceOf(AbortedError);
    });

    it("the frontend without its database is a retryable ProviderError", async () => {
      const c = new ZabbixClient({
        url: `http://127.0.0.1:${httpPort}/dbdown/api_jsonrpc.php`,
        token: env.token,
        authMode: "body",
      });
      const e = await c.items(["1"], ["k"]).catch((x: unknown) => x);
      await c.close();
      expect(e).toBeInstanceOf(ProviderError);
      expect((e as ProviderError).retryable).toBe(true);
      expect((e as ProviderError).message).toContain("item.get");
      expect((e as ProviderError).message).toContain("Error connecting to database.");
    });

    it("HTTP 5xx is retryable; a page that is not the API is not", async () => {
      const c502 = new ZabbixClient({
        url: `http://127.0.0.1:${httpPort}/502/api_jsonrpc.php`,
        token: env.token,
        authMode: "body",
      });
      const e502 = await c502.hosts({}).catch((x: unknown) => x);
      await c502.close();
      expect(e502).toBeInstanceOf(ProviderError);
      expect((e502 as ProviderError).retryable).toBe(true);
      expect((e502 as ProviderError).message).toContain("HTTP 502");

      const html = new ZabbixClient({
        url: `http://127.0.0.1:${httpPort}/zabbix/`,
        token: env.token,
        authMode: "body",
      });
      expect(html.url).toBe(`http://127.0.0.1:${httpPort}/zabbix/api_jsonrpc.php`);
      const eHtml = await html.hosts({}).catch((x: unknown) => x);
      await html.close();
      expect(eHtml).toBeInstanceOf(ProviderError);
      expect((eHtml as ProviderError).retryable).toBe(false);
      expect((eHtml as ProviderError).message).toContain("not JSON");
    });
  });

  it("rejects a bad URL or an empty token before any request", () => {
    expect(() => new ZabbixClient({ url: "ftp://x", token: "t" })).toThrow(/zabbix-url/);
    expect(() => new ZabbixClient({ url: env.url, token: " " })).toThrow(/zabbix-token/);
  });

  it("compares versions", () => {
    expect(atLeast("6.0.14", 6, 4)).toBe(false);
    expect(atLeast("6.4.0", 6, 4)).toBe(true);
    expect(atLeast("7.0.1", 6, 4)).toBe(true);
  });
});

function listen(server: Server | TcpServer): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : 0);
    });
  });
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}
