/**
 * Reads an AWS API request off the wire, in the protocol the pinned SDK v3 client actually sends, into
 * the operation's input as a plain value shaped like the model (so validate.ts checks every protocol
 * the same way). What the decoding itself finds wrong (a parameter the model does not know, a number
 * that is not one) is an Issue too.
 *
 * The protocols, as the SDK clients pinned in package.json send them (checked, not assumed: the
 * strict self-test sends one real request per client):
 * - awsQuery (ELBv2, Auto Scaling, STS, IAM): form body `Action=…&Version=…`, structure members by
 *   name (or `locationName`), lists `Name.member.N`, maps `Name.entry.N.key/value`, empty list `Name=`.
 * - ec2 (EC2): the same form body, but lists `Name.N` and member names from `queryName`, else the
 *   capitalised `locationName`.
 * - JSON 1.0/1.1 (DynamoDB, ECR, and CloudWatch: @aws-sdk/client-cloudwatch 3.1164.0 sends JSON 1.0
 *   with `X-Amz-Target: GraniteServiceVersion20100801.Op`, although botocore's model lists
 *   smithy-rpc-v2-cbor first).
 * - rest-json (Lambda): method + URI template, `location` members in the path, query string and
 *   headers, the rest (or the `payload` member) in the body.
 * - rpc-v2-cbor is recognised and refused as `unsupported`: a newer SDK that switches CloudWatch to
 *   CBOR must teach this file to read it rather than pass unchecked.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Issue } from "./issues.js";
import { loadModel, type MemberRef, type Operation, SERVICES, type ServiceModel, shapeOf } from "./models.js";

export interface WireRequest {
  readonly method: string;
  /** Path and query string, as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export type WireProtocol = "query" | "ec2" | "json" | "rest-json" | "rpcv2-cbor";

export interface ParsedCall {
  readonly signingName: string;
  readonly model: ServiceModel;
  readonly protocol: WireProtocol;
  /** Empty when the operation could not be told (then `issues` says why). */
  readonly operation: string;
  readonly inputShape: string | null;
  readonly input: unknown;
  readonly issues: Issue[];
}

const refused = (path: string, kind: Issue["kind"], message: string, value?: unknown): Issue => ({
  path,
  kind,
  message,
  value,
  effect: "refused",
});

/** The SigV4 signing name of a request, or null when it is not signed. */
export function signingNameOf(headers: IncomingHttpHeaders): string | null {
  const auth = headers.authorization;
  if (typeof auth !== "string") return null;
  return /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(auth)?.[1] ?? null;
}

/**
 * The AWS call a request is, or null when it is not one (the emulator's control endpoints, anything
 * unsigned that names no known API version). Unsigned calls the SDK makes on purpose
 * (STS AssumeRoleWithWebIdentity) are recognised by their API version.
 */
export function parseCall(req: WireRequest): ParsedCall | null {
  const path = req.url.split("?")[0] ?? "/";
  if (path.startsWith("/moto-api/") || path.startsWith("/_gray/")) return null;
  const contentType = String(req.headers["content-type"] ?? "");
  const target = req.headers["x-amz-target"];
  let signingName = signingNameOf(req.headers);
  const form = contentType.startsWith("application/x-www-form-urlencoded")
    ? new URLSearchParams(req.body.toString("utf8"))
    : null;
  if (signingName === null) {
    const version = form?.get("Version");
    const byVersion = version ? SERVICES.find((s) => s.version === version) : undefined;
    if (!byVersion) return null;
    signingName = byVersion.signingName;
  }
  const model = loadModel(signingName);
  const protocols = model.metadata.protocols ?? [model.metadata.protocol];

  if (String(req.headers["smithy-protocol"] ?? "") === "rpc-v2-cbor") {
    const op = /\/operation\/([^/?]+)/.exec(path)?.[1] ?? "";
    return {
      signingName,
      model,
      protocol: "rpcv2-cbor",
      operation: op,
      inputShape: null,
      input: undefined,
      issues: [
        refused(
          op || path,
          "unsupported",
          "the strict proxy cannot read smithy-rpc-v2-cbor yet: teach test/support/strict/wire.ts (a newer SDK switched protocols?)",
        ),
      ],
    };
  }
  if (typeof target === "string") {
    const [prefix, op = ""] = target.split(".");
    const issues: Issue[] = [];
    if (!protocols.includes("json") || prefix !== model.metadata.targetPrefix) {
      issues.push(
        refused("X-Amz-Target", "unsupported", `${target} is not a JSON operation of ${model.name}`),
      );
    }
    return decodeJson(model, signingName, op, req.body, issues);
  }
  if (form !== null && (protocols.includes("query") || protocols.includes("ec2"))) {
    return decodeQuery(model, signingName, form, model.metadata.protocol === "ec2");
  }
  if (model.metadata.protocol === "rest-json") return decodeRestJson(model, signingName, req);
  return {
    signingName,
    model,
    protocol: "json",
    operation: "",
    inputShape: null,
    input: undefined,
    issues: [
      refused(
        path,
        "unsupported",
        `cannot tell the protocol of this ${model.name} request (content-type ${contentType || "none"})`,
      ),
    ],
  };
}

