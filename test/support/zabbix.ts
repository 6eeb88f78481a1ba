/**
 * The real Zabbix 6.0 that `bash scripts/zabbix/setup.sh` installs and starts, for tests:
 *
 * ```ts
 * import { createFleet, send, zabbixClient } from "../support/zabbix.js";
 * const fleet = await createFleet({ stable: 1, gray: 2 });     // own hosts, tagged, trapper items
 * await send(fleet.gray[0]!, "payments.declined", 3, Date.now() - 60_000);  // zabbix_sender, then
 * // waits until the value is readable through the API
 * await fleet.dispose();
 * ```
 *
 * Zabbix is never optional: when .zabbix/env is missing these helpers throw an Error naming the
 * command to run (`bash scripts/zabbix/setup.sh`), locally and in CI; when the API does not answer,
 * `bash scripts/zabbix/start.sh`. Values are pushed with the real `zabbix_sender` binary to the
 * server's trapper, with explicit timestamps (-T, and -N so that every value gets its own
 * nanoseconds: Zabbix keys history by item, clock and ns and drops duplicates).
 *
 * Test files run in parallel: each one should create its own fleet (unique hosts, tags and group)
 * rather than write to the set-up's fixed hosts (ZABBIX_STABLE_HOST / ZABBIX_GRAY_HOST).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  type HistoryRecord,
  ValueType,
  ZabbixClient,
  type ZabbixClientOptions,
} from "../../src/zabbix/client.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const ZABBIX_ENV_FILE = resolve(REPO, ".zabbix/env");
const SETUP =
  "run `bash scripts/zabbix/setup.sh` from the repository root (root or sudo; installs Debian's Zabbix 6.0 packages and starts it)";
const START = "run `bash scripts/zabbix/start.sh` from the repository root";

export interface ZabbixEnv {
  readonly url: string;
  readonly token: string;
  readonly version: string;
  readonly trapperHost: string;
  readonly trapperPort: number;
  readonly sender: string;
  /** zabbix_server's config file (for runtime control: `-R config_cache_reload`). */
  readonly serverConf: string;
  readonly hostGroup: string;
  readonly stableHost: string;
  readonly stableAsg: string;
  readonly grayHost: string;
  readonly grayAsg: string;
  readonly itemKeys: readonly string[];
}

/** Reads .zabbix/env; throws an Error saying which command creates it. */
export function zabbixEnv(): ZabbixEnv {
  if (!existsSync(ZABBIX_ENV_FILE)) {
    throw new Error(`Zabbix is not set up: ${ZABBIX_ENV_FILE} is missing; ${SETUP}`);
  }
  const vars = new Map<string, string>();
  for (const line of readFileSync(ZABBIX_ENV_FILE, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) vars.set(m[1]!, m[2]!);
  }
  const get = (k: string): string => {
    const v = vars.get(k);
    if (!v) throw new Error(`${ZABBIX_ENV_FILE} lacks ${k}; ${SETUP}`);
    return v;
  };
  return {
    url: get("ZABBIX_URL"),
    token: get("ZABBIX_API_TOKEN"),
    version: get("ZABBIX_VERSION"),
    trapperHost: get("ZABBIX_TRAPPER_HOST"),
    trapperPort: Number(get("ZABBIX_TRAPPER_PORT")),
    sender: get("ZABBIX_SENDER"),
    serverConf: get("ZABBIX_SERVER_CONF"),
    hostGroup: get("ZABBIX_HOST_GROUP"),
    stableHost: get("ZABBIX_STABLE_HOST"),
    stableAsg: get("ZABBIX_STABLE_ASG"),
    grayHost: get("ZABBIX_GRAY_HOST"),
    grayAsg: get("ZABBIX_GRAY_ASG"),
    itemKeys: get("ZABBIX_ITEM_KEYS").split(","),
  };
}

/**
 * How long the helpers wait for Zabbix to be ready for what a test sent (the trapper to know new
 * hosts, the history syncer to store values): they wait on readiness — polling until it is — and this
 * only bounds a Zabbix that never gets there. A quiet machine needs a second or two; a loaded one
 * stretched that past the former 20 s.
 */
export const ZABBIX_READY_TIMEOUT_MS = 120_000;

/**
 * A client for the set-up's API with its token (options override). The deadline of one call is 60 s:
 * the PHP frontend's few workers answer slowly on a loaded machine, and a test's call that fails
 * should say why, not race a clock.
 */
