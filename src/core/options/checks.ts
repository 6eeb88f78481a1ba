/**
 * The plan's payment-grade checks, read by the core into the stored plan: synthetic transactions
 * (src/gates/synthetic.ts), lifecycle hooks (src/core/hooks.ts), the chosen-customers first step and
 * observe-only gates. `served(kind, target)` says whether a target can call a kind of hook (Lambda
 * hooks need the AWS target's connection).
 */
import { type OptionIssue, optionGroup, ROLLOUT, type Values } from "../../contract/options/def.js";
import { parseSynthetic, type SyntheticSpec, syntheticGateName } from "../../gates/synthetic.js";
import type { GateSpec } from "../../gates/types.js";
import { type HookSpec, parseHooks } from "../hooks.js";

/** Built-in gates that may be made observe-only; the others are the release's safety net. */
export const OBSERVABLE_BUILTIN = [
  "alarms",
  "relative-error-rate",
  "sequential-error-rate",
  "relative-latency",
] as const;

const HEADER = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}:[ \t]*\S.{0,127}$/;
const COOKIE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}=[^\s;,]{1,100}$/;

export function checkOptions(served: (kind: string, target: string) => string | undefined) {
  return optionGroup({
    name: "checks",
    defs: {
      synthetic: {
        kind: "json",
        parseJson: (raw: unknown) => parseSynthetic(raw),
        description:
          'Synthetic transactions sent straight to gray through the load balancer\'s header route, before the first customer reaches it (any failure rolls back) and every --synthetic-interval during each step (a gate: synthetic:<name>): a list of {name, method, path, headers, secretHeaders, body, expect: {status, json}} (README "Payment-grade checks"). Secrets by environment variable NAME only. Local default: one sandbox PIX charge.',
      },
      syntheticInterval: {
        kind: "duration",
        perTarget: true,
        min: 500,
        max: 600_000,
        description:
          "How often the synthetic transactions run against gray while a step bakes (a low rate on purpose).",
      },
      hooks: {
        kind: "json",
        parseJson: (raw: unknown) => parseHooks(raw),
        description:
          'Lifecycle hooks at pre-traffic, before-step, before-promotion, after-promotion and on-rollback: a list of {name, stage(s), url + secretEnv (a signed POST) or lambda (a function to invoke), timeout, retries, waitUpTo, pollEvery, onFailure} (README "Lifecycle hooks"). 2xx passes, 409/423 waits, anything else fails.',
      },
      observeGates: {
        kind: "list",
        description:
          "Gates judged and reported but never blocking or failing a step (to calibrate a new gate on real rollouts): custom:<gate>, synthetic:<transaction>, alarms, relative-error-rate, sequential-error-rate, relative-latency.",
      },
      pilotHeader: {
        kind: "string",
        pattern: {
          re: HEADER,
          hint: "Header-Name: value (ALB wildcards * and ? allowed), e.g. X-Tenant: acme",
        },
        description:
          "A first step for chosen customers: requests carrying this header (`Name: value`) go to gray before any percentage step. On AWS the Terraform module's pilot rule holds it (--pilot-rule-arn); given there, it is checked against the rule.",
      },
      pilotCookie: {
        kind: "string",
        pattern: { re: COOKIE, hint: "name=value, e.g. pilot=internal" },
        description:
          "Like --pilot-header, for requests carrying this cookie (`name=value`); on an ALB it is a Cookie header condition `*name=value*`.",
      },
    },
    check(o, { verb, target, all }) {
      const issues: OptionIssue[] = [];
      if (!ROLLOUT.includes(verb)) return issues;
      o.hooks.forEach((h: HookSpec, i: number) => {
        const why = served(h.kind, target);
        if (why !== undefined) issues.push({ field: `hooks[${i}].lambda`, message: why });
      });
      if (o.pilotHeader !== undefined && o.pilotCookie !== undefined) {
        issues.push({
          field: "pilotCookie",
          message: "give --pilot-header or --pilot-cookie, not both (one rule, one condition)",
        });
      }
      const gates = (all.gates as readonly GateSpec[] | undefined) ?? [];
      const known = new Set<string>([
        ...OBSERVABLE_BUILTIN,
        ...gates.map((g) => `custom:${g.name}`),
        ...o.synthetic.map((s: SyntheticSpec) => syntheticGateName(s.name)),
      ]);
      for (const name of o.observeGates) {
        if (known.has(name)) continue;
        const suggestion = [...known].find((k) => k.endsWith(`:${name}`));
        issues.push({
          field: "observeGates",
          message: `"${name}" is not a gate that can be observed${suggestion ? `: did you mean ${suggestion}?` : ""}; use ${[...known].join(", ")} (the built-in error-rate, latency, health and evidence gates always judge)`,
        });
      }
      return issues;
    },
  });
}

export type CheckOptions = Values<ReturnType<typeof checkOptions>["defs"]>;

/**
 * The chosen-customers rule's condition as an ALB http-header condition: `X-Tenant: acme` → header
 * X-Tenant, value acme; `pilot=internal` → header Cookie, value `*pilot=internal*` (ALB has no cookie
 * condition; the wildcard also matches a longer cookie name ending the same way, as it would on AWS).
 */
export function pilotCondition(
  o: Partial<Pick<CheckOptions, "pilotHeader" | "pilotCookie">>,
): { header: string; values: string[] } | null {
  if (o.pilotHeader !== undefined) {
    const at = o.pilotHeader.indexOf(":");
    return { header: o.pilotHeader.slice(0, at).trim(), values: [o.pilotHeader.slice(at + 1).trim()] };
  }
  if (o.pilotCookie !== undefined) return { header: "Cookie", values: [`*${o.pilotCookie}*`] };
  return null;
}
