// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${…}" here are Terraform placeholders and HCL expressions, compared as written.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTerraformDir, MODULE_DIR, ROOT, raw, type TerraformDir } from "./hcl.js";
import {
  actionsOf,
  EXAMPLE_VARS,
  list,
  type PolicyDocument,
  placeholders,
  readPolicyTemplate,
  render,
} from "./policy.js";
import {
  callsByAction,
  IMPLICIT_ACTIONS,
  NO_PERMISSION_NEEDED,
  NOT_IN_PIPELINE_POLICY,
  reconcile,
  scanSource,
  scanTree,
} from "./sdk-usage.js";

/**
 * Actions for which the Service Authorization Reference lists no resource type: they can only be
 * granted on "*". Everything else must be scoped to this module's resources.
 */
const NO_RESOURCE_LEVEL = new Set([
  "elasticloadbalancing:DescribeListeners",
  "elasticloadbalancing:DescribeLoadBalancers",
  "elasticloadbalancing:DescribeRules",
  "elasticloadbalancing:DescribeTargetGroupAttributes",
  "elasticloadbalancing:DescribeTargetGroups",
  "elasticloadbalancing:DescribeTargetHealth",
  "autoscaling:DescribeAutoScalingGroups",
  "autoscaling:DescribeInstanceRefreshes",
  // Issue 17 (stable's per-instance target): a List action with no resource type in
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html
  "autoscaling:DescribePolicies",
  "autoscaling:DescribeScalingActivities",
  "ec2:DescribeLaunchTemplates",
  "ec2:DescribeLaunchTemplateVersions",
  "ec2:DescribeImages",
  "cloudwatch:GetMetricData",
  "cloudwatch:GetMetricStatistics",
  "cloudwatch:ListMetrics",
  "ecr:GetAuthorizationToken",
]);

/** Where each scoped action must point (placeholders as written in the template). */
const EXPECTED_SCOPE: Readonly<Record<string, readonly string[]>> = {
  "elasticloadbalancing:ModifyRule": ["${rule_arn}"],
  "elasticloadbalancing:ModifyListener": ["${listener_arn}"],
  "ec2:CreateLaunchTemplateVersion": ["${launch_template_arn}"],
  "iam:PassRole": ["${instance_role_arn}"],
  "cloudwatch:DescribeAlarms": ["arn:${partition}:cloudwatch:${region}:${account_id}:alarm:*"],
  "ec2:CreateTags": ["arn:${partition}:ec2:${region}:${account_id}:*/*"],
  "lambda:InvokeFunction": [
    "arn:${partition}:lambda:${region}:${account_id}:function:${hook_function_name_prefix}*",
  ],
};
/** Statements whose scope differs from their action's above: the chosen-customers rule's ModifyRule. */
const SID_SCOPE: Readonly<Record<string, readonly string[]>> = { SwitchPilotRule: ["${pilot_rule_arn}"] };
const ASG_SCOPE = [
  "arn:${partition}:autoscaling:${region}:${account_id}:autoScalingGroup:*:autoScalingGroupName/${stable_asg_name}",
  "arn:${partition}:autoscaling:${region}:${account_id}:autoScalingGroup:*:autoScalingGroupName/${gray_asg_name}",
];

let template: string;
let doc: PolicyDocument;
let rendered: PolicyDocument;
let module: TerraformDir;

beforeAll(async () => {
  template = readPolicyTemplate();
  doc = JSON.parse(template) as PolicyDocument;
  rendered = JSON.parse(render(template, EXAMPLE_VARS)) as PolicyDocument;
  module = await loadTerraformDir(MODULE_DIR);
});

