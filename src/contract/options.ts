/**
 * The options schema: every option of gray-deploy, once. Every front end derives from this table:
 * the CLI flag is the kebab-case of the name (`--rollback-window`), the Dagger argument and the
 * config-file key are the name itself (`rollbackWindow`).
 *
 * Definitions used throughout (the docs and `--help` quote them):
 * - interval (`--interval`): how often the engine observes metrics and health while a step bakes.
 * - bake (`--bake`): the minimum time at a step before it may pass.
 * - windows (`--rollback-window`, `--promotion-window`): the trailing spans of metrics the gates
 *   evaluate; rollback gates look at the rollback window, the pass criteria at the promotion window.
 * - metric period (`--metric-period`): the granularity of the metric source (60 s for ALB metrics in
 *   CloudWatch; shorter only against emulators and on the local target).
 * - metrics delay (`--metrics-delay`): how far behind "now" the newest complete metrics are; windows
 *   end that long ago.
 * A plan whose bake is shorter than its promotion window plus its metrics delay could pass a step
 * on metrics that were measured before the step began; such a plan is rejected.
 *
 * Raw values are written as a person writes them (`5m`, `2%`, `5,25,50,100`); `resolveOptions`
 * turns them into milliseconds, fractions and arrays, applies the target's defaults, and checks
 * every field and every cross-field rule, reporting all problems at once.
 */
import { z } from "zod";
import { parseGates } from "../gates/spec.js";
import { InvalidInputError, kebab } from "./errors.js";
import { formatDuration, type Parsed, parseDuration, parseRate } from "./units.js";

export const TARGETS = ["local", "aws"] as const;
export type Target = (typeof TARGETS)[number];

export const VERBS = ["deploy-gray", "plan", "status", "promote", "abort", "bootstrap"] as const;
export type Verb = (typeof VERBS)[number];

export type OptionKind =
  | "string"
  | "boolean"
  | "integer"
  | "duration"
  | "rate"
  | "steps"
  | "list"
  | "enum"
  /** Structured values: a JSON text on the command line and in Dagger, a YAML/JSON list in a config file. */
  | "json";

export type OptionGroup = "release" | "aws" | "plan" | "thresholds" | "local" | "output" | "control";

/** Front ends that expose an option. Most are in both; a few only make sense in one. */
export type FrontEnd = "cli" | "dagger";

export interface OptionDef {
  readonly kind: OptionKind;
  /** One sentence for `--help`, Dagger docs and the options table. */
  readonly description: string;
  readonly group: OptionGroup;
  /** Default written as a user would write it, the same for both targets. */
  readonly default?: string | number | boolean;
  /** Defaults that differ per target (durations and load only). */
  readonly defaults?: { readonly aws?: string | number; readonly local?: string | number };
  readonly choices?: readonly string[];
  /** Inclusive bounds: integers as is, durations in ms, rates as fractions. */
  readonly min?: number;
  readonly max?: number;
  readonly unit?: string;
  /** Targets the option applies to; given for another target it is an error. Default: both. */
  readonly targets?: readonly Target[];
  /** Verbs that accept the option. Default: deploy-gray and plan. */
  readonly verbs?: readonly Verb[];
  /** Verbs × targets for which the option is required. */
  readonly requiredFor?: readonly { readonly verb: Verb; readonly target: Target }[];
  /** Front ends exposing it. Default: both. */
  readonly frontEnds?: readonly FrontEnd[];
  /** For strings: a pattern and what a valid value looks like. */
  readonly pattern?: { readonly re: RegExp; readonly hint: string };
  /** Environment variables read, in order, when the option is not given (CLI only). */
  readonly env?: readonly string[];
  /** The value is sensitive: it is never printed, logged or stored. */
  readonly sensitive?: boolean;
  /**
   * For `json` options: parses and validates the value (the list itself, or its JSON text, or one
   * JSON text per repeated flag), reporting every problem with its path inside the value.
   */
  readonly parseJson?: (
    raw: unknown,
  ) =>
    | { readonly ok: true; readonly value: unknown }
    | { readonly ok: false; readonly issues: readonly { path: string; message: string }[] };
}

const ROLLOUT: readonly Verb[] = ["deploy-gray", "plan"];
const CONTROL: readonly Verb[] = ["deploy-gray", "plan", "status", "promote", "abort"];
const AWS_ALL: readonly Verb[] = [...CONTROL, "bootstrap"];
const ALL_VERBS: readonly Verb[] = VERBS;

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
/** registry/repository[:tag][@sha256:digest], lower-case repository path as the OCI distribution spec says. */
export const IMAGE_REF =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

