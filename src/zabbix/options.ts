/** The Zabbix connection of gates with source `zabbix` (src/zabbix). */
import { type OptionIssue, optionGroup, ROLLOUT, type Values } from "../contract/options/def.js";

export const zabbixOptions = optionGroup({
  name: "zabbix",
  defs: {
    zabbixUrl: {
      kind: "string",
      verbs: ["deploy-gray", "plan", "promote"],
      env: ["GRAY_DEPLOY_ZABBIX_URL"],
      pattern: { re: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, hint: "https://zabbix.example.com/api_jsonrpc.php" },
      description:
        "The Zabbix API (api_jsonrpc.php, or the frontend's URL ending in /) that gates with source zabbix read.",
    },
    zabbixToken: {
      kind: "string",
      verbs: ["deploy-gray", "plan", "promote"],
      sensitive: true,
      env: ["GRAY_DEPLOY_ZABBIX_TOKEN"],
      pattern: { re: /^\S{8,512}$/, hint: "a Zabbix API token (Administration → General → API tokens)" },
      description:
        "The Zabbix API token of gates with source zabbix (read-only user suffices). A secret, never printed: prefer GRAY_DEPLOY_ZABBIX_TOKEN.",
    },
    zabbixTimeout: {
      kind: "duration",
      verbs: ["deploy-gray", "plan", "promote"],
      default: "10s",
      min: 500,
      max: 120_000,
      description:
        "Deadline of one Zabbix read (all its API calls); a Zabbix slower than this is a measurement error of its gates, never a pass.",
    },
  },
  check(o, { verb, all }) {
    const issues: OptionIssue[] = [];
    if (!ROLLOUT.includes(verb)) return issues;
    const gates = (all.gates ?? []) as readonly { name: string; metric: { source: string } }[];
    const zabbixGates = gates.filter((g) => g.metric.source === "zabbix").map((g) => g.name);
    if (zabbixGates.length > 0) {
      const which = `gate(s) ${zabbixGates.join(", ")} read Zabbix`;
      if (o.zabbixUrl === undefined) {
        issues.push({ field: "zabbixUrl", message: `is required: ${which} (or set GRAY_DEPLOY_ZABBIX_URL)` });
      }
      if (o.zabbixToken === undefined) {
        issues.push({
          field: "zabbixToken",
          message: `is required: ${which}; set GRAY_DEPLOY_ZABBIX_TOKEN (a secret: not as a flag)`,
        });
      }
    }
    return issues;
  },
});

export type ZabbixOptions = Values<typeof zabbixOptions.defs>;
