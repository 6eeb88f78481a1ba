#!/usr/bin/env node
// Provisions the Zabbix that scripts/zabbix/setup.sh started, through its JSON-RPC API, and writes
// the env file the tests read. Plain Node 20 (fetch), no dependency, so it runs before `npm ci`.
//
// Creates when missing (idempotent):
// - the API token `gray-deploy-tests` of Admin (regenerated on every run: Zabbix shows a token's
//   value only when it generates it, and stores only its hash);
// - host group `gray-deploy/gatewaypix`;
// - two hosts standing for the instances of the stable and the gray Auto Scaling groups, tagged
//   `asg` = <ASG name>, `role` = stable|gray, `service` = gatewaypix;
// - trapper items on each (counters as numeric unsigned, a latency as float).
// Removes hosts and groups that tests created and left behind (tag `gray-deploy-test`, >1 h old).
//
// Usage: node scripts/zabbix/provision.mjs --url URL --env FILE --trapper-port N --version V --server-conf FILE
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    env: { type: "string" },
    "trapper-port": { type: "string" },
    version: { type: "string" },
    "server-conf": { type: "string" },
    user: { type: "string", default: "Admin" },
    password: { type: "string", default: "zabbix" },
  },
});
for (const k of ["url", "env", "trapper-port", "version", "server-conf"]) {
  if (!args[k]) fail(`--${k} is required`);
}

const TOKEN_NAME = "gray-deploy-tests";
const GROUP = "gray-deploy/gatewaypix";
const SERVICE = "gatewaypix";
const HOSTS = [
  { host: "gatewaypix-stable-1", role: "stable", asg: "gatewaypix-stable" },
  { host: "gatewaypix-gray-1", role: "gray", asg: "gatewaypix-gray" },
];
// value_type: 0 numeric float, 3 numeric unsigned. type 2: Zabbix trapper.
const ITEMS = [
  { key_: "payments.attempted", name: "Payments attempted", value_type: 3, units: "" },
  { key_: "payments.declined", name: "Payments declined", value_type: 3, units: "" },
  { key_: "http.requests", name: "HTTP requests", value_type: 3, units: "" },
  { key_: "http.errors", name: "HTTP 5xx responses", value_type: 3, units: "" },
  { key_: "payments.latency.ms", name: "Payment latency", value_type: 0, units: "ms" },
];
const TEST_TAG = "gray-deploy-test";
const LEFTOVER_MS = 3_600_000;