/** The options table. Order is the order of `--help` and of the docs' table. */
export const OPTION_DEFS = {
  // ── release ───────────────────────────────────────────────────────────────────────────────
  target: {
    kind: "enum",
    choices: TARGETS,
    default: "local",
    group: "release",
    verbs: ALL_VERBS,
    description:
      "Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch.",
  },
  image: {
    kind: "string",
    group: "release",
    pattern: { re: IMAGE_REF, hint: "registry/repository:tag or registry/repository@sha256:DIGEST" },
    defaults: { local: "gray-deploy/sample-gateway:next" },
    requiredFor: [
      { verb: "deploy-gray", target: "aws" },
      { verb: "plan", target: "aws" },
    ],
    description:
      "The container image of the new version, preferably digest-qualified (…@sha256:…). On AWS it replaces the image reference in the launch template's user data.",
  },
  commit: {
    kind: "string",
    group: "release",
    env: ["GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "CIRCLE_SHA1"],
    description: "The source commit of the release, recorded in the rollout state and reports.",
  },
  startedBy: {
    kind: "string",
    group: "release",
    verbs: CONTROL,
    env: ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID", "CIRCLE_USERNAME", "USER"],
    description: "Who starts, promotes or aborts the rollout, recorded in the state and reports.",
  },
  // ── aws ───────────────────────────────────────────────────────────────────────────────────
  region: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: AWS_ALL,
    env: ["AWS_REGION", "AWS_DEFAULT_REGION"],
    pattern: { re: /^[a-z]{2}(-[a-z]+)+-\d$/, hint: "a region such as sa-east-1" },
    requiredFor: AWS_ALL.map((verb) => ({ verb, target: "aws" as const })),
    description: "The AWS region of the load balancer and Auto Scaling groups.",
  },
  endpoint: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: AWS_ALL,
    pattern: { re: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, hint: "http://127.0.0.1:5000" },
    description: "Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests).",
  },
  roleArn: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: AWS_ALL,
    pattern: ROLE_ARN,
    description: "An IAM role to assume for every AWS call; credentials refresh during long rollouts.",
  },
  listenerArn: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: CONTROL,
    pattern: LISTENER_ARN,
    requiredFor: CONTROL.map((verb) => ({ verb, target: "aws" as const })),
    description:
      "The ALB listener whose traffic is split. Without --rule-arn its default action holds the weighted forward.",
  },
  ruleArn: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: CONTROL,
    pattern: RULE_ARN,
    description:
      "The listener rule holding the weighted forward action (the Terraform module creates it). Also the rollout's lock key when given.",
  },
  stableTargetGroupArn: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    pattern: TG_ARN,
    requiredFor: ROLLOUT.map((verb) => ({ verb, target: "aws" as const })),
    description: "The target group of the stable Auto Scaling group.",
  },
  grayTargetGroupArn: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    pattern: TG_ARN,
    requiredFor: ROLLOUT.map((verb) => ({ verb, target: "aws" as const })),
    description: "The target group of the gray Auto Scaling group.",
  },
  stableAsg: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    pattern: { re: /^[^:\s][^\s]{0,254}$/, hint: "an Auto Scaling group name" },
    requiredFor: ROLLOUT.map((verb) => ({ verb, target: "aws" as const })),
    description: "The stable Auto Scaling group; promotion moves it to the new launch template version.",
  },
  grayAsg: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    pattern: { re: /^[^:\s][^\s]{0,254}$/, hint: "an Auto Scaling group name" },
    requiredFor: ROLLOUT.map((verb) => ({ verb, target: "aws" as const })),
    description: "The gray Auto Scaling group that runs the new version during the rollout.",
  },
  launchTemplate: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    pattern: {
      re: /^(lt-[0-9a-f]{8,17}|[\w().\-/]{3,128})$/,
      hint: "lt-0123456789abcdef0 or a template name",
    },
    requiredFor: ROLLOUT.map((verb) => ({ verb, target: "aws" as const })),
    description:
      "The launch template (id or name) both groups use; a release is a new numbered version of it.",
  },
  ami: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    pattern: { re: /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/, hint: "ami-0123456789abcdef0" },
    description: "Also change the launch template's AMI in the new version.",
  },
  stateTable: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: AWS_ALL,
    pattern: {
      re: /^[a-zA-Z0-9_.-]{3,255}$/,
      hint: "a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -); create one with `gray-deploy bootstrap --target aws --state-table NAME`",
    },
    requiredFor: AWS_ALL.map((verb) => ({ verb, target: "aws" as const })),
    description:
      "The DynamoDB table holding rollout state and the lock (created by the Terraform module or `gray-deploy bootstrap`).",
  },
  alarms: {
    kind: "list",
    group: "aws",
    targets: ["aws"],
    description: "CloudWatch alarm names used as extra gates: any alarm in ALARM state fails the step.",
  },
  gates: {
    kind: "json",
    group: "aws",
    targets: ["aws"],
    parseJson: parseGates,
    description:
      'Business-metric gates on CloudWatch or Zabbix metrics, judged at every step like the built-in ones: a list of {name, source, the metric, one rule of max/min/ratio/test, minSamples, window, maxErrors} (README "Business-metric gates"). A YAML list in --config; a JSON object or list per --gates, repeatable.',
  },
  zabbixUrl: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: ["deploy-gray", "plan", "promote"],
    env: ["GRAY_DEPLOY_ZABBIX_URL"],
    pattern: { re: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, hint: "https://zabbix.example.com/api_jsonrpc.php" },
    description:
      "The Zabbix API (api_jsonrpc.php, or the frontend's URL ending in /) that gates with source zabbix read.",
  },
  zabbixToken: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    verbs: ["deploy-gray", "plan", "promote"],
    sensitive: true,
    env: ["GRAY_DEPLOY_ZABBIX_TOKEN"],
    pattern: { re: /^\S{8,512}$/, hint: "a Zabbix API token (Administration → General → API tokens)" },
    description:
      "The Zabbix API token of gates with source zabbix (read-only user suffices). A secret, never printed: prefer GRAY_DEPLOY_ZABBIX_TOKEN.",
  },
  zabbixTimeout: {
    kind: "duration",
    group: "aws",
    targets: ["aws"],
    verbs: ["deploy-gray", "plan", "promote"],
    default: "10s",
    min: 500,
    max: 120_000,
    description:
      "Deadline of one Zabbix read (all its API calls); a Zabbix slower than this is a measurement error of its gates, never a pass.",
  },
  smokeHeader: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    sensitive: true,
    env: ["GRAY_DEPLOY_SMOKE_HEADER"],
    pattern: { re: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*\S.*$/, hint: "Header-Name: value" },
    description:
      "The header (`Name: value`) the smoke rule routes straight to gray; given, smoke checks run through the load balancer before any customer reaches gray. A secret, never printed: prefer GRAY_DEPLOY_SMOKE_HEADER.",
  },
  smokeUrl: {
    kind: "string",
    group: "aws",
    targets: ["aws"],
    pattern: { re: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, hint: "https://gateway.example.com" },
    description:
      "Base URL of the smoke checks (default: the load balancer's DNS name and the listener's protocol and port).",
  },
  smokePaths: {
    kind: "list",
    group: "aws",
    targets: ["aws"],
    default: "/health",
    description: "Paths the smoke checks GET through the smoke route, each starting with /.",
  },
  smokeStatuses: {
    kind: "list",
    group: "aws",
    targets: ["aws"],
    default: "200",
    description: "HTTP statuses a smoke check accepts.",
  },
  // ── plan ──────────────────────────────────────────────────────────────────────────────────
  steps: {
    kind: "steps",
    group: "plan",
    default: "5,25,50,100",
    description:
      "Gray's traffic weight at each step, in percent: strictly increasing, each 1 to 100, ending at 100.",
  },
  approveBefore: {
    kind: "list",
    group: "plan",
    description:
      "Manual gates: step weights (e.g. 50) and/or `promotion` before which the rollout pauses until `gray-deploy promote`.",
  },
  interval: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "30s", local: "1s" },
    min: 100,
    max: 600_000,
    description: "How often the engine observes metrics and health while a step bakes.",
  },
  bake: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "12m", local: "13s" },
    min: 500,
    max: 86_400_000,
    description:
      "The minimum time at each step before it may pass; at least the promotion window plus the metrics delay.",
  },
  maxBake: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "30m", local: "30s" },
    min: 500,
    max: 86_400_000,
    description:
      "How long a step may be extended while its analysis is inconclusive, before the rollout pauses or rolls back (--on-inconclusive).",
  },
  rollbackWindow: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "5m", local: "10s" },
    min: 100,
    max: 86_400_000,
    description: "The trailing window the rollback gates evaluate (the seed's 5 minutes on AWS).",
  },
  promotionWindow: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "10m", local: "12s" },
    min: 100,
    max: 86_400_000,
    description:
      "The trailing window a step must pass over before it advances (the seed's 10 minutes on AWS).",
  },
  metricPeriod: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "60s", local: "1s" },
    min: 100,
    max: 3_600_000,
    description:
      "Granularity of the metric source: 60s for ALB metrics; shorter only against an emulator or locally.",
  },
  metricsDelay: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "2m", local: "1s" },
    min: 0,
    max: 3_600_000,
    description:
      "How far behind now metrics are complete; windows end this long ago (CloudWatch: 1 to 3 minutes).",
  },
  returnSteps: {
    kind: "steps",
    group: "plan",
    default: "50,100",
    description:
      "After promotion refreshes the stable fleet, stable's weight at each step back (analysed like the forward steps), ending at 100.",
  },
  returnBake: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "7m", local: "11s" },
    min: 500,
    max: 86_400_000,
    description: "Minimum time at each return step; at least the rollback window plus the metrics delay.",
  },
  onInconclusive: {
    kind: "enum",
    group: "plan",
    choices: ["pause", "rollback"],
    default: "pause",
    description:
      "What to do when a step stays inconclusive until --max-bake: pause for a person, or roll back.",
  },
  minGrayCapacity: {
    kind: "integer",
    group: "plan",
    default: 1,
    min: 1,
    max: 1000,
    description: "Minimum gray instances at any step (gray's capacity otherwise follows its weight).",
  },
  healthyTimeout: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "10m", local: "30s" },
    min: 1000,
    max: 7_200_000,
    description: "Deadline for new instances to become healthy in their target group.",
  },
  instanceWarmup: {
    kind: "duration",
    group: "plan",
    defaults: { aws: "5m", local: "0s" },
    min: 0,
    max: 7_200_000,
    description:
      "Instance refresh warm-up during promotion: how long a new stable instance serves before the next is replaced.",
  },
  refreshMinHealthy: {
    kind: "integer",
    group: "plan",
    default: 90,
    min: 0,
    max: 100,
    unit: "%",
    description: "Instance refresh floor during promotion: percentage of stable capacity kept in service.",
  },
  maxPause: {
    kind: "duration",
    group: "plan",
    default: "1h",
    min: 60_000,
    max: 7 * 86_400_000,
    description: "A paused rollout with traffic on gray longer than this is rolled back by the guard.",
  },
  lockLease: {
    kind: "duration",
    group: "control",
    defaults: { aws: "2m", local: "30s" },
    min: 5000,
    max: 3_600_000,
    verbs: CONTROL,
    description:
      "A running rollout renews its lock this often; a rollout silent for longer may be taken over.",
  },
  // ── thresholds ────────────────────────────────────────────────────────────────────────────
  rollbackErrorRate: {
    kind: "rate",
    group: "thresholds",
    default: "2%",
    min: 0.0001,
    max: 0.5,
    description: "Roll back when gray's 5xx rate over the rollback window is above this.",
  },
  rollbackP99: {
    kind: "duration",
    group: "thresholds",
    default: "2s",
    min: 1,
    max: 600_000,
    description: "Roll back when gray's p99 latency over the rollback window is above this.",
  },
  rollbackUnhealthy: {
    kind: "integer",
    group: "thresholds",
    default: 1,
    min: 0,
    max: 1000,
    description:
      "Roll back when more than this many gray instances fail health checks (no healthy gray at all always fails).",
  },
  promoteErrorRate: {
    kind: "rate",
    group: "thresholds",
    default: "1%",
    min: 0.0001,
    max: 0.5,
    description: "A step passes only while gray's 5xx rate over the promotion window is below this.",
  },
  promoteP95: {
    kind: "duration",
    group: "thresholds",
    default: "500ms",
    min: 1,
    max: 600_000,
    description: "A step passes only while gray's p95 latency over the promotion window is below this.",
  },
  minRequests: {
    kind: "integer",
    group: "thresholds",
    default: 100,
    min: 1,
    max: 10_000_000,
    description:
      "Minimum gray requests in the promotion window before a step can pass; less is inconclusive.",
  },
  evidenceEvents: {
    kind: "integer",
    group: "thresholds",
    default: 10,
    min: 0,
    max: 10_000,
    description:
      "Evidence for the rollback limits: a window's error rate or p99 is judged once the limit means at least this many events in it (10: 500 requests at 2%, 1,000 for a p99); before that only an overwhelming excess (p < 0.1%) rolls back. 0 judges every window.",
  },
  relativeSignificance: {
    kind: "rate",
    group: "thresholds",
    default: "0.1%",
    min: 1e-9,
    max: 0.2,
    description:
      "Significance level of the tests that gray is worse than stable over the same window, in error rate or in p95/p99 latency (a fail rolls back).",
  },
  relativeErrorMargin: {
    kind: "rate",
    group: "thresholds",
    default: "0.5%",
    min: 0,
    max: 0.5,
    description:
      "Gray must be worse than stable by more than this (in error rate) before the relative gate fails.",
  },
  latencyTolerance: {
    kind: "rate",
    group: "thresholds",
    default: "50%",
    min: 0,
    max: 0.99,
    description:
      "Relative latency gate: gray's p95 and p99 may exceed stable's by this fraction (plus --latency-slack).",
  },
  latencySlack: {
    kind: "duration",
    group: "thresholds",
    default: "50ms",
    min: 0,
    max: 60_000,
    description:
      "Relative latency gate: absolute allowance added to stable's p95 and p99 before gray is judged slower.",
  },
  sequentialAlpha: {
    kind: "rate",
    group: "thresholds",
    default: "1%",
    min: 0,
    max: 0.2,
    description:
      "Sequential error-rate test: it compares all of gray's traffic since its first request with stable's at every observation and rolls back at most this share of releases no worse than --sequential-tolerance, over the whole rollout; 0 switches it off.",
  },
  sequentialTolerance: {
    kind: "rate",
    group: "thresholds",
    default: "25%",
    min: 0,
    max: 10,
    description:
      "Sequential error-rate test: gray counts as bad only when its error rate is more than this much above stable's (25% = 1.25× stable's).",
  },
  // ── local environment ─────────────────────────────────────────────────────────────────────
  rps: {
    kind: "integer",
    group: "local",
    targets: ["local"],
    default: 200,
    min: 1,
    max: 5000,
    unit: "requests/s",
    description: "Load generated through the local load balancer during the rollout.",
  },
  instances: {
    kind: "integer",
    group: "local",
    targets: ["local"],
    default: 4,
    min: 1,
    max: 32,
    description: "Local stable fleet size (processes); gray's size follows the capacity rule.",
  },
  grayErrorRate: {
    kind: "rate",
    group: "local",
    targets: ["local"],
    default: "0%",
    description: "Fault injection: share of the new version's requests that answer 500.",
  },
  grayLatencyMs: {
    kind: "integer",
    group: "local",
    targets: ["local"],
    default: 0,
    min: 0,
    max: 60_000,
    unit: "ms",
    description: "Fault injection: latency added to every request of the new version.",
  },
  grayCrash: {
    kind: "boolean",
    group: "local",
    targets: ["local"],
    default: false,
    description: "Fault injection: the new version exits right after it starts.",
  },
  baselineErrorRate: {
    kind: "rate",
    group: "local",
    targets: ["local"],
    default: "0%",
    description:
      "Share of requests that fail in both versions (the service's own baseline, not the release's fault).",
  },
  // ── output and control ────────────────────────────────────────────────────────────────────
  json: {
    kind: "boolean",
    group: "output",
    default: false,
    verbs: ALL_VERBS,
    frontEnds: ["cli"],
    description: "Print the Outcome JSON as the only output on stdout (progress stays on stderr).",
  },
  config: {
    kind: "string",
    group: "output",
    verbs: ALL_VERBS,
    description: "A JSON or YAML file with any of these options (camelCase keys); flags override it.",
  },
  reportDir: {
    kind: "string",
    group: "output",
    verbs: ["deploy-gray", "promote", "abort", "status"],
    frontEnds: ["cli"],
    description: "Write report.json, report.md and timeline.svg of the rollout into this directory.",
  },
  notifyWebhook: {
    kind: "string",
    group: "output",
    verbs: ["deploy-gray", "promote", "abort"],
    sensitive: true,
    pattern: { re: /^https?:\/\/\S+$/, hint: "https://hooks.example.com/…" },
    env: ["GRAY_DEPLOY_NOTIFY_WEBHOOK"],
    description:
      "POST each phase change and the outcome as JSON (Slack-compatible `text`). Treated as a secret.",
  },
  supersede: {
    kind: "boolean",
    group: "control",
    default: false,
    verbs: ["deploy-gray"],
    description:
      "If a paused or stale rollout holds the lock, abort it first (saying so) instead of refusing.",
  },
  full: {
    kind: "boolean",
    group: "control",
    default: false,
    verbs: ["promote"],
    description:
      "Skip the remaining steps and promote now (the 100% analysis and the return steps still run).",
  },
  reason: {
    kind: "string",
    group: "control",
    verbs: ["abort", "promote"],
    description: "Why the operator aborts or approves, recorded in the state and reports.",
  },
} as const satisfies Record<string, OptionDef>;

