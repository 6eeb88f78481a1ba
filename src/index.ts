/**
 * Gray (canary) deployments on AWS ALB + Auto Scaling, gated by real metrics, with automatic rollback.
 *
 * `deploy-gray` builds and publishes the service (or takes `--image`), moves traffic to it in weighted
 * steps (5 → 25 → 50 → 100 by default) while it compares its errors and latency with fixed limits and
 * with the stable version, then promotes it by a rolling update of the stable fleet or rolls back on
 * its own. `--target local` rehearses the same rollout with real traffic on an embedded environment.
 *
 * Arguments are the `gray-deploy` CLI's options in camelCase. An option two or more functions take is
 * the module's, given before the function (`dagger call --target local --bake 5m deploy-gray`); the
 * rest are the function's own. Durations take units (500ms, 30s, 5m), rates a fraction or a percentage
 * (0.02, 2%). A promoted or paused rollout returns its Outcome as JSON; any other outcome fails the
 * call. A function sees none of the caller's environment, files or localhost: credentials are Secrets,
 * a service on the caller's machine a Service, and `--source` is uploaded only when given.
 */
import type { Container, Directory, File, Secret, Service } from "@dagger.io/dagger";
import { argument, func, object } from "@dagger.io/dagger";
import { engineServices } from "./dagger/engine.js";
import type { OptionArgs } from "./dagger/options.js";
import { GrayDeployService, type ModuleServices, type VerbCall } from "./dagger/service.js";
import { moduleCall, moduleState } from "./dagger/state.js";

/** Gray deployments gated by metrics, on AWS ALB + Auto Scaling or on a local environment. */
@object()
export class GrayDeploy {
  // The module's arguments, kept for the next function (the engine restores declared fields; undecorated,
  // they are not exposed): the option values as one JSON text, the File, Service and Secrets by reference.
  options?: string;
  config?: File;
  endpointService?: Service;
  awsAccessKeyId?: Secret;
  awsSecretAccessKey?: Secret;
  awsSessionToken?: Secret;
  webIdentityToken?: Secret;
  smokeHeader?: Secret;
  zabbixToken?: Secret;
  notifyWebhook?: Secret;
  checkSecrets?: Secret;