export function zabbixClient(options: Partial<ZabbixClientOptions> = {}): ZabbixClient {
  const env = zabbixEnv();
  return new ZabbixClient({ url: env.url, token: env.token, timeoutMs: 60_000, ...options });
}

let shared: ZabbixClient | null = null;
function client(): ZabbixClient {
  shared ??= zabbixClient();
  return shared;
}

/** Checks that the API answers; throws an Error naming the command that starts it otherwise. */
export async function requireZabbix(): Promise<ZabbixEnv> {
  const env = zabbixEnv();
  try {
    await client().version();
  } catch (e) {
    throw new Error(
      `Zabbix API at ${env.url} does not answer (${e instanceof Error ? e.message : String(e)}); ${START}`,
    );
  }
  return env;
}

export interface SendValue {
  /** Technical host name. */
  readonly host: string;
  readonly key: string;
  readonly value: number | string;
  /** Epoch ms; default now. */
  readonly clock?: number;
}

export interface SendResult {
  readonly processed: number;
  /** From zabbix_sender's start to the last value being readable through history.get. */
  readonly visibleAfterMs: number;
  /** zabbix_sender's own run time. */
  readonly senderMs: number;
}

/** One value with zabbix_sender, then waits until the API returns it. */
export function send(host: string, key: string, value: number | string, clock?: number): Promise<SendResult> {
  return sendMany([{ host, key, value, ...(clock === undefined ? {} : { clock }) }]);
}

// Nanosecond suffixes: values sent in the same millisecond to the same item stay distinct.
let nsSeq = Math.floor(Math.random() * 500_000);

interface Stamped extends SendValue {
  readonly clockSec: number;
  readonly ns: number;
}

/**
 * Sends values with the real zabbix_sender (one run, timestamps and nanoseconds from `clock`) and,
 * unless `wait` is false, waits until every one of them is readable through history.get. Retries
 * while the trapper does not know the items yet (a host created moments ago: the server's
 * configuration cache syncs every few seconds) as long as nothing of the batch was accepted.
 * Both waits are on readiness, bounded by `timeoutMs` (default ZABBIX_READY_TIMEOUT_MS); a failure
 * says what was waited for and what was seen.
 */
export async function sendMany(
  values: readonly SendValue[],
  options: { wait?: boolean; timeoutMs?: number } = {},
): Promise<SendResult> {
  const env = zabbixEnv();
  const timeoutMs = options.timeoutMs ?? ZABBIX_READY_TIMEOUT_MS;
  const started = performance.now();
  const now = Date.now();
  const stamped: Stamped[] = values.map((v) => {
    const ms = Math.floor(v.clock ?? now);
    nsSeq = (nsSeq + 1) % 1_000_000;
    return { ...v, clockSec: Math.floor(ms / 1000), ns: (ms % 1000) * 1_000_000 + nsSeq };
  });
  const input = stamped
    .map((v) => `${quote(v.host)} ${quote(v.key)} ${v.clockSec} ${v.ns} ${quote(String(v.value))}\n`)
    .join("");
  let processed = 0;
  let senderMs = 0;
  for (let attempt = 1; ; attempt++) {
    const t0 = performance.now();
    const out = await runSender(env, input);
    senderMs = performance.now() - t0;
    const m = /processed: (\d+); failed: (\d+); total: (\d+)/.exec(out.stdout);
    if (!m) throw new Error(`zabbix_sender gave no summary (exit ${out.code}): ${out.stdout} ${out.stderr}`);
    processed = Number(m[1]);
    const failed = Number(m[2]);
    if (failed === 0 && processed === stamped.length) break;
    const waited = performance.now() - started;
    if (processed > 0 || waited > timeoutMs) {
      throw new Error(
        `zabbix_sender: ${processed} processed, ${failed} failed of ${stamped.length} after ${attempt} attempt(s) in ${Math.round(waited)} ms — waited for the trapper to accept values for ${describeTargets(stamped)}; ${processed > 0 ? "it accepted some, so the others are unknown" : "it knew none of them"} (unknown host or item, or not a trapper item? a host created by the test reaches the trapper at its next configuration sync, forced by \`zabbix_server -R config_cache_reload\`): ${out.stdout.trim()}`,
      );
    }
    await sleep(Math.min(100 * attempt, 500));
  }
  if (options.wait === false) return { processed, visibleAfterMs: Number.NaN, senderMs };
  await waitVisible(stamped, started + timeoutMs);
  return { processed, visibleAfterMs: performance.now() - started, senderMs };
}