export type OptionName = keyof typeof OPTION_DEFS;
export const OPTION_NAMES = Object.keys(OPTION_DEFS) as OptionName[];

type KindValue<D> = D extends { kind: "enum"; choices: readonly (infer C)[] }
  ? C
  : D extends { kind: "boolean" }
    ? boolean
    : D extends { kind: "integer" | "duration" | "rate" }
      ? number
      : D extends { kind: "steps" }
        ? readonly number[]
        : D extends { kind: "list" }
          ? readonly string[]
          : D extends { kind: "json"; parseJson: (raw: unknown) => infer R }
            ? R extends { ok: true; value: infer T }
              ? T
              : never
            : string;

type HasDefault<D> = D extends { default: unknown }
  ? true
  : D extends { kind: "list" | "boolean" | "json" }
    ? true
    : D extends { defaults: { aws: unknown; local: unknown } }
      ? true
      : false;

/** Fully resolved options: durations in ms, rates as fractions, lists as arrays. */
export type Options = {
  readonly [K in OptionName]: HasDefault<(typeof OPTION_DEFS)[K]> extends true
    ? KindValue<(typeof OPTION_DEFS)[K]>
    : KindValue<(typeof OPTION_DEFS)[K]> | undefined;
};

/** Raw input from a front end or a config file: strings as typed, numbers/booleans from JSON or YAML. */
export type RawOptions = Partial<Record<string, unknown>>;

