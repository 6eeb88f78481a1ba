/**
 * The fleets following the load on AWS (issue 17): the two groups' sizes in one
 * DescribeAutoScalingGroups call, what one stable instance carries by stable's target-tracking
 * policy on ALBRequestCountPerTarget (DescribePolicies, read once per process: TargetValue is requests
 * per target per minute), and the writes — gray's DesiredCapacity, stable's MinSize — each skipped when
 * the group already is as wanted.
 */
import type { ScalingPolicy } from "@aws-sdk/client-auto-scaling";
import { PreflightError } from "../../contract/errors.js";
import type { FleetSizes, ResizeRequest, VersionInfo } from "../../ports/index.js";
import { decodeUserData, findImageReference } from "../user-data.js";
import type { FleetContext } from "./context.js";
import { launchSpec } from "./shared.js";

export class FleetSizing {
  #perInstance: Promise<number | null> | null = null;

  constructor(private readonly c: FleetContext) {}

  async sizes(signal?: AbortSignal): Promise<FleetSizes> {
    const o = this.c.o;
    const [groups, perInstanceRps] = await Promise.all([
      this.c.groups.many([o.stableAsg, o.grayAsg], signal),
      this.perInstanceRps(signal),
    ]);
    const stable = groups.get(o.stableAsg);
    const gray = groups.get(o.grayAsg);
    if (stable === undefined || gray === undefined) {
      throw new PreflightError(
        `Auto Scaling group ${stable === undefined ? o.stableAsg : o.grayAsg} does not exist`,
      );
    }
    return {
      stable: { desired: stable.DesiredCapacity ?? 0, min: stable.MinSize ?? 0, max: stable.MaxSize ?? 0 },
      gray: { desired: gray.DesiredCapacity ?? 0, max: gray.MaxSize ?? 0 },
      perInstanceRps,
    };
  }

  /** Requests/s per instance stable's target tracking aims at; null without such a policy. */
  perInstanceRps(signal?: AbortSignal): Promise<number | null> {
    this.#perInstance ??= this.#readPolicies(signal).catch((e: unknown) => {
      this.#perInstance = null; // read again next time
      throw e;
    });
    return this.#perInstance;
  }

  async #readPolicies(signal?: AbortSignal): Promise<number | null> {
    const policies: ScalingPolicy[] = [];
    let token: string | undefined;
    do {
      const page = await this.c.api.autoScaling.describePolicies(
        {
          AutoScalingGroupName: this.c.o.stableAsg,
          PolicyTypes: ["TargetTrackingScaling"],
          ...(token === undefined ? {} : { NextToken: token }),
        },
        signal,
      );
      policies.push(...(page.ScalingPolicies ?? []));
      token = page.NextToken;
    } while (token !== undefined && token !== "");
    const tg = this.c.o.stableTargetGroupArn.split(":").pop() ?? "";
    const perMinute = policies
      .filter((p) => p.Enabled !== false)
      .map((p) => p.TargetTrackingConfiguration)
      .filter(
        (t) =>
          t?.PredefinedMetricSpecification?.PredefinedMetricType === "ALBRequestCountPerTarget" &&
          (t.PredefinedMetricSpecification.ResourceLabel ?? "").endsWith(tg) &&
          (t.TargetValue ?? 0) > 0,
      )
      .map((t) => t!.TargetValue!);
    // Several policies: the one that scales out first (the smallest target) sizes the fleet.
    return perMinute.length === 0 ? null : Math.min(...perMinute) / 60;
  }

  async resize(change: ResizeRequest, signal?: AbortSignal): Promise<void> {
    const o = this.c.o;
    const groups = await this.c.groups.many([o.stableAsg, o.grayAsg], signal);
    if (change.stableMin !== undefined) {
      const g = groups.get(o.stableAsg);
      if (g?.MinSize !== change.stableMin) {
        // Raising MinSize above the desired capacity raises it too (UpdateAutoScalingGroup); lowering
        // it leaves desired to stable's own scaling policy.
        await this.c.api.autoScaling.updateAutoScalingGroup(
          { AutoScalingGroupName: o.stableAsg, MinSize: change.stableMin },
          signal,
        );
      }
    }
    if (change.gray !== undefined) {
      const g = groups.get(o.grayAsg);
      const desired = change.gray.desired;
      if (g !== undefined && launchSpec(g, "gray").version !== change.gray.version) {
        throw new PreflightError(
          `gray ${o.grayAsg} runs launch template version ${launchSpec(g, "gray").version}, not the release's ${change.gray.version}: not resizing it`,
        );
      }
      if (g?.DesiredCapacity !== desired) {
        await this.c.api.autoScaling.updateAutoScalingGroup(
          {
            AutoScalingGroupName: o.grayAsg,
            MinSize: Math.min(g?.MinSize ?? 0, desired),
            DesiredCapacity: desired,
          },
          signal,
        );
      }
    }
  }

  /** rollback-release: the version still exists and names one image. */
  async describeVersion(version: string, signal?: AbortSignal): Promise<VersionInfo> {
    const template = await this.c.templates.resolve(signal);
    const v = await this.c.templates.version(version, signal);
    const found = findImageReference(decodeUserData(v.LaunchTemplateData?.UserData ?? ""));
    if (found.kind !== "found") {
      throw new PreflightError(
        `launch template ${template.name} version ${version} has no single image reference in its user data`,
        {
          field: "launchTemplate",
          fix: "restore the previous image with `gray-deploy deploy-gray --image …`",
        },
      );
    }
    return {
      image: found.ref,
      facts: [`launch template ${template.name} (${template.id}) version ${version} runs ${found.ref}`],
    };
  }
}