/** `zabbix_server -R config_cache_reload`; resolves false when runtime control is not allowed. */
export function reloadConfigCache(): Promise<boolean> {
  const env = zabbixEnv();
  return new Promise((resolvePromise) => {
    const child = spawn("/usr/sbin/zabbix_server", ["-c", env.serverConf, "-R", "config_cache_reload"], {
      stdio: "ignore",
    });
    child.on("error", () => resolvePromise(false));
    child.on("close", (code) => resolvePromise(code === 0));
  });
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function runSender(
  env: ZabbixEnv,
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      env.sender,
      ["-z", env.trapperHost, "-p", String(env.trapperPort), "-T", "-N", "-i", "-", "-vv"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.on("error", (e) => reject(new Error(`cannot run ${env.sender} (${e.message}); ${SETUP}`)));
    child.on("close", (code) => resolvePromise({ code, stdout: stdout + stderr, stderr }));
    child.stdin.end(input);
  });
}

const itemCache = new Map<string, { itemid: string; valueType: ValueType }>();

async function itemsOf(
  pairs: readonly { host: string; key: string }[],
): Promise<Map<string, { itemid: string; valueType: ValueType }>> {
  const missing = pairs.filter((p) => !itemCache.has(`${p.host}\n${p.key}`));
  if (missing.length > 0) {
    const hosts = await client().call<{ hostid: string; host: string }[]>("host.get", {
      output: ["hostid", "host"],
      filter: { host: [...new Set(missing.map((p) => p.host))] },
    });
    const byId = new Map(hosts.map((h) => [h.hostid, h.host]));
    const items = await client().items(
      hosts.map((h) => h.hostid),
      [...new Set(missing.map((p) => p.key))],
    );
    for (const i of items) {
      itemCache.set(`${byId.get(i.hostid)}\n${i.key_}`, {
        itemid: i.itemid,
        valueType: Number(i.value_type) as ValueType,
      });
    }
  }
  const out = new Map<string, { itemid: string; valueType: ValueType }>();
  for (const p of pairs) {
    const it = itemCache.get(`${p.host}\n${p.key}`);
    if (!it) throw new Error(`Zabbix has no item ${p.key} on host ${p.host}`);
    out.set(`${p.host}\n${p.key}`, it);
  }
  return out;
}

/** `key on host` of each distinct item, for error messages. */
function describeTargets(values: readonly SendValue[]): string {
  const each = [...new Set(values.map((v) => `${v.key} on ${v.host}`))];
  return each.length <= 4 ? each.join(", ") : `${each.slice(0, 4).join(", ")} and ${each.length - 4} more`;
}