  constructor(
    /** Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws. Default local. */
    target?: string,
    /** A JSON or YAML file with any of these options (camelCase keys); flags override it. So does an argument equal to its default. A function leaves out the keys it does not take. */
    config?: File,
    /** Who starts, promotes or aborts the rollout, recorded in the state and reports. */
    startedBy?: string,
    /** The container image of the new version, preferably digest-qualified (…@sha256:…). On AWS it replaces the image reference in the launch template's user data. Default gray-deploy/sample-gateway:next on local. Without it on AWS, deploy-gray builds --source and deploys the digest pushed to --repository. */
    image?: string,
    /** The source commit of the release, recorded in the rollout state and reports. Also the tag publish and deploy-gray push (its first 12 characters) when --tag is not given. */
    commit?: string,
    /** Load generated through the local load balancer during the rollout. Unit: requests/s. Local target only. Default 200. */
    rps?: number,
    /** Local stable fleet size (processes); gray's size follows the capacity rule. Local target only. Default 4. */
    instances?: number,
    /** Fault injection: share of the new version's requests that answer 500. Local target only. Default 0%. */
    grayErrorRate?: string,
    /** Fault injection: latency added to every request of the new version. Unit: ms. Local target only. Default 0. */
    grayLatencyMs?: number,
    /** Fault injection: the new version exits right after it starts. Local target only. */
    grayCrash?: boolean,
    /** Share of requests that fail in both versions (the service's own baseline, not the release's fault). Local target only. Default 0%. */
    baselineErrorRate?: string,
    /** Fault injection: the new version declines every payment (HTTP 200, status declined) while its health checks and GETs stay fine: only a synthetic charge or a business gate sees it. Local target only. */
    grayPaymentFault?: boolean,
    /** With --pilot-header or --pilot-cookie: the share of the generated load sent by chosen customers (carrying the header or cookie). Local target only. Default 10%. */
    pilotShare?: string,
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /** Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). Inside the engine, localhost is the function's container: for an endpoint on your machine use --endpoint-service. AWS only. */
    endpoint?: string,
    /** An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack), as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it over HTTP through the engine's tunnel. Instead of --endpoint. AWS only. */
    endpointService?: Service,
    /** An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with --web-identity-token (OIDC from CI) or the access keys (a function has no credentials of its own). AWS only. */
    roleArn?: string,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; they cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /** An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with AssumeRoleWithWebIdentity and renewed during long rollouts. */
    webIdentityToken?: Secret,
    /** The ALB listener whose traffic is split. Without --rule-arn its default action holds the weighted forward. AWS only. */
    listenerArn?: string,
    /** The listener rule holding the weighted forward action (the Terraform module creates it). Also the rollout's lock key when given. AWS only. */
    ruleArn?: string,
    /** The target group of the stable Auto Scaling group. AWS only. */
    stableTargetGroupArn?: string,
    /** The target group of the gray Auto Scaling group. AWS only. */
    grayTargetGroupArn?: string,
    /** The stable Auto Scaling group; promotion moves it to the new launch template version. AWS only. */
    stableAsg?: string,
    /** The gray Auto Scaling group that runs the new version during the rollout. AWS only. */
    grayAsg?: string,
    /** The launch template (id or name) both groups use; a release is a new numbered version of it. AWS only. */
    launchTemplate?: string,
    /** Also change the launch template's AMI in the new version. AWS only. */
    ami?: string,
    /** The DynamoDB table holding rollout state and the lock (created by the Terraform module or `gray-deploy bootstrap`). AWS only. */
    stateTable?: string,
    /** The chosen-customers rule the Terraform module creates (pilot_rule_arn), evaluated before the weighted rule and forwarding to stable until the rollout's first step switches it to gray. Given, that step comes first; a rollback switches it back first. AWS only. */
    pilotRuleArn?: string,
    /** CloudWatch alarm names used as extra gates: any alarm in ALARM state fails the step. Up to 10 also watch promotion's instance refresh (its AlarmSpecification, with AutoRollback). AWS only. */
    alarms?: string[],
    /** The header (`Name: value`) the smoke rule routes straight to gray; given, smoke checks run through the load balancer before any customer reaches gray. A secret, never printed: prefer GRAY_DEPLOY_SMOKE_HEADER. AWS only. A Secret here: env:GRAY_DEPLOY_SMOKE_HEADER. */
    smokeHeader?: Secret,
    /** Base URL of the smoke checks (default: the load balancer's DNS name and the listener's protocol and port). AWS only. */
    smokeUrl?: string,
    /** Paths the smoke checks GET through the smoke route, each starting with /. AWS only. Default /health. */
    smokePaths?: string[],
    /** HTTP statuses a smoke check accepts. AWS only. Default 200. */
    smokeStatuses?: string[],
    /** Business-metric gates on CloudWatch or Zabbix metrics, judged at every step like the built-in ones: a list of {name, source, the metric, one rule of max/min/ratio/test, minSamples, window, maxErrors} (README "Business-metric gates"). A YAML list in --config; a JSON object or list per --gates, repeatable. Here: one string holding the JSON list (or put `gates:` in --config). */
    gates?: string,
    /** The Zabbix API (api_jsonrpc.php, or the frontend's URL ending in /) that gates with source zabbix read. */
    zabbixUrl?: string,
    /** The Zabbix API token of gates with source zabbix (read-only user suffices). A secret, never printed: prefer GRAY_DEPLOY_ZABBIX_TOKEN. A Secret here: env:GRAY_DEPLOY_ZABBIX_TOKEN. */
    zabbixToken?: Secret,
    /** Deadline of one Zabbix read (all its API calls); a Zabbix slower than this is a measurement error of its gates, never a pass. Default 10s. */
    zabbixTimeout?: string,
    /** Gray's traffic weight at each step, in percent: strictly increasing, each 1 to 100, ending at 100. Default 5,25,50,100. */
    steps?: string,
    /** Manual gates: step weights (e.g. 50) and/or `promotion` before which the rollout pauses until `gray-deploy promote`. */
    approveBefore?: string[],
    /** How often the engine observes metrics and health while a step bakes. Default 30s on aws, 1s on local. */
    interval?: string,
    /** The minimum time at each step before it may pass; at least the promotion window plus the metrics delay. Default 12m on aws, 13s on local. */
    bake?: string,
    /** How long a step may be extended while its analysis is inconclusive, before the rollout pauses or rolls back (--on-inconclusive). Default 30m on aws, 30s on local. */
    maxBake?: string,
    /** The trailing window the rollback gates evaluate (the seed's 5 minutes on AWS). Default 5m on aws, 10s on local. */
    rollbackWindow?: string,
    /** The trailing window a step must pass over before it advances (the seed's 10 minutes on AWS). Default 10m on aws, 12s on local. */
    promotionWindow?: string,
    /** Granularity of the metric source: 60s for ALB metrics; shorter only against an emulator or locally. Default 60s on aws, 1s on local. */
    metricPeriod?: string,
    /** How far behind now metrics are complete; windows end this long ago (CloudWatch: 1 to 3 minutes). Default 2m on aws, 1s on local. */
    metricsDelay?: string,
    /** After promotion refreshes the stable fleet, stable's weight at each step back (analysed like the forward steps), ending at 100. Default 50,100. */
    returnSteps?: string,
    /** Minimum time at each return step; at least the rollback window plus the metrics delay. Default 7m on aws, 11s on local. */
    returnBake?: string,
    /** What to do when a step stays inconclusive until --max-bake: pause for a person, or roll back. One of: pause, rollback. Default pause. */
    onInconclusive?: string,
    /** Minimum gray instances at any step (gray's capacity otherwise follows its weight). Default 1. */
    minGrayCapacity?: number,
    /** Deadline for new instances to become healthy in their target group. Default 10m on aws, 30s on local. */
    healthyTimeout?: string,
    /** Instance refresh warm-up during promotion: how long a new stable instance serves before the next is replaced. Default 5m on aws, 0s on local. */
    instanceWarmup?: string,
    /** Instance refresh floor during promotion: percentage of stable capacity kept in service. Unit: %. Default 90. */
    refreshMinHealthy?: number,
    /** A paused rollout with traffic on gray longer than this is rolled back by the guard. Default 1h. */
    maxPause?: string,
    /** A running rollout renews its lock this often; a rollout silent for longer may be taken over. Default 2m on aws, 30s on local. */
    lockLease?: string,
    /** Synthetic transactions sent straight to gray through the load balancer's header route, before the first customer reaches it (any failure rolls back) and every --synthetic-interval during each step (a gate: synthetic:<name>): a list of {name, method, path, headers, secretHeaders, body, expect: {status, json}} (README "Payment-grade checks"). Secrets by environment variable NAME only. Local default: one sandbox PIX charge. Here: one string holding the JSON list; secrets in --check-secrets. Default [{"name":"pix-charge","method":"POST","path":"/v1/payments","body":{"amount":100,"currency":"BRL","method":"pix","sandbox":true,"description":"gray-deploy {rolloutId}"},"expect":{"status":201,"json":["$.status == \"approved\""]}}] on local. */
    synthetic?: string,
    /** How often the synthetic transactions run against gray while a step bakes (a low rate on purpose). Default 30s on aws, 2s on local. */
    syntheticInterval?: string,
    /** Lifecycle hooks at pre-traffic, before-step, before-promotion, after-promotion and on-rollback: a list of {name, stage(s), url + secretEnv (a signed POST) or lambda (a function to invoke), timeout, retries, waitUpTo, pollEvery, onFailure} (README "Lifecycle hooks"). 2xx passes, 409/423 waits, anything else fails. Here: one string holding the JSON list; signing keys in --check-secrets. */
    hooks?: string,
    /** Gates judged and reported but never blocking or failing a step (to calibrate a new gate on real rollouts): custom:<gate>, synthetic:<transaction>, alarms, relative-error-rate, sequential-error-rate, relative-latency. */
    observeGates?: string[],
    /** A first step for chosen customers: requests carrying this header (`Name: value`) go to gray before any percentage step. On AWS the Terraform module's pilot rule holds it (--pilot-rule-arn); given there, it is checked against the rule. */
    pilotHeader?: string,
    /** Like --pilot-header, for requests carrying this cookie (`name=value`); on an ALB it is a Cookie header condition `*name=value*`. */
    pilotCookie?: string,
    /** The secrets --synthetic and --hooks name (secretHeaders' env, a hook's secretEnv), as NAME=value lines (a dotenv text), e.g. file:./check-secrets.env. Never printed. */
    checkSecrets?: Secret,
    /** Roll back when gray's 5xx rate over the rollback window is above this. Default 2%. */
    rollbackErrorRate?: string,
    /** Roll back when gray's p99 latency over the rollback window is above this. Default 2s. */
    rollbackP99?: string,
    /** Roll back when more than this many gray instances fail health checks (no healthy gray at all always fails). Default 1. */
    rollbackUnhealthy?: number,
    /** A step passes only while gray's 5xx rate over the promotion window is below this. Default 1%. */
    promoteErrorRate?: string,
    /** A step passes only while gray's p95 latency over the promotion window is below this. Default 500ms. */
    promoteP95?: string,
    /** Minimum gray requests in the promotion window before a step can pass; less is inconclusive. Default 100. */
    minRequests?: number,
    /** Evidence for the rollback limits: a window's error rate or p99 is judged once the limit means at least this many events in it (10: 500 requests at 2%, 1,000 for a p99); before that only an overwhelming excess (p < 0.1%) rolls back. 0 judges every window. Default 10. */
    evidenceEvents?: number,
    /** Significance level of the tests that gray is worse than stable over the same window, in error rate or in p95/p99 latency (a fail rolls back). Default 0.1%. */
    relativeSignificance?: string,
    /** Gray must be worse than stable by more than this (in error rate) before the relative gate fails. Default 0.5%. */
    relativeErrorMargin?: string,
    /** Relative latency gate: gray's p95 and p99 may exceed stable's by this fraction (plus --latency-slack). Default 50%. */
    latencyTolerance?: string,
    /** Relative latency gate: absolute allowance added to stable's p95 and p99 before gray is judged slower. Default 50ms. */
    latencySlack?: string,
    /** Sequential error-rate test: it compares all of gray's traffic since its first request with stable's at every observation and rolls back at most this share of releases no worse than --sequential-tolerance, over the whole rollout; 0 switches it off. Default 1%. */
    sequentialAlpha?: string,
    /** Sequential error-rate test: gray counts as bad only when its error rate is more than this much above stable's (25% = 1.25× stable's). Default 25%. */
    sequentialTolerance?: string,
    /** What the built-in error-rate and latency gates, the relative tests and the sequential test read: `alb`, the load balancer's per-target-group metrics (60 s periods, minutes late on AWS), or `service`, the service's own high-resolution metrics (--service-*), read at --service-period and --service-delay, with the load balancer's 5xx kept on as a guard. One of: alb, service. Default alb. */
    signal?: string,
    /** --signal service: the period the service's metrics are read at: 1s, 5s, 10s, 20s, 30s or a multiple of 60s (CloudWatch's periods for high-resolution metrics). Default 10s on aws, 1s on local. */
    servicePeriod?: string,
    /** --signal service: how far behind now the service's metrics are complete (the publisher's flush plus CloudWatch's ingestion). Default 15s on aws, 1s on local. */
    serviceDelay?: string,
    /** --signal service: the CloudWatch namespace the service publishes its metrics in. Default GrayDeploy/Service. */
    serviceNamespace?: string,
    /** --signal service: the metric counting the requests the service answered (its Sum). Default Requests. */
    serviceRequests?: string,
    /** --signal service: the metric counting the 5xx answers (its Sum), published every period, also when 0. Default Errors. */
    serviceErrors?: string,
    /** --signal service: the metric of response times, one value per request (Values/Counts or EMF), for p95 and p99. Default Latency. */
    serviceLatency?: string,
    /** --signal service: the unit the service publishes its response times in. One of: milliseconds, seconds. Default milliseconds. */
    serviceLatencyUnit?: string,
    /** --signal service: the dimensions of the service's metrics, `Name={placeholder}` pairs: {asg} is the pool's Auto Scaling group, {version} the launch template version it runs (fixed values allowed, e.g. Service=gateway). Default AutoScalingGroupName={asg}. */
    serviceDimensions?: string[],
    /** Rehearse a peak: the load climbs linearly from --rps to this rate over the forward steps' planned bake (steps × --bake), then stays there until the rollout ends. Unit: requests/s. Local target only. */
    rpsRamp?: number,
    /** Requests per second one local instance serves; above it requests queue and latency rises, as on a saturated machine. Stable's local autoscaling tracks 60% of it per instance, as a target-tracking policy on requests per instance would. Unit: requests/s. Local target only. Default 200. */
    instanceCapacity?: number,
    /** How gray is sized while it carries traffic: `follow` re-sizes gray at every evaluation so that a gray instance carries no more requests than a stable one (ceil(stable's current desired capacity × w ÷ (100 − w)) at gray's weight w, the whole load by stable's per-instance target at 100%, within gray's MaxSize), while stable is held at the size of the whole load when its scaling policy tracks requests per instance, changing a size only when the difference persists; `fixed` sizes gray once per step from stable's starting capacity. One of: follow, fixed. Default follow. */
    grayCapacity?: string,
    /** With --gray-capacity follow: how long a change of the load must persist before a fleet grows to follow it; shrinking waits three times as long. Default 1m on aws, 2s on local. */
    followLoadDelay?: string,
    /** After the 100% step passes, keep the previous version on the stable fleet at full capacity, serving 0%, this long before the instance refresh starts; a rollback meanwhile is one verified weight write. The rollback criteria keep being judged. 0 (the default): off. Default 0s. */
    keepPrevious?: string,
    /** How long after promotion `gray-deploy rollback-release` may put the previous version back (recorded with the rollout; outside it the verb refuses). Default 24h. */
    rollbackReleaseWindow?: string,
    /** Promotion's instance refresh pauses when this share of stable is replaced (CheckpointPercentages, e.g. 50,100) and bakes --refresh-checkpoint-delay at each checkpoint, the rollout's alarms still watching. AWS only. */
    refreshCheckpoints?: string,
    /** With --refresh-checkpoints: the bake at each checkpoint of promotion's instance refresh (CheckpointDelay). AWS only. Default 10m. */
    refreshCheckpointDelay?: string,
    /** POST each phase change and the outcome as JSON (Slack-compatible `text`). Treated as a secret. */
    notifyWebhook?: Secret,
    /** Why the operator aborts or approves, recorded in the state and reports. */
    reason?: string,
  ) {
    // biome-ignore format: the constructor's arguments in their order, one name each (not one per line)
    Object.assign(this, moduleState({
      target, config, startedBy, image, commit, rps, instances, grayErrorRate, grayLatencyMs, grayCrash,
      baselineErrorRate, region, endpoint, endpointService, roleArn, awsAccessKeyId, awsSecretAccessKey,
      awsSessionToken, webIdentityToken, listenerArn, ruleArn, stableTargetGroupArn, grayTargetGroupArn,
      stableAsg, grayAsg, launchTemplate, ami, stateTable, alarms, smokeHeader, smokeUrl, smokePaths,
      smokeStatuses, gates, zabbixUrl, zabbixToken, zabbixTimeout, steps, approveBefore, interval, bake,
      maxBake, rollbackWindow, promotionWindow, metricPeriod, metricsDelay, returnSteps, returnBake,
      onInconclusive, minGrayCapacity, healthyTimeout, instanceWarmup, refreshMinHealthy, maxPause, lockLease,
      rollbackErrorRate, rollbackP99, rollbackUnhealthy, promoteErrorRate, promoteP95, minRequests,
      evidenceEvents, relativeSignificance, relativeErrorMargin, latencyTolerance, latencySlack,
      sequentialAlpha, sequentialTolerance, signal, servicePeriod, serviceDelay, serviceNamespace,
      serviceRequests, serviceErrors, serviceLatency, serviceLatencyUnit, serviceDimensions, rpsRamp,
      instanceCapacity, grayCapacity, followLoadDelay, keepPrevious, rollbackReleaseWindow, refreshCheckpoints,
      refreshCheckpointDelay, notifyWebhook, reason, grayPaymentFault, pilotShare, pilotRuleArn, synthetic,
      syntheticInterval, hooks, observeGates, pilotHeader, pilotCookie, checkSecrets,
    }));
  }