export function defOf(name: OptionName): OptionDef {
  return OPTION_DEFS[name];
}

/** The default of an option for a target, written as a user would write it, or undefined. */
export function rawDefault(name: OptionName, target: Target): string | number | boolean | undefined {
  const def: OptionDef = OPTION_DEFS[name];
  if (def.default !== undefined) return def.default;
  return def.defaults?.[target];
}

export const cliFlag = (name: string): string => `--${kebab(name)}`;

/** The default as documentation shows it: one value, or one per target ("12m on aws, 13s on local"). */
export function defaultText(name: OptionName): string | undefined {
  const def: OptionDef = OPTION_DEFS[name];
  if (def.default !== undefined && def.default !== false) return String(def.default);
  const d = def.defaults;
  if (d?.aws !== undefined && d.local !== undefined) return `${d.aws} on aws, ${d.local} on local`;
  if (d?.local !== undefined) return `${d.local} on local`;
  if (d?.aws !== undefined) return `${d.aws} on aws`;
  return undefined;
}

/** The options table of the README and the docs, as Markdown. */
export function optionsTableMarkdown(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const rows = OPTION_NAMES.map((name) => {
    const def: OptionDef = OPTION_DEFS[name];
    const fe = optionFrontEnds(name);
    const where = fe.length === 2 ? "" : ` (${fe[0]} only)`;
    const verbs = optionVerbs(name);
    const scope = [
      def.targets?.length === 1 ? def.targets[0] : "both targets",
      verbs.length >= 5 ? "all verbs" : verbs.join(", "),
    ].join("; ");
    const kind = `${def.kind}${def.unit ? ` (${def.unit})` : ""}`;
    return `| \`--${kebab(name)}\`${where} | \`${name}\` | ${kind} | ${esc(defaultText(name) ?? "")} | ${scope} | ${esc(def.description)} |`;
  });
  return [
    "| CLI flag | Dagger argument / config key | Type | Default | Applies to | Meaning |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

export function optionVerbs(name: OptionName): readonly Verb[] {
  return (OPTION_DEFS[name] as OptionDef).verbs ?? ROLLOUT;
}

export function optionFrontEnds(name: OptionName): readonly FrontEnd[] {
  return (OPTION_DEFS[name] as OptionDef).frontEnds ?? ["cli", "dagger"];
}

/** Parses one raw value according to its definition (no defaults, no cross-field rules). */
export function parseOptionValue(name: OptionName, raw: unknown): Parsed<unknown> {
  const def: OptionDef = OPTION_DEFS[name];
  switch (def.kind) {
    case "duration":
      return bounded(parseDuration(raw), def, (v) => formatDuration(v));
    case "rate":
      return bounded(parseRate(raw), def, (v) => `${Number((v * 100).toPrecision(6))}%`);
    case "integer": {
      const n = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isInteger(n)) {
        return { ok: false, message: `${JSON.stringify(raw)} is not a whole number` };
      }
      return bounded({ ok: true, value: n }, def, String);
    }
    case "boolean": {
      if (typeof raw === "boolean") return { ok: true, value: raw };
      if (raw === "true") return { ok: true, value: true };
      if (raw === "false") return { ok: true, value: false };
      return { ok: false, message: `${JSON.stringify(raw)} is not true or false` };
    }
    case "enum": {
      const choices = def.choices ?? [];
      if (typeof raw === "string" && choices.includes(raw)) return { ok: true, value: raw };
      return { ok: false, message: `${JSON.stringify(raw)} is not one of ${choices.join(", ")}` };
    }
    case "steps":
      return parseSteps(raw);
    case "json": {
      const parsed = def.parseJson?.(raw) ?? { ok: false, issues: [{ path: "", message: "no parser" }] };
      if (parsed.ok) return { ok: true, value: parsed.value };
      return {
        ok: false,
        message: parsed.issues.map((i) => `${i.path ? `${i.path}: ` : ""}${i.message}`).join("; "),
      };
    }
    case "list": {
      const items = Array.isArray(raw)
        ? raw
        : typeof raw === "string"
          ? raw
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "")
          : null;
      if (items === null || !items.every((i) => typeof i === "string")) {
        return { ok: false, message: "expected a comma-separated list of names" };
      }
      return { ok: true, value: items };
    }
    case "string": {
      if (typeof raw !== "string" || raw.trim() === "")
        return { ok: false, message: "expected a non-empty string" };
      const value = raw.trim();
      if (def.pattern && !def.pattern.re.test(value)) {
        const shown = def.sensitive ? "the value" : JSON.stringify(value);
        return { ok: false, message: `${shown} is not valid: expected ${def.pattern.hint}` };
      }
      return { ok: true, value };
    }
  }
}

