/** A rollout's state for the core's pure tables: the local target's plan with `raw` on top, then `patch`. */
import { policyOf } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import { newRollout, type RolloutState } from "../../src/core/state.js";

export const T0 = 1_000_000_000;

export function rolloutState(raw: RawOptions = {}, patch: Partial<RolloutState> = {}): RolloutState {
  const plan = policyOf(resolveOptions({ target: "local", ...raw }, { verb: "deploy-gray" }));
  return {
    ...newRollout({
      id: "r1",
      scope: "local",
      target: "local",
      image: "img:2",
      commit: null,
      startedBy: "t",
      plan,
      now: T0,
    }),
    ...patch,
  };
}