function operationOf(model: ServiceModel, name: string, issues: Issue[]): Operation | null {
  const op = model.operations[name];
  if (!op) {
    issues.push(refused("Action", "unsupported", `${model.name} has no operation ${JSON.stringify(name)}`));
    return null;
  }
  return op;
}

/** AWS's validation messages name members in lower camel case. */
export function pathOf(parent: string, member: string): string {
  const m = member.charAt(0).toLowerCase() + member.slice(1);
  return parent === "" ? m : `${parent}.${m}`;
}

// ── awsQuery and ec2 ──────────────────────────────────────────────────────────────────────────

interface Node {
  value?: string;
  readonly children: Map<string, Node>;
  readonly key: string;
}

function trie(form: URLSearchParams): Node {
  const root: Node = { children: new Map(), key: "" };
  for (const [k, v] of form) {
    if (k === "Action" || k === "Version") continue;
    let node = root;
    for (const seg of k.split(".")) {
      let next = node.children.get(seg);
      if (!next) {
        next = { children: new Map(), key: node.key === "" ? seg : `${node.key}.${seg}` };
        node.children.set(seg, next);
      }
      node = next;
    }
    node.value = v;
  }
  return root;
}

function decodeQuery(
  model: ServiceModel,
  signingName: string,
  form: URLSearchParams,
  ec2: boolean,
): ParsedCall {
  const issues: Issue[] = [];
  const operation = form.get("Action") ?? "";
  const protocol: WireProtocol = ec2 ? "ec2" : "query";
  const op = operationOf(model, operation, issues);
  if (form.get("Version") !== model.version) {
    issues.push(
      refused(
        "Version",
        "invalid",
        `must be ${model.version} for ${model.name}`,
        form.get("Version") ?? null,
      ),
    );
  }
  if (!op) return { signingName, model, protocol, operation, inputShape: null, input: undefined, issues };
  const root = trie(form);
  const inputShape = op.input?.shape ?? null;
  let input: unknown = {};
  if (inputShape === null) {
    for (const child of root.children.values())
      issues.push(refused(child.key, "unknown", "unknown parameter"));
  } else {
    input = queryValue(model, inputShape, root, "", ec2, issues);
  }
  return { signingName, model, protocol, operation, inputShape, input, issues };
}

function queryName(name: string, ref: MemberRef, ec2: boolean): string {
  if (ec2) {
    if (ref.queryName) return ref.queryName;
    if (ref.locationName) return ref.locationName.charAt(0).toUpperCase() + ref.locationName.slice(1);
    return name;
  }
  return ref.locationName ?? name;
}

function unknownUnder(node: Node, issues: Issue[]): void {
  issues.push(refused(node.key, "unknown", "unknown parameter"));
}