async function waitVisible(values: readonly Stamped[], deadline: number): Promise<void> {
  const started = performance.now();
  const items = await itemsOf(values);
  const want = new Set<string>();
  const byType = new Map<ValueType, Set<string>>();
  let from = Number.POSITIVE_INFINITY;
  let till = 0;
  for (const v of values) {
    const it = items.get(`${v.host}\n${v.key}`)!;
    want.add(`${it.itemid}:${v.clockSec}:${v.ns}`);
    const set = byType.get(it.valueType) ?? new Set<string>();
    set.add(it.itemid);
    byType.set(it.valueType, set);
    from = Math.min(from, v.clockSec);
    till = Math.max(till, v.clockSec);
  }
  for (;;) {
    const found: HistoryRecord[] = [];
    for (const [valueType, ids] of byType) {
      found.push(
        ...(await client().history({ itemids: [...ids], valueType, timeFrom: from, timeTill: till })),
      );
    }
    for (const r of found) want.delete(`${r.itemid}:${r.clock}:${r.ns}`);
    if (want.size === 0) return;
    if (performance.now() > deadline) {
      throw new Error(
        `${want.size} of ${values.length} value(s) sent with zabbix_sender are still not readable through history.get after ${Math.round(performance.now() - started)} ms: waited for the history syncer to store ${describeTargets(values)}; history.get returned ${found.length} record(s) for their items in [${from}, ${till}] (history syncer stuck? see .zabbix/run/zabbix_server.log)`,
      );
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------

/** Tag marking hosts a test created; its value is the creation time (epoch ms). setup.sh removes leftovers older than 1 h. */
export const TEST_TAG = "gray-deploy-test";

export interface FleetItem {
  readonly key: string;
  readonly valueType: ValueType;
}

export const DEFAULT_FLEET_ITEMS: readonly FleetItem[] = [
  { key: "payments.attempted", valueType: ValueType.Unsigned },
  { key: "payments.declined", valueType: ValueType.Unsigned },
  { key: "http.requests", valueType: ValueType.Unsigned },
  { key: "http.errors", valueType: ValueType.Unsigned },
  { key: "payments.latency.ms", valueType: ValueType.Float },
];

export interface Fleet {
  /** Unique prefix of this fleet's names. */
  readonly id: string;
  /** Host group holding every host of the fleet (both versions). */
  readonly group: string;
  /** A host group per version, for selection by group. */
  readonly groups: { readonly stable: string; readonly gray: string };
  /** `asg` tag values per version. */
  readonly asgs: { readonly stable: string; readonly gray: string };
  /** Technical host names per version. */
  readonly stable: readonly string[];
  readonly gray: readonly string[];
  /** Deletes the hosts and groups. */
  dispose(): Promise<void>;
}

let fleetSeq = 0;

/**
 * Creates hosts standing for the instances of a stable and a gray ASG — tags `asg` (the ASG's
 * name), `role` and the test marker, a group per version plus one for both — with trapper items,
 * and waits until the trapper accepts values for them.
 */
export async function createFleet(
  opts: {
    stable?: number;
    gray?: number;
    items?: readonly FleetItem[];
    label?: string;
    /** `asg` tag values (real Auto Scaling group names); default `<id>-stable` / `<id>-gray`. */
    asgs?: { readonly stable: string; readonly gray: string };
  } = {},
): Promise<Fleet> {
  await requireZabbix();
  const c = client();
  const created = Date.now();
  const id = `gdt-${opts.label ?? "t"}-${created.toString(36)}-${process.pid}-${++fleetSeq}`;
  const counts = { stable: opts.stable ?? 1, gray: opts.gray ?? 1 };
  const asgs = opts.asgs ?? { stable: `${id}-stable`, gray: `${id}-gray` };
  const items = opts.items ?? DEFAULT_FLEET_ITEMS;
  const groupNames = {
    all: `${TEST_TAG}/${created}/${id}`,
    stable: `${TEST_TAG}/${created}/${id}/stable`,
    gray: `${TEST_TAG}/${created}/${id}/gray`,
  };
  const { groupids } = await c.call<{ groupids: string[] }>("hostgroup.create", [
    { name: groupNames.all },
    { name: groupNames.stable },
    { name: groupNames.gray },
  ]);
  const [gAll, gStable, gGray] = groupids as [string, string, string];
  const names = { stable: [] as string[], gray: [] as string[] };
  const hostSpecs = (["stable", "gray"] as const).flatMap((role) =>
    Array.from({ length: counts[role] }, (_, i) => {
      const host = `${id}-${role}-${i + 1}`;
      names[role].push(host);
      return {
        host,
        groups: [{ groupid: gAll }, { groupid: role === "stable" ? gStable : gGray }],
        tags: [
          { tag: "asg", value: asgs[role] },
          { tag: "role", value: role },
          { tag: TEST_TAG, value: String(created) },
        ],
      };
    }),
  );
  const hostids: string[] = [];
  const dispose = async (): Promise<void> => {
    if (hostids.length) await c.call("host.delete", hostids);
    await c.call("hostgroup.delete", [gAll, gStable, gGray]);
  };
  try {
    const res = await c.call<{ hostids: string[] }>("host.create", hostSpecs);
    hostids.push(...res.hostids);
    const PROBE = "gray.deploy.probe";
    // One call, one transaction: the configuration syncer sees all items at once.
    await c.call(
      "item.create",
      hostids.flatMap((hostid) =>
        [...items, { key: PROBE, valueType: ValueType.Unsigned }].map((it) => ({
          hostid,
          key_: it.key,
          name: it.key,
          type: 2,
          value_type: it.valueType,
          history: "7d",
          trends: "30d",
        })),
      ),
    );
    // The server learns of new hosts at its next configuration sync (every 5 s); ask for one now
    // (works as root or as the server's user; otherwise the probe below waits for the next sync).
    await reloadConfigCache();
    // Ready when the trapper accepts a probe for every host.
    await sendMany(
      hostSpecs.map((h) => ({ host: h.host, key: PROBE, value: 1 })),
      { wait: false },
    );
  } catch (e) {
    await dispose().catch(() => {});
    throw e;
  }
  return {
    id,
    group: groupNames.all,
    groups: { stable: groupNames.stable, gray: groupNames.gray },
    asgs,
    stable: names.stable,
    gray: names.gray,
    dispose,
  };
}
