/**
 * How the fleets are sized while a rollout runs (issue 17): gray follows the load, or keeps the size
 * its step was entered with. Read by the core (capacity.ts, through the stored Policy).
 */
import { optionGroup, type Values } from "../../contract/options/def.js";

export const capacityOptions = optionGroup({
  name: "capacity",
  defs: {
    grayCapacity: {
      kind: "enum",
      choices: ["follow", "fixed"],
      default: "follow",
      description:
        "How gray is sized while it carries traffic: `follow` re-sizes gray at every evaluation so that a gray instance carries no more requests than a stable one (ceil(stable's current desired capacity × w ÷ (100 − w)) at gray's weight w, the whole load by stable's per-instance target at 100%, within gray's MaxSize), while stable is held at the size of the whole load when its scaling policy tracks requests per instance, changing a size only when the difference persists; `fixed` sizes gray once per step from stable's starting capacity.",
    },
    followLoadDelay: {
      kind: "duration",
      perTarget: true,
      min: 0,
      max: 3_600_000,
      description:
        "With --gray-capacity follow: how long a change of the load must persist before a fleet grows to follow it; shrinking waits three times as long.",
    },
  },
});

export type CapacityOptions = Values<typeof capacityOptions.defs>;