describe("the policy document (policy/pipeline-policy.json.tftpl)", () => {
  it("is the file iam.tf renders, and its placeholders are exactly the variables iam.tf passes", () => {
    expect(raw(module.locals.policy_document)).toBe(
      'jsondecode(templatefile("${path.module}/policy/pipeline-policy.json.tftpl", local.policy_template_vars))',
    );
    const passed = Object.keys(module.locals.policy_template_vars as Record<string, unknown>).sort();
    expect(placeholders(template)).toEqual(passed);
    expect(Object.keys(EXAMPLE_VARS).sort()).toEqual(passed);
  });

  it("the managed policy and the guard's policy are built from it by dropping statements, never by editing them", () => {
    expect(raw(module.resources["aws_iam_policy.pipeline"]!.policy)).toBe("local.pipeline_policy_json");
    expect(raw(module.resources["aws_iam_role_policy.guard"]!.policy)).toBe("local.guard_policy_json");
    for (const local of ["pipeline_policy_json", "guard_policy_json"]) {
      expect(raw(module.locals[local])).toMatch(
        /^jsonencode\(\{\s*Version\s*=\s*local\.policy_document\.Version/,
      );
      expect(raw(module.locals[local])).toMatch(
        /for s in local\.policy_document\.Statement : s if !contains\(local\.\w+_disabled_sids, s\.Sid\)/,
      );
    }
  });

  it("every Sid that iam.tf drops exists, and the guard can neither publish nor create release versions", () => {
    const sids = new Set(doc.Statement.map((s) => s.Sid));
    const quoted = (local: string) =>
      [...raw(module.locals[local]).matchAll(/"([A-Z][A-Za-z]+)"/g)].map((m) => m[1]!);
    const pipelineDropped = quoted("pipeline_disabled_sids");
    const guardDropped = quoted("guard_disabled_sids");
    expect(pipelineDropped.length).toBeGreaterThan(0);
    for (const sid of [...pipelineDropped, ...guardDropped]) expect(sids, `Sid ${sid}`).toContain(sid);
    expect(guardDropped).toEqual(
      expect.arrayContaining([
        "CreateReleaseVersions",
        "ReadReleaseImage",
        "EcrAuthentication",
        "EcrPublish",
      ]),
    );
    expect(raw(module.locals.guard_disabled_sids)).toContain("local.pipeline_disabled_sids");
  });

  it("renders to a valid allow-only policy within the 6,144-character managed policy limit", () => {
    expect(rendered.Version).toBe("2012-10-17");
    const sids = rendered.Statement.map((s) => s.Sid);
    expect(new Set(sids).size, "Sids are unique").toBe(sids.length);
    const seen = new Set<string>();
    for (const s of rendered.Statement) {
      expect(s.Sid).toMatch(/^[A-Za-z0-9]+$/);
      expect(s.Effect, s.Sid).toBe("Allow");
      for (const a of list(s.Action)) {
        expect(a, `${s.Sid}: no wildcard actions`).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
        // A statement with its own scope (SID_SCOPE) may repeat an action on another resource.
        if (!(s.Sid in SID_SCOPE)) expect(seen.has(a), `${a} is granted once`).toBe(false);
        seen.add(a);
      }
      for (const r of list(s.Resource)) {
        expect(r === "*" || /^arn:aws[a-z-]*:[a-z0-9-]+:/.test(r), `${s.Sid}: ${r}`).toBe(true);
        expect(r, `${s.Sid}: rendered`).not.toContain("${");
      }
    }
    // jsonencode() emits no whitespace, and IAM does not count whitespace against the limit.
    expect(JSON.stringify(rendered).length).toBeLessThanOrEqual(6144);
  });

  it('uses "Resource": "*" only for actions without resource-level permissions (and RunInstances bound to the launch template)', () => {
    for (const s of doc.Statement) {
      const resources = list(s.Resource);
      const actions = list(s.Action);
      if (resources.includes("*")) {
        expect(resources, s.Sid).toEqual(["*"]);
        for (const a of actions) {
          if (a === "ec2:RunInstances") {
            expect(s.Condition, `${s.Sid}: RunInstances only from the service's launch template`).toEqual({
              ArnLike: { "ec2:LaunchTemplate": "${launch_template_arn}" },
            });
          } else {
            expect(
              NO_RESOURCE_LEVEL.has(a),
              `${s.Sid}: ${a} supports resource-level permissions: scope it`,
            ).toBe(true);
          }
        }
      } else {
        for (const a of actions) {
          expect(NO_RESOURCE_LEVEL.has(a), `${s.Sid}: ${a} can only be granted on "*"`).toBe(false);
        }
      }
    }
  });

  it("scopes every write to this module's resources", () => {
    for (const s of doc.Statement) {
      for (const a of list(s.Action)) {
        const resources = [...list(s.Resource)].sort();
        const expected = (s.Sid !== undefined ? SID_SCOPE[s.Sid] : undefined) ?? EXPECTED_SCOPE[a];
        if (expected !== undefined) expect(resources, a).toEqual([...expected].sort());
        if (a.startsWith("autoscaling:") && !a.startsWith("autoscaling:Describe"))
          expect(resources, a).toEqual([...ASG_SCOPE].sort());
        if (a.startsWith("dynamodb:")) expect(resources, a).toEqual(["${state_table_arn}"]);
        if (a.startsWith("ecr:") && a !== "ecr:GetAuthorizationToken")
          expect(resources, a).toEqual(["${ecr_repository_arn}"]);
      }
    }
    // The tool keeps its stable-pin record in one ASG tag: the pipeline may write no other tag (tags
    // can drive other policies' conditions). The key is read from the tool's source.
    const sources = readdirSync(join(ROOT, "src", "aws"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => readFileSync(join(ROOT, "src", "aws", f), "utf8"))
      .join("\n");
    const pinTag = /export const PIN_TAG = "([^"]+)"/.exec(sources)?.[1];
    expect(pinTag, "src/aws exports PIN_TAG, the ASG tag key the tool writes").toBeDefined();
    for (const a of ["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"]) {
      const tagging = doc.Statement.find((s) => list(s.Action).includes(a));
      expect(tagging?.Condition, a).toEqual({ "ForAllValues:StringEquals": { "aws:TagKeys": [pinTag] } });
    }
    const createTags = doc.Statement.find((s) => list(s.Action).includes("ec2:CreateTags"));
    expect(createTags?.Condition).toEqual({ StringEquals: { "ec2:CreateAction": "RunInstances" } });
  });

  it("holds every implicitly required action, and none of the calls kept out of the pipeline policy", () => {
    const actions = actionsOf(doc);
    for (const i of IMPLICIT_ACTIONS) {
      expect(actions, `${i.action}: ${i.reason}`).toContain(i.action);
      for (const t of i.triggeredBy) expect(actions, `trigger ${t} of ${i.action}`).toContain(t);
    }
    for (const a of [...Object.keys(NOT_IN_PIPELINE_POLICY), ...Object.keys(NO_PERMISSION_NEEDED)]) {
      expect(actions, a).not.toContain(a);
    }
  });
});

describe("the policy against the AWS calls gray-deploy makes", () => {
  it("every AWS SDK command the tool sends maps to an action in the policy document, and no action in the policy is unused", () => {
    const scan = scanTree(ROOT);
    expect(scan.problems, "AWS SDK usage the policy test cannot map").toEqual([]);
    if (scan.uses.length === 0) {
      throw new Error(
        `src/aws has no AWS SDK command yet (${scan.files} source files under src/ scanned, none imports a …Command from @aws-sdk/client-*): the AWS adapters have not landed, so the policy cannot be checked against the calls the tool makes`,
      );
    }
    const r = reconcile(callsByAction(scan.uses), actionsOf(doc));
    expect(r.missing, "calls the policy does not allow (add them to the policy document, scoped)").toEqual(
      [],
    );
    expect(r.unused, "policy actions nothing calls (remove them from the policy document)").toEqual([]);
  });
});

describe("the SDK usage scan and the reconciliation (so the test above can fail)", () => {
  const source = `
    import { ElasticLoadBalancingV2Client, ModifyRuleCommand, DescribeRulesCommand as Rules, type Rule } from "@aws-sdk/client-elastic-load-balancing-v2";
    import {
      AutoScalingClient,
      paginateDescribeAutoScalingGroups,
      UpdateAutoScalingGroupCommand,
      ResourceContentionFault,
    } from "@aws-sdk/client-auto-scaling";
    import type { GetMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
    import * as cw from "@aws-sdk/client-cloudwatch";
    import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
    export { GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
    const { GetCallerIdentityCommand } = await import("@aws-sdk/client-sts");
    const a = new ModifyRuleCommand({}); const b = new Rules({}); new cw.GetMetricDataCommand({});
  `;

  it("finds commands (aliased, namespaced, re-exported, dynamically imported, document client) and paginators", () => {
    const r = scanSource("src/aws/x.ts", source, true);
    expect(r.problems).toEqual([]);
    expect(r.uses.map((u) => u.action).sort()).toEqual([
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:UpdateAutoScalingGroup",
      "cloudwatch:GetMetricData",
      "dynamodb:UpdateItem",
      "ecr:GetAuthorizationToken",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:ModifyRule",
      "sts:GetCallerIdentity",
    ]);
  });

  it("finds commands taken from a CommonJS module that requires the SDK (src/aws/sdk.cjs), and says when it cannot read one", () => {
    const cjs = `exports.elb = require("@aws-sdk/client-elastic-load-balancing-v2");\nexports.creds = require("@aws-sdk/credential-providers");`;
    const ts = `import sdk from "./sdk.cjs";\nconst { ModifyRuleCommand, DescribeRulesCommand: Rules, ElasticLoadBalancingV2Client } = sdk.elb;\nconst { fromTokenFile } = sdk.creds;\nnew ModifyRuleCommand({}); new Rules({});`;
    const r = scanSource("src/aws/y.ts", ts, true, (spec) => (spec === "./sdk.cjs" ? cjs : undefined));
    expect(r.problems).toEqual([]);
    expect(r.uses.map((u) => u.action).sort()).toEqual([
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:ModifyRule",
    ]);
    const unread = scanSource("src/aws/y.ts", ts, true, () => undefined);
    expect(unread.problems.join("\n")).toMatch(/cannot read \.\/sdk\.cjs/);
    expect(unread.problems.join("\n")).toMatch(/new ModifyRuleCommand\(…\) is not an AWS SDK command/);
  });

  it("reports what it cannot map instead of skipping it", () => {
    const bad = `
      import { AutoScaling } from "@aws-sdk/client-auto-scaling";
      import { waitUntilInstanceRunning } from "@aws-sdk/client-ec2";
      import { DescribeStreamCommand } from "@aws-sdk/client-kinesis";
      import { ScanCommand as S, ExecuteStatementCommand } from "@aws-sdk/lib-dynamodb";
      import { ModifyRuleCommand } from "./sdk.js";
      new ModifyRuleCommand({});
    `;
    const strict = scanSource("src/aws/bad.ts", bad, true);
    expect(strict.problems.join("\n")).toMatch(/aggregated client AutoScaling/);
    expect(strict.problems.join("\n")).toMatch(/waiter waitUntilInstanceRunning/);
    expect(strict.problems.join("\n")).toMatch(/no IAM service prefix known for @aws-sdk\/client-kinesis/);
    expect(strict.problems.join("\n")).toMatch(/ExecuteStatementCommand .*unknown document-client command/);
    expect(strict.problems.join("\n")).toMatch(
      /new ModifyRuleCommand\(…\) is not an AWS SDK command imported in this file/,
    );
    expect(strict.uses.map((u) => u.action)).toEqual(["dynamodb:Scan"]);
    // Outside src/aws and src/guard, `new XxxCommand(` may be anything (a CLI command class).
    expect(scanSource("src/cli/x.ts", "new ModifyRuleCommand({})", false).problems).toEqual([]);
  });

  it("reconciles both ways: a call the policy lacks, an action nothing calls, and AWS's implicit requirements", () => {
    const calls = new Map([
      ["elasticloadbalancing:ModifyRule", ["src/aws/router.ts:10"]],
      ["autoscaling:UpdateAutoScalingGroup", ["src/aws/fleet.ts:20"]],
      ["sts:GetCallerIdentity", ["src/aws/preflight.ts:5"]],
      ["dynamodb:CreateTable", ["src/aws/bootstrap.ts:7"]],
    ]);
    const policy = new Set([
      "autoscaling:UpdateAutoScalingGroup",
      "ec2:RunInstances",
      "ec2:CreateTags",
      "cloudwatch:DescribeAlarms",
    ]);
    const r = reconcile(calls, policy);
    expect(r.missing).toEqual([
      expect.stringMatching(/^elasticloadbalancing:ModifyRule \(called in src\/aws\/router\.ts:10\)$/),
      expect.stringMatching(/^iam:PassRole \(required by AWS for autoscaling:UpdateAutoScalingGroup/),
    ]);
    expect(r.unused).toEqual(["cloudwatch:DescribeAlarms"]);
    expect(r.needed).not.toContain("sts:GetCallerIdentity");
    expect(r.needed).not.toContain("dynamodb:CreateTable");
    // Implicit actions are needed only when their trigger is called.
    expect(reconcile(new Map([["ecr:GetAuthorizationToken", ["p.ts:1"]]]), new Set()).missing).toHaveLength(
      7,
    );
    expect(reconcile(new Map(), new Set(["ec2:RunInstances"])).unused).toEqual(["ec2:RunInstances"]);
  });
});
