/**
 * Virtual time for engine tests: `sleep` registers a timer, and whenever the process has nothing
 * else to do (a macrotask turn after all promise callbacks ran), time jumps to the earliest timer.
 * A ten-minute rollout against in-memory ports runs in milliseconds, in a deterministic order.
 */
import { AbortedError } from "../../src/contract/errors.js";
import type { Clock } from "../../src/ports/index.js";

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
  cancel?: () => void;
}

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];
  private pending = false;

  constructor(start = Date.UTC(2026, 10, 26, 12, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError("sleep aborted"));
    return new Promise<void>((resolve, reject) => {
      const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fire: resolve };
      if (signal) {
        const onAbort = () => {
          this.timers = this.timers.filter((x) => x !== timer);
          reject(new AbortedError("sleep aborted"));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        timer.cancel = () => signal.removeEventListener("abort", onAbort);
      }
      this.timers.push(timer);
      this.kick();
    });
  }

  /** Runs `fn` when virtual time reaches `at` (e.g. an operator's Ctrl-C in the middle of a bake). */
  at(at: number, fn: () => void): void {
    this.timers.push({ at, seq: this.seq++, fire: fn });
    this.kick();
  }

  private kick(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.fireNext();
    });
  }

  private fireNext(): void {
    if (this.timers.length === 0) return;
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = this.timers.shift()!;
    this.t = Math.max(this.t, next.at);
    next.cancel?.();
    next.fire();
    if (this.timers.length > 0) this.kick();
  }
}
