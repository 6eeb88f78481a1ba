/**
 * RolloutStore in process memory: the store of the local target (a local rollout lives and dies with
 * its process) and of engine tests. It keeps the same contract as the DynamoDB store — conditional
 * writes on a revision, one live rollout per scope — so the engine behaves identically on both.
 * State is deep-copied on the way in and out, as a real store would serialise it.
 */
import { StateError } from "../contract/errors.js";
import { isTerminal, type RolloutState } from "../core/state.js";
import type { AcquireResult, OwnerInfo, RolloutStore, StoredRollout } from "../ports/index.js";

export class MemoryRolloutStore implements RolloutStore {
  private readonly records = new Map<string, StoredRollout>();

  async acquire(state: RolloutState, owner: OwnerInfo, leaseMs: number, now: number): Promise<AcquireResult> {
    const current = this.records.get(state.scope);
    if (current !== undefined && !isTerminal(current.state.phase)) {
      return { kind: "held", stored: copy(current) };
    }
    const stored: StoredRollout = {
      state: copy(state),
      revision: (current?.revision ?? 0) + 1,
      owner: { ...owner },
      leaseUntil: now + leaseMs,
    };
    this.records.set(state.scope, stored);
    return { kind: "acquired", stored: copy(stored) };
  }

  async load(scope: string): Promise<StoredRollout | null> {
    const current = this.records.get(scope);
    return current === undefined ? null : copy(current);
  }

  async save(
    state: RolloutState,
    expectedRevision: number,
    owner: OwnerInfo | null,
    leaseMs: number,
    now: number,
  ): Promise<StoredRollout> {
    const current = this.records.get(state.scope);
    if (current === undefined || current.revision !== expectedRevision || current.state.id !== state.id) {
      throw new StateError(
        `rollout ${state.id} was changed by another process (expected revision ${expectedRevision}, found ${current?.revision ?? "none"})`,
      );
    }
    const stored: StoredRollout = {
      state: copy(state),
      revision: expectedRevision + 1,
      owner: owner === null ? null : { ...owner },
      leaseUntil: owner === null ? now : now + leaseMs,
    };
    this.records.set(state.scope, stored);
    return copy(stored);
  }
}

function copy<T>(value: T): T {
  return structuredClone(value);
}