function bounded(p: Parsed<number>, def: OptionDef, fmt: (v: number) => string): Parsed<number> {
  if (!p.ok) return p;
  if (def.min !== undefined && p.value < def.min) {
    return { ok: false, message: `${fmt(p.value)} is below the minimum ${fmt(def.min)}` };
  }
  if (def.max !== undefined && p.value > def.max) {
    return { ok: false, message: `${fmt(p.value)} is above the maximum ${fmt(def.max)}` };
  }
  return p;
}

/** Parses "5,25,50,100" (or [5, 25, 50, 100] from a config file): strictly increasing, 1..100, ending at 100. */
export function parseSteps(raw: unknown): Parsed<readonly number[]> {
  const parts: unknown[] | null = Array.isArray(raw)
    ? raw
    : typeof raw === "string"
      ? raw.split(",").map((s) => s.trim())
      : typeof raw === "number"
        ? [raw]
        : null;
  if (parts === null || parts.length === 0) {
    return { ok: false, message: "expected comma-separated percentages such as 5,25,50,100" };
  }
  const steps: number[] = [];
  for (const p of parts) {
    const n = typeof p === "string" && /^\d+$/.test(p) ? Number(p) : p;
    if (typeof n !== "number" || !Number.isInteger(n)) {
      return {
        ok: false,
        message: `${JSON.stringify(p)} is not a whole percentage (write e.g. 5,25,50,100)`,
      };
    }
    if (n < 1 || n > 100) return { ok: false, message: `step ${n} is out of range: each step is 1 to 100` };
    const prev = steps[steps.length - 1];
    if (prev !== undefined && n <= prev) {
      return { ok: false, message: `steps must be strictly increasing, but ${n} follows ${prev}` };
    }
    steps.push(n);
  }
  if (steps[steps.length - 1] !== 100) {
    return {
      ok: false,
      message: `the last step must be 100 (the new version takes all traffic before promotion)`,
    };
  }
  return { ok: true, value: steps };
}

