/**
 * The AWS coordinates: where the load balancer, the groups, the launch template and the state table
 * are, how to reach AWS, the CloudWatch alarms and the smoke checks (src/aws).
 */
import {
  CONTROL,
  type OptionIssue,
  optionGroup,
  ROLLOUT,
  type Values,
  type Verb,
} from "../contract/options/def.js";
import { formatDuration } from "../contract/units.js";

/** Every verb that reaches AWS. */
const AWS_VERBS: readonly Verb[] = [...CONTROL, "bootstrap"];
/** Verbs that put a version in front of customers after a smoke test. */
const SMOKE_VERBS: readonly Verb[] = [...ROLLOUT, "rollback-release"];

const ARN = (service: string, resource: string, hint: string) => ({
  re: new RegExp(`^arn:aws[a-z-]*:${service}:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:${resource}$`),
  hint,
});
const LISTENER_ARN = ARN(
  "elasticloadbalancing",
  "listener/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}",
  "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID",
);
const RULE_ARN = ARN(
  "elasticloadbalancing",
  "listener-rule/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}/[0-9a-f]{16}",
  "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/NAME/ID/ID/ID",
);
const TG_ARN = ARN(
  "elasticloadbalancing",
  "targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}",
  "arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID",
);
const ROLE_ARN = {
  re: /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
  hint: "arn:aws:iam::ACCOUNT:role/NAME",
};

