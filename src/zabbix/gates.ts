/**
 * Business-metric gates with source `zabbix`, over ZabbixMetricReader: per gate, each version's
 * hosts (its host template with `{asg}` replaced by the version's Auto Scaling group), the gate's
 * metric over the analysis' windows, as readings the gate model evaluates.
 *
 * - Preflight (`preflight`), before a rollout changes anything: the token works, the host groups
 *   exist, stable has hosts with the keys as numeric items (ZabbixMetricReader.preflight). A wrong
 *   token is a CredentialsError, a wrong group or key a PreflightError naming the gate: exit 2.
 * - Reads: one ZabbixMetricReader read per gate (all windows from the same API calls), gates in
 *   parallel, each under the reader's deadline; any failure is that gate's measurement error.
 * - Trend-based sums of unsigned items (windows past the reader's history span) are marked in the
 *   reading's note (`exact: false`), which the gate's reason quotes.
 */
import { CredentialsError, isGrayDeployError, PreflightError } from "../contract/errors.js";
import type { BusinessReading, Pool, TimeWindow } from "../core/types.js";
import { substitute } from "../gates/spec.js";
import type { GateSpec, VersionIdentity } from "../gates/types.js";
import type { GateReader } from "../ports/index.js";
import type { ZabbixClient } from "./client.js";
import {
  type HostSelector,
  type MetricWindow,
  type VersionRate,
  type VersionSelectors,
  ZabbixMetricReader,
} from "./metrics.js";
import { isZabbixMetric, type ZabbixGateMetric } from "./spec.js";

export interface ZabbixGateReaderOptions {
  readonly client: ZabbixClient;
  /** Each version's identity, for `{asg}` in host selectors (the target's: its Auto Scaling groups). */
  readonly identities: Readonly<Record<Pool, VersionIdentity>>;
  /** Deadline of one gate's read (all its API calls). */
  readonly timeoutMs: number;
}

export const INEXACT_NOTE =
  "exact: false (trend-based sums of unsigned items may be low by up to count − 1 per hour)";

export class ZabbixGateReader implements GateReader {
  readonly source = "zabbix" as const;
  readonly #o: ZabbixGateReaderOptions;

  constructor(options: ZabbixGateReaderOptions) {
    this.#o = options;
  }

  /** The version selectors of a gate: its host templates with `{asg}` substituted. */
  selectors(g: GateSpec): VersionSelectors {
    const m = this.#metric(g);
    const one = (t: HostSelector, pool: Pool): HostSelector => {
      const id = { asg: this.#o.identities[pool].asg };
      const sub = (text: string) => {
        try {
          return substitute(text, id);
        } catch (e) {
          throw new PreflightError(`gate ${g.name}: ${(e as Error).message} (${pool})`, {
            field: "gates",
            fix: "this target has no Auto Scaling groups: select each version's hosts with hosts.stable and hosts.gray",
          });
        }
      };
      return {
        ...(t.groups ? { groups: t.groups.map(sub) } : {}),
        ...(t.tags ? { tags: t.tags.map((x) => ({ tag: x.tag, value: sub(x.value) })) } : {}),
      };
    };
    return { stable: one(m.hosts.stable, "stable"), gray: one(m.hosts.gray, "gray") };
  }

  #metric(g: GateSpec): ZabbixGateMetric {
    if (!isZabbixMetric(g.metric)) throw new Error(`gate ${g.name} is not a Zabbix gate`);
    return g.metric;
  }

  #reader(g: GateSpec): ZabbixMetricReader {
    return new ZabbixMetricReader({
      client: this.#o.client,
      selectors: this.selectors(g),
      timeoutMs: this.#o.timeoutMs,
    });
  }

  /** Checks every Zabbix gate can be measured; resolves with facts, throws naming the gate. */
  async preflight(gates: readonly GateSpec[], signal?: AbortSignal): Promise<string[]> {
    const facts: string[] = [];
    for (const g of gates.filter((x) => x.metric.source === "zabbix")) {
      try {
        const found = await this.#reader(g).preflight(this.#metric(g), signal);
        facts.push(...found.map((f) => `gate ${g.name}: ${f}`));
      } catch (e) {
        if (!isGrayDeployError(e)) throw e;
        const message = `gate ${g.name} (Zabbix): ${e.message}`;
        const details = { field: "gates", cause: e, ...(e.fix ? { fix: e.fix } : {}) };
        if (e instanceof CredentialsError) {
          throw new CredentialsError(message, {
            ...details,
            fix: "check GRAY_DEPLOY_ZABBIX_TOKEN (--zabbix-token): an enabled API token of a user that can read the hosts",
          });
        }
        if (e instanceof PreflightError) throw new PreflightError(message, details);
        // Zabbix down or slow at preflight: nothing can be checked, nothing was changed.
        throw new PreflightError(`${message} (the gate could not be checked)`, {
          ...details,
          fix: e.fix ?? "check --zabbix-url and that the Zabbix frontend answers, then run again",
        });
      }
    }
    return facts;
  }

  async read(
    gates: readonly GateSpec[],
    windows: readonly TimeWindow[],
    signal?: AbortSignal,
  ): Promise<Record<string, BusinessReading>[]> {
    const per = await Promise.all(
      gates
        .filter((g) => g.metric.source === "zabbix")
        .map(async (g): Promise<[string, BusinessReading[]]> => {
          try {
            const got = await this.#reader(g).read(this.#metric(g), windows, signal);
            return [g.name, got.map((w) => readingOf(w))];
          } catch (e) {
            const error = `Zabbix: ${e instanceof Error ? e.message : String(e)}`;
            return [g.name, windows.map(() => ({ stable: null, gray: null, error }))];
          }
        }),
    );
    return windows.map((_, i) => Object.fromEntries(per.map(([name, rs]) => [name, rs[i]!])));
  }
}

function readingOf(w: MetricWindow): BusinessReading {
  const value = (v: MetricWindow["stable"]) =>
    "numerator" in v
      ? {
          value: v.value,
          samples: (v as VersionRate).denominator,
          numerator: (v as VersionRate).numerator,
          denominator: (v as VersionRate).denominator,
        }
      : { value: v.value, samples: v.samples };
  return {
    stable: value(w.stable),
    gray: value(w.gray),
    ...(w.exact ? {} : { note: INEXACT_NOTE }),
  };
}
