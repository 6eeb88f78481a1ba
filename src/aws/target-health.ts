/**
 * Target health of a target group (DescribeTargetHealth), read in one place for the router (each
 * pool's counts, the gates) and the fleet (gray's instances of the release, while scaling).
 */
import type { PoolHealth } from "../core/types.js";
import type { AwsApi } from "./api.js";

export interface TargetState {
  readonly id: string;
  /** healthy, unhealthy, initial, draining, unused, unavailable… */
  readonly state: string;
  readonly reason?: string | undefined;
}

export async function targetStates(
  api: AwsApi,
  targetGroupArn: string,
  signal?: AbortSignal,
): Promise<TargetState[]> {
  const out = await api.elb.describeTargetHealth({ TargetGroupArn: targetGroupArn }, signal);
  return (out.TargetHealthDescriptions ?? []).map((d) => ({
    id: d.Target?.Id ?? "",
    state: d.TargetHealth?.State ?? "unknown",
    reason: d.TargetHealth?.Reason,
  }));
}

/** Healthy and failing targets; `initial` (starting) and `draining` (leaving) count in neither. */
export function countHealth(states: readonly TargetState[]): PoolHealth {
  return {
    healthy: states.filter((s) => s.state === "healthy").length,
    unhealthy: states.filter((s) => s.state === "unhealthy").length,
  };
}