function queryValue(
  model: ServiceModel,
  shapeName: string,
  node: Node,
  path: string,
  ec2: boolean,
  issues: Issue[],
): unknown {
  const shape = shapeOf(model, shapeName);
  switch (shape.type) {
    case "structure": {
      if (node.value !== undefined && node.key !== "") {
        issues.push(refused(path, "invalid", "a structure cannot have a value of its own", node.value));
      }
      const out: Record<string, unknown> = {};
      const byWire = new Map<string, [string, MemberRef]>();
      for (const [name, ref] of Object.entries(shape.members ?? {}))
        byWire.set(queryName(name, ref, ec2), [name, ref]);
      for (const [seg, child] of node.children) {
        const m = byWire.get(seg);
        if (!m) {
          unknownUnder(child, issues);
          continue;
        }
        out[m[0]] = queryValue(model, m[1].shape, child, pathOf(path, m[0]), ec2, issues);
      }
      return out;
    }
    case "list": {
      const member = shape.member!;
      let items: Node | undefined = node;
      if (!ec2 && !shape.flattened) {
        if (node.children.size === 0 && node.value === "") return [];
        const name = member.locationName ?? "member";
        items = node.children.get(name);
        for (const [seg, child] of node.children) if (seg !== name) unknownUnder(child, issues);
        if (!items) return [];
      } else if (node.children.size === 0 && node.value === "") {
        return [];
      }
      return indexed(items, path, issues).map(([i, child]) =>
        queryValue(model, member.shape, child, `${path}.${i}.member`, ec2, issues),
      );
    }
    case "map": {
      const entries = shape.flattened ? node : node.children.get("entry");
      for (const [seg, child] of node.children)
        if (!shape.flattened && seg !== "entry") unknownUnder(child, issues);
      const out: Record<string, unknown> = {};
      if (!entries) return out;
      const keyName = shape.key?.locationName ?? "key";
      const valueName = shape.value?.locationName ?? "value";
      for (const [i, entry] of indexed(entries, path, issues)) {
        const k = entry.children.get(keyName);
        const v = entry.children.get(valueName);
        for (const [seg, child] of entry.children)
          if (seg !== keyName && seg !== valueName) unknownUnder(child, issues);
        if (k?.value === undefined) {
          issues.push(refused(`${path}.${i}.key`, "missing", "Member must not be null"));
          continue;
        }
        out[k.value] = v
          ? queryValue(model, shape.value!.shape, v, `${path}.${k.value}`, ec2, issues)
          : undefined;
      }
      return out;
    }
    default: {
      for (const child of node.children.values()) unknownUnder(child, issues);
      return scalarFromString(shape.type, node.value ?? "", path, issues);
    }
  }
}

/** The numbered children of a list or map node, in order; gaps and non-numbers are issues. */
function indexed(node: Node, path: string, issues: Issue[]): [number, Node][] {
  const out: [number, Node][] = [];
  for (const [seg, child] of node.children) {
    if (!/^[1-9][0-9]*$/.test(seg)) {
      unknownUnder(child, issues);
      continue;
    }
    out.push([Number(seg), child]);
  }
  out.sort((a, b) => a[0] - b[0]);
  out.forEach(([i], k) => {
    if (i !== k + 1)
      issues.push(refused(path, "invalid", `list positions must run 1, 2, 3…; got ${i} at place ${k + 1}`));
  });
  return out;
}

function scalarFromString(type: string, raw: string, path: string, issues: Issue[]): unknown {
  switch (type) {
    case "integer":
    case "long":
      if (!/^-?[0-9]+$/.test(raw)) {
        issues.push(refused(path, "invalid", "Member must be an integer", raw));
        return raw;
      }
      return Number(raw);
    case "double":
    case "float": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) {
        issues.push(refused(path, "invalid", "Member must be a number", raw));
        return raw;
      }
      return n;
    }
    case "boolean":
      if (raw !== "true" && raw !== "false") {
        issues.push(refused(path, "invalid", "Member must be true or false", raw));
        return raw;
      }
      return raw === "true";
    case "timestamp": {
      const t = Date.parse(raw);
      if (!Number.isFinite(t)) {
        issues.push(refused(path, "invalid", "Member must be an ISO 8601 timestamp", raw));
        return raw;
      }
      return new Date(t);
    }
    case "blob":
      return blob(raw, path, issues);
    default:
      return raw;
  }
}

