/**
 * The Fleet port over EC2 launch templates and two Auto Scaling groups.
 *
 * - A release is a new numbered version of the launch template, created from the version stable runs
 *   (SourceVersion) and differing only in the image reference in the user data (user-data.ts) and,
 *   with --ami, the AMI. Its VersionDescription names the image and its source version, so a rerun
 *   with the same image finds and reuses it instead of creating another.
 * - Stable is pinned while a rollout runs: its MinSize is raised to its starting capacity and the
 *   AZRebalance and ScheduledActions processes are suspended (either could take capacity away or
 *   undo the pin). The values to restore are written FIRST, as a tag on the group
 *   (`gray-deploy:pin`), so any process — a resumed run, `abort` elsewhere — restores exactly what
 *   was there, and an operator can see why the group is pinned.
 * - Gray is pointed at the release version and sized; the wait for healthy targets reads
 *   DescribeTargetHealth and the group's instances (only instances launched from the release count).
 * - Promotion is an instance refresh of stable onto the release (numbered version, MinHealthyPercentage
 *   floor, AutoRollback, SkipMatching); a refresh that fails is rolled back (by AWS, or by us when
 *   AutoRollback could not) before `promote` resolves `ok: false`.
 * Every write is preceded by a read and skipped when the group already is as wanted.
 */

import { createHash } from "node:crypto";
import type { AutoScalingGroup, Instance, InstanceRefresh } from "@aws-sdk/client-auto-scaling";
import type { LaunchTemplateVersion } from "@aws-sdk/client-ec2";
import { PreflightError, ProviderError, TimeoutError } from "../contract/errors.js";
import { formatDuration } from "../contract/units.js";
import type { Fleet, FleetPreflight, PreparedRelease, PromotionResult, ReleaseSpec } from "../ports/index.js";
import type { AwsApi } from "./api.js";
import { isAwsCode } from "./errors.js";
import { decodeUserData, encodeUserData, findImageReference, replaceImageReference } from "./user-data.js";
import { waitUntil } from "./wait.js";

export interface AwsFleetOptions {
  readonly api: AwsApi;
  readonly stableAsg: string;
  readonly grayAsg: string;
  readonly stableTargetGroupArn: string;
  readonly grayTargetGroupArn: string;
  /** Launch template id (lt-…) or name. */
  readonly launchTemplate: string;
  /** Instance refresh: seconds a new instance serves before the next batch. */
  readonly instanceWarmupMs: number;
  /** Instance refresh floor, percent of stable's capacity kept healthy. */
  readonly refreshMinHealthy: number;
  /** Delay between checks while waiting (grows with backoff up to 4×). */
  readonly pollMs: number;
  readonly log?: ((line: string) => void) | undefined;
}

/** The tag holding what the pin changed on stable, so any process can restore it. */
export const PIN_TAG = "gray-deploy:pin";
/** Processes that could take capacity from stable or undo the pin during a rollout. */
export const PINNED_PROCESSES = ["AZRebalance", "ScheduledActions"] as const;

interface PinRecord {
  /** MinSize before the pin. */
  readonly min: number;
  /** Processes the pin suspended (those already suspended by someone else are not ours to resume). */
  readonly resume: readonly string[];
}

interface TemplateRef {
  readonly id: string;
  readonly name: string;
}

const ACTIVE_REFRESH = ["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"];
const LT_NOT_FOUND = [
  "InvalidLaunchTemplateId.NotFound",
  "InvalidLaunchTemplateName.NotFoundException",
  "InvalidLaunchTemplateId.Malformed",
  "InvalidLaunchTemplateName.MalformedException",
];

/** The version description that identifies a release version (≤ 255 characters). */
export function releaseDescription(
  release: Pick<ReleaseSpec, "image" | "ami">,
  sourceVersion: string,
): string {
  const text = `gray-deploy ${release.image}${release.ami ? ` ami ${release.ami}` : ""} from v${sourceVersion}`;
  if (text.length <= 255) return text;
  const digest = createHash("sha256").update(text).digest("hex").slice(0, 40);
  return `gray-deploy release ${digest} from v${sourceVersion}`;
}

