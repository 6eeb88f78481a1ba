/**
 * A rehearsed peak (`--rps-ramp`): the load generator's rate climbs linearly from --rps to the ramp's
 * rate over the forward steps' planned bake, then stays there until the rollout ends.
 */
import type { Clock } from "../ports/index.js";
import type { LoadGenerator } from "./load.js";

export class LoadRamp {
  readonly #stop = new AbortController();
  #loop: Promise<void> | null = null;

  constructor(
    private readonly load: Pick<LoadGenerator, "setRate">,
    private readonly o: { from: number; to: number; overMs: number; clock: Clock; everyMs?: number },
  ) {}

  /** The rate `elapsed` ms after the start. */
  rateAt(elapsed: number): number {
    const f = this.o.overMs <= 0 ? 1 : Math.min(1, Math.max(0, elapsed / this.o.overMs));
    return Math.max(1, Math.round(this.o.from + (this.o.to - this.o.from) * f));
  }

  start(): void {
    if (this.#loop !== null) return;
    const t0 = this.o.clock.now();
    this.#loop = (async () => {
      let last = this.o.from;
      while (!this.#stop.signal.aborted) {
        const rate = this.rateAt(this.o.clock.now() - t0);
        if (rate !== last) this.load.setRate(rate);
        last = rate;
        if (rate === this.o.to) return;
        try {
          await this.o.clock.sleep(this.o.everyMs ?? 250, this.#stop.signal);
        } catch {
          return;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }
}
