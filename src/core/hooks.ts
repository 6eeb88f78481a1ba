/**
 * Lifecycle hooks: a team's own checks called at the stages of a rollout, by HTTP (a signed POST) or
 * by invoking an AWS Lambda function, with the same versioned JSON context and the same meaning of the
 * answer. Pure: declarations, the context sent, the meaning of an answer; the engine calls them
 * (src/engine/hooks.ts), adapters send them (src/hooks for HTTP, src/aws for Lambda).
 *
 * Stages (Flagger's and ECS's names in brackets):
 * - `pre-traffic`: gray is up and passed its smoke and synthetic checks; no customer has reached it
 *   (Flagger pre-rollout, ECS POST_TEST_TRAFFIC_SHIFT);
 * - `before-step`: before each forward step raises gray's share, the chosen-customers step included
 *   (Flagger confirm-traffic-increase);
 * - `before-promotion`: gray passed 100%, before the stable fleet is refreshed onto it (Flagger
 *   confirm-promotion);
 * - `after-promotion`: the rollout ended promoted (Flagger post-rollout) — notify only;
 * - `on-rollback`: traffic is back on stable after a rollback or abort (or the rollback failed) —
 *   notify only.
 *
 * The answer: 2xx passes; 409 or 423 means "not yet": the step holds (while its gates keep judging
 * it) and asks again after Retry-After or `pollEvery`, until `waitUpTo`; anything else fails. A
 * gating hook that fails rolls back, or pauses with `onFailure: pause` (`gray-deploy promote`
 * overrides it). Notify-only hooks never change the outcome: their failure is logged and reported.
 */
import { formatDuration, parseDuration } from "../contract/units.js";
import type { GateIssue } from "../gates/spec.js";
import { declarations } from "../gates/spec.js";

export const HOOK_STAGES = [
  "pre-traffic",
  "before-step",
  "before-promotion",
  "after-promotion",
  "on-rollback",
] as const;
export type HookStage = (typeof HOOK_STAGES)[number];
export const GATING_STAGES: readonly HookStage[] = ["pre-traffic", "before-step", "before-promotion"];
export const isGating = (stage: HookStage): boolean => GATING_STAGES.includes(stage);

/** The version of the context's shape; receivers branch on it. */
export const HOOK_CONTEXT_SCHEMA = "gray-deploy.hook-context/v1";
/** How far a receiver should accept a signature's timestamp from its own clock (either way). */
export const REPLAY_WINDOW_SECONDS = 300;

interface HookCommon {
  /** Lower-case letters, digits and dashes. */
  readonly name: string;
  readonly stages: readonly HookStage[];
  /** Per call. */
  readonly timeoutMs: number;
  /** Further tries of a call that got no answer (connection error, timeout). */
  readonly retries: number;
  /** How long a gating stage waits while the hook answers "not yet" (409/423). */
  readonly waitUpToMs: number;
  /** How long between asks while it says "not yet" (unless it sends Retry-After). */
  readonly pollEveryMs: number;
  /** A failed gating hook rolls back (default) or pauses the rollout. */
  readonly onFailure: "rollback" | "pause";
}

export type HookSpec =
  | (HookCommon & {
      readonly kind: "http";
      readonly url: string;
      /** The environment variable (Dagger Secret) holding the HMAC key. Never the key itself. */
      readonly secretEnv: string;
    })
  | (HookCommon & {
      readonly kind: "lambda";
      /** A function name, name:qualifier, or ARN. */
      readonly function: string;
    });

export type HookKind = HookSpec["kind"];

export const MAX_HOOKS = 10;
export const HOOK_DEFAULTS = {
  timeoutMs: 10_000,
  retries: 2,
  waitUpToMs: 15 * 60_000,
  pollEveryMs: 30_000,
} as const;

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
// Upper case only: a name is echoed in errors ("$NAME is not set"), and a pasted secret (tokens mix
// cases) must be refused without being quoted.
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const LAMBDA =
  /^(arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;
const FIELDS = [
  "name",
  "stage",
  "stages",
  "url",
  "secretEnv",
  "lambda",
  "timeout",
  "retries",
  "waitUpTo",
  "pollEvery",
  "onFailure",
] as const;

export type ParsedHooks =
  | { readonly ok: true; readonly value: readonly HookSpec[] }
  | { readonly ok: false; readonly issues: readonly GateIssue[] };

/** Parses `hooks` declarations, every problem with its place: `[1].secretEnv`. */
export function parseHooks(raw: unknown): ParsedHooks {
  const issues: GateIssue[] = [];
  const list = declarations(raw, issues, "hook");
  if (list.length > MAX_HOOKS)
    issues.push({ path: "", message: `${list.length} hooks declared; at most ${MAX_HOOKS}` });
  const hooks: HookSpec[] = [];
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    const h = parseHook(item, i, issues);
    if (h === null) return;
    const first = seen.get(h.name);
    if (first !== undefined)
      issues.push({ path: `[${i}].name`, message: `"${h.name}" is already the name of [${first}]` });
    else seen.set(h.name, i);
    hooks.push(h);
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: hooks };
}

