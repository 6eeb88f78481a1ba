/**
 * Strict mode: an HTTP proxy in front of the AWS emulator that checks every AWS request against AWS's
 * own API models (models.ts, validate.ts) and the documented rules the models do not encode
 * (rules.ts), before moto — which accepts much that AWS refuses — ever sees it.
 *
 * - A request that breaks a rule AWS enforces gets AWS's answer (HTTP 400, ValidationError /
 *   InvalidParameterValue in the protocol's format, answers.ts) and never reaches the emulator.
 * - Every violation is also RECORDED and printed at once; `assertClean()` (called by the emulator's
 *   `stop()`) throws with all of them. The tool may well survive a 400 (a failed metrics read is
 *   "missing data", not a crash) and the SDK may retry: neither can hide a violation.
 * - Requests that are not AWS calls (the emulator's /moto-api and /_gray control endpoints) pass
 *   through unchecked and are counted as such.
 *
 * The proxy lives in the test process; it forwards over a keep-alive agent and streams answers back.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { refusal, validationMessage } from "./answers.js";
import type { EmulatorOnly } from "./emulator-only.js";
import type { Issue } from "./issues.js";
import { applyRules, type DocumentedRule, RULES } from "./rules.js";
import { validateValue } from "./validate.js";
import { type ParsedCall, parseCall } from "./wire.js";

export interface StrictViolation {
  readonly seq: number;
  readonly at: number;
  /** SigV4 signing name (elasticloadbalancing, monitoring, …). */
  readonly service: string;
  readonly operation: string;
  readonly issues: readonly Issue[];
  /** 400 when the proxy answered for AWS; `forwarded` for a "no-data" rule (AWS accepts, returns nothing). */
  readonly answered: 400 | "forwarded";
}

export interface StrictStats {
  /** Every request the proxy saw. */
  readonly requests: number;
  /** AWS calls checked against a model. */
  readonly checked: number;
  /** Non-AWS requests (emulator control endpoints), forwarded unchecked. */
  readonly passthrough: number;
  /** Checked calls per `service:Operation`. */
  readonly byOperation: Readonly<Record<string, number>>;
  /** Of those, the calls gray-deploy itself made (its User-Agent names it: src/contract/identity.ts AWS_USER_AGENT). */
  readonly byToolOperation: Readonly<Record<string, number>>;
  readonly violations: number;
  /** Findings of rules this test file may break against the emulator only (emulator-only.ts). */
  readonly exempted: Readonly<Record<string, number>>;
  /** Microseconds spent parsing and checking (not forwarding), for the overhead measurement. */
  readonly checkMicros: number;
}

export interface StrictProxyOptions {
  /** The emulator, e.g. http://127.0.0.1:5000. */
  readonly target: string;
  /** Rules relaxed for this test file (emulator-only.ts: the ONE place that grants these). */
  readonly exemptions?: readonly EmulatorOnly[];
  /** Who this proxy serves, in printed violations and reports (the test file). */
  readonly label?: string;
  /** Print violations to stderr as they happen. Default true. */
  readonly print?: boolean;
  /** Extra rules (tests of the proxy itself). */
  readonly rules?: readonly DocumentedRule[];
}

/** Checks one request; null when it is not an AWS call. Exported for the self-test and the report. */
export function checkRequest(
  req: { method: string; url: string; headers: IncomingMessage["headers"]; body: Buffer },
  o: { exemptions?: readonly EmulatorOnly[]; rules?: readonly DocumentedRule[]; now?: number } = {},
): { call: ParsedCall; issues: Issue[]; exempted: Issue[] } | null {
  const call = parseCall(req);
  if (call === null) return null;
  const issues = [...call.issues];
  if (call.inputShape !== null && call.operation !== "") {
    validateValue(call.model, call.inputShape, call.input, "", issues);
  }
  const found = call.operation
    ? applyRules(call.model.name, call.operation, call.input, { now: o.now ?? Date.now() }, o.rules ?? RULES)
    : [];
  const input = (call.input ?? {}) as Record<string, unknown>;
  const exempted = found.filter((i) =>
    (o.exemptions ?? []).some(
      (e) => e.rule === i.rule && (e.onlyWhen === undefined || e.onlyWhen.test(input)),
    ),
  );
  issues.push(...found.filter((i) => !exempted.includes(i)));
  return { call, issues, exempted };
}

