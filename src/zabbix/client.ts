/**
 * A small client for the Zabbix API (JSON-RPC 2.0 over HTTP), for reading business metrics.
 *
 * Authentication with an API token (Zabbix ≥ 5.4; a user.login session id works the same way):
 * - Zabbix 6.0 (the LTS that Debian bookworm ships) reads credentials ONLY from the request body's
 *   `auth` member: its api_jsonrpc.php ignores an `Authorization` header (verified against 6.0.14).
 * - Zabbix 6.4 added `Authorization: Bearer <token>` and deprecated `auth`; 7.2 removed `auth`.
 * So with `authMode: "auto"` (the default) the client asks `apiinfo.version` once (that method must
 * be called without credentials), then sends the token in the body below 6.4 and in the header from
 * 6.4 on.
 *
 * Errors (src/contract/errors.ts), every message naming the method and the API's address:
 * - network failures, timeouts, HTTP 5xx, the frontend failing to reach its database:
 *   `ProviderError` with `retryable: true` (a metric reader turns them into measurement errors);
 * - an invalid, expired or disabled token, a session ended, a missing permission: `CredentialsError`;
 * - anything else the API refuses (bad parameters, unknown method, not a Zabbix API):
 *   `ProviderError` with `retryable: false`;
 * - the caller's AbortSignal: `AbortedError`.
 * The token never appears in a message, an error, a log line or the client's inspected form.
 *
 * The client does not retry: whoever calls it decides (the engine counts measurement errors).
 * Nothing runs at import time; the constructor does no I/O.
 */
import type { Dispatcher } from "undici";
import { Agent, request } from "undici";
import { AbortedError, CredentialsError, InvalidInputError, ProviderError } from "../contract/errors.js";
import { ValueType } from "./value-type.js";

export interface ZabbixClientOptions {
  /** The API endpoint, e.g. `https://zabbix.example.com/api_jsonrpc.php` (a frontend URL ending in `/` gets `api_jsonrpc.php` appended). */
  readonly url: string;
  /** API token (Administration → General → API tokens, or `token.generate`). Never logged. */
  readonly token: string;
  /** Deadline for one API call, connect to last byte. Default 10 s. */
  readonly timeoutMs?: number;
  /** Where the token goes: see the module comment. Default `auto`. */
  readonly authMode?: "auto" | "body" | "header";
  /** An undici dispatcher (connection pool, proxy). Default: a keep-alive Agent owned by the client. */
  readonly dispatcher?: Dispatcher;
}

export { ValueType };

export interface ZabbixHost {
  readonly hostid: string;
  /** Technical name (what zabbix_sender's `-s` names). */
  readonly host: string;
  /** Visible name. */
  readonly name: string;
  /** 0 monitored, 1 disabled. */
  readonly status: string;
  readonly tags: readonly HostTag[];
}

export interface HostTag {
  readonly tag: string;
  readonly value: string;
}

export interface ZabbixItem {
  readonly itemid: string;
  readonly hostid: string;
  readonly key_: string;
  readonly name: string;
  /** As the API returns it: "0".."4" (see ValueType). */
  readonly value_type: string;
  /** Storage periods as configured, e.g. "7d", "0", or a user macro. */
  readonly history: string;
  readonly trends: string;
  readonly units: string;
  /** 0 enabled, 1 disabled. */
  readonly status: string;
}

/** One value from history.get. `clock` in seconds, `ns` nanoseconds within it; value as a string. */
export interface HistoryRecord {
  readonly itemid: string;
  readonly clock: string;
  readonly ns: string;
  readonly value: string;
}

/** One hour of one item from trend.get: `clock` is the hour's start in seconds. */
export interface TrendRecord {
  readonly itemid: string;
  readonly clock: string;
  readonly num: string;
  readonly value_min: string;
  readonly value_avg: string;
  readonly value_max: string;
}

export interface HostQuery {
  /** Host group ids (any of them). */
  readonly groupids?: readonly string[];
  /** Tags that must all match exactly (tags with the same name are alternatives, as in Zabbix). */
  readonly tags?: readonly HostTag[];
  /** Technical host names (any of them). */
  readonly hosts?: readonly string[];
  /** Only hosts that are monitored (not disabled). Default false. */
  readonly monitoredOnly?: boolean;
}