function duration(
  o: Record<string, unknown>,
  field: string,
  dflt: number,
  min: number,
  max: number,
  issue: (f: string, m: string) => void,
): number {
  if (o[field] === undefined) return dflt;
  const p = parseDuration(o[field]);
  if (!p.ok) {
    issue(field, p.message);
    return dflt;
  }
  if (p.value < min || p.value > max) {
    issue(field, `${formatDuration(p.value)} is not from ${formatDuration(min)} to ${formatDuration(max)}`);
    return dflt;
  }
  return p.value;
}

function parseHook(item: unknown, i: number, issues: GateIssue[]): HookSpec | null {
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    issues.push({
      path: `[${i}]`,
      message: "expected a hook (an object with name, stage, url or lambda, …)",
    });
    return null;
  }
  const o = item as Record<string, unknown>;
  const label = typeof o.name === "string" && o.name !== "" ? ` (hook "${o.name}")` : "";
  const before = issues.length;
  const issue = (field: string, message: string) =>
    issues.push({ path: `[${i}]${field ? `.${field}` : ""}`, message: `${message}${label}` });
  for (const key of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(key)) issue(key, `unknown field: use ${FIELDS.join(", ")}`);
  }
  if (o.name === undefined) issue("name", "required, e.g. risk-approval");
  else if (typeof o.name !== "string" || !NAME.test(o.name)) {
    issue("name", "must be lower-case letters, digits and dashes (at most 63), e.g. risk-approval");
  }

  const stages: HookStage[] = [];
  if (o.stage !== undefined && o.stages !== undefined) issue("stages", "give stage or stages, not both");
  const rawStages = o.stages ?? (o.stage === undefined ? undefined : [o.stage]);
  const field = o.stages !== undefined ? "stages" : "stage";
  if (rawStages === undefined) issue("stage", `required: one of ${HOOK_STAGES.join(", ")}`);
  else if (!Array.isArray(rawStages) || rawStages.length === 0)
    issue(field, `expected a list of ${HOOK_STAGES.join(", ")}`);
  else {
    for (const s of rawStages) {
      if (!(HOOK_STAGES as readonly unknown[]).includes(s))
        issue(field, `${JSON.stringify(s)} is not one of ${HOOK_STAGES.join(", ")}`);
      else if (!stages.includes(s as HookStage)) stages.push(s as HookStage);
    }
  }

  const hasUrl = o.url !== undefined;
  const hasLambda = o.lambda !== undefined;
  if (hasUrl === hasLambda)
    issue(
      hasUrl ? "lambda" : "url",
      "give exactly one of url (an HTTP hook) or lambda (a function to invoke)",
    );
  let url: string | null = null;
  if (hasUrl) {
    let parsed: URL | null = null;
    try {
      parsed = typeof o.url === "string" ? new URL(o.url) : null;
    } catch {
      parsed = null;
    }
    if (parsed === null || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
      issue("url", "must be an http(s) URL, e.g. https://risk.example.com/gray-deploy");
    } else if (parsed.username !== "" || parsed.password !== "") {
      issue("url", "must not carry credentials: the request is signed with secretEnv's key instead");
    } else url = parsed.toString();
    if (o.secretEnv === undefined) {
      issue(
        "secretEnv",
        "required for an HTTP hook: the NAME of the environment variable holding the signing key (e.g. RISK_HOOK_SECRET)",
      );
    } else if (typeof o.secretEnv !== "string" || !ENV_NAME.test(o.secretEnv)) {
      issue(
        "secretEnv",
        "must be an environment variable NAME (upper-case letters, digits, _), e.g. RISK_HOOK_SECRET — never the key itself",
      );
    }
  } else if (o.secretEnv !== undefined) {
    issue("secretEnv", "applies to HTTP hooks only: a Lambda invocation is authenticated by IAM");
  }
  if (hasLambda && (typeof o.lambda !== "string" || !LAMBDA.test(o.lambda))) {
    issue("lambda", "must be a function name, name:alias or function ARN, e.g. gray-deploy-fraud-check");
  }

  const timeoutMs = duration(o, "timeout", HOOK_DEFAULTS.timeoutMs, 100, 60_000, issue);
  const waitUpToMs = duration(o, "waitUpTo", HOOK_DEFAULTS.waitUpToMs, 0, 86_400_000, issue);
  const pollEveryMs = duration(o, "pollEvery", HOOK_DEFAULTS.pollEveryMs, 100, 3_600_000, issue);
  let retries: number = HOOK_DEFAULTS.retries;
  if (o.retries !== undefined) {
    const n = typeof o.retries === "string" && /^\d+$/.test(o.retries) ? Number(o.retries) : o.retries;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 5)
      issue("retries", `${JSON.stringify(o.retries)} is not a whole number from 0 to 5`);
    else retries = n;
  }
  const onFailure = o.onFailure ?? "rollback";
  if (onFailure !== "rollback" && onFailure !== "pause")
    issue("onFailure", `${JSON.stringify(o.onFailure)} is not rollback or pause`);
  else if (onFailure === "pause" && stages.length > 0 && !stages.some(isGating)) {
    issue(
      "onFailure",
      "applies to gating stages only (pre-traffic, before-step, before-promotion): notify-only hooks never change the outcome",
    );
  }
  if (issues.length > before) return null;
  const common: HookCommon = {
    name: o.name as string,
    stages,
    timeoutMs,
    retries,
    waitUpToMs,
    pollEveryMs,
    onFailure: onFailure as "rollback" | "pause",
  };
  return hasUrl
    ? { ...common, kind: "http", url: url!, secretEnv: o.secretEnv as string }
    : { ...common, kind: "lambda", function: o.lambda as string };
}

