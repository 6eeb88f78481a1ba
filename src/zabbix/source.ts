/**
 * The `zabbix` gate source as src/app/registry.ts registers it: its declaration parser (spec.ts), its
 * connection options (options.ts) and its reader, opened for any target (hosts are selected per
 * version by tag or group; `{asg}` where the target has Auto Scaling groups). Importing this file
 * opens nothing: the client is loaded when a run has Zabbix gates.
 */
import { PreflightError } from "../contract/errors.js";
import type { GateSourceDefinition } from "../engine/targets.js";
import { type ZabbixOptions, zabbixOptions } from "./options.js";
import { zabbixGateSpec } from "./spec.js";

export const zabbixGates = {
  ...zabbixGateSpec,
  options: zabbixOptions,
  async open(o, deps) {
    // The Zabbix options apply to deploy-gray, plan and promote only (their timeout has a default there).
    if (o.zabbixTimeout === undefined) return null;
    if (o.zabbixUrl === undefined || o.zabbixToken === undefined) {
      throw new PreflightError(
        `the rollout's gate(s) ${[...new Set(deps.gates.map((g) => g.name))].join(", ")} read Zabbix, but no Zabbix connection was given`,
        {
          field: o.zabbixUrl === undefined ? "zabbixUrl" : "zabbixToken",
          fix: "pass --zabbix-url and set GRAY_DEPLOY_ZABBIX_TOKEN (the Zabbix API token)",
        },
      );
    }
    const [{ ZabbixClient }, { ZabbixGateReader }] = await Promise.all([
      import("./client.js"),
      import("./gates.js"),
    ]);
    const client = new ZabbixClient({ url: o.zabbixUrl, token: o.zabbixToken, timeoutMs: o.zabbixTimeout });
    const reader = new ZabbixGateReader({ client, identities: deps.identities, timeoutMs: o.zabbixTimeout });
    return { reader, dispose: () => client.close() };
  },
} satisfies GateSourceDefinition<ZabbixOptions>;
