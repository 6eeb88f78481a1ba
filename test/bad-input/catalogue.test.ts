/**
 * The bad-input catalogue: every entry is one wrong input to `deploy-gray --target aws`, run through
 * the CLI as a child process the way a pipeline runs it (`node bin/gray-deploy.mjs deploy-gray --json
 * …`), against one emulator and one world built once for the whole table. Each must end with exit 2,
 * an error naming the field (error.field, and the flag or the offending value in its text) and the
 * fix, and NO write to AWS: the emulator's whole state (moto's dump of every backend plus every table's
 * items, normalised for what reads change) is compared with the state before the catalogue ran.
 *
 * Credentials the account refuses (never issued, a stale session, a policy short of one action) need
 * IAM enforcement: they are in test/security/least-privilege.test.ts, with the same checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawOptions } from "../../src/app/schema.js";
import { kebab } from "../../src/contract/errors.js";
import { buildWorld, cliEnv, rawOptions, type World } from "../aws/support/world.js";
import { type CliRun, flags, runCli } from "../security/support/capture.js";
import { awsClients } from "../support/aws-fixture.js";
import { type Emulator, startEmulator } from "../support/emulator.js";
import { type BadWorld, buildBadWorld } from "./support/bad-world.js";
import { type EmulatorState, emulatorState, stateDiff } from "./support/emulator-state.js";

type Code = "INVALID_INPUT" | "PREFLIGHT_FAILED" | "CREDENTIALS";

interface Entry {
  readonly name: string;
  /** Overrides of the valid options (undefined removes one). */
  readonly options?: (w: World, b: BadWorld) => RawOptions;
  /** Raw words added to the command line. */
  readonly args?: readonly string[];
  /** A config file passed with --config (the valid options stay on the command line). */
  readonly config?: { readonly name: string; readonly text: string } | { readonly missing: string };
  readonly noCredentials?: boolean;
  readonly code: Code;
  /** error.field; "" for an unknown flag (commander names it in the message). */
  readonly field: string;
  readonly message: RegExp;
  /** Words that must appear in the message or fix besides the flag (the offending value, the fix). */
  readonly names?: (w: World, b: BadWorld) => readonly string[];
}

const ARN = "arn:aws:elasticloadbalancing:sa-east-1:123456789012";
const swapId = (arn: string, id = "0123456789abcdef") => arn.replace(/\/[0-9a-f]{16}$/, `/${id}`);