  /**
   * Build a container image of a service from its source directory and Dockerfile.
   *
   * Example: `dagger call build --source examples/sample-gateway`
   */
  @func()
  build(
    /** The service's source directory (build context), e.g. --source . (VCS data, node_modules and .terraform are left out). */
    @argument({ ignore: [".git", "**/node_modules", ".dagger", "**/.terraform"] })
    source: Directory,
    /** Path of the Dockerfile inside the source directory. */
    dockerfile = "Dockerfile",
    /** Platform to build for, such as linux/amd64 or linux/arm64. Default: the engine's platform. */
    platform?: string,
    /** Build arguments, each NAME=value. */
    buildArgs: string[] = [],
    /** The Dockerfile stage to build. Default: the last stage. */
    buildTarget?: string,
  ): Container {
    return this.service().build({ source, dockerfile, platform, buildArgs, target: buildTarget });
  }

  /**
   * Build the service and push it to Amazon ECR (login through GetAuthorizationToken); returns the digest-qualified reference.
   *
   * Reaches AWS with the module's --region, --endpoint or --endpoint-service, --role-arn and credentials.
   *
   * Example: `dagger call --region sa-east-1 --aws-access-key-id env:AWS_ACCESS_KEY_ID --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY publish --source . --repository payments/gateway`
   */
  @func({ cache: "never" })
  async publish(
    /** The ECR repository: a name in the account's registry (payments/gateway) or a full reference without tag. */
    repository: string,
    /** The service's source directory (build context), e.g. --source . (VCS data, node_modules and .terraform are left out). */
    @argument({ ignore: [".git", "**/node_modules", ".dagger", "**/.terraform"] })
    source: Directory,
    /** The image tag to push. Default: the module's --commit (first 12 characters) when given, else build-<UTC time>. */
    tag?: string,
    /** Path of the Dockerfile inside the source directory. */
    dockerfile = "Dockerfile",
    /** Platform to build for, such as linux/amd64 or linux/arm64. Default: the engine's platform. */
    platform?: string,
    /** Build arguments, each NAME=value. */
    buildArgs: string[] = [],
    /** The Dockerfile stage to build. Default: the last stage. */
    buildTarget?: string,
  ): Promise<string> {
    const build = { source, dockerfile, platform, buildArgs, target: buildTarget };
    return this.service().publish({ ...build, repository, tag }, this.call());
  }