export interface HistoryQuery {
  readonly itemids: readonly string[];
  readonly valueType: ValueType;
  /** Seconds, inclusive. */
  readonly timeFrom: number;
  /** Seconds, inclusive. */
  readonly timeTill: number;
  /** Default: no limit. */
  readonly limit?: number;
}

export interface TrendQuery {
  readonly itemids: readonly string[];
  /** Seconds, inclusive, compared with each hour's start. */
  readonly timeFrom: number;
  /** Seconds, inclusive, compared with each hour's start. */
  readonly timeTill: number;
  readonly limit?: number;
}

interface JsonRpcError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

type JsonRpcResponse = { result: unknown; error?: undefined } | { error: JsonRpcError; result?: undefined };

/** Methods that Zabbix requires to be called WITHOUT credentials. */
const ANONYMOUS = new Set(["apiinfo.version", "user.login"]);

/** What Zabbix says when the credentials are the problem (its English messages; the token's user language may differ). */
const CREDENTIAL_MESSAGES =
  /not authori[sz]ed|session terminated|re-login|api token expired|no permissions to call|login name or password is incorrect|account is blocked|incorrect user name or password/i;

const DEFAULT_TIMEOUT_MS = 10_000;

export class ZabbixClient {
  readonly url: string;
  readonly timeoutMs: number;
  readonly #authMode: "auto" | "body" | "header";
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  /** A closure over the token: neither util.inspect nor JSON.stringify of the client can show it. */
  readonly #token: () => string;
  #nextId = 1;
  #version: Promise<string> | null = null;

  constructor(options: ZabbixClientOptions) {
    const issues: { field: string; message: string }[] = [];
    let url: URL | null = null;
    try {
      url = new URL(options.url);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("protocol");
    } catch {
      issues.push({
        field: "zabbixUrl",
        message: "must be an http(s) URL of the Zabbix API (…/api_jsonrpc.php)",
      });
    }
    if (typeof options.token !== "string" || options.token.trim() === "") {
      issues.push({ field: "zabbixToken", message: "an API token is required" });
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      issues.push({ field: "zabbixTimeoutMs", message: "must be a positive number of milliseconds" });
    }
    if (issues.length > 0 || url === null) throw new InvalidInputError(issues);
    if (url.pathname.endsWith("/")) url.pathname += "api_jsonrpc.php";
    url.username = "";
    url.password = "";
    this.url = url.toString();
    this.timeoutMs = timeoutMs;
    this.#authMode = options.authMode ?? "auto";
    const token = options.token.trim();
    this.#token = () => token;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ?? new Agent({ keepAliveTimeout: 4_000, connections: 8, connectTimeout: timeoutMs });
  }

