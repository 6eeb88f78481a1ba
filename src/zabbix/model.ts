/**
 * The Zabbix metric model, once: which hosts stand for which version, the metric (one key with an
 * aggregation, or a rate of two keys), and what a read answers per version and window. Gates with
 * source `zabbix` declare this same metric (spec.ts adds the hosts of each version).
 */
import type { Pool, TimeWindow } from "../core/types.js";
import type { HostTag } from "./client.js";

export interface HostSelector {
  /** Host group names: hosts in any of them. */
  readonly groups?: readonly string[];
  /** Host tags that must all match exactly, e.g. `[{ tag: "asg", value: "gatewaypix-gray" }]`. */
  readonly tags?: readonly HostTag[];
}

/** Which hosts stand for which version. */
export type VersionSelectors = Readonly<Record<Pool, HostSelector>>;

/** Selectors for fleets registered in Zabbix with their ASG's name as a host tag (default tag `asg`). */
export function asgTagSelectors(asgs: Readonly<Record<Pool, string>>, tag = "asg"): VersionSelectors {
  return {
    stable: { tags: [{ tag, value: asgs.stable }] },
    gray: { tags: [{ tag, value: asgs.gray }] },
  };
}

export type Aggregation = "sum" | "avg" | "min" | "max" | "last" | "count";
export const AGGREGATIONS: readonly Aggregation[] = ["sum", "avg", "min", "max", "last", "count"];

export interface ValueMetric {
  readonly kind: "value";
  readonly key: string;
  readonly aggregation: Aggregation;
}

export interface RateMetric {
  readonly kind: "rate";
  /** Summed over the window, e.g. `payments.declined`. */
  readonly numeratorKey: string;
  /** Summed over the window, e.g. `payments.attempted`. */
  readonly denominatorKey: string;
}

export type ZabbixMetric = ValueMetric | RateMetric;

/** One version over one window. */
export interface VersionValue {
  /** The aggregate; null when the version had no sample in the window (or, for a rate, no denominator). */
  readonly value: number | null;
  /** Samples aggregated (for `last`: items that had a sample; for a rate: denominator samples). */
  readonly samples: number;
  /** Hosts the selector matched at read time. */
  readonly hosts: number;
  /** Items with the key(s) on those hosts (for a rate: denominator items). */
  readonly items: number;
}

export interface VersionRate extends VersionValue {
  /** Sum of the numerator key (an integer for unsigned counters read exactly). */
  readonly numerator: number;
  /** Sum of the denominator key. */
  readonly denominator: number;
  readonly numeratorSamples: number;
  readonly numeratorItems: number;
}

/** Both versions over the same window, as the core's WindowStats pairs them. */
export interface MetricWindow<V extends VersionValue = VersionValue> extends TimeWindow {
  readonly stable: V;
  readonly gray: V;
  /** Where the values came from. */
  readonly source: "history" | "trends+history";
  /** False when trends of unsigned items contributed to a sum or avg (see the module comment). */
  readonly exact: boolean;
}
