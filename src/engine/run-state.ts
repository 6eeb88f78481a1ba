/**
 * What every part of one run shares: the rollout's state and its stored revision, the ports, the
 * context, and the few ways to change them — setState/go/record (with their events), and save, the
 * conditional write that tells this run it lost the rollout (LostRollout), serialised with the lease
 * heartbeats of long operations.
 */
import { AbortedError, StateError, toGrayDeployError } from "../contract/errors.js";
import type { Decision } from "../core/decide.js";
import {
  type DecisionRecord,
  type Phase,
  type RolloutState,
  recordDecision,
  transition,
} from "../core/state.js";
import type { Clock, OwnerInfo, Ports, StoredRollout } from "../ports/index.js";
import { type EngineEvent, type EventListener, fanOut } from "./events.js";
import { RETRY, retry } from "./retry.js";

/** What a run is given by its caller. */
export interface EngineContext {
  readonly clock: Clock;
  /** Aborting it rolls the rollout back safely and ends it as `aborted`. */
  readonly signal?: AbortSignal;
  readonly onEvent?: EventListener;
  /** This process, as recorded in the lock. */
  readonly owner: OwnerInfo;
  /**
   * Asked at a manual gate. Resolve with who approved to continue now; resolve null (or omit the
   * hook) to pause the rollout and return, leaving `promote` to continue it later.
   */
  readonly approver?: (gate: string, state: RolloutState) => Promise<{ by: string; reason?: string } | null>;
  /**
   * The value of a secret a check names (a synthetic transaction's secret header), by environment
   * variable name: the CLI's environment, the Dagger module's Secrets. Never logged or stored.
   */
  readonly secret?: (name: string) => string | undefined;
}

/** Raised inside a run when another process took the rollout over; the run ends without touching it. */
export class LostRollout extends Error {
  constructor(readonly stored: StoredRollout | null) {
    super("the rollout was taken over by another process");
  }
}

export class RunState {
  #state: RolloutState;
  #revision: number;
  readonly ports: Ports;
  readonly ctx: EngineContext;
  readonly #emit: EventListener;
  #saving: Promise<unknown> = Promise.resolve();
  /** Weight writes started by this run, and how many of them a successful save has followed. */
  writes = 0;
  savedWrites = 0;

  constructor(stored: StoredRollout, ports: Ports, ctx: EngineContext) {
    this.#state = stored.state;
    this.#revision = stored.revision;
    this.ports = ports;
    this.ctx = ctx;
    // A listener that throws (a broken printer, report or notifier) must never break a rollout, least
    // of all a rollback: every listener runs isolated.
    this.#emit = fanOut(ctx.onEvent);
  }

  get state(): RolloutState {
    return this.#state;
  }

  now(): number {
    return this.ctx.clock.now();
  }

  log(level: "info" | "warn" | "error", message: string): void {
    this.#emit({ type: "log", at: this.now(), level, message });
  }

  event(e: EngineEvent): void {
    this.#emit(e);
  }

  /**
   * Conditional save, serialised with heartbeats. Throws LostRollout when another process wrote.
   *
   * A save that fails with a retryable error (throttling, a 5xx, a dropped connection, after the
   * SDK's own attempts) is tried again by RETRY.stateSave, unless `patient` is false (a rollback's
   * first record must not delay the return to stable). A failed attempt may still have been applied
   * (its answer was lost), so a later attempt that finds the revision moved reads the item back: when
   * it holds exactly this state, written by this owner at the next revision, the save happened.
   */
  async save(owner: OwnerInfo | null = this.ctx.owner, { patient = true } = {}): Promise<void> {
    const run = async () => {
      const writes = this.writes;
      const state = this.#state;
      const expected = this.#revision;
      const json = JSON.stringify(state);
      const attempt = async (n: number): Promise<StoredRollout> => {
        try {
          return await this.ports.store.save(state, expected, owner, state.plan.lockLeaseMs, this.now());
        } catch (e) {
          if (!(e instanceof StateError)) throw e;
          const stored = await this.ports.store.load(state.scope).catch(() => null);
          if (
            n > 1 &&
            stored !== null &&
            stored.revision === expected + 1 &&
            (stored.owner?.id ?? null) === (owner?.id ?? null) &&
            JSON.stringify(stored.state) === json
          ) {
            return stored;
          }
          throw new LostRollout(stored);
        }
      };
      const stored = patient
        ? await retry(RETRY.stateSave, attempt, {
            clock: this.ctx.clock,
            onFailure: (f) => {
              if (f.nextDelayMs !== null)
                this.log(
                  "warn",
                  `recording the rollout's state failed (attempt ${f.attempt}): ${toGrayDeployError(f.error).message}; trying again in ${f.nextDelayMs} ms`,
                );
            },
          })
        : await attempt(1);
      this.#revision = stored.revision;
      // Nobody had taken the rollout over when this save landed: every write before it was ours.
      this.savedWrites = Math.max(this.savedWrites, writes);
    };
    const next = this.#saving.then(run, run);
    this.#saving = next.catch(() => {});
    await next;
  }

  setState(next: RolloutState): void {
    const from = this.#state.phase;
    this.#state = next;
    if (from !== next.phase)
      this.event({ type: "phase", at: this.now(), from, to: next.phase, rolloutId: next.id });
  }

  go(to: Phase, patch: Partial<RolloutState> = {}): void {
    this.setState(transition(this.#state, to, this.now(), patch));
  }

  record(d: Decision): void {
    const rec: DecisionRecord = {
      at: this.now(),
      kind: d.kind,
      phase: this.#state.phase,
      reason: d.reason,
      ...("weights" in d && d.weights ? { weights: d.weights } : {}),
      evidence: d.evidence,
    };
    this.setState(recordDecision(this.#state, rec));
    this.event({ type: "decision", at: rec.at, phase: this.#state.phase, decision: d });
  }

  /** Renews the lease in the background while a long operation (scaling, refresh) runs. */
  async withHeartbeat<T>(op: () => Promise<T>): Promise<T> {
    const stop = new AbortController();
    const every = Math.max(1000, Math.floor(this.#state.plan.lockLeaseMs / 3));
    const beat = (async () => {
      while (!stop.signal.aborted) {
        try {
          await this.ctx.clock.sleep(every, stop.signal);
        } catch {
          return;
        }
        if (stop.signal.aborted) return;
        await this.save().catch((e) => {
          if (e instanceof LostRollout) stop.abort();
        });
      }
    })();
    try {
      return await op();
    } finally {
      stop.abort();
      await beat;
    }
  }

  throwIfAborted(): void {
    if (this.ctx.signal?.aborted) throw new AbortedError("interrupted: rolling back");
  }

  /** Runs until the rollout pauses or ends. Never throws: every failure becomes an Outcome. */
}