  /** The API's version (apiinfo.version), asked once and remembered. */
  version(signal?: AbortSignal): Promise<string> {
    if (this.#version === null) {
      const pending = this.call<string>("apiinfo.version", {}, signal);
      this.#version = pending;
      // A failed attempt is not remembered: the next call asks again.
      pending.catch(() => {
        if (this.#version === pending) this.#version = null;
      });
    }
    return this.#version;
  }

  /**
   * Hosts matching every given criterion, with their tags. (Groups are not selected: 6.0's
   * `selectGroups` became `selectHostGroups` in 6.2 and was removed in 7.0; every parameter used
   * here means the same from 6.0 to 7.x.)
   */
  async hosts(query: HostQuery, signal?: AbortSignal): Promise<ZabbixHost[]> {
    const params: Record<string, unknown> = {
      output: ["hostid", "host", "name", "status"],
      selectTags: ["tag", "value"],
    };
    if (query.groupids) params["groupids"] = [...query.groupids];
    if (query.hosts) params["filter"] = { host: [...query.hosts] };
    if (query.tags && query.tags.length > 0) {
      // evaltype 0 (And/Or): different tag names must all match; operator 1: equals.
      params["evaltype"] = 0;
      params["tags"] = query.tags.map((t) => ({ tag: t.tag, value: t.value, operator: 1 }));
    }
    if (query.monitoredOnly) params["monitored_hosts"] = true;
    return this.call<ZabbixHost[]>("host.get", params, signal);
  }

  /** Host groups by exact name. */
  async hostGroups(
    names: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ readonly groupid: string; readonly name: string }[]> {
    return this.call("hostgroup.get", { output: ["groupid", "name"], filter: { name: [...names] } }, signal);
  }

  /** Items of the given hosts whose key is exactly one of `keys`. */
  async items(
    hostids: readonly string[],
    keys: readonly string[],
    signal?: AbortSignal,
  ): Promise<ZabbixItem[]> {
    if (hostids.length === 0 || keys.length === 0) return [];
    return this.call<ZabbixItem[]>(
      "item.get",
      {
        output: ["itemid", "hostid", "key_", "name", "value_type", "history", "trends", "units", "status"],
        hostids: [...hostids],
        filter: { key_: [...keys] },
      },
      signal,
    );
  }

  /** Values of items of ONE value type between two instants (seconds, both inclusive), oldest first. */
  async history(query: HistoryQuery, signal?: AbortSignal): Promise<HistoryRecord[]> {
    if (query.itemids.length === 0) return [];
    return this.call<HistoryRecord[]>(
      "history.get",
      {
        output: ["itemid", "clock", "ns", "value"],
        history: query.valueType,
        itemids: [...query.itemids],
        time_from: query.timeFrom,
        time_till: query.timeTill,
        sortfield: "clock",
        sortorder: "ASC",
        ...(query.limit === undefined ? {} : { limit: query.limit }),
      },
      signal,
    );
  }

  /** Hourly trends (numeric items) whose hour starts between two instants (seconds, inclusive). */
  async trends(query: TrendQuery, signal?: AbortSignal): Promise<TrendRecord[]> {
    if (query.itemids.length === 0) return [];
    return this.call<TrendRecord[]>(
      "trend.get",
      {
        output: ["itemid", "clock", "num", "value_min", "value_avg", "value_max"],
        itemids: [...query.itemids],
        time_from: query.timeFrom,
        time_till: query.timeTill,
        ...(query.limit === undefined ? {} : { limit: query.limit }),
      },
      signal,
    );
  }

  /** Any API method. Credentials are added unless the method must be called without them. */
  async call<T>(method: string, params: unknown, signal?: AbortSignal): Promise<T> {
    const anonymous = ANONYMOUS.has(method);
    const mode = anonymous ? null : await this.#resolveAuthMode(method, signal);
    const body: Record<string, unknown> = { jsonrpc: "2.0", method, params, id: this.#nextId++ };
    const headers: Record<string, string> = { "content-type": "application/json-rpc" };
    if (mode === "body") body["auth"] = this.#token();
    if (mode === "header") headers["authorization"] = `Bearer ${this.#token()}`;
    const response = await this.#post(method, JSON.stringify(body), headers, signal);
    if (response.error !== undefined) throw this.#rpcError(method, response.error);
    return response.result as T;
  }

  /** Closes the client's own connection pool (not a dispatcher passed in). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** What JSON.stringify shows of a client: no token. */
  toJSON(): { url: string; timeoutMs: number } {
    return { url: this.url, timeoutMs: this.timeoutMs };
  }

  async #resolveAuthMode(method: string, signal?: AbortSignal): Promise<"body" | "header"> {
    if (this.#authMode !== "auto") return this.#authMode;
    let version: string;
    try {
      version = await this.version(signal);
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      // Name the method the caller asked for; the cause keeps the apiinfo.version failure.
      throw new ProviderError(
        `Zabbix API ${method} at ${this.url}: asking the API version first failed: ${e.message}`,
        { retryable: e.retryable, cause: e, ...(e.fix === undefined ? {} : { fix: e.fix }) },
      );
    }
    return atLeast(version, 6, 4) ? "header" : "body";
  }

  async #post(
    method: string,
    payload: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<JsonRpcResponse> {
    const where = `Zabbix API ${method} at ${this.url}`;
    if (signal?.aborted) throw new AbortedError(`${where}: aborted before the request`);
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let status: number;
    let text: string;
    try {
      const res = await request(this.url, {
        method: "POST",
        headers,
        body: payload,
        signal: combined,
        dispatcher: this.#dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      if (signal?.aborted) throw new AbortedError(`${where}: aborted`, { cause: e });
      if (deadline.aborted || isUndiciTimeout(e)) {
        throw new ProviderError(`${where}: no answer within ${this.timeoutMs} ms`, {
          retryable: true,
          cause: e,
          fix: "check that the Zabbix frontend and its database are up and not overloaded",
        });
      }
      throw new ProviderError(`${where}: ${networkReason(e)}`, {
        retryable: true,
        cause: e,
        fix: "check that the Zabbix frontend is up and reachable at this URL",
      });
    }
    if (status === 401 || status === 403) {
      throw new CredentialsError(`${where}: HTTP ${status} (refused by the web server in front of the API)`, {
        fix: "check the credentials the web server or proxy in front of Zabbix requires",
      });
    }
    if (status >= 500 || status === 429 || status === 408) {
      throw new ProviderError(`${where}: HTTP ${status}${snippet(text)}`, { retryable: true });
    }
    if (status !== 200) {
      throw new ProviderError(`${where}: HTTP ${status}${snippet(text)}`, {
        retryable: false,
        fix: "check the URL: it must point at the frontend's api_jsonrpc.php",
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ProviderError(`${where}: the answer is not JSON${snippet(text)}`, {
        retryable: false,
        cause: e,
        fix: "check the URL: it must point at the frontend's api_jsonrpc.php",
      });
    }
    if (!isResponse(parsed)) {
      throw new ProviderError(`${where}: the answer is not a JSON-RPC response${snippet(text)}`, {
        retryable: false,
      });
    }
    return parsed;
  }

  #rpcError(method: string, error: JsonRpcError): Error {
    const data =
      typeof error.data === "string"
        ? error.data
        : error.data === undefined
          ? ""
          : JSON.stringify(error.data);
    const detail = `${error.message}${data ? ` ${data}` : ""}`.trim();
    const where = `Zabbix API ${method} at ${this.url}`;
    if (CREDENTIAL_MESSAGES.test(detail)) {
      return new CredentialsError(`${where}: ${detail}`, {
        fix: "check the Zabbix API token: it must exist, be enabled, not be expired, and belong to a user who may read the hosts",
      });
    }
    // Code 1 is what api_jsonrpc.php answers when the frontend itself cannot run (its database is
    // down, its config is unreadable); -32603 and "Database error" are server-side failures too.
    if (
      error.code === 1 ||
      error.code === -32603 ||
      /database error|connecting to database|connection to database/i.test(detail)
    ) {
      return new ProviderError(`${where}: ${detail}`, {
        retryable: true,
        fix: "the Zabbix frontend could not serve the request: check it and its database",
      });
    }
    return new ProviderError(`${where}: ${detail} (code ${error.code})`, { retryable: false });
  }
}

/** True when a dotted version string is at least major.minor. */
export function atLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split(".").map((p) => Number.parseInt(p, 10));
  return a > major || (a === major && b >= minor);
}

function isResponse(v: unknown): v is JsonRpcResponse {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  if ("result" in o) return true;
  const e = o["error"];
  return typeof e === "object" && e !== null && typeof (e as Record<string, unknown>)["code"] === "number";
}

function isUndiciTimeout(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return (
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError"))
  );
}

function networkReason(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") {
      const known: Record<string, string> = {
        ECONNREFUSED: "connection refused",
        ECONNRESET: "connection reset",
        ENOTFOUND: "host not found",
        EAI_AGAIN: "name resolution failed",
        EHOSTUNREACH: "host unreachable",
        ENETUNREACH: "network unreachable",
        UND_ERR_SOCKET: "connection closed by the server",
        UND_ERR_CLOSED: "connection closed",
      };
      return `${known[code] ?? "network error"} (${code})`;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return e instanceof Error ? e.message : String(e);
}

function snippet(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t ? `: ${t.slice(0, 160)}${t.length > 160 ? "…" : ""}` : "";
}
