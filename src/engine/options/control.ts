/** Options of the control verbs: how deploy-gray meets a held lock, how promote and abort are recorded. */
import { optionGroup, type Values } from "../../contract/options/def.js";

export const controlOptions = optionGroup({
  name: "control",
  defs: {
    supersede: {
      kind: "boolean",
      default: false,
      verbs: ["deploy-gray"],
      description:
        "If a paused or stale rollout holds the lock, abort it first (saying so) instead of refusing.",
    },
    full: {
      kind: "boolean",
      default: false,
      verbs: ["promote"],
      description:
        "Skip the remaining steps and promote now (the 100% analysis and the return steps still run).",
    },
    reason: {
      kind: "string",
      verbs: ["abort", "promote", "rollback-release"],
      description: "Why the operator aborts or approves, recorded in the state and reports.",
    },
  },
});

export type ControlOptions = Values<typeof controlOptions.defs>;