export interface ResolveContext {
  readonly verb: Verb;
  /** Environment variables for `env` fallbacks (the CLI passes process.env; Dagger passes none). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Which front end asks, to refuse options it does not expose. Default: cli. */
  readonly frontEnd?: FrontEnd;
}

/**
 * Validates raw options for a verb and returns them resolved with the target's defaults.
 * Throws InvalidInputError listing every problem, each naming the option and the fix.
 */
export function resolveOptions(raw: RawOptions, ctx: ResolveContext): Options {
  const result = rawOptionsSchema(ctx).safeParse(raw);
  if (!result.success) {
    throw new InvalidInputError(
      result.error.issues.map((i) => ({ field: String(i.path[0] ?? ""), message: i.message })),
    );
  }
  return result.data;
}

/** The zod schema behind resolveOptions, for callers that want the issues rather than an exception. */
export function rawOptionsSchema(ctx: ResolveContext) {
  const frontEnd = ctx.frontEnd ?? "cli";
  return z
    .record(z.string(), z.unknown())
    .superRefine((input, zc) => {
      for (const key of Object.keys(input)) {
        if (!(key in OPTION_DEFS)) {
          const guess = closest(key);
          zc.addIssue({
            code: "custom",
            path: [key],
            message: `unknown option "${key}"${guess ? `; did you mean ${guess} (${cliFlag(guess)})?` : ""}`,
          });
        }
      }
    })
    .transform((input, zc) => {
      const targetParsed = parseOptionValue("target", input.target ?? rawDefault("target", "local"));
      const target: Target = targetParsed.ok ? (targetParsed.value as Target) : "local";
      const out: Record<string, unknown> = {};
      for (const name of OPTION_NAMES) {
        const def: OptionDef = OPTION_DEFS[name];
        const explicit = input[name];
        const why = inapplicable(name, ctx.verb, target, frontEnd);
        if (why !== undefined) {
          if (explicit !== undefined) zc.addIssue({ code: "custom", path: [name], message: why });
          out[name] =
            def.kind === "list" || def.kind === "json" ? [] : def.kind === "boolean" ? false : undefined;
          continue;
        }
        let raw = explicit;
        if (raw === undefined && def.env && ctx.env) {
          raw = def.env.map((v) => ctx.env?.[v]).find((v) => v !== undefined && v !== "");
        }
        if (raw === undefined) raw = rawDefault(name, target);
        if (raw === undefined) {
          if (def.kind === "list" || def.kind === "json") out[name] = [];
          else if (def.kind === "boolean") out[name] = false;
          else {
            if (def.requiredFor?.some((r) => r.verb === ctx.verb && r.target === target)) {
              zc.addIssue({
                code: "custom",
                path: [name],
                message: `is required for \`${ctx.verb} --target ${target}\`${def.pattern ? ` (${def.pattern.hint})` : ""}`,
              });
            }
            out[name] = undefined;
          }
          continue;
        }
        if (def.kind === "json" && def.parseJson) {
          // Each problem names its place inside the value: --gates[1].metricName.
          const parsed = def.parseJson(raw);
          if (parsed.ok) out[name] = parsed.value;
          else
            for (const i of parsed.issues) {
              zc.addIssue({ code: "custom", path: [`${name}${i.path}`], message: i.message });
            }
          continue;
        }
        const parsed = parseOptionValue(name, raw);
        if (!parsed.ok) zc.addIssue({ code: "custom", path: [name], message: parsed.message });
        else out[name] = parsed.value;
      }
      return out as Options;
    })
    .superRefine((o, zc) => {
      for (const issue of crossFieldIssues(o, ctx.verb)) {
        zc.addIssue({ code: "custom", path: [issue.field], message: issue.message });
      }
    });
}

