/**
 * What the application layer does for the payment-grade checks: every secret a declaration names is
 * set before anything starts (refused, exit 2, naming the field and the variable), and the run's
 * hooks get one caller per kind — HTTP from src/hooks on any target, the others from the target's
 * own connection (Lambda on AWS), preflighted before anything changes.
 */
import { InvalidInputError } from "../contract/errors.js";
import type { HookSpec } from "../core/hooks.js";
import { isTerminal } from "../core/state.js";
import { systemClock } from "../engine/clock.js";
import type { TargetDeps, TargetRuntime } from "../engine/targets.js";
import { HttpHookCaller } from "../hooks/http.js";
import type { HookCaller } from "../ports/index.js";
import type { Options } from "./schema.js";

/** Every secret the run's declarations name, with where: `synthetic[0].secretHeaders.Authorization`. */
export function secretRefs(o: Pick<Options, "synthetic" | "hooks">): { field: string; env: string }[] {
  const refs: { field: string; env: string }[] = [];
  o.synthetic.forEach((s, i) => {
    for (const [header, ref] of Object.entries(s.secretHeaders)) {
      refs.push({ field: `synthetic[${i}].secretHeaders.${header}`, env: ref.env });
    }
  });
  o.hooks.forEach((h, i) => {
    if (h.kind === "http") refs.push({ field: `hooks[${i}].secretEnv`, env: h.secretEnv });
  });
  return refs;
}

/** Refuses a run whose declarations name a secret that is not set (before anything is opened). */
export function checkSecrets(
  o: Pick<Options, "synthetic" | "hooks">,
  secret: ((name: string) => string | undefined) | undefined,
): void {
  const issues: { field: string; message: string }[] = secretRefs(o)
    .filter((r) => {
      const v = secret?.(r.env);
      return v === undefined || v === "";
    })
    .map((r) => ({
      field: r.field,
      message: `names the secret $${r.env}, which is not set: export ${r.env} (Dagger: a ${r.env}=… line in --check-secrets)`,
    }));
  if (issues.length > 0) {
    throw new InvalidInputError(
      issues,
      "set each secret a check names (its value never goes in the declaration), then run again; nothing was changed",
    );
  }
}

/** The hooks a run calls: declared now, or those of the stored rollout it continues. */
function runHooks(o: Options, runtime: TargetRuntime): HookSpec[] {
  const found = runtime.found;
  const live = found && !isTerminal(found.phase) ? (found.plan.hooks ?? []) : [];
  return [...o.hooks, ...live];
}

/**
 * The `hooks` port of a run: HTTP hooks signed with keys read through `deps.secret`, other kinds
 * through the target's own callers; the declared ones preflighted (a Lambda function exists and may
 * be invoked). Null when the run has no hooks.
 */
export async function openHookCaller(
  o: Options,
  runtime: TargetRuntime,
  deps: TargetDeps,
): Promise<HookCaller | null> {
  const hooks = runHooks(o, runtime);
  if (hooks.length === 0) return null;
  const callers: Record<string, HookCaller> = {
    ...runtime.hookCallers,
    http: new HttpHookCaller({
      secret: deps.secret ?? (() => undefined),
      clock: deps.clock ?? systemClock(),
    }),
  };
  for (const kind of new Set(o.hooks.map((h) => h.kind))) {
    await callers[kind]?.preflight?.(
      o.hooks.filter((h) => h.kind === kind),
      deps.signal,
    );
  }
  return {
    async call(hook, context, signal) {
      const caller = callers[hook.kind];
      if (caller === undefined) {
        return { kind: "fail", detail: `cannot be called on --target ${o.target} (${hook.kind} hooks)` };
      }
      return caller.call(hook, context, signal);
    },
  };
}