/** Where a hook sends, for logs and plans: an HTTP URL without its query (which may carry a token). */
export function hookTarget(h: HookSpec): string {
  if (h.kind === "lambda") return `Lambda ${h.function}`;
  const u = new URL(h.url);
  return `POST ${u.origin}${u.pathname}`;
}

export function describeHook(h: HookSpec): string {
  const gating = h.stages.filter(isGating);
  const then =
    gating.length > 0
      ? `; not yet (409/423) holds up to ${formatDuration(h.waitUpToMs)}, a failure ${h.onFailure === "pause" ? "pauses" : "rolls back"}`
      : "; notify only";
  return `hook ${h.name} at ${h.stages.join(", ")}: ${hookTarget(h)}${h.kind === "http" ? ` signed with $${h.secretEnv}` : ""}, timeout ${formatDuration(h.timeoutMs)}, ${h.retries} retr${h.retries === 1 ? "y" : "ies"}${then}`;
}

/** Which occurrence of a stage a call is for: `pre-traffic`, `pilot`, `step:25`, `promotion`, … */
export type StageInstance = string;

/** The approval gate that overrides a failed gating hook (paused with onFailure: pause). */
export const hookGate = (hook: string, instance: StageInstance): string => `hook:${hook}@${instance}`;

/** What a hook is told. Versioned: fields are only ever added under the same schema. */
export interface HookContext {
  readonly schema: typeof HOOK_CONTEXT_SCHEMA;
  readonly hook: string;
  readonly stage: HookStage;
  /** `step:25`, `pilot`, `promotion`, … */
  readonly instance: StageInstance;
  /** 1 for the first ask at this stage, then 2, 3… while it answers "not yet". */
  readonly ask: number;
  readonly sentAt: string;
  readonly rollout: {
    readonly id: string;
    readonly target: string;
    readonly scope: string;
    readonly phase: string;
    readonly startedAt: string;
    readonly startedBy: string;
  };
  readonly release: {
    readonly image: string;
    readonly version: string | null;
    readonly previousVersion: string | null;
    readonly commit: string | null;
  };
  readonly weights: { readonly stable: number; readonly gray: number };
  /** The step about to start (before-step); null elsewhere. */
  readonly step: { readonly kind: "pilot" | "forward"; readonly weight: number } | null;
  /** Why (on-rollback: the rollback's reason; after-promotion: the outcome). */
  readonly reason: string | null;
  readonly outcome: string | null;
}