export const awsOptions = optionGroup({
  name: "aws",
  target: "aws",
  defs: {
    region: {
      kind: "string",
      verbs: AWS_VERBS,
      env: ["AWS_REGION", "AWS_DEFAULT_REGION"],
      pattern: { re: /^[a-z]{2}(-[a-z]+)+-\d$/, hint: "a region such as sa-east-1" },
      requiredFor: AWS_VERBS,
      description: "The AWS region of the load balancer and Auto Scaling groups.",
    },
    endpoint: {
      kind: "string",
      verbs: AWS_VERBS,
      pattern: { re: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, hint: "http://127.0.0.1:5000" },
      description:
        "Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests).",
    },
    roleArn: {
      kind: "string",
      verbs: AWS_VERBS,
      pattern: ROLE_ARN,
      description: "An IAM role to assume for every AWS call; credentials refresh during long rollouts.",
    },
    listenerArn: {
      kind: "string",
      verbs: CONTROL,
      pattern: LISTENER_ARN,
      requiredFor: CONTROL,
      description:
        "The ALB listener whose traffic is split. Without --rule-arn its default action holds the weighted forward.",
    },
    ruleArn: {
      kind: "string",
      verbs: CONTROL,
      pattern: RULE_ARN,
      description:
        "The listener rule holding the weighted forward action (the Terraform module creates it). Also the rollout's lock key when given.",
    },
    stableTargetGroupArn: {
      kind: "string",
      pattern: TG_ARN,
      requiredFor: ROLLOUT,
      description: "The target group of the stable Auto Scaling group.",
    },
    grayTargetGroupArn: {
      kind: "string",
      pattern: TG_ARN,
      requiredFor: ROLLOUT,
      description: "The target group of the gray Auto Scaling group.",
    },
    stableAsg: {
      kind: "string",
      pattern: { re: /^[^:\s][^\s]{0,254}$/, hint: "an Auto Scaling group name" },
      requiredFor: ROLLOUT,
      description: "The stable Auto Scaling group; promotion moves it to the new launch template version.",
    },
    grayAsg: {
      kind: "string",
      pattern: { re: /^[^:\s][^\s]{0,254}$/, hint: "an Auto Scaling group name" },
      requiredFor: ROLLOUT,
      description: "The gray Auto Scaling group that runs the new version during the rollout.",
    },
    launchTemplate: {
      kind: "string",
      pattern: {
        re: /^(lt-[0-9a-f]{8,17}|[\w().\-/]{3,128})$/,
        hint: "lt-0123456789abcdef0 or a template name",
      },
      requiredFor: ROLLOUT,
      description:
        "The launch template (id or name) both groups use; a release is a new numbered version of it.",
    },
    ami: {
      kind: "string",
      pattern: { re: /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/, hint: "ami-0123456789abcdef0" },
      description: "Also change the launch template's AMI in the new version.",
    },
    stateTable: {
      kind: "string",
      verbs: AWS_VERBS,
      pattern: {
        re: /^[a-zA-Z0-9_.-]{3,255}$/,
        hint: "a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -); create one with `gray-deploy bootstrap --target aws --state-table NAME`",
      },
      requiredFor: AWS_VERBS,
      description:
        "The DynamoDB table holding rollout state and the lock (created by the Terraform module or `gray-deploy bootstrap`).",
    },
    pilotRuleArn: {
      kind: "string",
      pattern: RULE_ARN,
      description:
        "The chosen-customers rule the Terraform module creates (pilot_rule_arn), evaluated before the weighted rule and forwarding to stable until the rollout's first step switches it to gray. Given, that step comes first; a rollback switches it back first.",
    },
    alarms: {
      kind: "list",
      description:
        "CloudWatch alarm names used as extra gates: any alarm in ALARM state fails the step. Up to 10 also watch promotion's instance refresh (its AlarmSpecification, with AutoRollback).",
    },
    refreshCheckpoints: {
      kind: "steps",
      description:
        "Promotion's instance refresh pauses when this share of stable is replaced (CheckpointPercentages, e.g. 50,100) and bakes --refresh-checkpoint-delay at each checkpoint, the rollout's alarms still watching.",
    },
    refreshCheckpointDelay: {
      kind: "duration",
      default: "10m",
      min: 0,
      max: 172_800_000,
      description:
        "With --refresh-checkpoints: the bake at each checkpoint of promotion's instance refresh (CheckpointDelay).",
    },
    smokeHeader: {
      kind: "string",
      // promote too: a rollout continued by another process keeps running its synthetic transactions.
      verbs: [...SMOKE_VERBS, "promote"],
      sensitive: true,
      env: ["GRAY_DEPLOY_SMOKE_HEADER"],
      pattern: { re: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*\S.*$/, hint: "Header-Name: value" },
      description:
        "The header (`Name: value`) the smoke rule routes straight to gray; given, smoke checks run through the load balancer before any customer reaches gray. A secret, never printed: prefer GRAY_DEPLOY_SMOKE_HEADER.",
    },
    smokeUrl: {
      kind: "string",
      verbs: [...SMOKE_VERBS, "promote"],
      pattern: { re: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, hint: "https://gateway.example.com" },
      description:
        "Base URL of the smoke checks (default: the load balancer's DNS name and the listener's protocol and port).",
    },
    smokePaths: {
      kind: "list",
      verbs: SMOKE_VERBS,
      default: "/health",
      description: "Paths the smoke checks GET through the smoke route, each starting with /.",
    },
    smokeStatuses: {
      kind: "list",
      verbs: SMOKE_VERBS,
      default: "200",
      description: "HTTP statuses a smoke check accepts.",
    },
  },
  check(o, { verb, all }) {
    const issues: OptionIssue[] = [];
    if (verb === "rollback-release") return smokeIssues(o);
    if (!ROLLOUT.includes(verb)) return issues;
    if (o.alarms.length > 10) {
      issues.push({
        field: "alarms",
        message: `${o.alarms.length} alarms: promotion's instance refresh watches at most 10 (AlarmSpecification); combine them in a CloudWatch composite alarm and pass that`,
      });
    }
    const metricPeriod = all.metricPeriod as number | undefined;
    const interval = all.interval as number | undefined;
    if (o.endpoint === undefined && metricPeriod !== undefined && interval !== undefined) {
      if (metricPeriod % 60_000 !== 0) {
        issues.push({
          field: "metricPeriod",
          message: `${formatDuration(metricPeriod)} is not a multiple of 60s: ALB metrics in CloudWatch have one-minute periods (shorter periods are for emulators, with --endpoint)`,
        });
      }
      if (interval < 5000) {
        issues.push({
          field: "interval",
          message: `${formatDuration(interval)} would poll AWS too often: use 5s or more`,
        });
      }
    }
    const synthetic = (all.synthetic as readonly unknown[] | undefined) ?? [];
    if (synthetic.length > 0 && o.smokeHeader === undefined) {
      issues.push({
        field: "synthetic",
        message:
          "needs --smoke-header (the smoke rule's header, GRAY_DEPLOY_SMOKE_HEADER): synthetic transactions reach gray through it before any customer does",
      });
    }
    if ((all.pilotHeader !== undefined || all.pilotCookie !== undefined) && o.pilotRuleArn === undefined) {
      issues.push({
        field: "pilotRuleArn",
        message:
          "is required for the chosen-customers step on AWS: pass the Terraform module's pilot rule (terraform output pilot_rule_arn); --pilot-header/--pilot-cookie only check its condition",
      });
    }
    if (o.region === undefined) return issues;
    for (const field of [
      "listenerArn",
      "ruleArn",
      "pilotRuleArn",
      "stableTargetGroupArn",
      "grayTargetGroupArn",
    ] as const) {
      const arn = o[field];
      const region = arn?.split(":")[3];
      if (arn !== undefined && region !== o.region) {
        issues.push({
          field,
          message: `is in region ${region} but --region is ${o.region}: use resources of one region, or fix --region`,
        });
      }
    }
    const lbOf = (arn: string | undefined) =>
      arn?.match(/(?:listener|listener-rule)\/(app\/[^/]+\/[0-9a-f]+)/)?.[1];
    if (o.ruleArn !== undefined && o.listenerArn !== undefined) {
      const listenerOfRule = o.ruleArn
        .replace(":listener-rule/", ":listener/")
        .replace(/\/[0-9a-f]{16}$/, "");
      if (listenerOfRule !== o.listenerArn) {
        issues.push({
          field: "ruleArn",
          message: `does not belong to --listener-arn (${lbOf(o.listenerArn)})`,
        });
      }
    }
    if (o.pilotRuleArn !== undefined && o.listenerArn !== undefined) {
      const listenerOfRule = o.pilotRuleArn
        .replace(":listener-rule/", ":listener/")
        .replace(/\/[0-9a-f]{16}$/, "");
      if (listenerOfRule !== o.listenerArn) {
        issues.push({
          field: "pilotRuleArn",
          message: `does not belong to --listener-arn (${lbOf(o.listenerArn)})`,
        });
      } else if (o.pilotRuleArn === o.ruleArn) {
        issues.push({
          field: "pilotRuleArn",
          message:
            "is the weighted rule (--rule-arn): pass the chosen-customers rule (terraform output pilot_rule_arn)",
        });
      }
    }
    if (o.stableTargetGroupArn !== undefined && o.stableTargetGroupArn === o.grayTargetGroupArn) {
      issues.push({
        field: "grayTargetGroupArn",
        message: "is the same target group as --stable-target-group-arn",
      });
    }
    if (o.stableAsg !== undefined && o.stableAsg === o.grayAsg) {
      issues.push({ field: "grayAsg", message: "is the same Auto Scaling group as --stable-asg" });
    }
    issues.push(...smokeIssues(o));
    return issues;
  },
});

