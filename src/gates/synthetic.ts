/**
 * Synthetic transactions: requests a team declares (a PIX charge in the processor's sandbox, a
 * balance read), sent through the load balancer's header route straight to gray — before the first
 * customer reaches it, and again at a low rate during every step — and judged on the answer's status
 * and on fields of its JSON body. A health check that answers 200 while the release cannot authorise
 * a payment passes the smoke test; it does not pass this.
 *
 * A declaration, as written (YAML):
 *
 * ```yaml
 * synthetic:
 *   - name: pix-charge                    # reported as synthetic:pix-charge
 *     method: POST
 *     path: /v1/payments
 *     headers: { Idempotency-Key: "gray-{rolloutId}-{n}" }
 *     secretHeaders:                      # the value is read from the environment variable NAMED here
 *       Authorization: { env: PIX_SANDBOX_TOKEN, prefix: "Bearer " }
 *     body: { amount: 100, method: pix, sandbox: true, description: "gray-deploy {release}" }
 *     expect:
 *       status: 201                       # or a list: [200, 201]
 *       json: ['$.status == "approved"', "$.id exists"]
 *     timeout: 10s
 *     failAfter: 2                        # failed runs in a row during a step that fail the gate
 * ```
 *
 * `{release}` (the image), `{rolloutId}` and `{n}` (the run's number) are substituted in the path,
 * the headers and every string of the body. Credentials are never written in a declaration: a header
 * that carries one (Authorization, Cookie, X-Api-Key, …) must be a `secretHeaders` entry naming the
 * environment variable that holds it (a Dagger Secret of that name). Pure: parsing and judging only;
 * the engine sends the requests (src/engine/synthetic.ts).
 */
import { formatDuration, parseDuration } from "../contract/units.js";
import type { GateIssue } from "./spec.js";
import { declarations } from "./spec.js";

export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
export type SyntheticMethod = (typeof METHODS)[number];

/** A check on one field of the answer's JSON body: `$.status == "approved"`, `$.id exists`. */
export interface JsonExpectation {
  /** As written, for reasons: `$.status == "approved"`. */
  readonly text: string;
  /** `$.a.b[0]` → ["a", "b", 0]. */
  readonly path: readonly (string | number)[];
  readonly op: "==" | "!=" | "exists";
  readonly value?: unknown;
}

export interface SecretHeader {
  /** The environment variable (a Dagger Secret's name) holding the value. Never the value itself. */
  readonly env: string;
  /** Written before the value (`Bearer `). */
  readonly prefix: string;
}

export interface SyntheticSpec {
  /** Lower-case letters, digits and dashes; the gate is reported as `synthetic:<name>`. */
  readonly name: string;
  readonly method: SyntheticMethod;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly secretHeaders: Readonly<Record<string, SecretHeader>>;
  /** A JSON value sent as the body (content-type application/json); null: no body. */
  readonly body: unknown;
  readonly expect: { readonly statuses: readonly number[]; readonly json: readonly JsonExpectation[] };
  readonly timeoutMs: number;
  readonly failAfter: number;
}

/** One run of one transaction: what the release answered, judged. Stored (bounded) in the rollout. */
export interface SyntheticRun {
  readonly name: string;
  readonly at: number;
  /** The run's number within the rollout (`{n}`). */
  readonly n: number;
  readonly ok: boolean;
  /** The answer's status; null when there was no answer (connection error, timeout). */
  readonly status: number | null;
  /** What was checked and seen, or why it failed; never a header value. */
  readonly detail: string;
  readonly ms: number;
  /** Where it ran: before any customer (pre-traffic) or during a step. */
  readonly when: "pre-traffic" | "step";
  /**
   * It could not be sent from this process (a secret not set here, no header route): a measurement
   * error — the gate is inconclusive, never judged on it.
   */
  readonly unsent?: true;
}

