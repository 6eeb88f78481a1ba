/**
 * Calls the plan's lifecycle hooks at each stage (src/core/hooks.ts says what the stages and the
 * answers mean) through the `hooks` port, retrying calls that got no answer (RETRY.hookCall).
 *
 * - A gating stage (`gate`) asks every hook of the stage; "not yet" is recorded in the state with the
 *   time of the next ask, and the engine keeps observing (and judging) the current step meanwhile —
 *   it never blocks on a hook. All passed: go on. One failed, or still "not yet" after `waitUpTo`:
 *   the stage fails (rollback, or a pause with `onFailure: pause`). A hook a person overrode
 *   (`promote` after such a pause) is skipped at that stage.
 * - A notify-only stage (`notify`) calls each hook once; failures are logged and reported, never
 *   thrown.
 */
import { toGrayDeployError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import type { Decision } from "../core/decide.js";
import {
  HOOK_CONTEXT_SCHEMA,
  type HookAnswer,
  type HookCall,
  type HookContext,
  type HookSpec,
  type HookStage,
  type HookWait,
  hookGate,
  hookTarget,
  isGating,
  type StageInstance,
} from "../core/hooks.js";
import { isApproved, type PauseInfo, type RolloutState } from "../core/state.js";
import { RETRY, retry } from "./retry.js";
import type { RunState } from "./run-state.js";

export type StageOutcome =
  | { readonly kind: "pass" }
  | { readonly kind: "wait"; readonly until: number }
  | {
      readonly kind: "fail";
      readonly hook: string;
      readonly gate: string;
      readonly onFailure: "rollback" | "pause";
      readonly reason: string;
    };

export interface StageInput {
  readonly stage: HookStage;
  readonly instance: StageInstance;
  readonly step?: HookContext["step"];
}

/** What the engine does instead of a decision whose gating hook failed: roll back, or pause. */
export interface Held {
  readonly decision: Decision;
  readonly pause?: PauseInfo;
}

const iso = (t: number) => new Date(t).toISOString();

export class Hooks {
  constructor(private readonly r: RunState) {}

  at(stage: HookStage): HookSpec[] {
    return (this.r.state.plan.hooks ?? []).filter((h) => h.stages.includes(stage));
  }

  /**
   * The gating hooks of what a decision starts: pre-traffic (before gray's first customer) and
   * before-step for a forward step, before-promotion for promotion. Null: go on. "wait": a hook said
   * not yet — a wait is recorded and slept (at most an interval), the loop observes again. Held: a
   * hook failed; the engine records its decision and rolls back or pauses.
   */
  async guard(d: Decision): Promise<Held | "wait" | null> {
    const inputs: StageInput[] = [];
    if (d.kind === "set-weights" && d.phase === "shifting") {
      if (this.r.state.steps.length === 0) inputs.push({ stage: "pre-traffic", instance: "pre-traffic" });
      inputs.push({
        stage: "before-step",
        instance: d.pilot ? "pilot" : `step:${d.weights.gray}`,
        step: d.pilot ? { kind: "pilot", weight: 0 } : { kind: "forward", weight: d.weights.gray },
      });
    } else if (d.kind === "promote") inputs.push({ stage: "before-promotion", instance: "promotion" });
    for (const input of inputs) {
      const r = await this.gate(input);
      if (r.kind === "pass") continue;
      if (r.kind === "wait") {
        const holding = Object.entries(this.r.state.hookWaits ?? {})
          .filter(([, w]) => w.passed !== true)
          .map(([gate, w]) => `${gate} ${w.detail} (ask ${w.asks})`);
        const reason = `${d.reason}; holding: ${holding.join(", ")}, asking again at ${iso(r.until)}`;
        this.r.record({ kind: "wait", until: r.until, reason, evidence: d.evidence });
        await this.r.save();
        const delay = Math.max(0, Math.min(r.until - this.r.now(), this.r.state.plan.intervalMs));
        await this.r.ctx.clock.sleep(delay, this.r.ctx.signal);
        return "wait";
      }
      if (r.onFailure === "rollback")
        return { decision: { kind: "rollback", reason: r.reason, evidence: d.evidence } };
      const detail = `${r.reason}; run \`gray-deploy promote\` to override it (${r.gate}) or \`gray-deploy abort\``;
      return {
        decision: { kind: "pause", pauseReason: "hook-failed", reason: detail, evidence: d.evidence },
        pause: { reason: "hook-failed", gate: r.gate, since: this.r.now(), detail },
      };
    }
    return null;
  }

  /** A gating stage: pass, wait (until when to ask again), or fail. Saves nothing: the caller does. */
  async gate(input: StageInput): Promise<StageOutcome> {
    const hooks = this.at(input.stage);
    if (hooks.length === 0) return { kind: "pass" };
    const waits: Record<string, HookWait> = { ...(this.r.state.hookWaits ?? {}) };
    let until = Number.POSITIVE_INFINITY;
    for (const hook of hooks) {
      const gate = hookGate(hook.name, input.instance);
      const prev = waits[gate];
      if (prev?.passed) continue;
      if (isApproved(this.r.state, gate)) {
        if (prev === undefined) {
          const by = this.r.state.release.approvals.find((a) => a.gate === gate)?.by ?? "an operator";
          this.#emit(hook, input, 0, 0, "skipped", `overridden by ${by}`);
          waits[gate] = { since: this.r.now(), asks: 0, nextAskAt: 0, detail: "overridden", passed: true };
        }
        continue;
      }
      const now = this.r.now();
      if (prev !== undefined && prev.nextAskAt > now) {
        until = Math.min(until, prev.nextAskAt);
        continue;
      }
      const ask = (prev?.asks ?? 0) + 1;
      const answer = await this.#ask(hook, input, ask);
      const since = prev?.since ?? now;
      if (answer.kind === "pass") {
        waits[gate] = { since, asks: ask, nextAskAt: 0, detail: answer.detail, passed: true };
        continue;
      }
      if (answer.kind === "fail") {
        this.#clear(input.instance);
        return this.#fail(hook, input, `${hookTarget(hook)} ${answer.detail}`);
      }
      const after = this.r.now();
      const deadline = since + hook.waitUpToMs;
      if (after >= deadline) {
        this.#clear(input.instance);
        return this.#fail(
          hook,
          input,
          `still not ready after ${formatDuration(after - since)} (waitUpTo ${formatDuration(hook.waitUpToMs)}; last: ${answer.detail})`,
        );
      }
      const next = Math.min(deadline, after + Math.max(100, answer.retryAfterMs ?? hook.pollEveryMs));
      waits[gate] = { since, asks: ask, nextAskAt: next, detail: answer.detail };
      until = Math.min(until, next);
    }
    if (until === Number.POSITIVE_INFINITY) {
      this.#clear(input.instance);
      return { kind: "pass" };
    }
    this.r.setState({ ...this.r.state, hookWaits: waits });
    return { kind: "wait", until };
  }

  /** A notify-only stage: each hook once; never throws, never changes the outcome. */
  async notify(stage: HookStage, reason: string | null, outcome: string | null): Promise<void> {
    for (const hook of this.at(stage)) {
      try {
        const answer = await this.#ask(hook, { stage, instance: stage }, 1, reason, outcome);
        if (answer.kind !== "pass") {
          this.r.log(
            "warn",
            `hook ${hook.name} (${stage}, notify only) ${answer.detail}; the outcome stands`,
          );
        }
      } catch (e) {
        this.r.log(
          "warn",
          `hook ${hook.name} (${stage}, notify only) could not be called: ${toGrayDeployError(e).message}`,
        );
      }
    }
  }

  #fail(hook: HookSpec, input: StageInput, detail: string): StageOutcome {
    const where = input.step
      ? ` (${input.step.kind === "pilot" ? "chosen customers" : `gray ${input.step.weight}%`})`
      : "";
    return {
      kind: "fail",
      hook: hook.name,
      gate: hookGate(hook.name, input.instance),
      onFailure: hook.onFailure,
      reason: `hook ${hook.name} failed at ${input.stage}${where}: ${detail}`,
    };
  }

  #clear(instance: StageInstance): void {
    const waits = Object.fromEntries(
      Object.entries(this.r.state.hookWaits ?? {}).filter(([gate]) => !gate.endsWith(`@${instance}`)),
    );
    this.r.setState({ ...this.r.state, hookWaits: waits });
  }

  /** One ask: the call, retried while no answer comes; an answer that never came is a failure. */
  async #ask(
    hook: HookSpec,
    input: StageInput,
    ask: number,
    reason: string | null = null,
    outcome: string | null = null,
  ): Promise<HookAnswer> {
    const started = this.r.now();
    let answer: HookAnswer;
    const caller = this.r.ports.hooks;
    if (caller === undefined) {
      answer = { kind: "fail", detail: `cannot be called here: no ${hook.kind} hook caller in this process` };
    } else {
      const context = this.#context(hook, input, ask, reason, outcome);
      try {
        answer = await this.r.withHeartbeat(() =>
          retry(RETRY.hookCall(hook.retries), () => caller.call(hook, context, this.r.ctx.signal), {
            clock: this.r.ctx.clock,
            signal: this.r.ctx.signal,
          }),
        );
      } catch (e) {
        if (this.r.ctx.signal?.aborted && isGating(input.stage)) throw e;
        answer = {
          kind: "fail",
          detail: `gave no answer after ${hook.retries + 1} tr${hook.retries === 0 ? "y" : "ies"}: ${toGrayDeployError(e).message}`,
        };
      }
    }
    this.#emit(hook, input, ask, this.r.now() - started, answer.kind, answer.detail);
    return answer;
  }

  #emit(
    hook: HookSpec,
    input: StageInput,
    ask: number,
    ms: number,
    result: HookCall["result"],
    detail: string,
  ) {
    const call: HookCall = {
      hook: hook.name,
      kind: hook.kind,
      stage: input.stage,
      instance: input.instance,
      ask,
      at: this.r.now(),
      ms: Math.max(0, ms),
      result,
      detail,
      gating: isGating(input.stage),
    };
    this.r.event({ type: "hook", at: call.at, call });
  }

  #context(
    hook: HookSpec,
    input: StageInput,
    ask: number,
    reason: string | null,
    outcome: string | null,
  ): HookContext {
    const s: RolloutState = this.r.state;
    return {
      schema: HOOK_CONTEXT_SCHEMA,
      hook: hook.name,
      stage: input.stage,
      instance: input.instance,
      ask,
      sentAt: iso(this.r.now()),
      rollout: {
        id: s.id,
        target: s.target,
        scope: s.scope,
        phase: s.phase,
        startedAt: iso(s.startedAt),
        startedBy: s.release.startedBy,
      },
      release: {
        image: s.release.image,
        version: s.release.version,
        previousVersion: s.release.previousVersion,
        commit: s.release.commit,
      },
      weights: { stable: s.weights.stable, gray: s.weights.gray },
      step: input.step ?? null,
      reason,
      outcome,
    };
  }
}
