/**
 * The registrations: every target and every gate source gray-deploy knows, in one place. Adding a
 * target or a gate source is its own folder plus one line here; nothing else in the code names one.
 * The first target is the default (`--target`'s default).
 */
import { cloudWatchGates } from "../aws/cloudwatch/source.js";
import { awsTarget } from "../aws/definition.js";
import { localTarget } from "../local/target.js";
import { zabbixGates } from "../zabbix/source.js";

export const TARGETS = [localTarget, awsTarget] as const;

export const GATE_SOURCES = [cloudWatchGates, zabbixGates] as const;
