/**
 * A metric source that also serves business-metric gates from other systems: the target's own
 * source answers the built-in metrics and the gates of the source it owns (CloudWatch on AWS) in its
 * one call; a reader per other source (Zabbix, …) answers its gates, concurrently. A reader that
 * fails, or a gate no reader serves, gives that gate a reading with `error` (a measurement error:
 * inconclusive, never pass); only the target's own source failing fails the read.
 */
import { toGrayDeployError } from "../contract/errors.js";
import type { BusinessQuery } from "../gates/types.js";
import type { GateReader, MetricSource, WindowStats } from "../ports/index.js";

export function withGateReaders(
  base: MetricSource,
  own: string | undefined,
  readers: readonly GateReader[],
): MetricSource {
  const source: MetricSource = {
    async read(windows, signal, business?: BusinessQuery): Promise<WindowStats[]> {
      const gates = business?.gates ?? [];
      // Without gates the query still carries the versions' labels (a service signal's `{version}`).
      if (gates.length === 0) return base.read(windows, signal, business);
      const mine = gates.filter((g) => g.metric.source === own);
      const others = gates.filter((g) => g.metric.source !== own);
      const [stats, ...extra] = await Promise.all([
        base.read(windows, signal, { ...business!, gates: mine }),
        ...readers.map(async (r) => {
          const served = others.filter((g) => g.metric.source === r.source);
          if (served.length === 0) return windows.map(() => ({}));
          try {
            return await r.read(served, windows, signal);
          } catch (e) {
            const error = `${r.source}: ${toGrayDeployError(e).message}`;
            return windows.map(() =>
              Object.fromEntries(served.map((g) => [g.name, { stable: null, gray: null, error }])),
            );
          }
        }),
      ]);
      const orphans = others.filter((g) => !readers.some((r) => r.source === g.metric.source));
      return stats.map((w, i) => ({
        ...w,
        business: {
          ...Object.fromEntries(
            orphans.map((g) => [
              g.name,
              { stable: null, gray: null, error: `no ${g.metric.source} connection was configured` },
            ]),
          ),
          ...w.business,
          ...Object.assign({}, ...extra.map((e) => e[i] ?? {})),
        },
      }));
    },
  };
  if (base.alarms) source.alarms = base.alarms.bind(base);
  if (base.preflight) source.preflight = base.preflight.bind(base);
  return source;
}
