/**
 * The weighted forward action, as pure functions: read it out of a rule's (or a listener's default)
 * action list, build the desired list for new weights, and compare. The router writes only when the
 * desired list differs from what is there, and always writes the WHOLE list back (ModifyRule and
 * ModifyListener replace it), changed only in the forward action's weights and stickiness.
 */
import type { Action, TargetGroupTuple } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { Weights } from "../core/types.js";

export interface ForwardTargets {
  readonly stableTargetGroupArn: string;
  readonly grayTargetGroupArn: string;
}

/** What the forward action says, in the domain's words. */
export interface ForwardState {
  /** Index of the forward action in the action list. */
  readonly index: number;
  /** ALB weights as written (relative, 0..999). */
  readonly raw: { readonly stable: number; readonly gray: number };
  /** The same in percent, summing to 100. */
  readonly weights: Weights;
  /** Target-group stickiness duration; null when off. */
  readonly stickinessSeconds: number | null;
}

export type ForwardProblem =
  | { readonly kind: "no-forward"; readonly types: readonly string[] }
  | { readonly kind: "several-forwards"; readonly count: number }
  | { readonly kind: "wrong-groups"; readonly found: readonly string[] }
  | { readonly kind: "no-weight" };

/** The target groups a forward action sends to (single-group form included). */
export function forwardGroups(action: Action): string[] {
  const tuples = action.ForwardConfig?.TargetGroups ?? [];
  if (tuples.length > 0) return tuples.map((t) => t.TargetGroupArn ?? "");
  return action.TargetGroupArn ? [action.TargetGroupArn] : [];
}

/** Finds and checks the weighted forward action over exactly the two groups. */
export function readForward(
  actions: readonly Action[],
  targets: ForwardTargets,
): { ok: true; forward: ForwardState } | { ok: false; problem: ForwardProblem } {
  const forwards = actions.map((a, i) => [a, i] as const).filter(([a]) => a.Type === "forward");
  if (forwards.length === 0) {
    return { ok: false, problem: { kind: "no-forward", types: actions.map((a) => a.Type ?? "?") } };
  }
  if (forwards.length > 1)
    return { ok: false, problem: { kind: "several-forwards", count: forwards.length } };
  const [action, index] = forwards[0]!;
  const groups = forwardGroups(action);
  const want = [targets.stableTargetGroupArn, targets.grayTargetGroupArn];
  if (groups.length !== 2 || !want.every((arn) => groups.includes(arn))) {
    return { ok: false, problem: { kind: "wrong-groups", found: groups } };
  }
  const tuples = action.ForwardConfig?.TargetGroups ?? [];
  const weightOf = (arn: string) => tuples.find((t) => t.TargetGroupArn === arn)?.Weight ?? 1;
  const raw = { stable: weightOf(targets.stableTargetGroupArn), gray: weightOf(targets.grayTargetGroupArn) };
  if (raw.stable + raw.gray <= 0) return { ok: false, problem: { kind: "no-weight" } };
  const sticky = action.ForwardConfig?.TargetGroupStickinessConfig;
  return {
    ok: true,
    forward: {
      index,
      raw,
      weights: percent(raw),
      stickinessSeconds: sticky?.Enabled ? (sticky.DurationSeconds ?? 3600) : null,
    },
  };
}

/** ALB weights are relative; the engine speaks percent. Rounds gray, so 0 stays 0 and 999:1 is not lost. */
export function percent(raw: { readonly stable: number; readonly gray: number }): Weights {
  const total = raw.stable + raw.gray;
  let gray = Math.round((raw.gray * 100) / total);
  if (gray === 0 && raw.gray > 0) gray = 1;
  if (gray === 100 && raw.stable > 0) gray = 99;
  return { stable: 100 - gray, gray };
}

/**
 * The action list with the forward action set to `weights` (percent written 1:1 as ALB weights) and
 * stickiness set to `stickinessSeconds` (null: off). Everything else is kept as read; the legacy
 * single-group `TargetGroupArn` is dropped because ALB refuses it next to a two-group ForwardConfig.
 */
export function desiredActions(
  actions: readonly Action[],
  forward: ForwardState,
  targets: ForwardTargets,
  weights: Weights,
  stickinessSeconds: number | null,
): Action[] {
  return actions.map((a, i) => {
    if (i !== forward.index) return a;
    const { TargetGroupArn: _single, ...rest } = a;
    const tuples: TargetGroupTuple[] = (a.ForwardConfig?.TargetGroups ?? []).map((t) => ({
      ...t,
      Weight:
        t.TargetGroupArn === targets.stableTargetGroupArn
          ? weights.stable
          : t.TargetGroupArn === targets.grayTargetGroupArn
            ? weights.gray
            : (t.Weight ?? 0),
    }));
    return {
      ...rest,
      ForwardConfig: {
        ...a.ForwardConfig,
        TargetGroups: tuples,
        TargetGroupStickinessConfig:
          stickinessSeconds === null
            ? { Enabled: false }
            : { Enabled: true, DurationSeconds: stickinessSeconds },
      },
    };
  });
}

/** Whether the forward action already is what `desiredActions` would write (so no write is needed). */
export function forwardMatches(
  forward: ForwardState,
  weights: Weights,
  stickinessSeconds: number | null,
): boolean {
  return (
    forward.raw.stable === weights.stable &&
    forward.raw.gray === weights.gray &&
    forward.stickinessSeconds === stickinessSeconds
  );
}

/** One sentence per problem, naming the resource; used in PreflightErrors. */
export function describeForwardProblem(
  problem: ForwardProblem,
  where: string,
  targets: ForwardTargets,
): string {
  switch (problem.kind) {
    case "no-forward":
      return `${where} has no forward action (its actions: ${problem.types.join(", ") || "none"})`;
    case "several-forwards":
      return `${where} has ${problem.count} forward actions; gray-deploy needs exactly one weighted forward`;
    case "no-weight":
      return `${where}'s forward action gives both target groups weight 0`;
    case "wrong-groups": {
      const missing = [targets.stableTargetGroupArn, targets.grayTargetGroupArn].filter(
        (arn) => !problem.found.includes(arn),
      );
      const extra = problem.found.filter(
        (arn) => arn !== targets.stableTargetGroupArn && arn !== targets.grayTargetGroupArn,
      );
      return (
        `${where}'s forward action holds ${problem.found.length === 0 ? "no target group" : problem.found.join(", ")}` +
        `, not exactly the two given target groups` +
        (missing.length > 0 ? ` (missing: ${missing.join(", ")})` : "") +
        (extra.length > 0 ? ` (unexpected: ${extra.join(", ")})` : "")
      );
    }
  }
}
