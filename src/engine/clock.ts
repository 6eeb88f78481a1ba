/** The real clock, for front ends. Tests inject virtual time instead. */
import { setTimeout as delay } from "node:timers/promises";
import { AbortedError } from "../contract/errors.js";
import type { Clock } from "../ports/index.js";

export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    async sleep(ms: number, signal?: AbortSignal): Promise<void> {
      try {
        await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
      } catch (e) {
        if (signal?.aborted) throw new AbortedError("interrupted", { cause: e });
        throw e;
      }
    },
  };
}
