/**
 * The `cloudwatch` gate source as src/app/registry.ts registers it. It opens no reader of its own:
 * the AWS target's metric source answers these gates in its one GetMetricData call (queries.ts), so
 * they need `--target aws` (TargetDefinition.ownGateSource).
 */
import type { GateSourceDefinition } from "../../engine/targets.js";
import { cloudWatchGateSpec } from "./spec.js";

export const cloudWatchGates = { ...cloudWatchGateSpec } satisfies GateSourceDefinition<unknown>;
