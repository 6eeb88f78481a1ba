/**
 * Stable's autoscaling in the local environment: target tracking on requests per instance, as an
 * ASG policy on ALBRequestCountPerTarget does. Each tick measures stable's request rate at the proxy
 * over the last few seconds and asks the fleet for ceil(rate ÷ target) instances; the fleet keeps
 * that within [min, max] (the rollout's pin is the minimum). Like AWS's, it scales out as soon as the
 * metric has been above target for a few ticks and in only after a longer run below it.
 */
import type { Clock } from "../ports/index.js";
import type { WeightedProxy } from "./proxy.js";

export interface AutoscalerOptions {
  readonly proxy: Pick<WeightedProxy, "stats">;
  /** The fleet's side: what it has, and a request for a size. */
  readonly fleet: { sizes(): Promise<{ stable: { desired: number } }>; autoscale(want: number): void };
  /** Requests per second per instance the policy tracks. */
  readonly targetRps: number;
  readonly clock: Clock;
  /** Default 1 s. */
  readonly tickMs?: number;
  /** Ticks above target before scaling out (default 2) and below it before scaling in (default 10). */
  readonly outAfter?: number;
  readonly inAfter?: number;
  /** Ticks the rate is averaged over (default 3). */
  readonly window?: number;
}

export class LocalAutoscaler {
  readonly #o: AutoscalerOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | null = null;
  readonly #samples: { at: number; requests: number }[] = [];
  #above = 0;
  #below = 0;

  constructor(o: AutoscalerOptions) {
    this.#o = o;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const tick = this.#o.tickMs ?? 1000;
    while (!this.#stop.signal.aborted) {
      try {
        await this.#o.clock.sleep(tick, this.#stop.signal);
        await this.tick();
      } catch {
        if (this.#stop.signal.aborted) return;
      }
    }
  }

  /** One evaluation of the policy (public for tests). */
  async tick(): Promise<void> {
    const now = this.#o.clock.now();
    this.#samples.push({ at: now, requests: this.#o.proxy.stats().stable.requests });
    const keep = (this.#o.window ?? 3) + 1;
    while (this.#samples.length > keep) this.#samples.shift();
    const first = this.#samples[0]!;
    if (this.#samples.length < 2 || now <= first.at) return;
    const rate = ((this.#samples.at(-1)!.requests - first.requests) * 1000) / (now - first.at);
    const want = Math.max(1, Math.ceil(rate / this.#o.targetRps - 1e-9));
    const desired = (await this.#o.fleet.sizes()).stable.desired;
    this.#above = want > desired ? this.#above + 1 : 0;
    this.#below = want < desired ? this.#below + 1 : 0;
    if (this.#above >= (this.#o.outAfter ?? 2) || this.#below >= (this.#o.inAfter ?? 10)) {
      this.#above = 0;
      this.#below = 0;
      this.#o.fleet.autoscale(want);
    }
  }
}