  /**
   * Roll a new version out through weighted gray steps, analysing metrics at every step; promote it or roll back on its own.
   *
   * Returns the Outcome as JSON when promoted or paused (at a manual gate, or inconclusive); fails with the outcome and its reason otherwise. Without --image on AWS, builds --source and pushes it to --repository first, then deploys that digest. What to deploy and how (--image, --steps, --bake, the thresholds, the AWS resources, the local environment's faults) are the module's options, given before deploy-gray: `dagger call --help` lists them.
   *
   * Example: `dagger call --target local --gray-error-rate 5% deploy-gray`
   */
  @func({ cache: "never" })
  async deployGray(
    /** If a paused or stale rollout holds the lock, abort it first (saying so) instead of refusing. */
    supersede?: boolean,
    /** The service's source directory, built and pushed when --image is not given (AWS); nothing is uploaded without it. */
    @argument({ ignore: [".git", "**/node_modules", ".dagger", "**/.terraform"] })
    source?: Directory,
    /** The ECR repository to push the build to (needed on AWS without --image): payments/gateway, or a full reference without tag. */
    repository?: string,
    /** The image tag to push. Default: the module's --commit (first 12 characters) when given, else build-<UTC time>. */
    tag?: string,
    /** Path of the Dockerfile inside the source directory. */
    dockerfile = "Dockerfile",
    /** Platform to build for, such as linux/amd64 or linux/arm64. Default: the engine's platform. */
    platform?: string,
    /** Build arguments, each NAME=value. */
    buildArgs: string[] = [],
    /** The Dockerfile stage to build. Default: the last stage. */
    buildTarget?: string,
  ): Promise<string> {
    const build = { source, repository, tag, dockerfile, platform, buildArgs, target: buildTarget };
    return this.service().deployGray({ ...this.call({ supersede }), build });
  }

