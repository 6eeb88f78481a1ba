/** What the local fleet says about its instances when they do not become healthy, and small helpers. */
import { AbortedError, TimeoutError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import type { Pool } from "../core/types.js";
import type { ServiceInstance } from "./instance.js";
import type { TargetState, WeightedProxy } from "./proxy.js";

/** One instance as a person would want it described in an error. */
export function describeInstance(proxy: WeightedProxy, i: ServiceInstance): string {
  if (!i.alive) return i.describeExit();
  if (i.port === null) return "not listening yet";
  const t = proxy.targets(i.pool).find((x) => x.id === i.id);
  if (t === undefined) return `listening on port ${i.port}, not registered`;
  return `listening on port ${i.port}, health ${t.state}${t.reason ? ` (${t.reason})` : ""}`;
}

/** The TimeoutError of a pool that did not become healthy: what was seen, and the fix. */
export function unhealthyError(
  proxy: WeightedProxy,
  instances: readonly ServiceInstance[],
  o: {
    pool: Pool;
    version: string;
    capacity: number;
    timeoutMs: number;
    seen: readonly string[];
    early?: string | undefined;
    healthy: number;
  },
): TimeoutError {
  const now = instances.map((i) => `${i.id} ${describeInstance(proxy, i)}`);
  // One line per distinct failure, with how often it happened: a crash loop is one fact, not ten.
  const counts = new Map<string, number>();
  for (const reason of o.seen) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const parts = [
    ...[...counts].map(([reason, n]) => `${n === 1 ? "instance" : `${n} instances`} ${reason}`),
    ...(now.length > 0 ? [`now: ${now.join("; ")}`] : []),
  ];
  return new TimeoutError(
    `${o.healthy} of ${o.capacity} ${o.pool} instances (${o.version}) healthy ${o.early ?? `after ${formatDuration(o.timeoutMs)}`}${parts.length > 0 ? `; ${parts.join("; ")}` : ""}`,
    {
      field: "healthyTimeout",
      fix: `the version does not start or does not pass GET ${proxy.healthCheck.path}: run it by hand (SERVICE_VERSION=${o.version} node examples/sample-gateway/server.mjs); if it only starts slowly, raise --healthy-timeout`,
    },
  );
}

/** Scale-in order: the least useful first (not yet healthy, then the newest). */
export function rank(state: TargetState | null): number {
  return state === "healthy" ? 2 : state === "initial" ? 1 : 0;
}

export function pct(rate: number): string {
  return `${Number((rate * 100).toPrecision(4))}%`;
}

export function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError("aborted", { cause: signal.reason });
}
