/** What the parts of the AWS fleet share: options, the group and template readers, constants. */

import { createHash } from "node:crypto";
import type { AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import { PreflightError, ProviderError } from "../../contract/errors.js";
import type { Clock, ReleaseSpec } from "../../ports/index.js";
import type { AwsApi } from "../api.js";

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
  /** Instance refresh checkpoints (percent of instances replaced), each followed by a bake. */
  readonly refreshCheckpoints?: readonly number[] | undefined;
  /** The bake at each checkpoint (CheckpointDelay). */
  readonly refreshCheckpointDelayMs?: number | undefined;
  /** Delay between checks while waiting (grows with backoff up to 4×). */
  readonly pollMs: number;
  readonly log?: ((line: string) => void) | undefined;
  /** For every wait and deadline. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

import { PIN_TAG } from "../tags.js";

export { PIN_TAG };
/** Processes that could take capacity from stable or undo the pin during a rollout. */
export const PINNED_PROCESSES = ["AZRebalance", "ScheduledActions"] as const;

export interface PinRecord {
  /** MinSize before the pin. */
  readonly min: number;
  /** Processes the pin suspended (those already suspended by someone else are not ours to resume). */
  readonly resume: readonly string[];
}

export interface TemplateRef {
  readonly id: string;
  readonly name: string;
}

export const ACTIVE_REFRESH = ["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"];
export const LT_NOT_FOUND = [
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

/** DescribeAutoScalingGroups, by name. */
export class Groups {
  constructor(private readonly c: { o: AwsFleetOptions; api: AwsApi }) {}

  async many(names: readonly string[], signal?: AbortSignal): Promise<Map<string, AutoScalingGroup>> {
    const out = await this.c.api.autoScaling.describeAutoScalingGroups(
      { AutoScalingGroupNames: [...names] },
      signal,
    );
    return new Map((out.AutoScalingGroups ?? []).map((g) => [g.AutoScalingGroupName ?? "", g]));
  }

  async one(name: string, signal?: AbortSignal): Promise<AutoScalingGroup> {
    const g = (await this.many([name], signal)).get(name);
    if (g === undefined) {
      throw new PreflightError(`Auto Scaling group ${name} does not exist`, {
        field: name === this.c.o.stableAsg ? "stableAsg" : "grayAsg",
      });
    }
    return g;
  }
}

/** The launch template and version a group launches from; refuses anything else gray-deploy cannot drive. */
export function launchSpec(
  g: AutoScalingGroup,
  side: "stable" | "gray",
): { id: string; name: string; version: string } {
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

export function checkTemplate(
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

/** What the pin tag on stable recorded, or null without one. */
export function readPin(g: AutoScalingGroup): PinRecord | null {
  const tag = (g.Tags ?? []).find((t) => t.Key === PIN_TAG);
  if (tag?.Value === undefined) return null;
  try {
    const v = JSON.parse(tag.Value) as PinRecord;
    if (typeof v.min === "number" && Array.isArray(v.resume)) return v;
  } catch {
    // fall through
  }
  throw new ProviderError(`tag ${PIN_TAG} on ${g.AutoScalingGroupName} is not gray-deploy's (${tag.Value})`, {
    fix: `remove the tag ${PIN_TAG} from the group, restore its MinSize and resume its processes by hand`,
  });
}