/** `123456789012.dkr.ecr.sa-east-1.amazonaws.com/repo:tag` → its ECR coordinates; null for other registries. */
export function ecrCoordinates(
  image: string,
): { registryId: string; region: string; repository: string; tag?: string; digest?: string } | null {
  const m =
    /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)(?::([\w][\w.-]*))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(
      image,
    );
  if (!m) return null;
  return {
    registryId: m[1]!,
    region: m[2]!,
    repository: m[3]!,
    ...(m[4] === undefined ? {} : { tag: m[4] }),
    ...(m[5] === undefined ? {} : { digest: m[5] }),
  };
}

export class AwsFleet implements Fleet {
  readonly #o: AwsFleetOptions;
  readonly #api: AwsApi;
  #template: TemplateRef | null = null;

  constructor(options: AwsFleetOptions) {
    this.#o = options;
    this.#api = options.api;
  }

  // ── reads ─────────────────────────────────────────────────────────────────────────────────────

  async #groups(names: readonly string[], signal?: AbortSignal): Promise<Map<string, AutoScalingGroup>> {
    const out = await this.#api.autoScaling.describeAutoScalingGroups(
      { AutoScalingGroupNames: [...names] },
      signal,
    );
    return new Map((out.AutoScalingGroups ?? []).map((g) => [g.AutoScalingGroupName ?? "", g]));
  }

  async #group(name: string, signal?: AbortSignal): Promise<AutoScalingGroup> {
    const g = (await this.#groups([name], signal)).get(name);
    if (g === undefined) {
      throw new PreflightError(`Auto Scaling group ${name} does not exist`, {
        field: name === this.#o.stableAsg ? "stableAsg" : "grayAsg",
      });
    }
    return g;
  }

  async #resolveTemplate(signal?: AbortSignal): Promise<TemplateRef> {
    if (this.#template !== null) return this.#template;
    const given = this.#o.launchTemplate;
    const byId = /^lt-[0-9a-f]{8,17}$/.test(given);
    const out = await this.#api.ec2
      .describeLaunchTemplates(
        byId ? { LaunchTemplateIds: [given] } : { LaunchTemplateNames: [given] },
        signal,
      )
      .catch((e: unknown) => {
        if (isAwsCode(e, ...LT_NOT_FOUND)) {
          throw new PreflightError(`launch template ${given} does not exist`, {
            field: "launchTemplate",
            fix: "pass the id (lt-…) or name of the launch template both Auto Scaling groups use",
            cause: e,
          });
        }
        throw e;
      });
    const lt = out.LaunchTemplates?.[0];
    if (lt?.LaunchTemplateId === undefined) {
      throw new PreflightError(`launch template ${given} does not exist`, { field: "launchTemplate" });
    }
    this.#template = { id: lt.LaunchTemplateId, name: lt.LaunchTemplateName ?? given };
    return this.#template;
  }

  async #version(version: string, signal?: AbortSignal): Promise<LaunchTemplateVersion> {
    const t = await this.#resolveTemplate(signal);
    const out = await this.#api.ec2.describeLaunchTemplateVersions(
      { LaunchTemplateId: t.id, Versions: [version] },
      signal,
    );
    const v = out.LaunchTemplateVersions?.[0];
    if (v === undefined) {
      throw new PreflightError(`launch template ${t.name} has no version ${version}`, {
        field: "launchTemplate",
      });
    }
    return v;
  }

  /** The launch template and version a group launches from; refuses anything else gray-deploy cannot drive. */
  #launchSpec(g: AutoScalingGroup, side: "stable" | "gray"): { id: string; name: string; version: string } {
    const name = g.AutoScalingGroupName ?? "?";
    const field = side === "stable" ? "stableAsg" : "grayAsg";
    if (g.MixedInstancesPolicy !== undefined) {
      throw new PreflightError(`Auto Scaling group ${name} uses a mixed instances policy`, {
        field,
        fix: "gray-deploy drives groups with a plain launch template; use --launch-template on the group instead of a mixed instances policy",
      });
    }
    const lt = g.LaunchTemplate;
    if (lt === undefined) {
      throw new PreflightError(
        `Auto Scaling group ${name} has no launch template${g.LaunchConfigurationName ? ` (it uses launch configuration ${g.LaunchConfigurationName})` : ""}`,
        { field, fix: "move the group to a launch template (launch configurations cannot be versioned)" },
      );
    }
    return {
      id: lt.LaunchTemplateId ?? "",
      name: lt.LaunchTemplateName ?? "",
      version: lt.Version ?? "$Default",
    };
  }

  #checkTemplate(
    spec: { id: string; name: string; version: string },
    t: TemplateRef,
    group: string,
    field: string,
  ) {
    if (spec.id !== t.id && spec.name !== t.name) {
      throw new PreflightError(
        `Auto Scaling group ${group} launches from template ${spec.name || spec.id}, not ${t.name} (${t.id})`,
        { field, fix: "pass the launch template both groups use as --launch-template" },
      );
    }
    if (!/^\d+$/.test(spec.version)) {
      throw new PreflightError(
        `Auto Scaling group ${group} uses launch template version ${spec.version}: replacement instances would pick up whatever version becomes ${spec.version === "$Latest" ? "the latest" : "the default"}, an untested release`,
        {
          field,
          fix: `pin the group to a numbered version, e.g. aws autoscaling update-auto-scaling-group --auto-scaling-group-name ${group} --launch-template LaunchTemplateId=${t.id},Version=<number>`,
        },
      );
    }
  }

  #pin(g: AutoScalingGroup): PinRecord | null {
    const tag = (g.Tags ?? []).find((t) => t.Key === PIN_TAG);
    if (tag?.Value === undefined) return null;
    try {
      const v = JSON.parse(tag.Value) as PinRecord;
      if (typeof v.min === "number" && Array.isArray(v.resume)) return v;
    } catch {
      // fall through
    }
    throw new ProviderError(
      `tag ${PIN_TAG} on ${g.AutoScalingGroupName} is not gray-deploy's (${tag.Value})`,
      {
        fix: `remove the tag ${PIN_TAG} from the group, restore its MinSize and resume its processes by hand`,
      },
    );
  }

  // ── Fleet port ────────────────────────────────────────────────────────────────────────────────

  async preflight(release: ReleaseSpec, signal?: AbortSignal): Promise<FleetPreflight> {
    const o = this.#o;
    const [groups, template] = await Promise.all([
      this.#groups([o.stableAsg, o.grayAsg], signal),
      this.#resolveTemplate(signal),
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
      const spec = this.#launchSpec(g, side);
      this.#checkTemplate(spec, template, name, field);
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
      this.#version(stable.version, signal),
      this.#api.autoScaling.describeInstanceRefreshes(
        { AutoScalingGroupName: o.stableAsg, MaxRecords: 1 },
        signal,
      ),
      this.#checkImage(release.image, signal),
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
    const pin = this.#pin(stable.g);
    if (pin !== null) {
      facts.push(
        `stable is still pinned by an earlier rollout (MinSize was ${pin.min}); that original value is kept`,
      );
    }
    return { stableCapacity: capacity, stableVersion: stable.version, facts };
  }

  /** For ECR images: the image must exist (a typo'd tag would never become healthy). Returns facts. */
  async #checkImage(image: string, signal?: AbortSignal): Promise<string[]> {
    const ecr = ecrCoordinates(image);
    if (ecr === null) return [`image ${image} is not in ECR: its existence is not checked`];
    const imageId =
      ecr.digest !== undefined ? { imageDigest: ecr.digest } : { imageTag: ecr.tag ?? "latest" };
    try {
      const out = await this.#api
        .ecr(ecr.region)
        .describeImages(
          { registryId: ecr.registryId, repositoryName: ecr.repository, imageIds: [imageId] },
          signal,
        );
      const d = out.imageDetails?.[0];
      return [`image ${image} exists in ECR${d?.imageDigest ? ` (${d.imageDigest})` : ""}`];
    } catch (e) {
      if (isAwsCode(e, "ImageNotFoundException", "RepositoryNotFoundException")) {
        throw new PreflightError(`image ${image} does not exist in ECR (${e.awsCode})`, {
          field: "image",
          fix: "push the image first (or correct the tag); gray instances could never start it",
          cause: e,
        });
      }
      // Another account's registry or a narrower policy: the instances' own role may still pull it.
      return [`image ${image}: could not check it in ECR (${e instanceof Error ? e.message : String(e)})`];
    }
  }

  async prepare(
    release: ReleaseSpec,
    known: PreparedRelease | null,
    signal?: AbortSignal,
  ): Promise<PreparedRelease> {
    const stable = await this.#group(this.#o.stableAsg, signal);
    const template = await this.#resolveTemplate(signal);
    const spec = this.#launchSpec(stable, "stable");
    const previousVersion = known?.previousVersion ?? spec.version;
    const stableCapacity = known?.stableCapacity ?? stable.DesiredCapacity ?? 0;
    const version =
      known?.version ?? (await this.#releaseVersion(release, template, previousVersion, signal));
    await this.#pinStable(stable, stableCapacity, signal);
    return { version, previousVersion, stableCapacity };
  }

  /** Finds the release's version (same image, same source) or creates it. */
  async #releaseVersion(
    release: ReleaseSpec,
    template: TemplateRef,
    sourceVersion: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const description = releaseDescription(release, sourceVersion);
    let token: string | undefined;
    do {
      const page = await this.#api.ec2.describeLaunchTemplateVersions(
        {
          LaunchTemplateId: template.id,
          MinVersion: sourceVersion,
          MaxResults: 200,
          ...(token === undefined ? {} : { NextToken: token }),
        },
        signal,
      );
      for (const v of page.LaunchTemplateVersions ?? []) {
        if (v.VersionDescription !== description) continue;
        const script = decodeUserData(v.LaunchTemplateData?.UserData ?? "");
        const found = findImageReference(script);
        if (found.kind === "found" && found.ref === release.image) {
          this.#o.log?.(
            `reusing launch template ${template.name} version ${v.VersionNumber} for ${release.image}`,
          );
          return String(v.VersionNumber);
        }
      }
      token = page.NextToken;
    } while (token !== undefined && token !== "");

    const source = await this.#version(sourceVersion, signal);
    const script = decodeUserData(source.LaunchTemplateData?.UserData ?? "");
    const found = findImageReference(script);
    if (found.kind !== "found") {
      throw new PreflightError(
        `cannot find a single image reference in the user data of launch template ${template.name} version ${sourceVersion}`,
        { field: "launchTemplate" },
      );
    }
    const created = await this.#api.ec2.createLaunchTemplateVersion(
      {
        LaunchTemplateId: template.id,
        SourceVersion: sourceVersion,
        VersionDescription: description,
        LaunchTemplateData: {
          UserData: encodeUserData(replaceImageReference(script, found, release.image)),
          ...(release.ami === undefined ? {} : { ImageId: release.ami }),
        },
      },
      signal,
    );
    const number = created.LaunchTemplateVersion?.VersionNumber;
    if (number === undefined) {
      throw new ProviderError(`CreateLaunchTemplateVersion on ${template.name} returned no version number`, {
        retryable: true,
      });
    }
    this.#o.log?.(`created launch template ${template.name} version ${number} for ${release.image}`);
    return String(number);
  }

  async #pinStable(g: AutoScalingGroup, capacity: number, signal?: AbortSignal): Promise<void> {
    const name = this.#o.stableAsg;
    const suspended = new Set((g.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? ""));
    let pin = this.#pin(g);
    if (pin === null) {
      pin = { min: g.MinSize ?? 0, resume: PINNED_PROCESSES.filter((p) => !suspended.has(p)) };
      // The record goes first: whatever happens next, the original values can be restored.
      await this.#api.autoScaling.createOrUpdateTags(
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
      await this.#api.autoScaling.updateAutoScalingGroup(
        { AutoScalingGroupName: name, MinSize: capacity },
        signal,
      );
    }
    const toSuspend = pin.resume.filter((p) => !suspended.has(p));
    if (toSuspend.length > 0) {
      await this.#api.autoScaling.suspendProcesses(
        { AutoScalingGroupName: name, ScalingProcesses: toSuspend },
        signal,
      );
    }
  }

  async releaseStable(signal?: AbortSignal): Promise<void> {
    const name = this.#o.stableAsg;
    const g = await this.#group(name, signal);
    const pin = this.#pin(g);
    if (pin === null) return;
    if ((g.MinSize ?? 0) !== pin.min) {
      await this.#api.autoScaling.updateAutoScalingGroup(
        { AutoScalingGroupName: name, MinSize: pin.min },
        signal,
      );
    }
    const suspended = new Set((g.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? ""));
    const resume = pin.resume.filter((p) => suspended.has(p));
    if (resume.length > 0) {
      await this.#api.autoScaling.resumeProcesses(
        { AutoScalingGroupName: name, ScalingProcesses: resume },
        signal,
      );
    }
    await this.#api.autoScaling.deleteTags(
      { Tags: [{ ResourceId: name, ResourceType: "auto-scaling-group", Key: PIN_TAG }] },
      signal,
    );
  }

  async scaleGray(version: string, capacity: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const name = this.#o.grayAsg;
    const template = await this.#resolveTemplate(signal);
    const deadline = Date.now() + timeoutMs;
    let g = await this.#group(name, signal);
    const stale = (g.Instances ?? []).filter((i) => i.LaunchTemplate?.Version !== version);
    if (stale.length > 0) {
      // Instances of another version (a crashed earlier rollout) would be counted as gray: drop them first.
      this.#o.log?.(`gray has ${stale.length} instance(s) of another version: scaling it to 0 first`);
      await this.#setGray(g, template, version, 0, signal);
      await this.#waitGray(
        `gray ${name} to drop instances of other versions`,
        async () => {
          const now = await this.#group(name, signal);
          const left = (now.Instances ?? []).filter((i) => i.LaunchTemplate?.Version !== version);
          return left.length === 0
            ? { state: "SUCCESS", value: undefined, observed: "no other version left" }
            : { state: "RETRY", observed: `${left.length} instance(s) of other versions left` };
        },
        Math.max(1000, deadline - Date.now()),
        signal,
      );
      g = await this.#group(name, signal);
    }
    await this.#setGray(g, template, version, capacity, signal);
    const what = `${capacity} healthy gray target(s) on launch template version ${version}`;
    await this.#waitGray(
      what,
      async () => {
        const [group, health] = await Promise.all([
          this.#group(name, signal),
          this.#api.elb.describeTargetHealth({ TargetGroupArn: this.#o.grayTargetGroupArn }, signal),
        ]);
        const mine = new Set(
          (group.Instances ?? [])
            .filter(
              (i: Instance) => i.LaunchTemplate?.Version === version && i.LifecycleState === "InService",
            )
            .map((i) => i.InstanceId ?? ""),
        );
        const states = (health.TargetHealthDescriptions ?? []).filter((d) => mine.has(d.Target?.Id ?? ""));
        const healthy = states.filter((d) => d.TargetHealth?.State === "healthy").length;
        const observed = `${healthy}/${capacity} healthy${states.length > 0 ? ": " : ""}${states
          .map(
            (d) =>
              `${d.Target?.Id} ${d.TargetHealth?.State}${d.TargetHealth?.Reason ? ` (${d.TargetHealth.Reason})` : ""}`,
          )
          .join(", ")}${mine.size < capacity ? `; ${mine.size} of ${capacity} instance(s) in service` : ""}`;
        return healthy >= capacity
          ? { state: "SUCCESS", value: undefined, observed }
          : { state: "RETRY", observed };
      },
      Math.max(1000, deadline - Date.now()),
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
    await this.#api.autoScaling.updateAutoScalingGroup(
      {
        AutoScalingGroupName: this.#o.grayAsg,
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
      minDelayMs: this.#o.pollMs,
      maxDelayMs: this.#o.pollMs * 4,
      signal,
    });
    if (result.state !== "SUCCESS") {
      throw new TimeoutError(`waited ${formatDuration(timeoutMs)} for ${what}; last seen: ${result.last}`, {
        fix: "look at the gray instances (user data, image pull, application logs) and the target group's health check; raise --healthy-timeout if they are only slow",
      });
    }
  }

  async retireGray(version: string, signal?: AbortSignal): Promise<void> {
    const template = await this.#resolveTemplate(signal);
    const g = await this.#group(this.#o.grayAsg, signal);
    const lt = g.LaunchTemplate;
    if (
      lt?.LaunchTemplateId === template.id &&
      lt.Version === version &&
      g.DesiredCapacity === 0 &&
      g.MinSize === 0
    ) {
      return;
    }
    await this.#api.autoScaling.updateAutoScalingGroup(
      {
        AutoScalingGroupName: this.#o.grayAsg,
        LaunchTemplate: { LaunchTemplateId: template.id, Version: version },
        MinSize: 0,
        DesiredCapacity: 0,
      },
      signal,
    );
  }

  async promote(version: string, timeoutMs: number, signal?: AbortSignal): Promise<PromotionResult> {
    const outcome = await this.#refresh(version, timeoutMs, true, signal);
    if (outcome.kind === "done") return { ok: true };
    if (outcome.kind === "rolled-back") return { ok: false, reason: outcome.reason };
    // The refresh stopped without AWS undoing it (failed, cancelled, or our deadline): some instances
    // may run the release. Put stable back on the version its group still names before reporting.
    const previous = outcome.groupVersion;
    this.#o.log?.(
      `instance refresh did not complete (${outcome.reason}); returning stable to version ${previous}`,
    );
    const back = await this.#refresh(previous, timeoutMs, false, signal);
    if (back.kind !== "done") {
      throw new ProviderError(
        `promotion failed (${outcome.reason}) and returning stable to version ${previous} failed too (${back.reason}): stable may run two versions`,
        {
          fix: `run \`gray-deploy abort\` to retry, or start an instance refresh of ${this.#o.stableAsg} onto version ${previous} by hand`,
        },
      );
    }
    return { ok: false, reason: outcome.reason };
  }

  async revertStable(version: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const outcome = await this.#refresh(version, timeoutMs, false, signal);
    if (outcome.kind !== "done") {
      throw new ProviderError(
        `could not return ${this.#o.stableAsg} to launch template version ${version}: ${outcome.reason}`,
        {
          retryable: true,
          fix: `run \`gray-deploy abort\` again, or start an instance refresh of ${this.#o.stableAsg} onto version ${version} by hand`,
        },
      );
    }
  }

  /**
   * Moves stable onto `version` by instance refresh and waits for the end. Idempotent: a group
   * already on the version with every instance launched from it is done; a refresh already running
   * towards the same version (a resumed run) is waited for rather than started again.
   */
  async #refresh(
    version: string,
    timeoutMs: number,
    autoRollback: boolean,
    signal?: AbortSignal,
  ): Promise<
    | { kind: "done" }
    | { kind: "rolled-back"; reason: string }
    | { kind: "stopped"; reason: string; groupVersion: string }
  > {
    const name = this.#o.stableAsg;
    const template = await this.#resolveTemplate(signal);
    const [g, latest] = await Promise.all([
      this.#group(name, signal),
      this.#api.autoScaling.describeInstanceRefreshes({ AutoScalingGroupName: name, MaxRecords: 1 }, signal),
    ]);
    const groupVersion = this.#launchSpec(g, "stable").version;
    const onVersion = (grp: AutoScalingGroup) =>
      grp.LaunchTemplate?.Version === version &&
      (grp.Instances ?? []).every((i) => i.LaunchTemplate?.Version === version);
    let refresh = latest.InstanceRefreshes?.[0];
    const running = refresh !== undefined && ACTIVE_REFRESH.includes(refresh.Status ?? "");
    if (!running && onVersion(g)) return { kind: "done" };

    let id: string;
    if (running && refresh?.DesiredConfiguration?.LaunchTemplate?.Version === version) {
      id = refresh.InstanceRefreshId ?? "";
      this.#o.log?.(`instance refresh ${id} onto version ${version} is already running: waiting for it`);
    } else if (running) {
      return {
        kind: "stopped",
        reason: `another instance refresh (${refresh?.InstanceRefreshId}, ${refresh?.Status}) is running on ${name}`,
        groupVersion,
      };
    } else {
      const started = await this.#api.autoScaling.startInstanceRefresh(
        {
          AutoScalingGroupName: name,
          Strategy: "Rolling",
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: template.id, Version: version } },
          Preferences: {
            MinHealthyPercentage: this.#o.refreshMinHealthy,
            InstanceWarmup: Math.round(this.#o.instanceWarmupMs / 1000),
            SkipMatching: true,
            AutoRollback: autoRollback,
            ScaleInProtectedInstances: "Refresh",
          },
        },
        signal,
      );
      id = started.InstanceRefreshId ?? "";
      this.#o.log?.(`instance refresh ${id} of ${name} onto version ${version} started`);
    }

    const ended = await waitUntil<InstanceRefresh>(
      async () => {
        const out = await this.#api.autoScaling.describeInstanceRefreshes(
          { AutoScalingGroupName: name, InstanceRefreshIds: [id] },
          signal,
        );
        const r = out.InstanceRefreshes?.[0];
        const observed = `${r?.Status ?? "unknown"} ${r?.PercentageComplete ?? 0}%`;
        if (r !== undefined && !ACTIVE_REFRESH.includes(r.Status ?? "")) {
          return { state: "SUCCESS", value: r, observed };
        }
        return { state: "RETRY", observed };
      },
      { timeoutMs, minDelayMs: this.#o.pollMs, maxDelayMs: this.#o.pollMs * 4, signal },
    );

    if (ended.state !== "SUCCESS") {
      // Past our deadline: undo what was done so far, and wait (bounded) for that to finish.
      const reason = `instance refresh ${id} did not finish within ${formatDuration(timeoutMs)} (last: ${ended.last})`;
      await this.#api.autoScaling
        .rollbackInstanceRefresh({ AutoScalingGroupName: name }, signal)
        .catch(() => this.#api.autoScaling.cancelInstanceRefresh({ AutoScalingGroupName: name }, signal))
        .catch(() => undefined);
      refresh = await this.#awaitEnd(name, id, signal);
      if (refresh?.Status === "RollbackSuccessful") return { kind: "rolled-back", reason };
      return { kind: "stopped", reason, groupVersion };
    }
    refresh = ended.value;
    const why =
      refresh.RollbackDetails?.RollbackReason ?? refresh.StatusReason ?? refresh.Status ?? "unknown";
    switch (refresh.Status) {
      case "Successful": {
        const after = await this.#group(name, signal);
        if (!onVersion(after)) {
          return {
            kind: "stopped",
            reason: `instance refresh ${id} succeeded but ${name} is not entirely on version ${version}`,
            groupVersion: this.#launchSpec(after, "stable").version,
          };
        }
        return { kind: "done" };
      }
      case "RollbackSuccessful":
        return { kind: "rolled-back", reason: `instance refresh ${id} failed and was rolled back: ${why}` };
      case "RollbackFailed":
        throw new ProviderError(
          `instance refresh ${id} of ${name} failed and its rollback failed too (${why}): stable may run two versions`,
          {
            fix: `start an instance refresh of ${name} onto launch template version ${groupVersion} by hand, then run \`gray-deploy abort\``,
          },
        );
      default:
        return {
          kind: "stopped",
          reason: `instance refresh ${id} ended ${refresh.Status}: ${why}`,
          groupVersion,
        };
    }
  }

  /** After asking a refresh to stop: its final state, waited for up to two minutes. */
  async #awaitEnd(name: string, id: string, signal?: AbortSignal): Promise<InstanceRefresh | undefined> {
    const r = await waitUntil<InstanceRefresh>(
      async () => {
        const out = await this.#api.autoScaling.describeInstanceRefreshes(
          { AutoScalingGroupName: name, InstanceRefreshIds: [id] },
          signal,
        );
        const refresh = out.InstanceRefreshes?.[0];
        return refresh !== undefined && !ACTIVE_REFRESH.includes(refresh.Status ?? "")
          ? { state: "SUCCESS", value: refresh, observed: refresh.Status ?? "" }
          : { state: "RETRY", observed: refresh?.Status ?? "unknown" };
      },
      { timeoutMs: 120_000, minDelayMs: this.#o.pollMs, maxDelayMs: this.#o.pollMs * 4, signal },
    );
    return r.state === "SUCCESS" ? r.value : undefined;
  }
}
