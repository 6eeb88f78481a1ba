/**
 * One GetMetricData read, every page of it (oldest datapoint first). CloudWatch pages only beyond
 * 100,800 datapoints, which gray-deploy's windows never reach, so this is one call in practice; the
 * loop keeps a larger read correct. Each page goes through the AwsApi wrapper (its retry, counting
 * and logging).
 */
import type { MetricDataQuery, MetricDataResult } from "@aws-sdk/client-cloudwatch";
import type { AwsApi } from "../api.js";

export async function getMetricDataPages(
  api: AwsApi,
  read: { readonly queries: MetricDataQuery[]; readonly start: Date; readonly end: Date },
  signal?: AbortSignal,
): Promise<MetricDataResult[]> {
  const results: MetricDataResult[] = [];
  let token: string | undefined;
  do {
    const out = await api.cloudWatch.getMetricData(
      {
        MetricDataQueries: read.queries,
        StartTime: read.start,
        EndTime: read.end,
        ScanBy: "TimestampAscending",
        ...(token === undefined ? {} : { NextToken: token }),
      },
      signal,
    );
    results.push(...(out.MetricDataResults ?? []));
    token = out.NextToken;
  } while (token !== undefined && token !== "");
  return results;
}
