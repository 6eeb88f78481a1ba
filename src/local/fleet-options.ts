/** What the local fleet is built with, and what it tells about its instances. */
import type { Pool } from "../core/types.js";
import type { Clock } from "../ports/index.js";
import type { InstanceMetrics } from "./instance.js";
import type { TargetState, WeightedProxy } from "./proxy.js";

export interface LocalFleetOptions {
  readonly proxy: WeightedProxy;
  /** Stable capacity (the contract's `instances`). */
  readonly instances: number;
  /** The version label stable runs at the start. */
  readonly stableVersion: string;
  /** The release under test; its instances get the gray faults. `prepare` may change it. */
  readonly releaseVersion: string;
  readonly grayErrorRate?: number;
  readonly grayLatencyMs?: number;
  readonly grayCrash?: boolean;
  readonly baselineErrorRate?: number;
  /** The release declines every payment (--gray-payment-fault). */
  readonly grayPaymentFault?: boolean;
  /** Requests/s one instance serves before it queues (the service's CAPACITY_RPS); absent: unbounded. */
  readonly capacityRps?: number;
  /** Instance refresh: how long a new stable instance serves before the next replacement. Default 0. */
  readonly instanceWarmupMs?: number;
  /** Instance refresh floor, percent of stable capacity kept healthy. Default 90. */
  readonly refreshMinHealthy?: number;
  /** Deadline for the initial stable pool. Default 30 s. */
  readonly healthyTimeoutMs?: number;
  readonly serverPath?: string;
  readonly log?: (line: string) => void;
  /** How often waits look at health. Default 50 ms. */
  readonly pollMs?: number;
  /** For every wait, deadline and timestamp. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * `scaleGray` gives up before its deadline when this many launches in a row exited before ever
   * listening (a release that cannot boot will not boot on the fourth try either; waiting out the
   * whole --healthy-timeout only delays the rollback). Same TimeoutError, saying so. 0: never. Default 3.
   */
  readonly crashLoopLimit?: number;
  /** How an instance of `pool` running `version` publishes its own metrics (--signal service); absent: it does not. */
  readonly emf?: (pool: Pool, version: string) => InstanceMetrics;
}

/** What an instance looks like from outside, for tests and reports. */
export interface InstanceInfo {
  readonly id: string;
  readonly pool: Pool;
  readonly version: string;
  readonly pid: number;
  readonly port: number | null;
  readonly alive: boolean;
  /** The proxy's health state; null when not registered (not listening yet, or exited before). */
  readonly health: TargetState | null;
}