const ENTRIES: readonly Entry[] = [
  // ── malformed values (the options schema) ─────────────────────────────────────────────────
  {
    name: "a malformed listener ARN",
    options: () => ({ listenerArn: `${ARN}:listener/app/gatewaypix-alb/xyz` }),
    code: "INVALID_INPUT",
    field: "listenerArn",
    message:
      /--listener-arn: .* is not valid: expected arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener\/app\/NAME\/ID\/ID/,
  },
  {
    name: "a malformed rule ARN",
    options: () => ({ ruleArn: "listener-rule/gatewaypix" }),
    code: "INVALID_INPUT",
    field: "ruleArn",
    message:
      /--rule-arn: "listener-rule\/gatewaypix" is not valid: expected arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/,
  },
  {
    name: "a listener ARN given as a target group",
    options: (w) => ({ stableTargetGroupArn: w.fx.listenerArn }),
    code: "INVALID_INPUT",
    field: "stableTargetGroupArn",
    message:
      /--stable-target-group-arn: .* is not valid: expected arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup\/NAME\/ID/,
  },
  {
    name: "steps not increasing",
    options: () => ({ steps: "5,50,25,100" }),
    code: "INVALID_INPUT",
    field: "steps",
    message: /--steps: steps must be strictly increasing, but 25 follows 50/,
  },
  {
    name: "steps not ending at 100",
    options: () => ({ steps: "5,25,50" }),
    code: "INVALID_INPUT",
    field: "steps",
    message: /--steps: the last step must be 100/,
  },
  {
    name: "a weight above 100",
    options: () => ({ steps: "5,150" }),
    code: "INVALID_INPUT",
    field: "steps",
    message: /--steps: step 150 is out of range: each step is 1 to 100/,
  },
  {
    name: "a weight of 0",
    options: () => ({ steps: "0,50,100" }),
    code: "INVALID_INPUT",
    field: "steps",
    message: /--steps: step 0 is out of range/,
  },
  {
    name: "a fractional weight",
    options: () => ({ steps: "5,12.5,100" }),
    code: "INVALID_INPUT",
    field: "steps",
    message: /--steps: "12.5" is not a whole percentage/,
  },
  {
    name: "return steps not ending at 100",
    options: () => ({ returnSteps: "50" }),
    code: "INVALID_INPUT",
    field: "returnSteps",
    message: /--return-steps: .*must be 100/,
  },
  {
    name: "a bake shorter than the interval",
    options: () => ({ bake: "5s", interval: "10s" }),
    code: "INVALID_INPUT",
    field: "bake",
    message: /--bake: 5s is shorter than --interval 10s/,
  },
  {
    name: "a bake shorter than the promotion window plus the metrics delay",
    options: () => ({ bake: "3s" }),
    code: "INVALID_INPUT",
    field: "bake",
    message:
      /--bake: 3s is shorter than the promotion window plus the metrics delay .*raise --bake or shorten --promotion-window/,
  },
  {
    name: "a max bake shorter than the bake",
    options: () => ({ maxBake: "2s" }),
    code: "INVALID_INPUT",
    field: "maxBake",
    message: /--max-bake: 2s is shorter than --bake 4s/,
  },
  {
    name: "a duration without a unit",
    options: () => ({ bake: "300" }),
    code: "INVALID_INPUT",
    field: "bake",
    message: /--bake: .*(unit|ms, s, m or h)/,
  },
  {
    name: "a rollback error rate above 50%",
    options: () => ({ rollbackErrorRate: "60%" }),
    code: "INVALID_INPUT",
    field: "rollbackErrorRate",
    message: /--rollback-error-rate: 60% is above the maximum 50%/,
  },
  {
    name: "a promote error rate above the rollback error rate",
    options: () => ({ promoteErrorRate: "3%" }),
    code: "INVALID_INPUT",
    field: "promoteErrorRate",
    message: /--promote-error-rate: must not exceed --rollback-error-rate/,
  },
  {
    name: "a promote p95 above the rollback p99",
    // Both given: the world's own latency margins set --rollback-p99 too.
    options: () => ({ promoteP95: "3s", rollbackP99: "2s" }),
    code: "INVALID_INPUT",
    field: "promoteP95",
    message: /--promote-p95: 3s exceeds --rollback-p99 2s/,
  },
  {
    name: "an ambiguous rate",
    options: () => ({ rollbackErrorRate: "2" }),
    code: "INVALID_INPUT",
    field: "rollbackErrorRate",
    message:
      /--rollback-error-rate: "2" is ambiguous: write 2% for a percentage, or a fraction below 1 such as 0.02/,
  },
  {
    name: "a minimum of 0 requests",
    options: () => ({ minRequests: 0 }),
    code: "INVALID_INPUT",
    field: "minRequests",
    message: /--min-requests: 0 is below the minimum 1/,
  },
  {
    name: "an approval gate that is not a step",
    options: () => ({ approveBefore: "33" }),
    code: "INVALID_INPUT",
    field: "approveBefore",
    message: /--approve-before: "33" is neither one of the steps \(25, 100\) nor "promotion"/,
  },
  {
    name: "an image reference that is not one",
    options: () => ({ image: "Gateway Pix:latest!" }),
    code: "INVALID_INPUT",
    field: "image",
    message: /--image: "Gateway Pix:latest!" is not valid: expected registry\/repository:tag/,
  },
  {
    name: "a region that is not one",
    options: () => ({ region: "sao-paulo" }),
    code: "INVALID_INPUT",
    field: "region",
    message: /--region: "sao-paulo" is not valid: expected a region such as sa-east-1/,
  },
  {
    name: "resources of another region than --region",
    options: () => ({ region: "us-east-1" }),
    code: "INVALID_INPUT",
    field: "listenerArn",
    message:
      /--listener-arn: is in region sa-east-1 but --region is us-east-1: use resources of one region, or fix --region/,
  },
  {
    name: "a rule of another listener",
    options: (_, b) => ({ ruleArn: b.elsewhereRuleArn }),
    code: "INVALID_INPUT",
    field: "ruleArn",
    message: /--rule-arn: does not belong to --listener-arn/,
  },
  {
    name: "the same target group twice",
    options: (w) => ({ grayTargetGroupArn: w.fx.stable.targetGroupArn }),
    code: "INVALID_INPUT",
    field: "grayTargetGroupArn",
    message: /--gray-target-group-arn: is the same target group as --stable-target-group-arn/,
  },
  {
    name: "the same Auto Scaling group twice",
    options: (w) => ({ grayAsg: w.fx.stable.asgName }),
    code: "INVALID_INPUT",
    field: "grayAsg",
    message: /--gray-asg: is the same Auto Scaling group as --stable-asg/,
  },
  {
    name: "a missing required option",
    options: () => ({ launchTemplate: undefined }),
    code: "INVALID_INPUT",
    field: "launchTemplate",
    message:
      /--launch-template: is required for `deploy-gray --target aws` \(lt-0123456789abcdef0 or a template name\)/,
  },
  {
    name: "an invalid state table name",
    options: () => ({ stateTable: "ab" }),
    code: "INVALID_INPUT",
    field: "stateTable",
    message: /--state-table: "ab" is not valid: expected a DynamoDB table name .*gray-deploy bootstrap/,
  },
  {
    name: "a local-only option on AWS",
    options: () => ({ rps: 10 }),
    code: "INVALID_INPUT",
    field: "rps",
    message: /--rps: applies only to --target local, not aws/,
  },
  {
    name: "a smoke URL without the smoke header",
    options: () => ({ smokeUrl: "http://127.0.0.1:9" }),
    code: "INVALID_INPUT",
    field: "smokeUrl",
    message: /--smoke-url: needs --smoke-header/,
  },
  {
    name: "an unknown flag",
    args: ["--stable-asgg", "gatewaypix-stable"],
    code: "INVALID_INPUT",
    field: "",
    message: /unknown option '--stable-asgg'.*Did you mean --stable-asg\?/,
    names: () => ["--stable-asgg", "--help"],
  },
  // ── config files ──────────────────────────────────────────────────────────────────────────
  {
    name: "an unknown key in the config file",
    config: { name: "unknown.yaml", text: "stableAsgg: gatewaypix-stable\n" },
    code: "INVALID_INPUT",
    field: "stableAsgg",
    message: /--stable-asgg: unknown option "stableAsgg"; did you mean stableAsg \(--stable-asg\)\?/,
  },
  {
    name: "a bad value in the config file",
    config: { name: "steps.json", text: '{ "steps": [5, 25, 50] }' },
    // Flags override the file: the command line must not carry the steps.
    options: () => ({ steps: undefined }),
    code: "INVALID_INPUT",
    field: "steps",
    message: /--steps: the last step must be 100/,
  },
  {
    name: "a config file that does not exist",
    config: { missing: "gray-deploy.missing.yaml" },
    code: "INVALID_INPUT",
    field: "config",
    message: /--config: cannot read .*gray-deploy\.missing\.yaml: no such file/,
  },
  {
    name: "a config file that is not valid YAML",
    config: { name: "broken.yaml", text: "steps: [5, 25\nbake: 12m\n" },
    code: "INVALID_INPUT",
    field: "config",
    message: /--config: .*broken\.yaml is not valid YAML at line \d+, column \d+/,
    names: () => ["fix the file's syntax"],
  },
  {
    name: "a config file that is not valid JSON",
    config: { name: "broken.json", text: '{ "steps": "5,25,100", }' },
    code: "INVALID_INPUT",
    field: "config",
    message: /--config: .*broken\.json is not valid JSON/,
  },
  {
    name: "a config file that is a list",
    config: { name: "list.yaml", text: "- steps\n- bake\n" },
    code: "INVALID_INPUT",
    field: "config",
    message: /--config: .*list\.yaml must hold a mapping of option names to values/,
  },
  // ── what AWS says (preflight: reads only) ─────────────────────────────────────────────────
  {
    name: "a listener that does not exist",
    options: (w) => ({ listenerArn: swapId(w.fx.listenerArn), ruleArn: undefined }),
    code: "PREFLIGHT_FAILED",
    field: "listenerArn",
    message: /listener .*\/0123456789abcdef does not exist/,
  },
  {
    name: "a rule that does not exist",
    options: (w) => ({ ruleArn: swapId(w.fx.ruleArn) }),
    code: "PREFLIGHT_FAILED",
    field: "ruleArn",
    message: /rule .*\/0123456789abcdef does not exist/,
    names: () => ["terraform output rule_arn"],
  },
  {
    name: "a target group that does not exist",
    options: (w) => ({ stableTargetGroupArn: swapId(w.fx.stable.targetGroupArn) }),
    code: "PREFLIGHT_FAILED",
    field: "stableTargetGroupArn",
    message: /target group .*gatewaypix-stable\/0123456789abcdef does not exist/,
  },
  {
    name: "a target group not in the forward action",
    options: (_, b) => ({ grayTargetGroupArn: b.otherTargetGroupArn }),
    code: "PREFLIGHT_FAILED",
    field: "grayTargetGroupArn",
    message: /not exactly the two given target groups \(missing: .*gatewaypix-other/,
  },
  {
    name: "a target group of another load balancer",
    options: (_, b) => ({ grayTargetGroupArn: b.elsewhereTargetGroupArn }),
    code: "PREFLIGHT_FAILED",
    field: "grayTargetGroupArn",
    message: /belongs to load balancer .*elsewhere-alb.*not to/,
  },
  {
    name: "an Auto Scaling group that does not exist",
    options: () => ({ grayAsg: "gatewaypix-nope" }),
    code: "PREFLIGHT_FAILED",
    field: "grayAsg",
    message: /gray Auto Scaling group gatewaypix-nope does not exist/,
  },
  {
    name: "an Auto Scaling group not attached to its target group",
    options: (_, b) => ({ grayAsg: b.looseAsg }),
    code: "PREFLIGHT_FAILED",
    field: "grayAsg",
    message: /gray Auto Scaling group gatewaypix-loose is not attached to the gray target group/,
    names: () => ["attach-load-balancer-target-groups"],
  },
  {
    name: "an Auto Scaling group on $Latest",
    options: (_, b) => ({ grayAsg: b.latestAsg }),
    code: "PREFLIGHT_FAILED",
    field: "grayAsg",
    message: /Auto Scaling group gatewaypix-latest uses launch template version \$Latest/,
    names: () => ["pin the group to a numbered version"],
  },
  {
    name: "a launch template that does not exist",
    options: () => ({ launchTemplate: "gatewaypix-nope" }),
    code: "PREFLIGHT_FAILED",
    field: "launchTemplate",
    message: /launch template gatewaypix-nope does not exist/,
  },
  {
    name: "a launch template without a recognisable image",
    options: (_, b) => ({
      launchTemplate: b.noImage.template,
      stableAsg: b.noImage.stableAsg,
      grayAsg: b.noImage.grayAsg,
    }),
    code: "PREFLIGHT_FAILED",
    field: "launchTemplate",
    message:
      /cannot find the container image reference in the user data of launch template gatewaypix-noimage/,
    names: () => ["IMAGE=<registry/repository:tag>"],
  },
  {
    name: "an image that is not in ECR",
    options: (w) => ({ image: w.fx.image.replace(/:[^:]+$/, ":9.9.9") }),
    code: "PREFLIGHT_FAILED",
    field: "image",
    message: /image .*gatewaypix:9\.9\.9 does not exist in ECR/,
    names: () => ["push the image first"],
  },
  {
    name: "the image stable already runs",
    options: (w) => ({ image: w.fx.image }),
    code: "PREFLIGHT_FAILED",
    field: "image",
    message: /stable already runs .*gatewaypix:1\.4\.2/,
  },
  {
    name: "an alarm that does not exist",
    options: () => ({ alarms: "gatewaypix-gray-nope" }),
    code: "PREFLIGHT_FAILED",
    field: "alarms",
    message: /alarm\(s\) gatewaypix-gray-nope do not exist/,
  },
  {
    name: "a state table that does not exist",
    options: () => ({ stateTable: "gatewaypix-missing" }),
    code: "PREFLIGHT_FAILED",
    field: "stateTable",
    message: /the state table gatewaypix-missing does not exist in this region/,
    names: () => ["gray-deploy bootstrap --target aws --state-table gatewaypix-missing"],
  },
  // ── payment-grade checks (synthetic transactions, hooks, chosen customers, observe-only) ───
  {
    name: "a synthetic transaction with a credential written inline",
    options: () => ({
      smokeHeader: "X-Gray-Smoke: s3cr3t-smoke",
      synthetic: JSON.stringify([
        {
          name: "pix-charge",
          method: "POST",
          path: "/v1/payments",
          headers: { Authorization: "Bearer sk_test_4f9a1c" },
          expect: { status: 201 },
        },
      ]),
    }),
    code: "INVALID_INPUT",
    field: "synthetic[0].headers.Authorization",
    message: /carries a credential: never write it in the declaration; declare it under secretHeaders/,
  },
  {
    name: "a synthetic expectation that is not one",
    options: () => ({
      smokeHeader: "X-Gray-Smoke: s3cr3t-smoke",
      synthetic: JSON.stringify([
        {
          name: "pix-charge",
          method: "POST",
          path: "/v1/payments",
          expect: { status: 201, json: ["$.status ~= 1"] },
        },
      ]),
    }),
    code: "INVALID_INPUT",
    field: "synthetic[0].expect.json[0]",
    message: /"\$\.status ~= 1" is not an expectation: write '\$\.field == "value"'/,
  },
  {
    name: "synthetic transactions on AWS without the smoke header",
    options: () => ({
      synthetic: JSON.stringify([
        { name: "balance", method: "GET", path: "/v1/balance", expect: { status: 200 } },
      ]),
    }),
    code: "INVALID_INPUT",
    field: "synthetic",
    message: /needs --smoke-header/,
  },
  {
    name: "a hook at a stage that does not exist",
    options: () => ({
      hooks: JSON.stringify([
        { name: "risk", stage: "during-step", url: "https://risk.example/h", secretEnv: "RISK_HOOK_SECRET" },
      ]),
    }),
    code: "INVALID_INPUT",
    field: "hooks[0].stage",
    message:
      /"during-step" is not one of pre-traffic, before-step, before-promotion, after-promotion, on-rollback/,
  },
  {
    name: "a hook with both a url and a Lambda function",
    options: () => ({
      hooks: JSON.stringify([
        {
          name: "risk",
          stage: "before-step",
          url: "https://risk.example/h",
          lambda: "gray-hook-risk",
          secretEnv: "RISK_HOOK_SECRET",
        },
      ]),
    }),
    code: "INVALID_INPUT",
    field: "hooks[0].lambda",
    message: /give exactly one of url \(an HTTP hook\) or lambda/,
  },
  {
    name: "a hook whose secretEnv is the key itself",
    options: () => ({
      hooks: JSON.stringify([
        { name: "risk", stage: "before-step", url: "https://risk.example/h", secretEnv: "whsec_9a8b7c6d5e" },
      ]),
    }),
    code: "INVALID_INPUT",
    field: "hooks[0].secretEnv",
    message: /^(?!.*whsec_9a8b7c6d5e).*must be an environment variable NAME .*never the key itself/,
  },
  {
    name: "a hook whose signing key is not set",
    options: () => ({
      hooks: JSON.stringify([
        { name: "risk", stage: "before-step", url: "https://risk.example/h", secretEnv: "RISK_HOOK_SECRET" },
      ]),
    }),
    code: "INVALID_INPUT",
    field: "hooks[0].secretEnv",
    message: /names the secret \$RISK_HOOK_SECRET, which is not set: export RISK_HOOK_SECRET/,
  },
  {
    name: "a Lambda hook whose function does not exist",
    options: () => ({
      hooks: JSON.stringify([{ name: "fraud", stage: "before-promotion", lambda: "gray-hook-missing" }]),
    }),
    code: "PREFLIGHT_FAILED",
    field: "hooks[0].lambda",
    message: /the Lambda function gray-hook-missing of hook fraud does not exist/,
  },
  {
    name: "an observe-only gate that cannot be observed",
    options: () => ({ observeGates: "error-rate" }),
    code: "INVALID_INPUT",
    field: "observeGates",
    message: /"error-rate" is not a gate that can be observed/,
  },
  {
    name: "chosen customers on AWS without the pilot rule",
    options: () => ({ pilotHeader: "X-Tenant: acme" }),
    code: "INVALID_INPUT",
    field: "pilotRuleArn",
    message: /is required for the chosen-customers step on AWS: pass the Terraform module's pilot rule/,
  },
  {
    name: "the weighted rule given as the pilot rule",
    options: (w) => ({ pilotHeader: "X-Tenant: acme", pilotRuleArn: w.fx.ruleArn }),
    code: "INVALID_INPUT",
    field: "pilotRuleArn",
    message: /is the weighted rule \(--rule-arn\)/,
  },
  {
    name: "a malformed chosen-customers header",
    options: () => ({ pilotHeader: "X-Tenant" }),
    code: "INVALID_INPUT",
    field: "pilotHeader",
    message: /--pilot-header: "X-Tenant" is not valid: expected Header-Name: value/,
  },
  // ── the service signal (issue 15) ────────────────────────────────────────────────────────
  {
    name: "--signal service at a period CloudWatch does not serve",
    options: () => ({ signal: "service", servicePeriod: "7s" }),
    code: "INVALID_INPUT",
    field: "servicePeriod",
    message: /--service-period: 7s is not a period CloudWatch serves high-resolution metrics at/,
    names: () => ["1s, 5s, 10s, 20s, 30s"],
  },
  {
    name: "--signal service with no service metrics published for stable",
    options: () => ({
      signal: "service",
      servicePeriod: "1s",
      serviceDelay: "1s",
      serviceNamespace: "TecPag/Nothing",
    }),
    code: "PREFLIGHT_FAILED",
    field: "serviceRequests",
    message: /--signal service: no datapoint of TecPag\/Nothing Requests for stable/,
    names: () => ["StorageResolution 1", "--signal alb"],
  },
  {
    name: "no credentials at all",
    noCredentials: true,
    code: "CREDENTIALS",
    field: "credentials",
    message: /no AWS credentials found for dynamodb:DescribeTable/,
    names: () => ["AWS_ACCESS_KEY_ID", "--role-arn"],
  },
];

let emu: Emulator;
let w: World;
let bad: BadWorld;
let before: EmulatorState;
const dir = mkdtempSync(join(tmpdir(), "gray-bad-input-"));
const results = new Map<string, { run: CliRun; diff: string[]; ms: number }>();

function command(e: Entry): { args: string[]; env: Record<string, string> } {
  const options: RawOptions = { ...rawOptions(w, "deploy-gray"), ...(e.options?.(w, bad) ?? {}) };
  const args = ["deploy-gray", ...flags(options), ...(e.args ?? [])];
  if (e.config !== undefined) {
    if ("missing" in e.config) args.push("--config", join(dir, e.config.missing));
    else {
      const path = join(dir, e.config.name);
      writeFileSync(path, e.config.text);
      args.push("--config", path);
    }
  }
  const env = e.noCredentials
    ? {
        AWS_REGION: w.emu.region,
        HOME: dir,
        AWS_CONFIG_FILE: join(dir, "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
      }
    : cliEnv(w);
  return { args, env };
}

beforeAll(async () => {
  const t0 = Date.now();
  emu = await startEmulator();
  w = await buildWorld(emu, awsClients(emu.clientConfig()));
  bad = await buildBadWorld(w);
  before = await emulatorState(emu.endpoint, emu.credentials, emu.region);
  // Two at a time (two cores); every run is compared with the state before the catalogue.
  const queue = [...ENTRIES];
  const worker = async () => {
    for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
      const { args, env } = command(e);
      const started = Date.now();
      const run = await runCli(args, env);
      const ms = Date.now() - started;
      const diff = stateDiff(before, await emulatorState(emu.endpoint, emu.credentials, emu.region));
      results.set(e.name, { run, diff, ms });
    }
  };
  await Promise.all([worker(), worker()]);
  console.info(
    `bad-input catalogue: ${ENTRIES.length} inputs in ${Date.now() - t0} ms (emulator and world included)`,
  );
  // 35 CLI runs, two at a time: ~30 s on a quiet machine, several minutes on an oversubscribed one.
}, 600_000);

afterAll(async () => {
  w?.aws.destroy();
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the bad-input catalogue", () => {
  it("has at least 25 entries", () => {
    expect(ENTRIES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(ENTRIES.map((e) => [e.name, e] as const))("%s: exit 2, the field and the fix, no write", (_, e) => {
    const r = results.get(e.name);
    expect(r, "the entry ran").toBeDefined();
    const { run, diff, ms } = r!;
    const error = run.outcome?.error;
    console.info(
      `catalogue | ${e.name} | exit ${run.code} | ${error?.code} | ${error?.field ?? "-"} | ${error?.message} | fix: ${error?.fix} | ${ms} ms`,
    );
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(2);
    expect(run.outcome?.outcome).toBe("refused");
    expect(error?.code).toBe(e.code);
    if (e.field === "credentials") expect(error?.field ?? "credentials").toBe("credentials");
    else expect(error?.field ?? "").toBe(e.field);
    expect(error?.message).toMatch(e.message);
    // Named: the flag (or the file's key) and the fix, in what a person reads.
    const text = `${error?.message ?? ""} ${error?.fix ?? ""}`;
    if (e.field !== "" && e.field !== "credentials" && e.code === "INVALID_INPUT") {
      // A field inside a declaration (hooks[0].secretEnv) is named after its option: --hooks[0].secretEnv.
      const option = e.field.split(/[.[]/)[0]!;
      expect(text).toContain(`--${kebab(option)}${e.field.slice(option.length)}`);
    }
    for (const word of e.names?.(w, bad) ?? []) expect(text).toContain(word);
    expect(error?.fix ?? "", "a fix").not.toBe("");
    expect(diff, "no write to AWS").toEqual([]);
  });
});
