/**
 * A world under IAM enforcement: the emulator lets exactly 4 calls through unauthenticated (the admin
 * user, its policy, the attachment and its key), the admin builds the fixture, and every other
 * credential holds only the policy a test gives it. The emulator also loads iam-resources/ so that IAM
 * evaluates the Resource element against the ARN each call acts on, as AWS does (moto checks "*").
 *
 * The pipeline's and the guard's policies are the module's ONE document
 * (IaC/modules/gray-deployment/policy/pipeline-policy.json.tftpl), rendered for the fixture's resources
 * and cut by Sid exactly as iam.tf cuts it.
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveOptions } from "../../../src/app/schema.js";
import { bootstrapStateTable } from "../../../src/aws/bootstrap.js";
import { imageWithTag, pushImages, STATE_TABLE, type World } from "../../aws/support/world.js";
import { loadTerraformDir, MODULE_DIR, raw } from "../../iac/hcl.js";
import { type PolicyDocument, readPolicyTemplate, render } from "../../iac/policy.js";
import { ACCOUNT_ID, awsClients, buildAwsFixture, createIamUser } from "../../support/aws-fixture.js";
import type { Emulator, StartEmulatorOptions } from "../../support/emulator.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../..");

export type Keys = { accessKeyId: string; secretAccessKey: string };

/** startEmulator options: IAM enforced after the admin's 4 calls, resources evaluated. */
export function iamEmulatorOptions(): StartEmulatorOptions {
  return {
    iamInitialNoAuthActionCount: 4,
    env: {
      PYTHONPATH: `${join(HERE, "..", "iam-resources")}:${join(REPO, ".emulator/usr/lib/python3/dist-packages")}`,
    },
  };
}

export const ADMIN_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
};

export interface IamWorld extends World {
  readonly admin: Keys;
}

/** The admin (the only unauthenticated calls), then the fixture, the state table and the images, as the admin. */
export async function buildIamWorld(emu: Emulator): Promise<IamWorld> {
  const admin = await createIamUser(emu.clientConfig(), "admin", ADMIN_POLICY);
  const aws = awsClients(emu.clientConfig(admin));
  const fx = await buildAwsFixture(aws, { deregistrationDelaySeconds: 1, stateTable: false });
  const release = imageWithTag(fx, "1.5.0");
  await pushImages(emu, [fx.image, release], admin);
  await bootstrapStateTable(
    resolveOptions(
      { target: "aws", region: emu.region, endpoint: emu.endpoint, stateTable: STATE_TABLE },
      { verb: "bootstrap" },
    ),
    { credentials: async () => admin },
  );
  return { emu, aws, fx, release, admin };
}

/** The template's placeholders for the fixture, as iam.tf's policy_template_vars gives them. */
export function policyVars(w: World): Record<string, string> {
  const region = w.fx.region;
  return {
    partition: "aws",
    region,
    account_id: ACCOUNT_ID,
    listener_arn: w.fx.listenerArn,
    rule_arn: w.fx.ruleArn,
    stable_asg_name: w.fx.stable.asgName,
    gray_asg_name: w.fx.gray.asgName,
    launch_template_arn: `arn:aws:ec2:${region}:${ACCOUNT_ID}:launch-template/${w.fx.launchTemplate.id}`,
    // The fixture's launch template has no instance profile: iam.tf passes "none" and drops PassInstanceRole.
    instance_role_arn: "none",
    state_table_arn: `arn:aws:dynamodb:${region}:${ACCOUNT_ID}:table/${STATE_TABLE}`,
    ecr_repository_arn: `arn:aws:ecr:${region}:${ACCOUNT_ID}:repository/gatewaypix`,
    // No chosen-customers rule and no Lambda hooks: iam.tf passes "none" and drops their statements.
    pilot_rule_arn: "none",
    hook_function_name_prefix: "none",
  };
}

/** The Sids iam.tf drops, read from iam.tf: for the pipeline (this configuration) and for the guard. */
export async function disabledSids(): Promise<{ pipeline: string[]; guard: string[] }> {
  const mod = await loadTerraformDir(MODULE_DIR);
  const pipelineExpr = raw(mod.locals.pipeline_disabled_sids);
  const guardExpr = raw(mod.locals.guard_disabled_sids);
  // This configuration: the module's rule (no ModifyListener), no instance role, an ECR repository,
  // no chosen-customers rule, no Lambda hooks.
  const pipeline = [
    "ShiftWeightsOnListenerDefaultAction",
    "PassInstanceRole",
    "SwitchPilotRule",
    "InvokeHookFunctions",
  ];
  for (const sid of pipeline) {
    if (!pipelineExpr.includes(`"${sid}"`))
      throw new Error(`iam.tf no longer drops ${sid}: update this test`);
  }
  const guard = [...pipeline, ...[...guardExpr.matchAll(/"(\w+)"/g)].map((m) => m[1]!)];
  return { pipeline, guard };
}

/** The module's policy document rendered for the world, without the dropped statements. */
export function renderPolicy(
  w: World,
  dropSids: readonly string[],
  vars: Record<string, string> = {},
): PolicyDocument {
  const doc = JSON.parse(render(readPolicyTemplate(), { ...policyVars(w), ...vars })) as PolicyDocument;
  return { Version: doc.Version, Statement: doc.Statement.filter((s) => !dropSids.includes(s.Sid)) };
}

/** The same document with one action taken out of whatever statement holds it. */
export function withoutAction(doc: PolicyDocument, action: string): PolicyDocument {
  let found = false;
  const statements = doc.Statement.flatMap((s) => {
    const actions = typeof s.Action === "string" ? [s.Action] : [...s.Action];
    if (!actions.includes(action)) return [s];
    found = true;
    const rest = actions.filter((a) => a !== action);
    return rest.length === 0 ? [] : [{ ...s, Action: rest }];
  });
  if (!found) throw new Error(`${action} is not in the policy`);
  return { Version: doc.Version, Statement: statements };
}

export function userWith(w: IamWorld, name: string, policy: object): Promise<Keys> {
  return createIamUser(w.emu.clientConfig(w.admin), name, policy);
}

/** Environment for the CLI child with these credentials only. */
export function envFor(w: World, keys: Keys & { sessionToken?: string }): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    ...(keys.sessionToken ? { AWS_SESSION_TOKEN: keys.sessionToken } : {}),
    AWS_REGION: w.emu.region,
  };
}