export const MAX_SYNTHETIC = 10;
export const DEFAULT_SYNTHETIC_TIMEOUT_MS = 10_000;
export const DEFAULT_FAIL_AFTER = 2;
/** Runs kept per transaction in the stored rollout (the gate looks at the current step's). */
export const RUNS_KEPT = 12;
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
// Upper case only: a name is echoed in errors ("$NAME is not set"), and a pasted secret (tokens mix
// cases) must be refused without being quoted.
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const FIELDS = [
  "name",
  "method",
  "path",
  "headers",
  "secretHeaders",
  "body",
  "expect",
  "timeout",
  "failAfter",
] as const;
/** Headers that carry credentials: never inline, always secretHeaders. */
const CREDENTIAL_HEADERS = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "x-api-key",
  "api-key",
  "x-auth-token",
];
/** Headers the transport or the route owns. */
const RESERVED_HEADERS = [
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "x-gray-deploy-pool",
  "x-gray-deploy-synthetic",
];
export const PLACEHOLDERS = ["release", "rolloutId", "n"] as const;

export type ParsedSynthetic =
  | { readonly ok: true; readonly value: readonly SyntheticSpec[] }
  | { readonly ok: false; readonly issues: readonly GateIssue[] };

export const syntheticGateName = (name: string): `synthetic:${string}` => `synthetic:${name}`;

/** Parses `synthetic` declarations, reporting every problem with its place: `[0].expect.status`. */
export function parseSynthetic(raw: unknown): ParsedSynthetic {
  const issues: GateIssue[] = [];
  const list = declarations(raw, issues, "synthetic transaction");
  if (list.length > MAX_SYNTHETIC) {
    issues.push({ path: "", message: `${list.length} transactions declared; at most ${MAX_SYNTHETIC}` });
  }
  const specs: SyntheticSpec[] = [];
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    const s = parseOne(item, i, issues);
    if (s === null) return;
    const first = seen.get(s.name);
    if (first !== undefined) {
      issues.push({ path: `[${i}].name`, message: `"${s.name}" is already the name of [${first}]` });
    } else seen.set(s.name, i);
    specs.push(s);
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: specs };
}

type Issue = (field: string, message: string) => void;

function parseOne(item: unknown, i: number, issues: GateIssue[]): SyntheticSpec | null {
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    issues.push({ path: `[${i}]`, message: "expected a transaction (an object with name, path, expect, …)" });
    return null;
  }
  const o = item as Record<string, unknown>;
  const label = typeof o.name === "string" && o.name !== "" ? ` (transaction "${o.name}")` : "";
  const before = issues.length;
  const issue: Issue = (field, message) =>
    issues.push({ path: `[${i}]${field ? `.${field}` : ""}`, message: `${message}${label}` });
  for (const key of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      issue(key, `unknown field: use ${FIELDS.join(", ")}`);
    }
  }
  if (o.name === undefined) issue("name", "required, e.g. pix-charge");
  else if (typeof o.name !== "string" || !NAME.test(o.name)) {
    issue("name", "must be lower-case letters, digits and dashes (at most 63), e.g. pix-charge");
  }
  const method = o.method === undefined ? "GET" : typeof o.method === "string" ? o.method.toUpperCase() : "";
  if (!(METHODS as readonly string[]).includes(method)) {
    issue("method", `${JSON.stringify(o.method)} is not one of ${METHODS.join(", ")}`);
  }
  if (o.path === undefined) issue("path", "required: the request's path, starting with /, e.g. /v1/payments");
  else if (typeof o.path !== "string" || !/^\/[^\s#]*$/.test(o.path)) {
    issue("path", `${JSON.stringify(o.path)} is not a path starting with / (no spaces, no #fragment)`);
  } else placeholderIssues("path", o.path, issue);

  const headers = parseHeaders(o.headers, issue);
  const secretHeaders = parseSecretHeaders(o.secretHeaders, headers, issue);

  const body = o.body === undefined ? null : o.body;
  if (body !== null) {
    if (method === "GET" || method === "HEAD") issue("body", `a ${method} request carries no body`);
    const text = JSON.stringify(body);
    if (text === undefined) issue("body", "must be a JSON value");
    else if (text.length > 16_384) issue("body", `${text.length} bytes as JSON; at most 16384`);
    else walkStrings(body, (s, where) => placeholderIssues(`body${where}`, s, issue));
  }

  const expect = parseExpect(o.expect, issue);
  let timeoutMs = DEFAULT_SYNTHETIC_TIMEOUT_MS;
  if (o.timeout !== undefined) {
    const p = parseDuration(o.timeout);
    if (!p.ok) issue("timeout", p.message);
    else if (p.value < 100 || p.value > 60_000) {
      issue("timeout", `${formatDuration(p.value)} is not from 100ms to 60s`);
    } else timeoutMs = p.value;
  }
  let failAfter = DEFAULT_FAIL_AFTER;
  if (o.failAfter !== undefined) {
    const n =
      typeof o.failAfter === "string" && /^\d+$/.test(o.failAfter) ? Number(o.failAfter) : o.failAfter;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 10) {
      issue("failAfter", `${JSON.stringify(o.failAfter)} is not a whole number from 1 to 10`);
    } else failAfter = n;
  }
  if (issues.length > before || expect === null) return null;
  return {
    name: o.name as string,
    method: method as SyntheticMethod,
    path: o.path as string,
    headers,
    secretHeaders,
    body,
    expect,
    timeoutMs,
    failAfter,
  };
}

