/**
 * CloudWatch's Embedded Metric Format, read the way CloudWatch Logs extracts it: a JSON document
 * whose `_aws` member holds a Timestamp (epoch ms) and CloudWatchMetrics directives (a Namespace,
 * Dimensions as arrays of member names, Metrics with Name, Unit and StorageResolution); each metric's
 * value is the root member of its name: a number, an array of numbers (at most 100), or a histogram
 * `{ Values, Counts, Max, Min, Count, Sum }` as the aws-embedded-metrics libraries write it. One
 * datum per metric and dimension set. Anything else on the line (a log line, our `listening` JSON)
 * is not a document: `null`.
 *
 * Used by the local target's service signal (service-metrics.ts) and by the emulated CloudWatch agent
 * of the AWS tests, which turns the data into PutMetricData.
 */

export interface EmfDatum {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string | undefined;
  /** 1 (high resolution) or 60. */
  readonly storageResolution: number;
  readonly timestamp: number;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Distinct values with how often each occurred (a single value: one pair). */
  readonly values: readonly number[];
  readonly counts: readonly number[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The data of one line, or null when the line is not an EMF document. */
export function parseEmf(line: string): EmfDatum[] | null {
  if (!line.includes('"_aws"')) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObject(doc) || !isObject(doc._aws)) return null;
  const aws = doc._aws;
  const timestamp = aws.Timestamp;
  if (!finite(timestamp) || !Array.isArray(aws.CloudWatchMetrics)) return null;
  const out: EmfDatum[] = [];
  for (const directive of aws.CloudWatchMetrics) {
    if (!isObject(directive) || typeof directive.Namespace !== "string") continue;
    const sets = Array.isArray(directive.Dimensions) ? directive.Dimensions : [[]];
    const metrics = Array.isArray(directive.Metrics) ? directive.Metrics : [];
    for (const set of sets) {
      if (!Array.isArray(set)) continue;
      const dimensions: Record<string, string> = {};
      let complete = true;
      for (const key of set) {
        const v = typeof key === "string" ? doc[key] : undefined;
        if (typeof v !== "string") complete = false;
        else dimensions[key as string] = v;
      }
      if (!complete) continue; // CloudWatch drops a dimension set whose member is missing
      for (const m of metrics) {
        if (!isObject(m) || typeof m.Name !== "string") continue;
        const value = valuesOf(doc[m.Name]);
        if (value === null) continue;
        out.push({
          namespace: directive.Namespace,
          name: m.Name,
          unit: typeof m.Unit === "string" ? m.Unit : undefined,
          storageResolution: m.StorageResolution === 1 ? 1 : 60,
          timestamp,
          dimensions,
          ...value,
        });
      }
    }
  }
  return out;
}

function valuesOf(v: unknown): { values: number[]; counts: number[] } | null {
  if (finite(v)) return { values: [v], counts: [1] };
  if (Array.isArray(v) && v.length > 0 && v.length <= 100 && v.every(finite)) {
    return { values: v, counts: v.map(() => 1) };
  }
  if (isObject(v) && Array.isArray(v.Values) && Array.isArray(v.Counts)) {
    const values = v.Values;
    const counts = v.Counts;
    if (
      values.length === counts.length &&
      values.length > 0 &&
      values.length <= 100 &&
      values.every(finite) &&
      counts.every(finite)
    ) {
      return { values, counts };
    }
  }
  return null;
}