/** What an answer means. */
export type HookAnswer =
  | { readonly kind: "pass"; readonly detail: string }
  | { readonly kind: "not-yet"; readonly retryAfterMs: number | null; readonly detail: string }
  | { readonly kind: "fail"; readonly detail: string };

/** An HTTP hook's answer: 2xx passes, 409/423 not yet (honouring Retry-After seconds), else fails. */
export function httpAnswer(status: number, retryAfter: string | null, excerpt: string): HookAnswer {
  const tail = excerpt ? `: ${excerpt}` : "";
  if (status >= 200 && status < 300) return { kind: "pass", detail: `answered ${status}${tail}` };
  if (status === 409 || status === 423) {
    const secs = retryAfter !== null && /^\d{1,6}$/.test(retryAfter.trim()) ? Number(retryAfter) : null;
    return {
      kind: "not-yet",
      retryAfterMs: secs === null ? null : secs * 1000,
      detail: `answered ${status} (not yet)${tail}`,
    };
  }
  return { kind: "fail", detail: `answered ${status}${tail}` };
}

/**
 * A Lambda hook's answer, from what the function returned: `{ "status": 200 }` means what HTTP 200
 * means (409/423 not yet, with optional `retryAfterSeconds`; anything else fails), with an optional
 * `reason`. ECS's hook shape is understood too: `hookStatus` SUCCEEDED / IN_PROGRESS (with
 * `callBackDelay` seconds) / FAILED. A function error (FunctionError) or any other payload fails.
 */
export function lambdaAnswer(functionError: string | null, payload: string): HookAnswer {
  let doc: unknown;
  try {
    doc = payload.trim() === "" ? null : JSON.parse(payload);
  } catch {
    doc = undefined;
  }
  const o =
    doc !== null && typeof doc === "object" && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
  const reason = typeof o?.reason === "string" ? o.reason.slice(0, 200) : "";
  if (functionError !== null) {
    const msg = typeof o?.errorMessage === "string" ? o.errorMessage.slice(0, 200) : "";
    const type = typeof o?.errorType === "string" ? o.errorType : functionError;
    return { kind: "fail", detail: `the function failed (${type}${msg ? `: ${msg}` : ""})` };
  }
  if (o !== null && typeof o.hookStatus === "string") {
    const delay = typeof o.callBackDelay === "number" && o.callBackDelay >= 0 ? o.callBackDelay * 1000 : null;
    if (o.hookStatus === "SUCCEEDED")
      return { kind: "pass", detail: `returned SUCCEEDED${reason ? `: ${reason}` : ""}` };
    if (o.hookStatus === "IN_PROGRESS") {
      return {
        kind: "not-yet",
        retryAfterMs: delay,
        detail: `returned IN_PROGRESS (not yet)${reason ? `: ${reason}` : ""}`,
      };
    }
    return { kind: "fail", detail: `returned ${o.hookStatus}${reason ? `: ${reason}` : ""}` };
  }
  if (o !== null && typeof o.status === "number" && Number.isInteger(o.status)) {
    const retry = typeof o.retryAfterSeconds === "number" ? String(Math.round(o.retryAfterSeconds)) : null;
    const a = httpAnswer(o.status, retry, reason);
    return { ...a, detail: a.detail.replace(/^answered/, "returned status") };
  }
  return {
    kind: "fail",
    detail: `returned ${payload.length > 80 ? `${payload.slice(0, 77)}…` : payload || "nothing"}, not { "status": 200 } (or 409/423 for not yet)`,
  };
}

/** One call of a hook, as events and reports show it. */
export interface HookCall {
  readonly hook: string;
  readonly kind: HookKind;
  readonly stage: HookStage;
  readonly instance: StageInstance;
  readonly ask: number;
  readonly at: number;
  readonly ms: number;
  /** pass / not-yet / fail; `skipped`: a person overrode it (promote after a pause). */
  readonly result: "pass" | "not-yet" | "fail" | "skipped";
  readonly detail: string;
  /** Gating stages change the rollout; the others only notify. */
  readonly gating: boolean;
}

/** A gating stage's "not yet" answers so far (stored, so a resumed run keeps the same deadline). */
export interface HookWait {
  readonly since: number;
  readonly asks: number;
  readonly nextAskAt: number;
  readonly detail: string;
  /** It passed (or a person overrode it) while another hook of the stage still says "not yet". */
  readonly passed?: boolean;
}