/** A blob travels base64-encoded; the value is its bytes. */
function blob(raw: string, path: string, issues: Issue[]): Buffer | string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw) || raw.length % 4 !== 0) {
    issues.push(refused(path, "invalid", "Member must be base64-encoded", raw));
    return raw;
  }
  return Buffer.from(raw, "base64");
}

// ── JSON 1.0 / 1.1 ────────────────────────────────────────────────────────────────────────────

function decodeJson(
  model: ServiceModel,
  signingName: string,
  operation: string,
  body: Buffer,
  issues: Issue[],
): ParsedCall {
  const op = operationOf(model, operation, issues);
  let doc: unknown = {};
  const text = body.toString("utf8");
  if (text.trim() !== "") {
    try {
      doc = JSON.parse(text);
    } catch {
      issues.push(refused("body", "invalid", "the body is not JSON", text.slice(0, 80)));
    }
  }
  const inputShape = op?.input?.shape ?? null;
  const input = inputShape === null ? doc : jsonValue(model, inputShape, doc, "", issues);
  return { signingName, model, protocol: "json", operation, inputShape, input, issues };
}

function jsonValue(
  model: ServiceModel,
  shapeName: string,
  v: unknown,
  path: string,
  issues: Issue[],
): unknown {
  const shape = shapeOf(model, shapeName);
  const bad = (what: string): unknown => {
    issues.push(refused(path || "body", "invalid", `Member must be ${what}`, v));
    return v;
  };
  if (v === null) return bad("a value (not null)");
  switch (shape.type) {
    case "structure": {
      if (typeof v !== "object" || Array.isArray(v)) return bad("an object");
      const out: Record<string, unknown> = {};
      const byWire = new Map<string, [string, MemberRef]>();
      for (const [name, ref] of Object.entries(shape.members ?? {}))
        byWire.set(ref.locationName ?? name, [name, ref]);
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const m = byWire.get(k);
        if (!m) {
          issues.push(refused(pathOf(path, k), "unknown", "unknown parameter"));
          continue;
        }
        out[m[0]] = m[1].jsonvalue ? child : jsonValue(model, m[1].shape, child, pathOf(path, m[0]), issues);
      }
      return out;
    }
    case "list":
      if (!Array.isArray(v)) return bad("a list");
      return v.map((e, i) => jsonValue(model, shape.member!.shape, e, `${path}.${i + 1}.member`, issues));
    case "map": {
      if (typeof v !== "object" || Array.isArray(v)) return bad("a map");
      const out: Record<string, unknown> = {};
      for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
        out[k] = jsonValue(model, shape.value!.shape, e, `${path}.${k}`, issues);
      }
      return out;
    }
    case "string":
      return typeof v === "string" ? v : bad("a string");
    case "integer":
    case "long":
      return typeof v === "number" && Number.isInteger(v) ? v : bad("an integer");
    case "double":
    case "float":
      return typeof v === "number" || v === "NaN" || v === "Infinity" || v === "-Infinity"
        ? v
        : bad("a number");
    case "boolean":
      return typeof v === "boolean" ? v : bad("true or false");
    case "timestamp":
      if (typeof v === "number") return new Date(v * 1000);
      if (typeof v === "string" && Number.isFinite(Date.parse(v))) return new Date(Date.parse(v));
      return bad("a timestamp (epoch seconds)");
    case "blob":
      return typeof v === "string" ? blob(v, path, issues) : bad("base64 text");
    default:
      return v;
  }
}

// ── rest-json ─────────────────────────────────────────────────────────────────────────────────

