/**
 * Runs the plan's synthetic transactions against gray through the router's header route: once each
 * before any customer reaches gray (a failure rolls the release back), then a round every
 * `syntheticIntervalMs` while a step bakes (their gates judge the step: src/core/checks.ts).
 *
 * Secret headers are read through the context's `secret` lookup at the moment of sending and never
 * recorded: what is kept is the status and the judged fields, with any secret value that a service
 * might echo back replaced by `***`.
 */
import { toGrayDeployError } from "../contract/errors.js";
import { type SyntheticRun, type SyntheticSpec, syntheticGateName } from "../gates/synthetic.js";
import { fill, fillBody, judgeAnswer } from "../gates/synthetic-judge.js";
import type { GateResult } from "../gates/verdict.js";
import type { GrayRequest } from "../ports/index.js";
import { RETRY, retry } from "./retry.js";
import type { RunState } from "./run-state.js";

/** A check before any customer reached gray (a synthetic transaction) judged the release bad. */
export class Rejected extends Error {
  constructor(
    readonly reason: string,
    readonly evidence: readonly GateResult[],
  ) {
    super(reason);
  }
}

/** Marks a synthetic request, so the service (and its logs) can tell it from a customer's. */
export const SYNTHETIC_HEADER = "x-gray-deploy-synthetic";

const IDEMPOTENT = ["GET", "HEAD", "PUT", "DELETE"];

export class Synthetic {
  #lastRoundAt: number;

  constructor(private readonly r: RunState) {
    const runs = r.state.syntheticRuns ?? [];
    this.#lastRoundAt = Math.max(
      Number.NEGATIVE_INFINITY,
      ...runs.filter((x) => x.when === "step").map((x) => x.at),
    );
  }

  get specs(): readonly SyntheticSpec[] {
    return this.r.state.plan.synthetic ?? [];
  }

  /** Whether a round is due now: none yet in this step, or the interval since the last passed. */
  due(now: number): boolean {
    const s = this.r.state;
    if (this.specs.length === 0 || s.phase !== "shifting" || s.stableRefreshed || s.stepStartedAt === null) {
      return false;
    }
    const every = s.plan.syntheticIntervalMs ?? s.plan.intervalMs;
    return this.#lastRoundAt < s.stepStartedAt || now - this.#lastRoundAt >= every;
  }

  /** One round: every transaction once, one after another (a low rate on purpose). */
  async round(when: SyntheticRun["when"]): Promise<SyntheticRun[]> {
    this.#lastRoundAt = this.r.now();
    const runs: SyntheticRun[] = [];
    let n = this.r.state.syntheticCount ?? 0;
    for (const spec of this.specs) {
      n++;
      runs.push(await this.#run(spec, n, when));
    }
    return runs;
  }

  /**
   * Before any customer: one run of each, recorded in the state. Throws Rejected with the failed
   * ones' gates (the engine rolls back).
   */
  async preTraffic(): Promise<void> {
    const runs = await this.round("pre-traffic");
    const s = this.r.state;
    this.r.setState({
      ...s,
      syntheticRuns: [...(s.syntheticRuns ?? []), ...runs],
      syntheticCount: Math.max(s.syntheticCount ?? 0, ...runs.map((x) => x.n)),
    });
    // An observe-only transaction (--observe-gates synthetic:<name>) is reported, never rolls back.
    const observed = s.plan.observe ?? [];
    for (const x of runs.filter((r) => !r.ok && observed.includes(syntheticGateName(r.name)))) {
      this.r.log("warn", `${syntheticGateName(x.name)} (observe only) failed before traffic: ${x.detail}`);
    }
    const failed: GateResult[] = runs
      .filter((x) => !x.ok && !observed.includes(syntheticGateName(x.name)))
      .map((x) => ({
        gate: syntheticGateName(x.name),
        verdict: "fail",
        reason: `${syntheticGateName(x.name)} failed before any customer reached gray: ${x.detail}`,
        values: { status: x.status, n: x.n, ms: x.ms },
      }));
    if (failed.length > 0) throw new Rejected(failed.map((g) => g.reason).join("; "), failed);
    this.r.log(
      "info",
      `synthetic transactions passed before traffic: ${runs.map((x) => x.detail).join("; ")}`,
    );
    await this.r.save();
  }

  async #run(spec: SyntheticSpec, n: number, when: SyntheticRun["when"]): Promise<SyntheticRun> {
    const s = this.r.state;
    const started = this.r.now();
    const values = { release: s.release.image, rolloutId: s.id, n: String(n) };
    const secrets: string[] = [];
    const done = (ok: boolean, status: number | null, detail: string, unsent = false): SyntheticRun => {
      const run: SyntheticRun = {
        ...(unsent ? { unsent: true as const } : {}),
        name: spec.name,
        at: started,
        n,
        ok,
        status,
        detail: redact(detail, secrets),
        ms: Math.max(0, this.r.now() - started),
        when,
      };
      this.r.event({ type: "synthetic", at: run.at, run });
      return run;
    };
    const headers: Record<string, string> = { [SYNTHETIC_HEADER]: s.id };
    for (const [name, text] of Object.entries(spec.headers)) headers[name] = fill(text, values);
    for (const [name, ref] of Object.entries(spec.secretHeaders)) {
      const value = this.r.ctx.secret?.(ref.env);
      if (value === undefined || value === "") {
        return done(
          false,
          null,
          `not sent: the secret $${ref.env} (header ${name}) is not set in this process`,
          true,
        );
      }
      secrets.push(value);
      headers[name] = `${ref.prefix}${value}`;
    }
    const body = spec.body === null ? null : JSON.stringify(fillBody(spec.body, values));
    if (body !== null) headers["content-type"] = "application/json";
    const request: GrayRequest = {
      method: spec.method,
      path: fill(spec.path, values),
      headers,
      body,
      timeoutMs: spec.timeoutMs,
    };
    const router = this.r.ports.router;
    if (router.grayRequest === undefined) {
      return done(false, null, "not sent: this process has no header route to gray (--smoke-header)", true);
    }
    const keyed = Object.keys(spec.headers).some((h) => h.toLowerCase() === "idempotency-key");
    try {
      const answer = await retry(
        RETRY.synthetic(IDEMPOTENT.includes(spec.method) || keyed),
        () => router.grayRequest!(request, this.r.ctx.signal),
        { clock: this.r.ctx.clock, signal: this.r.ctx.signal },
      );
      if (answer.pool !== null && answer.pool !== "gray") {
        return done(
          false,
          answer.status,
          `${spec.method} ${spec.path} was answered by the ${answer.pool} pool, not gray: the header route does not reach gray`,
        );
      }
      // Redacted before judging: a detail quotes (and may truncate) what the service answered.
      const judged = judgeAnswer(spec, { status: answer.status, body: redact(answer.body, secrets) });
      return done(judged.ok, answer.status, judged.detail);
    } catch (e) {
      if (this.r.ctx.signal?.aborted) throw e;
      return done(false, null, `${spec.method} ${spec.path}: no answer (${toGrayDeployError(e).message})`);
    }
  }
}

/** Replaces every occurrence of a secret value (a service may echo a header back). */
function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const v of secrets) if (v.length >= 4) out = out.split(v).join("***");
  return out;
}
