/**
 * The local instance refresh (the fleet's `promote`/`revertStable`): replaces every stable instance
 * not on `version`, one at a time, launch before terminate (so stable never has fewer than its
 * capacity in service, which satisfies any `refreshMinHealthy` floor), each new one healthy and
 * warmed up before the old one is drained and stopped.
 */
import { type GrayDeployError, ProviderError, TimeoutError } from "../contract/errors.js";
import type { ServiceInstance } from "./instance.js";
import type { TargetState } from "./proxy.js";

/** What the refresh needs of the fleet that runs it. */
export interface RefreshHost {
  /** The stable pool now. */
  stable(): readonly ServiceInstance[];
  launch(version: string): ServiceInstance;
  remove(instances: readonly ServiceInstance[]): Promise<void>;
  state(i: ServiceInstance): TargetState | null;
  describe(i: ServiceInstance): string;
  until(
    deadline: number,
    signal: AbortSignal | undefined,
    done: () => boolean,
    expired: () => GrayDeployError,
  ): Promise<void>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  log(line: string): void;
}

export async function refreshStable(
  host: RefreshHost,
  version: string,
  o: { readonly warmupMs: number; readonly minHealthy: number; readonly deadline: number },
  signal: AbortSignal | undefined,
): Promise<void> {
  const next = () => host.stable().find((i) => i.version !== version);
  for (let old = next(); old !== undefined; old = next()) {
    const capacity = host.stable().length;
    const floor = Math.ceil((capacity * o.minHealthy) / 100);
    const fresh = host.launch(version);
    try {
      await host.until(
        o.deadline,
        signal,
        () => {
          if (!fresh.alive) {
            throw new ProviderError(`new stable instance ${fresh.id} (${version}) ${fresh.describeExit()}`, {
              fix: "the version does not start: check it by hand with SERVICE_VERSION and node examples/sample-gateway/server.mjs",
            });
          }
          return host.state(fresh) === "healthy";
        },
        () =>
          new TimeoutError(
            `new stable instance ${fresh.id} (${version}) not healthy within the refresh deadline: ${host.describe(fresh)}`,
            { fix: "raise --healthy-timeout if the version starts slowly" },
          ),
      );
      if (o.warmupMs > 0) await host.sleep(o.warmupMs, signal);
      // Launch-before-terminate keeps stable at capacity, but a sibling may have failed meanwhile:
      // never take `old` out while that would leave fewer than the floor in service.
      const leaving = old;
      await host.until(
        o.deadline,
        signal,
        () => host.stable().filter((i) => i !== leaving && host.state(i) === "healthy").length >= floor,
        () => new TimeoutError(`stable would drop below ${floor} healthy instances (refresh floor)`),
      );
    } catch (e) {
      await host.remove([fresh]);
      throw e;
    }
    host.log(`stable: ${fresh.id} (${version}) in service, retiring ${old.id} (${old.version})`);
    await host.remove([old]);
  }
}