function decodeRestJson(model: ServiceModel, signingName: string, req: WireRequest): ParsedCall {
  const issues: Issue[] = [];
  const [rawPath = "/", rawQuery = ""] = req.url.split("?");
  const query = new URLSearchParams(rawQuery);
  let found: { name: string; op: Operation; labels: Record<string, string> } | null = null;
  for (const [name, op] of Object.entries(model.operations)) {
    if (op.http.method !== req.method) continue;
    const [tplPath = "/", tplQuery = ""] = op.http.requestUri.split("?");
    const labels = matchUri(tplPath, rawPath);
    if (labels === null) continue;
    // A literal in the template's query (`?x-id=Op`) must be there too.
    const literal = new URLSearchParams(tplQuery);
    if ([...literal].some(([k, v]) => query.get(k) !== v)) continue;
    found = { name, op, labels };
    break;
  }
  if (!found) {
    issues.push(
      refused(rawPath, "unsupported", `no ${model.name} operation answers ${req.method} ${rawPath}`),
    );
    return {
      signingName,
      model,
      protocol: "rest-json",
      operation: "",
      inputShape: null,
      input: undefined,
      issues,
    };
  }
  const inputShape = found.op.input?.shape ?? null;
  const out: Record<string, unknown> = {};
  if (inputShape !== null) {
    const shape = shapeOf(model, inputShape);
    const bodyMembers: Record<string, MemberRef> = {};
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      const wire = ref.locationName ?? name;
      const path = pathOf("", name);
      const type = shapeOf(model, ref.shape).type;
      if (ref.location === "uri") {
        const raw = found.labels[wire];
        if (raw !== undefined) out[name] = scalarFromString(type, raw, path, issues);
      } else if (ref.location === "querystring") {
        const all = query.getAll(wire);
        if (all.length > 0) {
          out[name] = type === "list" ? all : scalarFromString(type, all[0]!, path, issues);
        }
      } else if (ref.location === "header") {
        const h = req.headers[wire.toLowerCase()];
        if (typeof h === "string") {
          out[name] = type === "blob" || type === "string" ? h : scalarFromString(type, h, path, issues);
        }
      } else if (ref.location === "headers") {
        // prefix headers: not used by any operation gray-deploy calls
      } else if (shape.payload === name) {
        const ptype = shapeOf(model, ref.shape);
        if (req.body.length > 0) {
          out[name] =
            ptype.type === "structure"
              ? jsonValue(model, ref.shape, safeJson(req.body, issues), path, issues)
              : req.body;
        }
      } else {
        bodyMembers[name] = ref;
      }
    }
    if (shape.payload === undefined && Object.keys(bodyMembers).length > 0 && req.body.length > 0) {
      const doc = safeJson(req.body, issues) as Record<string, unknown>;
      for (const [k, v] of Object.entries(doc ?? {})) {
        const entry = Object.entries(bodyMembers).find(([n, r]) => (r.locationName ?? n) === k);
        if (!entry) {
          issues.push(refused(pathOf("", k), "unknown", "unknown parameter"));
          continue;
        }
        out[entry[0]] = jsonValue(model, entry[1].shape, v, pathOf("", entry[0]), issues);
      }
    }
  }
  return { signingName, model, protocol: "rest-json", operation: found.name, inputShape, input: out, issues };
}

function safeJson(body: Buffer, issues: Issue[]): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    issues.push(refused("body", "invalid", "the body is not JSON"));
    return {};
  }
}

/** `{Label}` matches one path segment, `{Label+}` the rest; null when the path does not match. */
function matchUri(template: string, path: string): Record<string, string> | null {
  const t = template.split("/");
  const p = path.split("/");
  const out: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i]!;
    const label = /^\{([^}+]+)(\+)?\}$/.exec(seg);
    if (label?.[2]) {
      if (i >= p.length) return null;
      out[label[1]!] = decodeURIComponent(p.slice(i).join("/"));
      return out;
    }
    if (i >= p.length) return null;
    if (label) {
      if (p[i] === "") return null;
      out[label[1]!] = decodeURIComponent(p[i]!);
    } else if (seg !== p[i]) {
      return null;
    }
  }
  return t.length === p.length ? out : null;
}