  /**
   * Where the rollout of this load balancer stands: phase, step, weights, last decision and its evidence.
   *
   * Returns the stored rollout's Outcome as JSON whatever it is (`in-progress` while another process runs it); fails only when it cannot be read.
   *
   * Example: `dagger call --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN status`
   */
  @func({ cache: "never" })
  async status(): Promise<string> {
    return this.service().status(this.call());
  }

  /**
   * The stored rollout's report, as the CLI's --report-dir writes it: report.md (the summary CI shows), report.json and timeline.svg.
   *
   * Rendered from the durable rollout state, so a later CI job gets it after any outcome, even when deploy-gray failed.
   *
   * Example: `dagger call --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN report export --path gray-deploy-report`
   */
  @func({ cache: "never" })
  async report(): Promise<Directory> {
    return this.service().report(this.call());
  }

  /**
   * Continue a paused rollout (pass its manual gate, accept an inconclusive step, or retry a failed promotion); --full skips the remaining steps.
   *
   * Returns the Outcome as JSON when promoted or paused again; fails with the outcome and its reason otherwise. The module's --reason and --started-by are recorded with the approval.
   *
   * Example: `dagger call --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN --reason "dashboards look fine" promote`
   */
  @func({ cache: "never" })
  async promote(
    /** Skip the remaining steps and promote now (the 100% analysis and the return steps still run). */
    full?: boolean,
  ): Promise<string> {
    return this.service().promote(this.call({ full }));
  }