function placeholderIssues(field: string, text: string, issue: Issue): void {
  const bad = [...text.matchAll(/\{([^{}]*)\}/g)]
    .map((m) => m[1]!)
    .filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
  if (bad.length > 0) {
    issue(
      field,
      `unknown placeholder ${bad.map((b) => `{${b}}`).join(", ")}: use ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")} (secrets go in secretHeaders)`,
    );
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function headerNameIssue(name: string, field: string, issue: Issue): boolean {
  if (!TOKEN.test(name)) {
    issue(field, "is not a valid HTTP header name");
    return true;
  }
  if (RESERVED_HEADERS.includes(name.toLowerCase())) {
    issue(field, "is set by gray-deploy or the transport: remove it");
    return true;
  }
  return false;
}

function parseHeaders(raw: unknown, issue: Issue): Record<string, string> {
  if (raw === undefined) return {};
  if (!isObject(raw)) {
    issue("headers", 'expected an object of header names and values, e.g. { "Idempotency-Key": "gray-{n}" }');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const field = `headers.${name}`;
    if (headerNameIssue(name, field, issue)) continue;
    if (CREDENTIAL_HEADERS.includes(name.toLowerCase())) {
      issue(
        field,
        `carries a credential: never write it in the declaration; declare it under secretHeaders with the environment variable that holds it, e.g. secretHeaders: { ${name}: { env: PIX_SANDBOX_TOKEN } }`,
      );
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number") {
      issue(field, "must be a string");
      continue;
    }
    const text = String(value);
    if (/[\r\n]/.test(text)) {
      issue(field, "must not contain line breaks");
      continue;
    }
    placeholderIssues(field, text, issue);
    out[name] = text;
  }
  return out;
}

function parseSecretHeaders(
  raw: unknown,
  headers: Readonly<Record<string, string>>,
  issue: Issue,
): Record<string, SecretHeader> {
  if (raw === undefined) return {};
  if (!isObject(raw)) {
    issue(
      "secretHeaders",
      "expected an object of header names and environment variable names, e.g. { Authorization: { env: PIX_SANDBOX_TOKEN, prefix: 'Bearer ' } }",
    );
    return {};
  }
  const out: Record<string, SecretHeader> = {};
  for (const [name, value] of Object.entries(raw)) {
    const field = `secretHeaders.${name}`;
    if (headerNameIssue(name, field, issue)) continue;
    if (Object.keys(headers).some((h) => h.toLowerCase() === name.toLowerCase())) {
      issue(field, "is also in headers: declare each header once");
      continue;
    }
    const o = typeof value === "string" ? { env: value } : isObject(value) ? value : null;
    if (o === null) {
      issue(field, "expected the name of an environment variable, or { env: NAME, prefix: 'Bearer ' }");
      continue;
    }
    for (const k of Object.keys(o))
      if (k !== "env" && k !== "prefix") issue(`${field}.${k}`, "unknown field");
    const env = o.env;
    if (typeof env !== "string" || !ENV_NAME.test(env)) {
      issue(
        `${field}.env`,
        "must be an environment variable NAME (upper-case letters, digits, _), e.g. PIX_SANDBOX_TOKEN — never the secret itself",
      );
      continue;
    }
    const prefix = o.prefix ?? "";
    if (typeof prefix !== "string" || /[\r\n]/.test(prefix) || prefix.length > 32) {
      issue(`${field}.prefix`, "must be a short string such as 'Bearer '");
      continue;
    }
    out[name] = { env, prefix };
  }
  return out;
}

function parseExpect(raw: unknown, issue: Issue): SyntheticSpec["expect"] | null {
  if (raw === undefined) {
    issue("expect", "required: at least the status, e.g. expect: { status: 201 }");
    return null;
  }
  if (!isObject(raw)) {
    issue("expect", "expected { status, json }");
    return null;
  }
  for (const k of Object.keys(raw)) if (k !== "status" && k !== "json") issue(`expect.${k}`, "unknown field");
  const rawStatuses = raw.status === undefined ? [] : Array.isArray(raw.status) ? raw.status : [raw.status];
  const statuses: number[] = [];
  if (rawStatuses.length === 0)
    issue("expect.status", "required: the status a healthy release answers, e.g. 201");
  for (const s of rawStatuses) {
    const n = typeof s === "string" && /^\d{3}$/.test(s) ? Number(s) : s;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 100 || n > 599) {
      issue("expect.status", `${JSON.stringify(s)} is not an HTTP status (100 to 599)`);
    } else statuses.push(n);
  }
  const rawJson = raw.json === undefined ? [] : Array.isArray(raw.json) ? raw.json : [raw.json];
  const json: JsonExpectation[] = [];
  rawJson.forEach((e, j) => {
    const parsed = typeof e === "string" ? parseExpectation(e) : null;
    if (parsed === null || typeof parsed === "string") {
      issue(
        `expect.json[${j}]`,
        `${JSON.stringify(e)} is not an expectation: write '$.field == "value"', '$.field != 0' or '$.field exists'${typeof parsed === "string" ? ` (${parsed})` : ""}`,
      );
    } else json.push(parsed);
  });
  if (statuses.length !== rawStatuses.length || json.length !== rawJson.length) return null;
  return { statuses, json };
}

/** `$.a.b[0] == "x"` → an expectation, or why it is not one. */
export function parseExpectation(text: string): JsonExpectation | string | null {
  const m = /^\s*(\$(?:\.[A-Za-z_][\w-]*|\[\d+\])*)\s*(?:(==|!=)\s*(.+?)|(exists))\s*$/.exec(text);
  if (m === null) return null;
  const path: (string | number)[] = [];
  for (const seg of m[1]!.slice(1).matchAll(/\.([A-Za-z_][\w-]*)|\[(\d+)\]/g)) {
    path.push(seg[1] !== undefined ? seg[1] : Number(seg[2]));
  }
  if (path.length === 0) return "the path must name a field, e.g. $.status";
  if (m[4] === "exists") return { text: text.trim(), path, op: "exists" };
  let value: unknown;
  try {
    value = JSON.parse(m[3]!);
  } catch {
    return `${m[3]} is not a JSON value: quote strings, e.g. "approved"`;
  }
  return { text: text.trim(), path, op: m[2] as "==" | "!=", value };
}

function walkStrings(v: unknown, f: (s: string, where: string) => void, where = ""): void {
  if (typeof v === "string") f(v, where);
  else if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) walkStrings(x, f, `${where}[${i}]`);
  } else if (isObject(v)) for (const [k, x] of Object.entries(v)) walkStrings(x, f, `${where}.${k}`);
}
