/**
 * The pin of stable while a rollout runs: its MinSize is raised to its starting capacity and the
 * AZRebalance and ScheduledActions processes are suspended (either could take capacity away or undo
 * the pin). The values to restore are written FIRST, as a tag on the group (`gray-deploy:pin`), so
 * any process — a resumed run, `abort` elsewhere — restores exactly what was there, and an operator
 * can see why the group is pinned.
 */
import type { AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import type { FleetContext } from "./context.js";
import { PIN_TAG, PINNED_PROCESSES, readPin } from "./shared.js";

export class StablePin {
  constructor(private readonly c: FleetContext) {}

  async apply(g: AutoScalingGroup, capacity: number, signal?: AbortSignal): Promise<void> {
    const name = this.c.o.stableAsg;
    const suspended = new Set((g.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? ""));
    let pin = readPin(g);
    if (pin === null) {
      pin = { min: g.MinSize ?? 0, resume: PINNED_PROCESSES.filter((p) => !suspended.has(p)) };
      // The record goes first: whatever happens next, the original values can be restored.
      await this.c.api.autoScaling.createOrUpdateTags(
        {
          Tags: [
            {
              ResourceId: name,
              ResourceType: "auto-scaling-group",
              Key: PIN_TAG,
              Value: JSON.stringify(pin),
              PropagateAtLaunch: false,
            },
          ],
        },
        signal,
      );
    }
    if ((g.MinSize ?? 0) < capacity) {
      await this.c.api.autoScaling.updateAutoScalingGroup(
        { AutoScalingGroupName: name, MinSize: capacity },
        signal,
      );
    }
    const toSuspend = pin.resume.filter((p) => !suspended.has(p));
    if (toSuspend.length > 0) {
      await this.c.api.autoScaling.suspendProcesses(
        { AutoScalingGroupName: name, ScalingProcesses: toSuspend },
        signal,
      );
    }
  }

  async release(signal?: AbortSignal): Promise<void> {
    const name = this.c.o.stableAsg;
    const g = await this.c.groups.one(name, signal);
    const pin = readPin(g);
    if (pin === null) return;
    if ((g.MinSize ?? 0) !== pin.min) {
      await this.c.api.autoScaling.updateAutoScalingGroup(
        { AutoScalingGroupName: name, MinSize: pin.min },
        signal,
      );
    }
    const suspended = new Set((g.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? ""));
    const resume = pin.resume.filter((p) => suspended.has(p));
    if (resume.length > 0) {
      await this.c.api.autoScaling.resumeProcesses(
        { AutoScalingGroupName: name, ScalingProcesses: resume },
        signal,
      );
    }
    await this.c.api.autoScaling.deleteTags(
      { Tags: [{ ResourceId: name, ResourceType: "auto-scaling-group", Key: PIN_TAG }] },
      signal,
    );
  }
}