let id = 0;
async function call(method, params, auth = null) {
  const body = { jsonrpc: "2.0", method, params, id: ++id };
  if (auth !== null) body.auth = auth; // Zabbix 6.0: credentials travel in the body's `auth`.
  let res;
  try {
    res = await fetch(args.url, {
      method: "POST",
      headers: { "content-type": "application/json-rpc" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    fail(`${method}: the API at ${args.url} did not answer (${e.cause?.code ?? e.name})`);
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    fail(`${method}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (json.error) fail(`${method}: ${json.error.message} ${json.error.data ?? ""}`);
  return json.result;
}

function fail(message) {
  console.error(`[zabbix-provision] ERROR: ${message}`);
  process.exit(1);
}
const say = (m) => console.log(`[zabbix-provision] ${m}`);

const session = await call("user.login", { username: args.user, password: args.password });
try {
  const [admin] = await call("user.get", { output: ["userid"], filter: { username: args.user } }, session);

  // Token.
  const existing = await call(
    "token.get",
    { output: ["tokenid"], filter: { name: TOKEN_NAME, userid: admin.userid } },
    session,
  );
  let tokenid = existing[0]?.tokenid;
  if (!tokenid) {
    ({
      tokenids: [tokenid],
    } = await call(
      "token.create",
      { name: TOKEN_NAME, userid: admin.userid, description: "gray-deploy tests (scripts/zabbix/setup.sh)" },
      session,
    ));
    say(`created API token ${TOKEN_NAME} (id ${tokenid})`);
  }
  const [{ token }] = await call("token.generate", [tokenid], session);

  // Leftovers of test runs that could not clean up.
  const now = Date.now();
  const leftovers = (
    await call(
      "host.get",
      { output: ["hostid"], selectTags: "extend", tags: [{ tag: TEST_TAG, operator: 4 }] },
      session,
    )
  ).filter((h) => h.tags.some((t) => t.tag === TEST_TAG && now - Number(t.value) > LEFTOVER_MS));
  if (leftovers.length) {
    await call(
      "host.delete",
      leftovers.map((h) => h.hostid),
      session,
    );
    say(`removed ${leftovers.length} host(s) left behind by test runs`);
  }
  const oldGroups = (
    await call(
      "hostgroup.get",
      {
        output: ["groupid", "name"],
        search: { name: `${TEST_TAG}/` },
        startSearch: true,
        selectHosts: "count",
      },
      session,
    )
  ).filter((g) => Number(g.hosts) === 0 && now - Number(g.name.split("/")[1]) > LEFTOVER_MS);
  if (oldGroups.length) {
    await call(
      "hostgroup.delete",
      oldGroups.map((g) => g.groupid),
      session,
    );
    say(`removed ${oldGroups.length} empty test group(s)`);
  }

  // Host group.
  let [group] = await call("hostgroup.get", { output: ["groupid"], filter: { name: GROUP } }, session);
  if (!group) {
    const r = await call("hostgroup.create", { name: GROUP }, session);
    group = { groupid: r.groupids[0] };
    say(`created host group ${GROUP}`);
  }

  // Hosts and items.
  for (const h of HOSTS) {
    const tags = [
      { tag: "asg", value: h.asg },
      { tag: "role", value: h.role },
      { tag: "service", value: SERVICE },
    ];
    let [host] = await call("host.get", { output: ["hostid"], filter: { host: h.host } }, session);
    if (!host) {
      const r = await call("host.create", { host: h.host, groups: [group], tags }, session);
      host = { hostid: r.hostids[0] };
      say(`created host ${h.host} (asg=${h.asg}, role=${h.role})`);
    } else {
      await call("host.update", { hostid: host.hostid, groups: [group], tags, status: 0 }, session);
    }
    const have = new Set(
      (await call("item.get", { output: ["key_"], hostids: [host.hostid] }, session)).map((i) => i.key_),
    );
    const missing = ITEMS.filter((i) => !have.has(i.key_)).map((i) => ({
      ...i,
      hostid: host.hostid,
      type: 2,
      history: "7d",
      trends: "30d",
    }));
    if (missing.length) {
      await call("item.create", missing, session);
      say(`created ${missing.length} trapper item(s) on ${h.host}`);
    }
  }

  const env = {
    ZABBIX_URL: args.url,
    ZABBIX_API_TOKEN: token,
    ZABBIX_VERSION: args.version,
    ZABBIX_TRAPPER_HOST: "127.0.0.1",
    ZABBIX_TRAPPER_PORT: args["trapper-port"],
    ZABBIX_SENDER: "/usr/bin/zabbix_sender",
    ZABBIX_SERVER_CONF: args["server-conf"],
    ZABBIX_HOST_GROUP: GROUP,
    ZABBIX_STABLE_HOST: HOSTS[0].host,
    ZABBIX_STABLE_ASG: HOSTS[0].asg,
    ZABBIX_GRAY_HOST: HOSTS[1].host,
    ZABBIX_GRAY_ASG: HOSTS[1].asg,
    ZABBIX_ITEM_KEYS: ITEMS.map((i) => i.key_).join(","),
  };
  const text =
    "# Written by scripts/zabbix/setup.sh; read by test/support/zabbix.ts. Holds an API token: never commit.\n" +
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n") +
    "\n";
  const tmp = `${args.env}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, args.env);
  say(
    `wrote ${args.env} (token ${TOKEN_NAME}, group ${GROUP}, hosts ${HOSTS.map((h) => h.host).join(", ")})`,
  );
} finally {
  await call("user.logout", [], session).catch(() => {});
}
