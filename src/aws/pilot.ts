/**
 * The chosen-customers rule on an ALB: a listener rule the Terraform module creates (pilot_rule_arn),
 * evaluated before the weighted rule, whose conditions select chosen customers (an http-header
 * condition: a tenant header, or the Cookie header for a cookie) and whose forward action holds the
 * stable and gray target groups. Off, it forwards stable 100 / gray 0 — those customers are served
 * like everyone else; on, stable 0 / gray 100. Terraform ignores changes to its action, as for the
 * weighted rule, so `terraform apply` never fights a rollout.
 *
 * Switched with ModifyRule (the whole action list written back, as for the weights) and read back
 * with DescribeRules. A rollback switches it off before it touches the weights.
 */
import type { Action, Rule } from "@aws-sdk/client-elastic-load-balancing-v2";
import { PreflightError, VerificationError } from "../contract/errors.js";
import type { AwsApi } from "./api.js";
import { isAwsCode } from "./errors.js";
import {
  describeForwardProblem,
  desiredActions,
  type ForwardState,
  type ForwardTargets,
  readForward,
} from "./forward.js";

const ON = { stable: 0, gray: 100 };
const OFF = { stable: 100, gray: 0 };

export interface PilotRuleOptions {
  readonly api: AwsApi;
  readonly ruleArn: string;
  readonly targets: ForwardTargets;
  /** The condition the run expects (--pilot-header / --pilot-cookie as an http-header condition). */
  readonly expect?: { readonly header: string; readonly values: readonly string[] } | null;
}

export class AwsPilotRule {
  constructor(private readonly o: PilotRuleOptions) {}

  async #rule(signal?: AbortSignal): Promise<Rule> {
    try {
      const out = await this.o.api.elb.describeRules({ RuleArns: [this.o.ruleArn] }, signal);
      const rule = out.Rules?.[0];
      if (rule !== undefined) return rule;
    } catch (e) {
      if (!isAwsCode(e, "RuleNotFound", "RuleNotFoundException")) throw e;
    }
    throw new PreflightError(`the chosen-customers rule ${this.o.ruleArn} does not exist`, {
      field: "pilotRuleArn",
      fix: "pass the Terraform module's pilot rule (terraform output pilot_rule_arn), or drop --pilot-rule-arn",
    });
  }

  #forward(actions: readonly Action[]): ForwardState {
    const read = readForward(actions, this.o.targets);
    if (!read.ok) {
      throw new VerificationError(
        `${describeForwardProblem(read.problem, `the chosen-customers rule ${this.o.ruleArn}`, this.o.targets)}`,
        {
          retryable: false,
          fix: "give the pilot rule a forward action to the stable and gray target groups (the Terraform module's pilot rule has one)",
        },
      );
    }
    return read.forward;
  }

  /** Whether it forwards to gray now. */
  async get(signal?: AbortSignal): Promise<boolean> {
    return this.#forward((await this.#rule(signal)).Actions ?? []).weights.gray > 0;
  }

  /** Forwards to gray (`true`) or stable; writes only when it differs. The engine reads it back. */
  async set(enabled: boolean, signal?: AbortSignal): Promise<void> {
    const actions = (await this.#rule(signal)).Actions ?? [];
    const forward = this.#forward(actions);
    const want = enabled ? ON : OFF;
    if (
      forward.raw.stable === want.stable &&
      forward.raw.gray === want.gray &&
      forward.stickinessSeconds === null
    )
      return;
    await this.o.api.elb.modifyRule(
      { RuleArn: this.o.ruleArn, Actions: desiredActions(actions, forward, this.o.targets, want, null) },
      signal,
    );
  }

  /**
   * Before a rollout: the rule exists, is evaluated before the weighted rule (`before`: its
   * priority; null: the weights are the listener's default action), selects customers with an
   * http-header condition (the expected one when given), forwards to the two target groups, and is
   * off. Returns the fact for `plan`.
   */
  async preflight(before: number | null, signal?: AbortSignal): Promise<string> {
    const rule = await this.#rule(signal);
    const fail = (message: string, fix: string) =>
      new PreflightError(message, { field: "pilotRuleArn", fix });
    const where = `the chosen-customers rule ${this.o.ruleArn}`;
    if (rule.IsDefault)
      throw fail(`${where} is the listener's default rule`, "pass the pilot rule, not the default rule");
    const priority = Number(rule.Priority);
    if (before !== null && !(priority < before)) {
      throw fail(
        `${where} has priority ${rule.Priority}, evaluated after the weighted rule (priority ${before}): it would never see a request`,
        "give the pilot rule a lower priority number than the weighted rule (the Terraform module's pilot_rule_priority)",
      );
    }
    const headers = (rule.Conditions ?? []).filter((c) => c.Field === "http-header");
    if (headers.length === 0) {
      throw fail(
        `${where} selects no customers by header or cookie (conditions: ${(rule.Conditions ?? []).map((c) => c.Field).join(", ") || "none"}): it would send every request it sees to gray`,
        "give the pilot rule an http-header condition (the Terraform module's pilot_header or pilot_cookie)",
      );
    }
    const expect = this.o.expect;
    if (expect) {
      const found = headers.find(
        (c) => c.HttpHeaderConfig?.HttpHeaderName?.toLowerCase() === expect.header.toLowerCase(),
      );
      const values = found?.HttpHeaderConfig?.Values ?? [];
      if (!expect.values.every((v) => values.some((x) => x.toLowerCase() === v.toLowerCase()))) {
        throw fail(
          `${where} does not match ${expect.header}: ${expect.values.join(", ")} (it matches ${headers.map((c) => `${c.HttpHeaderConfig?.HttpHeaderName}: ${(c.HttpHeaderConfig?.Values ?? []).join(" or ")}`).join(" and ")})`,
          "pass the --pilot-header/--pilot-cookie the rule was created with, or omit it (the rule's condition is used as it is)",
        );
      }
    }
    let forward: ForwardState;
    try {
      forward = this.#forward(rule.Actions ?? []);
    } catch (e) {
      throw fail(
        e instanceof Error ? e.message : String(e),
        "give the pilot rule a forward action to the stable and gray target groups",
      );
    }
    if (forward.weights.gray > 0) {
      throw fail(
        `${where} sends its customers to gray (weight ${forward.raw.gray}) but no rollout is in progress`,
        "set its forward action back to stable 100 / gray 0 (or run `gray-deploy abort` if a rollout was lost), then deploy again",
      );
    }
    const matches = headers
      .map((c) => `${c.HttpHeaderConfig?.HttpHeaderName}: ${(c.HttpHeaderConfig?.Values ?? []).join(" or ")}`)
      .join(" and ");
    return `chosen-customers rule ${this.o.ruleArn} (priority ${rule.Priority}): requests with ${matches} go to stable until the first step switches them to gray`;
  }
}
