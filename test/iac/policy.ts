/**
 * The pipeline's IAM policy document, read from the same file Terraform renders:
 * IaC/modules/gray-deployment/policy/pipeline-policy.json.tftpl. It is valid JSON with `${name}`
 * placeholders inside strings only, so it can be parsed as is and rendered with example values.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MODULE_DIR } from "./hcl.js";

export const POLICY_TEMPLATE_PATH = join(MODULE_DIR, "policy", "pipeline-policy.json.tftpl");

export interface Statement {
  readonly Sid: string;
  readonly Effect: string;
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface PolicyDocument {
  readonly Version: string;
  readonly Statement: readonly Statement[];
}

export function readPolicyTemplate(): string {
  return readFileSync(POLICY_TEMPLATE_PATH, "utf8");
}

/** The template's placeholders; throws on anything but `${identifier}` (no directives, no expressions). */
export function placeholders(template: string): string[] {
  if (/%\{/.test(template))
    throw new Error("the policy template must not use %{…} directives: it must stay plain JSON");
  const names = new Set<string>();
  for (const m of template.matchAll(/\$\{([^}]*)\}/g)) {
    const inner = m[1]!;
    if (!/^[a-z][a-z0-9_]*$/.test(inner)) {
      throw new Error(
        `placeholder \${${inner}} is not a plain variable name: keep the template parseable as JSON`,
      );
    }
    names.add(inner);
  }
  return [...names].sort();
}

/** Renders the template the way Terraform's templatefile() does for plain `${name}` placeholders. */
export function render(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\$\{([a-z][a-z0-9_]*)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`no value for placeholder \${${name}}`);
    return value;
  });
}

export const list = (v: string | readonly string[]): readonly string[] => (typeof v === "string" ? [v] : v);

export function actionsOf(doc: PolicyDocument): Set<string> {
  return new Set(doc.Statement.flatMap((s) => list(s.Action)));
}

/** Realistic values, as Terraform passes them (long names, to check the size limit honestly). */
export const EXAMPLE_VARS: Readonly<Record<string, string>> = {
  partition: "aws",
  region: "sa-east-1",
  account_id: "123456789012",
  listener_arn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/tecpag-public-alb-prod-0001/0123456789abcdef/fedcba9876543210",
  rule_arn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener-rule/app/tecpag-public-alb-prod-0001/0123456789abcdef/fedcba9876543210/00112233aabbccdd",
  stable_asg_name: "gatewayonline-stable-production-sa-east-1",
  gray_asg_name: "gatewayonline-gray-production-sa-east-1",
  launch_template_arn: "arn:aws:ec2:sa-east-1:123456789012:launch-template/lt-0123456789abcdef0",
  instance_role_arn: "arn:aws:iam::123456789012:role/service-roles/gatewayonline-instance-production",
  state_table_arn: "arn:aws:dynamodb:sa-east-1:123456789012:table/gray-deploy-state-production",
  ecr_repository_arn: "arn:aws:ecr:sa-east-1:123456789012:repository/tecpag/gatewayonline",
  pilot_rule_arn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener-rule/app/tecpag-public-alb-prod-0001/0123456789abcdef/fedcba9876543210/99887766aabbccdd",
  hook_function_name_prefix: "gray-hook-",
};