/** Why an option cannot be used for this verb, target and front end; undefined when it can. */
export function inapplicable(
  name: OptionName,
  verb: Verb,
  target: Target,
  frontEnd: FrontEnd,
): string | undefined {
  const def: OptionDef = OPTION_DEFS[name];
  if (!optionVerbs(name).includes(verb)) {
    return `not an option of \`${verb}\` (it applies to: ${optionVerbs(name).join(", ")})`;
  }
  if (!optionFrontEnds(name).includes(frontEnd)) return `not available from ${frontEnd}`;
  if (def.targets && !def.targets.includes(target)) {
    return `applies only to --target ${def.targets.join("/")}, not ${target}`;
  }
  return undefined;
}

/** Rules that involve more than one option. Exported for tests and for `plan`. */
export function crossFieldIssues(o: Options, verb: Verb): { field: OptionName; message: string }[] {
  const issues: { field: OptionName; message: string }[] = [];
  if (verb !== "deploy-gray" && verb !== "plan") return issues;
  const d = formatDuration;
  const need = (cond: boolean, field: OptionName, message: string) => {
    if (!cond) issues.push({ field, message });
  };
  if (
    [o.interval, o.bake, o.promotionWindow, o.metricsDelay, o.rollbackWindow].some((v) => v === undefined)
  ) {
    return issues; // already reported as invalid
  }
  need(
    o.bake >= o.promotionWindow + o.metricsDelay,
    "bake",
    `${d(o.bake)} is shorter than the promotion window plus the metrics delay (${d(o.promotionWindow)} + ${d(o.metricsDelay)} = ${d(o.promotionWindow + o.metricsDelay)}): the step would be judged on metrics from before it began; raise --bake or shorten --promotion-window`,
  );
  need(o.bake >= o.interval, "bake", `${d(o.bake)} is shorter than --interval ${d(o.interval)}`);
  need(o.maxBake >= o.bake, "maxBake", `${d(o.maxBake)} is shorter than --bake ${d(o.bake)}`);
  need(
    o.returnBake >= o.rollbackWindow + o.metricsDelay,
    "returnBake",
    `${d(o.returnBake)} is shorter than the rollback window plus the metrics delay (${d(o.rollbackWindow + o.metricsDelay)})`,
  );
  need(
    o.rollbackWindow >= o.metricPeriod,
    "rollbackWindow",
    `${d(o.rollbackWindow)} is shorter than one metric period (${d(o.metricPeriod)})`,
  );
  need(
    o.promotionWindow >= o.metricPeriod,
    "promotionWindow",
    `${d(o.promotionWindow)} is shorter than one metric period (${d(o.metricPeriod)})`,
  );
  need(
    o.rollbackWindow % o.metricPeriod === 0,
    "rollbackWindow",
    `${d(o.rollbackWindow)} is not a whole number of metric periods (${d(o.metricPeriod)})`,
  );
  need(
    o.promotionWindow % o.metricPeriod === 0,
    "promotionWindow",
    `${d(o.promotionWindow)} is not a whole number of metric periods (${d(o.metricPeriod)})`,
  );
  if (o.target === "aws" && o.endpoint === undefined) {
    need(
      o.metricPeriod % 60_000 === 0,
      "metricPeriod",
      `${d(o.metricPeriod)} is not a multiple of 60s: ALB metrics in CloudWatch have one-minute periods (shorter periods are for emulators, with --endpoint)`,
    );
    need(o.interval >= 5000, "interval", `${d(o.interval)} would poll AWS too often: use 5s or more`);
  }
  need(
    o.promoteErrorRate <= o.rollbackErrorRate,
    "promoteErrorRate",
    `must not exceed --rollback-error-rate (a step could pass with an error rate that rolls it back)`,
  );
  need(
    o.promoteP95 <= o.rollbackP99,
    "promoteP95",
    `${d(o.promoteP95)} exceeds --rollback-p99 ${d(o.rollbackP99)}: a passing step could be rolled back`,
  );
  const zabbixGates = o.gates.filter((g) => g.metric.source === "zabbix").map((g) => g.name);
  if (zabbixGates.length > 0) {
    const which = `gate(s) ${zabbixGates.join(", ")} read Zabbix`;
    need(o.zabbixUrl !== undefined, "zabbixUrl", `is required: ${which} (or set GRAY_DEPLOY_ZABBIX_URL)`);
    need(
      o.zabbixToken !== undefined,
      "zabbixToken",
      `is required: ${which}; set GRAY_DEPLOY_ZABBIX_TOKEN (a secret: not as a flag)`,
    );
  }
  if (o.returnSteps.length > 0 && o.returnSteps[o.returnSteps.length - 1] !== 100) {
    issues.push({ field: "returnSteps", message: "the last return step must be 100" });
  }
  for (const gate of o.approveBefore) {
    if (gate === "promotion") continue;
    const w = Number(gate);
    if (!/^\d+$/.test(gate) || !o.steps.includes(w)) {
      issues.push({
        field: "approveBefore",
        message: `"${gate}" is neither one of the steps (${o.steps.join(", ")}) nor "promotion"`,
      });
    }
  }
  if (o.target === "aws" && o.region !== undefined) {
    for (const field of ["listenerArn", "ruleArn", "stableTargetGroupArn", "grayTargetGroupArn"] as const) {
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
    if (o.stableTargetGroupArn !== undefined && o.stableTargetGroupArn === o.grayTargetGroupArn) {
      issues.push({
        field: "grayTargetGroupArn",
        message: "is the same target group as --stable-target-group-arn",
      });
    }
    if (o.stableAsg !== undefined && o.stableAsg === o.grayAsg) {
      issues.push({ field: "grayAsg", message: "is the same Auto Scaling group as --stable-asg" });
    }
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
  }
  return issues;
}

function closest(key: string): OptionName | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  const k = norm(key);
  let best: OptionName | undefined;
  let bestDist = 3;
  for (const name of OPTION_NAMES) {
    const dist = levenshtein(k, norm(name));
    if (dist < bestDist) {
      best = name;
      bestDist = dist;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The scope a rollout locks: the rule when the weights live in one, else the listener; `local` locally. */
export function rolloutScope(o: Pick<Options, "target" | "ruleArn" | "listenerArn">): string {
  if (o.target === "local") return "local";
  return o.ruleArn ?? o.listenerArn ?? "unknown";
}
