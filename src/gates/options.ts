/**
 * The `gates` option: business-metric gates declared by the team, judged at every step like the
 * built-in ones. Its parser knows the registered sources (src/app/registry.ts).
 */
import { type OptionIssue, optionGroup, ROLLOUT } from "../contract/options/def.js";
import type { GateSourceSpec } from "./source.js";
import { parseGates } from "./spec.js";

/** The option group of `gates` for these sources; `served(source, target)` says who reads them. */
export function gateOptions(
  sources: readonly GateSourceSpec[],
  served: (source: string, target: string) => string | undefined,
) {
  return optionGroup({
    name: "gates",
    defs: {
      gates: {
        kind: "json",
        parseJson: (raw: unknown) => parseGates(raw, sources),
        description:
          'Business-metric gates on CloudWatch or Zabbix metrics, judged at every step like the built-in ones: a list of {name, source, the metric, one rule of max/min/ratio/test, minSamples, window, maxErrors} (README "Business-metric gates"). A YAML list in --config; a JSON object or list per --gates, repeatable.',
      },
    },
    check(o, { verb, target }) {
      const issues: OptionIssue[] = [];
      if (!ROLLOUT.includes(verb)) return issues;
      o.gates.forEach((g, i) => {
        const why = served(g.metric.source, target);
        if (why !== undefined) issues.push({ field: `gates[${i}].source`, message: why });
      });
      return issues;
    },
  });
}
