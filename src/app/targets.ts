/**
 * Opens the chosen target's ports, with the business-metric gates of the run attached: the gates
 * of the source the target owns ride in its own metric reads; every other source's reader is opened
 * here, for any target, and checked before anything changes (a wrong token, host group or key:
 * refused, exit 2).
 */
import { isTerminal } from "../core/state.js";
import { withGateReaders } from "../engine/gate-readers.js";
import type { GateSourceDefinition, OpenedGateReader, TargetDeps, TargetRuntime } from "../engine/targets.js";
import type { GateSpec } from "../gates/types.js";
import { openHookCaller } from "./checks.js";
import { GATE_SOURCES } from "./registry.js";
import { targetOf } from "./requests.js";
import type { Options } from "./schema.js";

export type { TargetDeps, TargetRuntime };

export async function openTarget(o: Options, deps: TargetDeps = {}): Promise<TargetRuntime> {
  const target = targetOf(o);
  const runtime = await target.open(o, deps);
  try {
    const readers = await openGateReaders(o, runtime, target.ownGateSource, deps);
    const hooks = await openHookCaller(o, runtime, deps);
    if (readers.length === 0 && hooks === null) return runtime;
    return {
      ...runtime,
      ports: {
        ...runtime.ports,
        ...(hooks === null ? {} : { hooks }),
        ...(readers.length === 0
          ? {}
          : {
              metrics: withGateReaders(
                runtime.ports.metrics,
                target.ownGateSource,
                readers.map((r) => r.reader),
              ),
            }),
      },
      async dispose() {
        await Promise.all(readers.map((r) => r.dispose().catch(() => undefined)));
        await runtime.dispose();
      },
    };
  } catch (e) {
    await runtime.dispose().catch(() => undefined);
    throw e;
  }
}

/**
 * Readers of the gates of this run (`--gates`) or of the stored rollout it continues, one per source
 * that has gates and opens its own connection. Each is preflighted on the gates it will read.
 */
async function openGateReaders(
  o: Options,
  runtime: TargetRuntime,
  own: string | undefined,
  deps: TargetDeps,
): Promise<OpenedGateReader[]> {
  const found = runtime.found;
  const live = found && !isTerminal(found.phase) ? (found.plan.gates ?? []) : [];
  const checked = o.gates.length > 0 ? o.gates : live;
  const all = [...o.gates, ...live];
  const opened: OpenedGateReader[] = [];
  try {
    for (const source of GATE_SOURCES as readonly GateSourceDefinition<Options>[]) {
      const mine = (gates: readonly GateSpec[]) => gates.filter((g) => g.metric.source === source.name);
      if (source.open === undefined || source.name === own || mine(all).length === 0) continue;
      const reader = await source.open(o, {
        gates: mine(all),
        identities: runtime.identities,
        ...(deps.signal ? { signal: deps.signal } : {}),
        ...(deps.log ? { log: deps.log } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
      });
      if (reader === null) continue;
      opened.push(reader);
      await reader.reader.preflight?.(mine(checked), deps.signal);
    }
    return opened;
  } catch (e) {
    await Promise.all(opened.map((r) => r.dispose().catch(() => undefined)));
    throw e;
  }
}
