/**
 * The local twin of the two Auto Scaling groups' sizes: stable's minimum, desired and maximum (its
 * desired capacity moved by the local autoscaler within them, as target tracking moves an ASG's),
 * gray's desired capacity, and what one stable instance is sized for by that autoscaling. The fleet
 * (fleet.ts) makes the process pools match these numbers.
 */
import type { FleetSizes } from "../core/types.js";

/** A local group's largest size (the `instances` option's own maximum). */
export const LOCAL_MAX_SIZE = 32;
/** Stable's local autoscaling keeps each instance at this share of its capacity (target tracking). */
export const TARGET_UTILISATION = 0.6;

export class PoolSizes {
  /** Stable's configured size: its minimum outside a rollout. */
  readonly #base: number;
  #min: number;
  #desired: number;
  #gray = 0;
  readonly perInstanceRps: number | null;

  constructor(instances: number, capacityRps: number | undefined) {
    this.#base = instances;
    this.#min = instances;
    this.#desired = instances;
    this.perInstanceRps =
      capacityRps === undefined || capacityRps <= 0 ? null : capacityRps * TARGET_UTILISATION;
  }

  get stableDesired(): number {
    return this.#desired;
  }

  get gray(): number {
    return this.#gray;
  }

  set gray(n: number) {
    this.#gray = Math.max(0, n);
  }

  view(): FleetSizes {
    return {
      stable: { desired: this.#desired, min: this.#min, max: LOCAL_MAX_SIZE },
      gray: { desired: this.#gray, max: LOCAL_MAX_SIZE },
      perInstanceRps: this.perInstanceRps,
    };
  }

  /** Raising the minimum raises desired with it (as on an ASG); lowering it leaves desired alone. */
  setMin(n: number): void {
    this.#min = Math.max(1, Math.min(n, LOCAL_MAX_SIZE));
    this.#desired = Math.max(this.#desired, this.#min);
  }

  /** The pin of a rollout: the minimum raised to stable's size when it began. */
  pin(capacity: number): void {
    if (capacity > this.#min) this.setMin(capacity);
  }

  /** The pin released: the configured minimum again (desired is the autoscaler's to lower). */
  release(): void {
    this.#min = this.#base;
  }

  /** What stable's autoscaling wants, within [min, max]; true when desired changed. */
  autoscale(want: number): boolean {
    const next = Math.max(this.#min, Math.min(want, LOCAL_MAX_SIZE));
    if (next === this.#desired) return false;
    this.#desired = next;
    return true;
  }
}