  /**
   * Back to stable 100% now (one verified write), then clean up; the rollout ends as aborted.
   *
   * An abort that succeeds ends in the outcome `aborted`, which fails the call (exit code 5 in the CLI) with the reason; a rollout that cannot be restored fails as `rollback-failed`.
   *
   * Example: `dagger call --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN --reason "customer reports" abort`
   */
  @func({ cache: "never" })
  async abort(): Promise<string> {
    return this.service().abort(this.call());
  }

  /**
   * After a promotion, put the previous release back: gray up on it, smoke-tested, all traffic to it in one verified write, stable refreshed back, traffic returned (within --rollback-release-window; in a keep-previous window, abort's one write).
   *
   * Returns the Outcome as JSON when restored; fails with the outcome and its reason otherwise (refused outside its window, without a promoted release, or while a rollout runs).
   *
   * Example: `dagger call --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN --reason "settlement mismatch" rollback-release`
   */
  @func({ cache: "never" })
  async rollbackRelease(): Promise<string> {
    return this.service().rollbackRelease(this.call());
  }

  /**
   * Dry run: check the environment and print what deploy-gray would change, changing nothing.
   *
   * Returns the plan as JSON: the checks made, the steps with gray's capacity and bake, the thresholds, the changes, the estimated duration and any blockers. It reads the module's options as deploy-gray does.
   *
   * Example: `dagger call --target local --steps 10,50,100 --bake 20s plan`
   */
  @func({ cache: "never" })
  async plan(): Promise<string> {
    return this.service().plan(this.call());
  }

  /**
   * Create the DynamoDB table that holds rollout state and the lock (idempotent), as `gray-deploy bootstrap` does.
   *
   * Example: `dagger call --target aws --region sa-east-1 --state-table gray-deploy-state --aws-access-key-id env:AWS_ACCESS_KEY_ID --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY bootstrap`
   */
  @func({ cache: "never" })
  async bootstrap(): Promise<string> {
    return this.service().bootstrap(this.call());
  }

  /** A function's call: the module's arguments, with the function's own options. */
  private call(own: OptionArgs = {}): VerbCall {
    return moduleCall(this, own);
  }

  /** The operations behind the functions; tests override `services()` to replace the engine-touching parts. */
  protected service(): GrayDeployService {
    return new GrayDeployService(this.services());
  }

  /** The engine-touching parts of a call (container builds, pushes, AWS, processes). */
  protected services(): ModuleServices {
    return engineServices();
  }
}