export class StrictProxy {
  readonly #target: URL;
  readonly #o: StrictProxyOptions;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  #server: Server | null = null;
  #url: string | null = null;
  #seq = 0;
  #requests = 0;
  #checked = 0;
  #passthrough = 0;
  #checkNs = 0n;
  readonly #byOperation: Record<string, number> = {};
  readonly #byToolOperation: Record<string, number> = {};
  readonly #exempted: Record<string, number> = {};
  readonly violations: StrictViolation[] = [];
  /** Every violation recorded (the report), minus those a test took on purpose. */
  #all: StrictViolation[] = [];
  #closed = false;
  /** What the last report line covered (reports are deltas, so a run's lines add up). */
  #reported: StrictStats | null = null;
  readonly #reportedViolations = new Set<StrictViolation>();
  readonly #onExit = (): void => {
    // A proxy never closed (emulators pooled until the process exits) still reports, where the
    // process emits "exit" (vitest's workers may not: see checkpoint()).
    if (!this.#closed) this.#report();
  };

  constructor(o: StrictProxyOptions) {
    this.#target = new URL(o.target);
    this.#o = o;
  }

  async start(): Promise<string> {
    if (this.#url !== null) return this.#url;
    const server = createServer((req, res) => void this.#handle(req, res));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.once("exit", this.#onExit);
    return this.#url;
  }

  get url(): string {
    if (this.#url === null) throw new Error("strict proxy not started");
    return this.#url;
  }

  stats(): StrictStats {
    return {
      requests: this.#requests,
      checked: this.#checked,
      passthrough: this.#passthrough,
      byOperation: { ...this.#byOperation },
      byToolOperation: { ...this.#byToolOperation },
      violations: this.#all.length,
      exempted: { ...this.#exempted },
      checkMicros: Number(this.#checkNs / 1000n),
    };
  }

  /** Removes and returns the violations so far: for tests that send invalid requests on purpose. */
  takeViolations(): StrictViolation[] {
    const taken = this.violations.splice(0, this.violations.length);
    this.#all = this.#all.filter((v) => !taken.includes(v));
    return taken;
  }

  /**
   * The end of one user's turn on a shared proxy (a pooled emulator handed to the next scenario):
   * writes the report line for what was checked since the last one, then throws, listing the
   * violations since then (and forgets them, so the next user starts clean).
   */
  checkpoint(): void {
    this.#report();
    this.assertClean({ forget: true });
  }

  #report(): void {
    const now = this.stats();
    const last = this.#reported;
    const minus = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>> = {}) =>
      Object.fromEntries(
        Object.entries(a)
          .map(([k, v]) => [k, v - (b[k] ?? 0)])
          .filter(([, v]) => v !== 0),
      );
    const delta: StrictStats = {
      requests: now.requests - (last?.requests ?? 0),
      checked: now.checked - (last?.checked ?? 0),
      passthrough: now.passthrough - (last?.passthrough ?? 0),
      byOperation: minus(now.byOperation, last?.byOperation),
      byToolOperation: minus(now.byToolOperation, last?.byToolOperation),
      violations: now.violations - (last?.violations ?? 0),
      exempted: minus(now.exempted, last?.exempted),
      checkMicros: now.checkMicros - (last?.checkMicros ?? 0),
    };
    const fresh = this.#all.filter((v) => !this.#reportedViolations.has(v));
    for (const v of fresh) this.#reportedViolations.add(v);
    writeReport(this.#o.label, delta, fresh);
    this.#reported = now;
  }

  /**
   * Throws, listing every violation, when there is any. With `forget`, the violations are cleared
   * first (an emulator reused by the next scenario starts clean; this one still fails).
   */
  assertClean(o: { forget?: boolean } = {}): void {
    if (this.violations.length === 0) return;
    const found = o.forget ? this.violations.splice(0, this.violations.length) : this.violations;
    const lines = found.map(describeViolation);
    throw new Error(
      `strict mode: ${found.length} AWS request(s) that real AWS would refuse or answer with no data` +
        `${this.#o.label ? ` (${this.#o.label})` : ""}:\n${lines.join("\n")}\n` +
        "Fix the request (or, for a test that must use an emulator-only value, name it in test/support/strict/emulator-only.ts).",
    );
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.#agent.destroy();
    if (!this.#closed) {
      this.#closed = true;
      process.removeListener("exit", this.#onExit);
      this.#report();
    }
    if (server === null) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    this.#requests++;
    const t0 = process.hrtime.bigint();
    let checked: ReturnType<typeof checkRequest>;
    try {
      checked = checkRequest(
        { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body },
        { exemptions: this.#o.exemptions, rules: this.#o.rules },
      );
    } catch (e) {
      // The proxy itself could not read the request: that is a finding, never a silent pass.
      checked = null;
      this.#record(
        "unknown",
        "",
        [
          {
            path: req.url ?? "/",
            kind: "unsupported",
            message: `strict proxy error: ${String(e)}`,
            effect: "refused",
          },
        ],
        400,
      );
      this.#answer(res, { status: 400, headers: { "content-type": "text/plain" }, body: String(e) });
      return;
    } finally {
      this.#checkNs += process.hrtime.bigint() - t0;
    }
    if (checked === null) {
      this.#passthrough++;
      this.#forward(req, res, body);
      return;
    }
    const { call, issues, exempted } = checked;
    this.#checked++;
    const key = `${call.signingName}:${call.operation || "?"}`;
    this.#byOperation[key] = (this.#byOperation[key] ?? 0) + 1;
    if (/\bgray-deploy\b/.test(String(req.headers["x-amz-user-agent"] ?? req.headers["user-agent"] ?? ""))) {
      this.#byToolOperation[key] = (this.#byToolOperation[key] ?? 0) + 1;
    }
    for (const i of exempted) this.#exempted[i.rule!] = (this.#exempted[i.rule!] ?? 0) + 1;
    const refusedIssues = issues.filter((i) => i.effect === "refused");
    if (refusedIssues.length > 0) {
      this.#record(call.signingName, call.operation, issues, 400);
      this.#answer(res, refusal(call.protocol, call.signingName, refusedIssues));
      return;
    }
    if (issues.length > 0) this.#record(call.signingName, call.operation, issues, "forwarded");
    this.#forward(req, res, body);
  }

  #record(service: string, operation: string, issues: Issue[], answered: StrictViolation["answered"]): void {
    const v: StrictViolation = { seq: ++this.#seq, at: Date.now(), service, operation, issues, answered };
    this.violations.push(v);
    this.#all.push(v);
    if (this.#o.print !== false) process.stderr.write(`[strict mode] ${describeViolation(v)}\n`);
  }

  #answer(res: ServerResponse, a: { status: number; headers: Record<string, string>; body: string }): void {
    if (res.destroyed) return;
    res.writeHead(a.status, { ...a.headers, "content-length": String(Buffer.byteLength(a.body)) });
    res.end(a.body);
  }

  #forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const upstream = request(
      {
        host: this.#target.hostname,
        port: this.#target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.#agent,
      },
      (up) => {
        if (res.destroyed) {
          up.resume();
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (e) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      this.#answer(res, {
        status: 502,
        headers: { "content-type": "text/plain" },
        body: `strict proxy: upstream error ${e.message}`,
      });
    });
    upstream.end(body);
  }
}

export function describeViolation(v: StrictViolation): string {
  const refused = v.issues.filter((i) => i.effect === "refused");
  const what = v.answered === 400 ? "REFUSED (400)" : "ACCEPTED BUT AWS RETURNS NO DATA";
  const rules = [...new Set(v.issues.filter((i) => i.rule).map((i) => `${i.rule} ${i.doc}`))];
  return `  ${what} ${v.service}:${v.operation || "?"} — ${validationMessage(refused.length > 0 ? refused : v.issues)}${
    rules.length > 0 ? ` [${rules.join("; ")}]` : ""
  }`;
}

/**
 * With GRAY_STRICT_REPORT_DIR set, every proxy appends one JSON line (its label, stats and
 * violations) to `strict-<pid>.jsonl` there when it closes: `npx tsx scripts/strict-report.ts DIR`
 * sums a whole suite run (requests and operations checked, operations never exercised).
 */
function writeReport(
  label: string | undefined,
  stats: StrictStats,
  violations: readonly StrictViolation[],
): void {
  const dir = process.env.GRAY_STRICT_REPORT_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(
    join(dir, `strict-${process.pid}.jsonl`),
    `${JSON.stringify({ label: label ?? null, stats, violations: violations.map(describeViolation) })}\n`,
  );
}
