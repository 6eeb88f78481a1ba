/**
 * The way back after promotion (issue 17): keeping the previous version warm for a while after the
 * 100% step passes, and how long `rollback-release` may restore it. Recorded with the rollout (the
 * stored Policy), so the window is the one the release was deployed with.
 */
import { optionGroup, type Values } from "../../contract/options/def.js";

export const wayBackOptions = optionGroup({
  name: "way-back",
  defs: {
    keepPrevious: {
      kind: "duration",
      default: "0s",
      min: 0,
      max: 86_400_000,
      description:
        "After the 100% step passes, keep the previous version on the stable fleet at full capacity, serving 0%, this long before the instance refresh starts; a rollback meanwhile is one verified weight write. The rollback criteria keep being judged. 0 (the default): off.",
    },
    rollbackReleaseWindow: {
      kind: "duration",
      default: "24h",
      min: 60_000,
      max: 7 * 86_400_000,
      description:
        "How long after promotion `gray-deploy rollback-release` may put the previous version back (recorded with the rollout; outside it the verb refuses).",
    },
  },
});

export type WayBackOptions = Values<typeof wayBackOptions.defs>;
