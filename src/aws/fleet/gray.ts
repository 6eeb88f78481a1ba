/**
 * The gray group: pointed at the release version and sized; the wait for healthy targets reads the
 * gray target group's health (target-health.ts) and the group's instances — only instances launched
 * from the release count.
 */
import type { AutoScalingGroup, Instance } from "@aws-sdk/client-auto-scaling";
import { TimeoutError } from "../../contract/errors.js";
import { formatDuration } from "../../contract/units.js";
import { waitUntil } from "../../engine/retry.js";
import { targetStates } from "../target-health.js";
import type { FleetContext } from "./context.js";
import type { TemplateRef } from "./shared.js";

export class GrayGroup {
  constructor(private readonly c: FleetContext) {}

  async scale(version: string, capacity: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const name = this.c.o.grayAsg;
    const template = await this.c.templates.resolve(signal);
    const deadline = this.c.clock.now() + timeoutMs;
    let g = await this.c.groups.one(name, signal);
    const stale = (g.Instances ?? []).filter((i) => i.LaunchTemplate?.Version !== version);
    if (stale.length > 0) {
      // Instances of another version (a crashed earlier rollout) would be counted as gray: drop them first.
      this.c.o.log?.(`gray has ${stale.length} instance(s) of another version: scaling it to 0 first`);
      await this.#setGray(g, template, version, 0, signal);
      await this.#waitGray(
        `gray ${name} to drop instances of other versions`,
        async () => {
          const now = await this.c.groups.one(name, signal);
          const left = (now.Instances ?? []).filter((i) => i.LaunchTemplate?.Version !== version);
          return left.length === 0
            ? { state: "SUCCESS", value: undefined, observed: "no other version left" }
            : { state: "RETRY", observed: `${left.length} instance(s) of other versions left` };
        },
        Math.max(1000, deadline - this.c.clock.now()),
        signal,
      );
      g = await this.c.groups.one(name, signal);
    }
    await this.#setGray(g, template, version, capacity, signal);
    const what = `${capacity} healthy gray target(s) on launch template version ${version}`;
    await this.#waitGray(
      what,
      async () => {
        const [group, health] = await Promise.all([
          this.c.groups.one(name, signal),
          targetStates(this.c.api, this.c.o.grayTargetGroupArn, signal),
        ]);
        const mine = new Set(
          (group.Instances ?? [])
            .filter(
              (i: Instance) => i.LaunchTemplate?.Version === version && i.LifecycleState === "InService",
            )
            .map((i) => i.InstanceId ?? ""),
        );
        const states = health.filter((d) => mine.has(d.id));
        const healthy = states.filter((d) => d.state === "healthy").length;
        const observed = `${healthy}/${capacity} healthy${states.length > 0 ? ": " : ""}${states
          .map((d) => `${d.id} ${d.state}${d.reason ? ` (${d.reason})` : ""}`)
          .join(", ")}${mine.size < capacity ? `; ${mine.size} of ${capacity} instance(s) in service` : ""}`;
        return healthy >= capacity
          ? { state: "SUCCESS", value: undefined, observed }
          : { state: "RETRY", observed };
      },
      Math.max(1000, deadline - this.c.clock.now()),
      signal,
    );
  }

  async #setGray(
    g: AutoScalingGroup,
    template: TemplateRef,
    version: string,
    capacity: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const lt = g.LaunchTemplate;
    const sameTemplate = lt?.LaunchTemplateId === template.id && lt?.Version === version;
    const min = Math.min(g.MinSize ?? 0, capacity);
    const max = Math.max(g.MaxSize ?? 0, capacity);
    if (sameTemplate && g.DesiredCapacity === capacity && g.MinSize === min && g.MaxSize === max) return;
    await this.c.api.autoScaling.updateAutoScalingGroup(
      {
        AutoScalingGroupName: this.c.o.grayAsg,
        LaunchTemplate: { LaunchTemplateId: template.id, Version: version },
        MinSize: min,
        MaxSize: max,
        DesiredCapacity: capacity,
      },
      signal,
    );
  }

  async #waitGray(
    what: string,
    check: Parameters<typeof waitUntil<undefined>>[0],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const result = await waitUntil(check, {
      timeoutMs,
      minDelayMs: this.c.o.pollMs,
      maxDelayMs: this.c.o.pollMs * 4,
      signal,
      clock: this.c.clock,
    });
    if (result.state !== "SUCCESS") {
      throw new TimeoutError(`waited ${formatDuration(timeoutMs)} for ${what}; last seen: ${result.last}`, {
        fix: "look at the gray instances (user data, image pull, application logs) and the target group's health check; raise --healthy-timeout if they are only slow",
      });
    }
  }

  async retire(version: string, signal?: AbortSignal): Promise<void> {
    const template = await this.c.templates.resolve(signal);
    const g = await this.c.groups.one(this.c.o.grayAsg, signal);
    const lt = g.LaunchTemplate;
    if (
      lt?.LaunchTemplateId === template.id &&
      lt.Version === version &&
      g.DesiredCapacity === 0 &&
      g.MinSize === 0
    ) {
      return;
    }
    await this.c.api.autoScaling.updateAutoScalingGroup(
      {
        AutoScalingGroupName: this.c.o.grayAsg,
        LaunchTemplate: { LaunchTemplateId: template.id, Version: version },
        MinSize: 0,
        DesiredCapacity: 0,
      },
      signal,
    );
  }
}