function smokeIssues(o: {
  readonly smokeUrl?: string | undefined;
  readonly smokeHeader?: string | undefined;
  readonly smokePaths: readonly string[];
  readonly smokeStatuses: readonly string[];
}): OptionIssue[] {
  const issues: OptionIssue[] = [];
  if (o.smokeUrl !== undefined && o.smokeHeader === undefined) {
    issues.push({
      field: "smokeUrl",
      message:
        "needs --smoke-header (the smoke rule's header): without it no request reaches gray before customers",
    });
  }
  for (const path of o.smokePaths) {
    if (!path.startsWith("/"))
      issues.push({ field: "smokePaths", message: `"${path}" does not start with /` });
  }
  for (const status of o.smokeStatuses) {
    if (!/^[1-5]\d\d$/.test(status)) {
      issues.push({ field: "smokeStatuses", message: `"${status}" is not an HTTP status (100 to 599)` });
    }
  }
  return issues;
}

export type AwsOptions = Values<typeof awsOptions.defs>;

/** `…:listener/app/NAME/LB/L` → `…:loadbalancer/app/NAME/LB`. */
export function loadBalancerArnOf(listenerArn: string): string {
  return listenerArn.replace(":listener/", ":loadbalancer/").replace(/\/[0-9a-f]+$/, "");
}

/** The scope a rollout locks on AWS: the rule when the weights live in one, else the listener. */
export function awsScope(o: Pick<AwsOptions, "ruleArn" | "listenerArn">): string {
  return o.ruleArn ?? o.listenerArn ?? "unknown";
}
