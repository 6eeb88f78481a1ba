/**
 * The Fleet port over EC2 launch templates and two Auto Scaling groups.
 *
 * - A release is a new numbered version of the launch template, created from the version stable runs
 *   (SourceVersion) and differing only in the image reference in the user data (user-data.ts) and,
 *   with --ami, the AMI. Its VersionDescription names the image and its source version, so a rerun
 *   with the same image finds and reuses it instead of creating another.
 * - Stable is pinned while a rollout runs (fleet/pin.ts).
 * - Gray is pointed at the release version and sized; the wait for healthy targets reads
 *   DescribeTargetHealth and the group's instances (only instances launched from the release count).
 * - Promotion is an instance refresh of stable onto the release (numbered version, MinHealthyPercentage
 *   floor, AutoRollback, SkipMatching); a refresh that fails is rolled back (by AWS, or by us when
 *   AutoRollback could not) before `promote` resolves `ok: false`.
 * Every write is preceded by a read and skipped when the group already is as wanted.
 *
 * The parts live in src/aws/fleet/: templates.ts (launch template versions), pin.ts (stable's pin),
 * gray.ts (gray's size and health), refresh.ts (the instance refresh of promotion); this class is the
 * Fleet port over them, with the preflight that checks them all before anything changes.
 */
import type { AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import { PreflightError } from "../contract/errors.js";
import { systemClock } from "../engine/clock.js";
import type {
  Fleet,
  FleetPreflight,
  FleetSizes,
  PreparedRelease,
  PromotionResult,
  PromotionWatch,
  ReleaseSpec,
  ResizeRequest,
  VersionInfo,
} from "../ports/index.js";
import type { FleetContext } from "./fleet/context.js";
import { GrayGroup } from "./fleet/gray.js";
import { StablePin } from "./fleet/pin.js";
import { StableRefresh } from "./fleet/refresh.js";
import {
  ACTIVE_REFRESH,
  type AwsFleetOptions,
  checkTemplate,
  Groups,
  launchSpec,
  readPin,
} from "./fleet/shared.js";
import { FleetSizing } from "./fleet/sizes.js";
import { LaunchTemplates } from "./fleet/templates.js";
import { decodeUserData, findImageReference } from "./user-data.js";

export {
  type AwsFleetOptions,
  ecrCoordinates,
  PIN_TAG,
  PINNED_PROCESSES,
  releaseDescription,
} from "./fleet/shared.js";

export class AwsFleet implements Fleet {
  readonly #c: FleetContext;
  readonly #pin: StablePin;
  readonly #gray: GrayGroup;
  readonly #refresh: StableRefresh;
  readonly #sizing: FleetSizing;

  constructor(options: AwsFleetOptions) {
    const base = { o: options, api: options.api };
    this.#c = {
      ...base,
      clock: options.clock ?? systemClock(),
      groups: new Groups(base),
      templates: new LaunchTemplates(base),
    };
    this.#pin = new StablePin(this.#c);
    this.#gray = new GrayGroup(this.#c);
    this.#refresh = new StableRefresh(this.#c);
    this.#sizing = new FleetSizing(this.#c);
  }

  private get c(): FleetContext {
    return this.#c;
  }

  async preflight(release: ReleaseSpec, signal?: AbortSignal): Promise<FleetPreflight> {
    const o = this.c.o;
    const [groups, template] = await Promise.all([
      this.c.groups.many([o.stableAsg, o.grayAsg], signal),
      this.c.templates.resolve(signal),
    ]);
    const facts: string[] = [];
    const checked = new Map<"stable" | "gray", { g: AutoScalingGroup; version: string }>();
    for (const [side, name, tg, otherTg] of [
      ["stable", o.stableAsg, o.stableTargetGroupArn, o.grayTargetGroupArn],
      ["gray", o.grayAsg, o.grayTargetGroupArn, o.stableTargetGroupArn],
    ] as const) {
      const field = side === "stable" ? "stableAsg" : "grayAsg";
      const g = groups.get(name);
      if (g === undefined) {
        throw new PreflightError(`${side} Auto Scaling group ${name} does not exist`, {
          field,
          fix: "pass the name of an existing Auto Scaling group in this region",
        });
      }
      const attached = g.TargetGroupARNs ?? [];
      if (!attached.includes(tg)) {
        throw new PreflightError(
          `${side} Auto Scaling group ${name} is not attached to the ${side} target group ${tg}${attached.length > 0 ? ` (it is attached to ${attached.join(", ")})` : ""}`,
          {
            field,
            fix: `attach it: aws autoscaling attach-load-balancer-target-groups --auto-scaling-group-name ${name} --target-group-arns ${tg}`,
          },
        );
      }
      if (attached.includes(otherTg)) {
        throw new PreflightError(
          `${side} Auto Scaling group ${name} is attached to both target groups: its instances would take traffic of both versions`,
          { field, fix: `detach ${otherTg} from ${name}` },
        );
      }
      const spec = launchSpec(g, side);
      checkTemplate(spec, template, name, field);
      checked.set(side, { g, version: spec.version });
    }
    const stable = checked.get("stable")!;
    const gray = checked.get("gray")!;
    const capacity = stable.g.DesiredCapacity ?? 0;
    if (capacity < 1) {
      throw new PreflightError(`stable Auto Scaling group ${o.stableAsg} has no capacity (desired 0)`, {
        field: "stableAsg",
        fix: "a gray rollout needs stable serving traffic to compare with and to roll back to",
      });
    }

    const [sourceVersion, refreshes, ecr] = await Promise.all([
      this.c.templates.version(stable.version, signal),
      this.c.api.autoScaling.describeInstanceRefreshes(
        { AutoScalingGroupName: o.stableAsg, MaxRecords: 1 },
        signal,
      ),
      this.c.templates.checkImage(release.image, signal),
    ]);
    const active = (refreshes.InstanceRefreshes ?? []).find((r) => ACTIVE_REFRESH.includes(r.Status ?? ""));
    if (active !== undefined) {
      throw new PreflightError(
        `an instance refresh (${active.InstanceRefreshId}, ${active.Status}) is in progress on ${o.stableAsg}`,
        { field: "stableAsg", fix: "wait for it to finish (or cancel it), then deploy again" },
      );
    }
    const script = decodeUserData(sourceVersion.LaunchTemplateData?.UserData ?? "");
    const found = findImageReference(script);
    const where = `launch template ${template.name} (${template.id}) version ${stable.version}`;
    if (found.kind === "none") {
      throw new PreflightError(
        `cannot find the container image reference in the user data of ${where}: ${found.why}`,
        {
          field: "launchTemplate",
          fix: 'put the image in the user data as one line IMAGE=<registry/repository:tag> (and run it with docker run "$IMAGE"); nothing was changed',
        },
      );
    }
    if (found.kind === "ambiguous") {
      throw new PreflightError(
        `the user data of ${where} holds several image references (${found.refs.join(", ")}; ${found.how}): gray-deploy cannot tell which one is the service's`,
        {
          field: "launchTemplate",
          fix: "name the service's image in one IMAGE=<ref> line; other images may stay in docker run lines",
        },
      );
    }
    const currentAmi = sourceVersion.LaunchTemplateData?.ImageId;
    if (found.ref === release.image && (release.ami === undefined || release.ami === currentAmi)) {
      throw new PreflightError(`stable already runs ${release.image} (${where})`, {
        field: "image",
        fix: "nothing to deploy: pass the new image with --image",
      });
    }
    const grayInstances = (gray.g.Instances ?? []).length;
    facts.push(
      `stable ${o.stableAsg}: ${capacity} instance(s) on ${where}, attached to ${o.stableTargetGroupArn}`,
      `gray ${o.grayAsg}: ${grayInstances} instance(s) on version ${gray.version}, attached to ${o.grayTargetGroupArn}`,
      `image reference ${found.ref} (${found.how}${found.spans.length > 1 ? `, ${found.spans.length} occurrences` : ""}) becomes ${release.image}${release.ami ? `; AMI ${currentAmi ?? "?"} becomes ${release.ami}` : ""}`,
      ...ecr,
    );
    const pin = readPin(stable.g);
    if (pin !== null) {
      facts.push(
        `stable is still pinned by an earlier rollout (MinSize was ${pin.min}); that original value is kept`,
      );
    }
    return { stableCapacity: capacity, stableVersion: stable.version, facts };
  }

  /** For ECR images: the image must exist (a typo'd tag would never become healthy). Returns facts. */

  async prepare(
    release: ReleaseSpec,
    known: PreparedRelease | null,
    signal?: AbortSignal,
  ): Promise<PreparedRelease> {
    const stable = await this.c.groups.one(this.c.o.stableAsg, signal);
    const template = await this.c.templates.resolve(signal);
    const spec = launchSpec(stable, "stable");
    const previousVersion = known?.previousVersion ?? spec.version;
    const stableCapacity = known?.stableCapacity ?? stable.DesiredCapacity ?? 0;
    const version =
      known?.version ?? (await this.c.templates.releaseVersion(release, template, previousVersion, signal));
    await this.#pin.apply(stable, stableCapacity, signal);
    return { version, previousVersion, stableCapacity };
  }

  /** Finds the release's version (same image, same source) or creates it. */

  releaseStable(signal?: AbortSignal): Promise<void> {
    return this.#pin.release(signal);
  }

  scaleGray(version: string, capacity: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.#gray.scale(version, capacity, timeoutMs, signal);
  }

  retireGray(version: string, signal?: AbortSignal): Promise<void> {
    return this.#gray.retire(version, signal);
  }

  promote(
    version: string,
    timeoutMs: number,
    signal?: AbortSignal,
    watch?: PromotionWatch,
  ): Promise<PromotionResult> {
    return this.#refresh.promote(version, timeoutMs, signal, watch);
  }

  sizes(signal?: AbortSignal): Promise<FleetSizes> {
    return this.#sizing.sizes(signal);
  }

  resize(change: ResizeRequest, signal?: AbortSignal): Promise<void> {
    return this.#sizing.resize(change, signal);
  }

  describeVersion(version: string, signal?: AbortSignal): Promise<VersionInfo> {
    return this.#sizing.describeVersion(version, signal);
  }

  revertStable(version: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.#refresh.revert(version, timeoutMs, signal);
  }
}
