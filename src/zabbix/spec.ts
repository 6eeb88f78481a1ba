/**
 * Gates with source `zabbix`: one key with an aggregation, or a rate of two keys, over each version's
 * hosts (host groups and/or tags; `{asg}` is the version's Auto Scaling group). The metric model is
 * the reader's (metrics.ts); a gate adds the hosts of each version and its description.
 */
import type { Pool } from "../core/types.js";
import { type GateSourceSpec, type IssueFn, placeholderIssue, requiredString } from "../gates/source.js";
import type { GateMetric } from "../gates/types.js";
import { AGGREGATIONS, type Aggregation, type HostSelector, type ZabbixMetric } from "./metrics.js";

/** A Zabbix metric as a gate declares it: the reader's metric, and whose hosts stand for each version. */
export type ZabbixGateMetric = ZabbixMetric &
  GateMetric & {
    readonly source: "zabbix";
    /** Host selectors per version; values may hold `{asg}`. */
    readonly hosts: Readonly<Record<Pool, HostSelector>>;
  };

export const isZabbixMetric = (m: GateMetric): m is ZabbixGateMetric => m.source === "zabbix";

export const zabbixGateSpec: GateSourceSpec = {
  name: "zabbix",
  fields: ["key", "aggregation", "numeratorKey", "denominatorKey", "hosts"],
  parseMetric,
};

function hostTemplate(raw: unknown, field: string, issue: IssueFn): HostSelector | null {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    issue(field, "must be { groups: [...], tags: { name: value } } (or { tag: asg })");
    return null;
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!["groups", "tags", "tag"].includes(k)) issue(`${field}.${k}`, "unknown field");
  const t: { groups?: string[]; tags?: { tag: string; value: string }[] } = {};
  if (o.tag !== undefined) {
    if (typeof o.tag !== "string" || o.tag === "") issue(`${field}.tag`, "must be a tag name, e.g. asg");
    else t.tags = [{ tag: o.tag, value: "{asg}" }];
  }
  if (o.groups !== undefined) {
    if (!Array.isArray(o.groups) || o.groups.some((g) => typeof g !== "string" || g === "")) {
      issue(`${field}.groups`, "must be a list of host group names");
    } else {
      for (const [j, g] of (o.groups as string[]).entries()) {
        placeholderIssue(`${field}.groups[${j}]`, g, ["asg"], issue);
      }
      t.groups = o.groups as string[];
    }
  }
  if (o.tags !== undefined) {
    const list = Array.isArray(o.tags)
      ? o.tags
      : o.tags !== null && typeof o.tags === "object"
        ? Object.entries(o.tags as Record<string, unknown>).map(([tag, value]) => ({ tag, value }))
        : null;
    if (
      list === null ||
      list.some((x) => typeof x?.tag !== "string" || x.tag === "" || typeof x.value !== "string")
    ) {
      issue(`${field}.tags`, "must map tag names to values, e.g. { asg: '{asg}' }");
    } else {
      for (const x of list as { tag: string; value: string }[]) {
        placeholderIssue(`${field}.tags.${x.tag}`, x.value, ["asg"], issue);
      }
      t.tags = [...(t.tags ?? []), ...(list as { tag: string; value: string }[])];
    }
  }
  if ((t.groups?.length ?? 0) + (t.tags?.length ?? 0) === 0) {
    issue(field, "selects no hosts: give groups and/or tags");
    return null;
  }
  return t;
}

function parseMetric(o: Readonly<Record<string, unknown>>, issue: IssueFn): ZabbixGateMetric | null {
  let hosts: Record<Pool, HostSelector> | null;
  const h = o.hosts;
  if (h === undefined) {
    const byAsg: HostSelector = { tags: [{ tag: "asg", value: "{asg}" }] };
    hosts = { stable: byAsg, gray: byAsg };
  } else if (h !== null && typeof h === "object" && ("stable" in h || "gray" in h)) {
    const per = h as Record<string, unknown>;
    for (const k of Object.keys(per))
      if (k !== "stable" && k !== "gray") issue(`hosts.${k}`, "unknown field");
    if (per.stable === undefined) issue("hosts.stable", "required when hosts.gray is given");
    if (per.gray === undefined) issue("hosts.gray", "required when hosts.stable is given");
    const stable = per.stable === undefined ? null : hostTemplate(per.stable, "hosts.stable", issue);
    const gray = per.gray === undefined ? null : hostTemplate(per.gray, "hosts.gray", issue);
    hosts = stable && gray ? { stable, gray } : null;
    if (
      stable &&
      gray &&
      JSON.stringify(stable) === JSON.stringify(gray) &&
      !JSON.stringify(stable).includes("{asg}")
    ) {
      issue("hosts", "selects the same hosts for stable and gray: use {asg} or different groups/tags");
    }
  } else {
    const t = hostTemplate(h, "hosts", issue);
    if (t !== null && !JSON.stringify(t).includes("{asg}")) {
      issue("hosts", "one selector for both versions must hold {asg} (or give hosts.stable and hosts.gray)");
    }
    hosts = t ? { stable: t, gray: t } : null;
  }

  const hasValue = o.key !== undefined;
  const hasRate = o.numeratorKey !== undefined || o.denominatorKey !== undefined;
  if (hasValue && hasRate) {
    issue("key", "give either key (a value) or numeratorKey and denominatorKey (a rate), not both");
    return null;
  }
  if (!hasValue && !hasRate) {
    issue("key", "required (or numeratorKey and denominatorKey for a rate)");
    return null;
  }
  if (hasRate) {
    if (o.aggregation !== undefined) issue("aggregation", "a rate sums its keys: drop aggregation");
    const numeratorKey = requiredString(o, "numeratorKey", issue);
    const denominatorKey = requiredString(o, "denominatorKey", issue);
    if (numeratorKey === null || denominatorKey === null || hosts === null) return null;
    const label = `${numeratorKey} ÷ ${denominatorKey}`;
    return {
      source: "zabbix",
      kind: "rate",
      numeratorKey,
      denominatorKey,
      hosts,
      label,
      title: `Zabbix ${label}`,
    };
  }
  const key = requiredString(o, "key", issue);
  let aggregation: Aggregation = "avg";
  if (o.aggregation !== undefined) {
    if ((AGGREGATIONS as readonly unknown[]).includes(o.aggregation)) {
      aggregation = o.aggregation as Aggregation;
    } else issue("aggregation", `${JSON.stringify(o.aggregation)} is not one of ${AGGREGATIONS.join(", ")}`);
  }
  if (key === null || hosts === null) return null;
  return {
    source: "zabbix",
    kind: "value",
    key,
    aggregation,
    hosts,
    label: `${key} (${aggregation})`,
    title: `Zabbix ${key} ${aggregation}`,
  };
}
