/**
 * Before anything changes, a service signal must be readable for stable: each of its three metrics
 * (requests, 5xx, latency) must have datapoints under stable's dimensions in the last ten minutes,
 * or every gate would judge silence. Errors must be there too, as zeros: a 5xx metric published
 * only when something fails is indistinguishable from a misspelt one, and a misspelt one would let a
 * failing release through. Latency is required once stable served requests.
 *
 * A missing metric is a PreflightError (exit 2, nothing changed) naming it, with the dimensions it
 * was looked for under and, from ListMetrics (RecentlyActive PT3H), the dimension sets it does have,
 * so a wrong `{asg}` or a missing dimension is obvious. Metrics that are there but at one-minute
 * resolution (StorageResolution 60) are a warning in the facts: they work, no faster than the ALB's.
 */
import type { MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { PreflightError } from "../../contract/errors.js";
import { formatDuration } from "../../contract/units.js";
import type { ServiceMetrics } from "../../core/policy.js";
import type { VersionIdentity } from "../../gates/types.js";
import type { AwsApi } from "../api.js";
import { getMetricDataPages } from "../cloudwatch/pages.js";
import { serviceDimensions } from "./queries.js";

/** How far back stable's metrics are looked for. */
export const PREFLIGHT_LOOKBACK_MS = 10 * 60_000;

export interface ServicePreflightInput {
  readonly api: AwsApi;
  readonly metrics: ServiceMetrics;
  readonly periodMs: number;
  /** Stable's identity, its version included. */
  readonly identity: VersionIdentity;
  readonly now: number;
  readonly signal?: AbortSignal;
}

type Kind = "requests" | "errors" | "latency";
const FIELD: Record<Kind, string> = {
  requests: "serviceRequests",
  errors: "serviceErrors",
  latency: "serviceLatency",
};

export async function preflightServiceMetrics(p: ServicePreflightInput): Promise<string[]> {
  const m = p.metrics;
  let dims: { Name: string; Value: string }[];
  try {
    dims = serviceDimensions(m, p.identity);
  } catch (e) {
    throw new PreflightError(
      `--service-dimensions cannot be written for stable: ${e instanceof Error ? e.message : String(e)}`,
      { field: "serviceDimensions", fix: "use {asg} or {version}, which every stable pool has" },
    );
  }
  const dimText = dims.map((d) => `${d.Name}=${d.Value}`).join(", ");
  const start = Math.floor((p.now - PREFLIGHT_LOOKBACK_MS) / 60_000) * 60_000;
  const end = Math.ceil((p.now + 1) / 60_000) * 60_000;
  const stat = (id: string, name: string, s: string, period = 60): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: { Namespace: m.namespace, MetricName: name, Dimensions: dims },
      Period: period,
      Stat: s,
    },
    ReturnData: true,
  });
  const queries = [
    stat("req", m.requests, "Sum"),
    stat("err", m.errors, "Sum"),
    stat("errn", m.errors, "SampleCount"),
    stat("latn", m.latency, "SampleCount"),
  ];
  const fine = p.periodMs < 60_000 ? p.periodMs / 1000 : null;
  if (fine !== null) queries.push(stat("hires", m.requests, "SampleCount", fine));
  const results = await getMetricDataPages(
    p.api,
    { queries, start: new Date(start), end: new Date(end) },
    p.signal,
  );
  const values = (id: string) => results.filter((r) => r.Id === id).flatMap((r) => r.Values ?? []);
  const times = (id: string) =>
    results.filter((r) => r.Id === id).flatMap((r) => (r.Timestamps ?? []).map((t) => new Date(t).getTime()));
  const total = (id: string) => values(id).reduce((a, v) => a + v, 0);
  const requests = total("req");
  const missing: Kind[] = [];
  if (values("req").length === 0) missing.push("requests");
  if (total("errn") <= 0) missing.push("errors");
  if (requests > 0 && total("latn") <= 0) missing.push("latency");
  const since = formatDuration(PREFLIGHT_LOOKBACK_MS);
  if (missing.length > 0) {
    const kind = missing[0]!;
    const name = m[kind];
    const found = await dimensionSets(p, name);
    const others = missing.slice(1).map((k) => m[k]);
    const seen =
      typeof found === "string"
        ? `its dimension sets could not be listed (${found})`
        : found.length === 0
          ? `no ${name} metric at all in ${m.namespace} in the last 3 hours`
          : `${name} exists with ${found.slice(0, 3).join("; ")}${found.length > 3 ? ` and ${found.length - 3} more dimension sets` : ""}`;
    throw new PreflightError(
      `--signal service: no datapoint of ${m.namespace} ${name} for stable (${dimText}) in the last ${since}${others.length > 0 ? ` (nor of ${others.join(", ")})` : ""}; ${seen}`,
      {
        field: FIELD[kind],
        fix:
          kind === "errors"
            ? `publish ${name} every period from every instance, also when it is 0, at StorageResolution 1 (README: "The service's own metrics"), or correct --service-errors / --service-namespace / --service-dimensions`
            : `publish ${name} from every stable instance at StorageResolution 1 (README: "The service's own metrics"), or correct --service-${kind} / --service-namespace / --service-dimensions; or roll out with --signal alb`,
      },
    );
  }
  const facts = [
    `service signal: ${m.namespace} ${m.requests}/${m.errors}/${m.latency} of stable (${dimText}): ${requests} requests, ${total("err")} 5xx in the last ${since}`,
  ];
  const fineTimes = fine === null ? [] : times("hires");
  if (fineTimes.length >= 3 && fineTimes.every((t) => t % 60_000 === 0)) {
    facts.push(
      `warning: ${m.requests} arrives in whole minutes (published at StorageResolution 60, or aggregated per minute): the service signal then sees each minute only once it ends; publish with StorageResolution 1`,
    );
  }
  return facts;
}

/**
 * The dimension sets a metric has in the namespace (recently active), as `A=x, B=y` texts; why not
 * when they could not be listed.
 */
async function dimensionSets(p: ServicePreflightInput, name: string): Promise<string[] | string> {
  const sets: string[] = [];
  let token: string | undefined;
  try {
    do {
      const out = await p.api.cloudWatch.listMetrics(
        {
          Namespace: p.metrics.namespace,
          MetricName: name,
          RecentlyActive: "PT3H",
          ...(token === undefined ? {} : { NextToken: token }),
        },
        p.signal,
      );
      for (const metric of out.Metrics ?? []) {
        const text = (metric.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(", ");
        sets.push(text === "" ? "no dimensions" : text);
      }
      token = out.NextToken;
    } while (token !== undefined && token !== "" && sets.length < 50);
  } catch (e) {
    // Only a diagnosis: the refusal stands without it.
    return e instanceof Error ? e.message : String(e);
  }
  return [...new Set(sets)];
}
