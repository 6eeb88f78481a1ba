/**
 * Gray (canary) deployments on AWS ALB + Auto Scaling, gated by real metrics, with automatic rollback.
 *
 * `deploy-gray` builds and publishes the service (or takes `--image`), then moves traffic to the new
 * version step by step (5 → 25 → 50 → 100 by default), analysing its errors and latency against fixed
 * limits and against the stable version at every step; it promotes the release by a rolling update
 * of the stable fleet, or rolls back on its own. `--target local` rehearses the same rollout on an
 * embedded environment with real traffic, no AWS account needed.
 *
 * Arguments are the options of the `gray-deploy` CLI in camelCase, so flags read the same in both:
 * `gray-deploy deploy-gray --bake 5m` is `dagger call deploy-gray --bake 5m`. Durations take units
 * (500ms, 30s, 5m), rates a fraction or a percentage (0.02, 2%), steps a list of weights (5,25,50,100).
 *
 * Results: the rollout's Outcome as JSON when it is promoted or paused; every other outcome
 * (rolled-back, aborted, refused, rollback-failed, failed) fails the call, with the outcome and its
 * reason in the error, so `dagger call` exits non-zero. CI branches on `.outcome` of the JSON.
 *
 * `--source` is the service's build context, always passed explicitly (`--source .`, or `source:` in
 * code): nothing is uploaded from the caller's machine or from this module's repository unless a
 * function builds. Inside the engine a function runs in its own container: it sees no host
 * environment, files, ~/.aws or localhost of the caller; credentials arrive as Secrets and a service
 * on the caller's machine as a Service (`--endpoint-service tcp://localhost:4566`).
 */
import {
  argument,
  type Container,
  type Directory,
  type File,
  func,
  object,
  type Secret,
  type Service,
} from "@dagger.io/dagger";
import { engineServices } from "./dagger/engine.js";
import { GrayDeployService, type ModuleServices } from "./dagger/service.js";

/** Gray deployments gated by metrics, on AWS ALB + Auto Scaling or on a local environment. */
@object()
export class GrayDeploy {
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
   * Example: `dagger call publish --source . --repository payments/gateway --region sa-east-1 --aws-access-key-id env:AWS_ACCESS_KEY_ID --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY`
   */
  @func({ cache: "never" })
  async publish(
    /** The ECR repository: a name in the account's registry (payments/gateway) or a full reference without tag. */
    repository: string,
    /** The service's source directory (build context), e.g. --source . (VCS data, node_modules and .terraform are left out). */
    @argument({ ignore: [".git", "**/node_modules", ".dagger", "**/.terraform"] })
    source: Directory,
    /** The image tag to push. Default: the commit (first 12 characters) when given, else build-<UTC time>. */
    tag?: string,
    /** The source commit; names the tag when --tag is not given. */
    commit?: string,
    /** Path of the Dockerfile inside the source directory. */
    dockerfile = "Dockerfile",
    /** Platform to build for, such as linux/amd64 or linux/arm64. Default: the engine's platform. */
    platform?: string,
    /** Build arguments, each NAME=value. */
    buildArgs: string[] = [],
    /** The Dockerfile stage to build. Default: the last stage. */
    buildTarget?: string,
    /** The AWS region of the ECR registry. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint.
     */
    endpointService?: Service,
    /** An IAM role to assume (with --web-identity-token, or with the access keys). */
    roleArn?: string,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<string> {
    return this.service().publish(
      {
        source,
        dockerfile,
        platform,
        buildArgs,
        target: buildTarget,
        repository,
        tag,
        region,
        endpoint,
        endpointService,
        roleArn,
      },
      { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
      commit,
    );
  }

  /**
   * Roll a new version out through weighted gray steps, analysing metrics at every step; promote it or roll back on its own.
   *
   * Returns the Outcome as JSON when promoted or paused (at a manual gate, or inconclusive); fails with the outcome and its reason otherwise. Without --image on AWS, builds --source and pushes it to --repository first, then deploys that digest.
   *
   * Example: `dagger call deploy-gray --target local --gray-error-rate 5%`
   */
  @func({ cache: "never" })
  async deployGray(
    /**
     * Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on
     * this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws.
     */
    target = "local",
    /**
     * The container image of the new version, preferably digest-qualified (…@sha256:…). On AWS it
     * replaces the image reference in the launch template's user data. Default
     * gray-deploy/sample-gateway:next on local. On AWS without it, --source is built and pushed to
     * --repository, and that digest is deployed.
     */
    image?: string,
    /** The source commit of the release, recorded in the rollout state and reports. */
    commit?: string,
    /** Who starts, promotes or aborts the rollout, recorded in the state and reports. */
    startedBy?: string,
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service. AWS only.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint. AWS only.
     */
    endpointService?: Service,
    /**
     * An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with
     * --web-identity-token (OIDC from CI) or with the access keys: a function's container has no AWS
     * credentials of its own (no host environment, ~/.aws or instance profile). AWS only.
     */
    roleArn?: string,
    /**
     * The ALB listener whose traffic is split. Without --rule-arn its default action holds the
     * weighted forward. AWS only.
     */
    listenerArn?: string,
    /**
     * The listener rule holding the weighted forward action (the Terraform module creates it). Also
     * the rollout's lock key when given. AWS only.
     */
    ruleArn?: string,
    /** The target group of the stable Auto Scaling group. AWS only. */
    stableTargetGroupArn?: string,
    /** The target group of the gray Auto Scaling group. AWS only. */
    grayTargetGroupArn?: string,
    /** The stable Auto Scaling group; promotion moves it to the new launch template version. AWS only. */
    stableAsg?: string,
    /** The gray Auto Scaling group that runs the new version during the rollout. AWS only. */
    grayAsg?: string,
    /**
     * The launch template (id or name) both groups use; a release is a new numbered version of it. AWS
     * only.
     */
    launchTemplate?: string,
    /** Also change the launch template's AMI in the new version. AWS only. */
    ami?: string,
    /**
     * The DynamoDB table holding rollout state and the lock (created by the Terraform module or
     * `gray-deploy bootstrap`). AWS only.
     */
    stateTable?: string,
    /** CloudWatch alarm names used as extra gates: any alarm in ALARM state fails the step. AWS only. */
    alarms?: string[],
    /**
     * Business-metric gates on CloudWatch or Zabbix metrics, judged at every step like the built-in
     * ones: a list of {name, source, the metric, one rule of max/min/ratio/test, minSamples, window,
     * maxErrors} (README "Business-metric gates"). A YAML list in --config; a JSON object or list per
     * --gates, repeatable. AWS only. Here: one string holding the JSON list (or put `gates:` in
     * --config).
     */
    gates?: string,
    /**
     * The Zabbix API (api_jsonrpc.php, or the frontend's URL ending in /) that gates with source
     * zabbix read. AWS only.
     */
    zabbixUrl?: string,
    /**
     * The Zabbix API token of gates with source zabbix (read-only user suffices). A secret, never
     * printed: prefer GRAY_DEPLOY_ZABBIX_TOKEN. AWS only. A Secret here: env:GRAY_DEPLOY_ZABBIX_TOKEN.
     */
    zabbixToken?: Secret,
    /**
     * Deadline of one Zabbix read (all its API calls); a Zabbix slower than this is a measurement
     * error of its gates, never a pass. AWS only.
     */
    zabbixTimeout = "10s",
    /**
     * The header (`Name: value`) the smoke rule routes straight to gray; given, smoke checks run
     * through the load balancer before any customer reaches gray. A secret, never printed: prefer
     * GRAY_DEPLOY_SMOKE_HEADER. AWS only. A Secret here: env:GRAY_DEPLOY_SMOKE_HEADER.
     */
    smokeHeader?: Secret,
    /**
     * Base URL of the smoke checks (default: the load balancer's DNS name and the listener's protocol
     * and port). AWS only.
     */
    smokeUrl?: string,
    /** Paths the smoke checks GET through the smoke route, each starting with /. AWS only. */
    smokePaths: string[] = ["/health"],
    /** HTTP statuses a smoke check accepts. AWS only. */
    smokeStatuses: string[] = ["200"],
    /**
     * Gray's traffic weight at each step, in percent: strictly increasing, each 1 to 100, ending at
     * 100.
     */
    steps = "5,25,50,100",
    /**
     * Manual gates: step weights (e.g. 50) and/or `promotion` before which the rollout pauses until
     * `gray-deploy promote`.
     */
    approveBefore?: string[],
    /**
     * How often the engine observes metrics and health while a step bakes. Default 30s on aws, 1s on
     * local.
     */
    interval?: string,
    /**
     * The minimum time at each step before it may pass; at least the promotion window plus the metrics
     * delay. Default 12m on aws, 13s on local.
     */
    bake?: string,
    /**
     * How long a step may be extended while its analysis is inconclusive, before the rollout pauses or
     * rolls back (--on-inconclusive). Default 30m on aws, 30s on local.
     */
    maxBake?: string,
    /**
     * The trailing window the rollback gates evaluate (the seed's 5 minutes on AWS). Default 5m on
     * aws, 10s on local.
     */
    rollbackWindow?: string,
    /**
     * The trailing window a step must pass over before it advances (the seed's 10 minutes on AWS).
     * Default 10m on aws, 12s on local.
     */
    promotionWindow?: string,
    /**
     * Granularity of the metric source: 60s for ALB metrics; shorter only against an emulator or
     * locally. Default 60s on aws, 1s on local.
     */
    metricPeriod?: string,
    /**
     * How far behind now metrics are complete; windows end this long ago (CloudWatch: 1 to 3 minutes).
     * Default 2m on aws, 1s on local.
     */
    metricsDelay?: string,
    /**
     * After promotion refreshes the stable fleet, stable's weight at each step back (analysed like the
     * forward steps), ending at 100.
     */
    returnSteps = "50,100",
    /**
     * Minimum time at each return step; at least the rollback window plus the metrics delay. Default
     * 7m on aws, 11s on local.
     */
    returnBake?: string,
    /**
     * What to do when a step stays inconclusive until --max-bake: pause for a person, or roll back.
     * One of: pause, rollback.
     */
    onInconclusive = "pause",
    /** Minimum gray instances at any step (gray's capacity otherwise follows its weight). */
    minGrayCapacity = 1,
    /**
     * Deadline for new instances to become healthy in their target group. Default 10m on aws, 30s on
     * local.
     */
    healthyTimeout?: string,
    /**
     * Instance refresh warm-up during promotion: how long a new stable instance serves before the next
     * is replaced. Default 5m on aws, 0s on local.
     */
    instanceWarmup?: string,
    /** Instance refresh floor during promotion: percentage of stable capacity kept in service. Unit: %. */
    refreshMinHealthy = 90,
    /** A paused rollout with traffic on gray longer than this is rolled back by the guard. */
    maxPause = "1h",
    /**
     * A running rollout renews its lock this often; a rollout silent for longer may be taken over.
     * Default 2m on aws, 30s on local.
     */
    lockLease?: string,
    /** Roll back when gray's 5xx rate over the rollback window is above this. */
    rollbackErrorRate = "2%",
    /** Roll back when gray's p99 latency over the rollback window is above this. */
    rollbackP99 = "2s",
    /**
     * Roll back when more than this many gray instances fail health checks (no healthy gray at all
     * always fails).
     */
    rollbackUnhealthy = 1,
    /** A step passes only while gray's 5xx rate over the promotion window is below this. */
    promoteErrorRate = "1%",
    /** A step passes only while gray's p95 latency over the promotion window is below this. */
    promoteP95 = "500ms",
    /** Minimum gray requests in the promotion window before a step can pass; less is inconclusive. */
    minRequests = 100,
    /**
     * Evidence for the rollback limits: a window's error rate or p99 is judged once the limit means at
     * least this many events in it (10: 500 requests at 2%, 1,000 for a p99); before that only an
     * overwhelming excess (p < 0.1%) rolls back. 0 judges every window.
     */
    evidenceEvents = 10,
    /**
     * Significance level of the tests that gray is worse than stable over the same window, in error
     * rate or in p95/p99 latency (a fail rolls back).
     */
    relativeSignificance = "0.1%",
    /** Gray must be worse than stable by more than this (in error rate) before the relative gate fails. */
    relativeErrorMargin = "0.5%",
    /** Relative latency gate: gray's p95 and p99 may exceed stable's by this fraction (plus --latency-slack). */
    latencyTolerance = "50%",
    /** Relative latency gate: absolute allowance added to stable's p95 and p99 before gray is judged slower. */
    latencySlack = "50ms",
    /**
     * Sequential error-rate test: it compares all of gray's traffic since its first request with
     * stable's at every observation and rolls back at most this share of releases no worse than
     * --sequential-tolerance, over the whole rollout; 0 switches it off.
     */
    sequentialAlpha = "1%",
    /**
     * Sequential error-rate test: gray counts as bad only when its error rate is more than this much
     * above stable's (25% = 1.25× stable's).
     */
    sequentialTolerance = "25%",
    /**
     * Load generated through the local load balancer during the rollout. Unit: requests/s. Local
     * target only.
     */
    rps = 200,
    /** Local stable fleet size (processes); gray's size follows the capacity rule. Local target only. */
    instances = 4,
    /** Fault injection: share of the new version's requests that answer 500. Local target only. */
    grayErrorRate = "0%",
    /** Fault injection: latency added to every request of the new version. Unit: ms. Local target only. */
    grayLatencyMs = 0,
    /** Fault injection: the new version exits right after it starts. Local target only. */
    grayCrash = false,
    /**
     * Share of requests that fail in both versions (the service's own baseline, not the release's
     * fault). Local target only.
     */
    baselineErrorRate = "0%",
    /**
     * A JSON or YAML file with any of these options (camelCase keys); flags override it. A flag equal
     * to its default does not: Dagger cannot tell it from an omitted one.
     */
    config?: File,
    /** POST each phase change and the outcome as JSON (Slack-compatible `text`). Treated as a secret. */
    notifyWebhook?: Secret,
    /** If a paused or stale rollout holds the lock, abort it first (saying so) instead of refusing. */
    supersede = false,
    /** The service's source directory, built and pushed when --image is not given (AWS); nothing is uploaded without it. */
    @argument({ ignore: [".git", "**/node_modules", ".dagger", "**/.terraform"] })
    source?: Directory,
    /** The ECR repository to push the build to (needed on AWS without --image): payments/gateway, or a full reference without tag. */
    repository?: string,
    /** The image tag to push. Default: the commit (first 12 characters) when given, else build-<UTC time>. */
    tag?: string,
    /** Path of the Dockerfile inside the source directory. */
    dockerfile = "Dockerfile",
    /** Platform to build for, such as linux/amd64 or linux/arm64. Default: the engine's platform. */
    platform?: string,
    /** Build arguments, each NAME=value. */
    buildArgs: string[] = [],
    /** The Dockerfile stage to build. Default: the last stage. */
    buildTarget?: string,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<string> {
    return this.service().deployGray({
      options: {
        target,
        image,
        commit,
        startedBy,
        region,
        endpoint,
        roleArn,
        listenerArn,
        ruleArn,
        stableTargetGroupArn,
        grayTargetGroupArn,
        stableAsg,
        grayAsg,
        launchTemplate,
        ami,
        stateTable,
        alarms,
        gates,
        zabbixUrl,
        zabbixTimeout,
        smokeUrl,
        smokePaths,
        smokeStatuses,
        steps,
        approveBefore,
        interval,
        bake,
        maxBake,
        rollbackWindow,
        promotionWindow,
        metricPeriod,
        metricsDelay,
        returnSteps,
        returnBake,
        onInconclusive,
        minGrayCapacity,
        healthyTimeout,
        instanceWarmup,
        refreshMinHealthy,
        maxPause,
        lockLease,
        rollbackErrorRate,
        rollbackP99,
        rollbackUnhealthy,
        promoteErrorRate,
        promoteP95,
        minRequests,
        evidenceEvents,
        relativeSignificance,
        relativeErrorMargin,
        latencyTolerance,
        latencySlack,
        sequentialAlpha,
        sequentialTolerance,
        rps,
        instances,
        grayErrorRate,
        grayLatencyMs,
        grayCrash,
        baselineErrorRate,
        supersede,
      },
      config,
      endpointService,
      sensitive: { notifyWebhook, smokeHeader, zabbixToken },
      secrets: { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
      build: { source, repository, tag, dockerfile, platform, buildArgs, target: buildTarget },
    });
  }

  /**
   * Where the rollout of this load balancer stands: phase, step, weights, last decision and its evidence.
   *
   * Returns the stored rollout's Outcome as JSON whatever it is (`in-progress` while another process runs it); fails only when it cannot be read.
   *
   * Example: `dagger call status --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN`
   */
  @func({ cache: "never" })
  async status(
    /**
     * Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on
     * this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws.
     */
    target = "local",
    /** Who starts, promotes or aborts the rollout, recorded in the state and reports. */
    startedBy?: string,
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service. AWS only.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint. AWS only.
     */
    endpointService?: Service,
    /**
     * An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with
     * --web-identity-token (OIDC from CI) or with the access keys: a function's container has no AWS
     * credentials of its own (no host environment, ~/.aws or instance profile). AWS only.
     */
    roleArn?: string,
    /**
     * The ALB listener whose traffic is split. Without --rule-arn its default action holds the
     * weighted forward. AWS only.
     */
    listenerArn?: string,
    /**
     * The listener rule holding the weighted forward action (the Terraform module creates it). Also
     * the rollout's lock key when given. AWS only.
     */
    ruleArn?: string,
    /**
     * The DynamoDB table holding rollout state and the lock (created by the Terraform module or
     * `gray-deploy bootstrap`). AWS only.
     */
    stateTable?: string,
    /**
     * A running rollout renews its lock this often; a rollout silent for longer may be taken over.
     * Default 2m on aws, 30s on local.
     */
    lockLease?: string,
    /**
     * A JSON or YAML file with any of these options (camelCase keys); flags override it. A flag equal
     * to its default does not: Dagger cannot tell it from an omitted one.
     */
    config?: File,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<string> {
    return this.service().status({
      options: { target, startedBy, region, endpoint, roleArn, listenerArn, ruleArn, stateTable, lockLease },
      config,
      endpointService,
      secrets: { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
    });
  }

  /**
   * The stored rollout's report, as the CLI's --report-dir writes it: report.md (the summary CI shows), report.json and timeline.svg.
   *
   * Rendered from the durable rollout state, so a later CI job gets it after any outcome, even when deploy-gray failed.
   *
   * Example: `dagger call report --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN export --path gray-deploy-report`
   */
  @func({ cache: "never" })
  async report(
    /**
     * Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on
     * this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws.
     */
    target = "local",
    /** Who starts, promotes or aborts the rollout, recorded in the state and reports. */
    startedBy?: string,
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service. AWS only.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint. AWS only.
     */
    endpointService?: Service,
    /**
     * An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with
     * --web-identity-token (OIDC from CI) or with the access keys: a function's container has no AWS
     * credentials of its own (no host environment, ~/.aws or instance profile). AWS only.
     */
    roleArn?: string,
    /**
     * The ALB listener whose traffic is split. Without --rule-arn its default action holds the
     * weighted forward. AWS only.
     */
    listenerArn?: string,
    /**
     * The listener rule holding the weighted forward action (the Terraform module creates it). Also
     * the rollout's lock key when given. AWS only.
     */
    ruleArn?: string,
    /**
     * The DynamoDB table holding rollout state and the lock (created by the Terraform module or
     * `gray-deploy bootstrap`). AWS only.
     */
    stateTable?: string,
    /**
     * A running rollout renews its lock this often; a rollout silent for longer may be taken over.
     * Default 2m on aws, 30s on local.
     */
    lockLease?: string,
    /**
     * A JSON or YAML file with any of these options (camelCase keys); flags override it. A flag equal
     * to its default does not: Dagger cannot tell it from an omitted one.
     */
    config?: File,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<Directory> {
    return this.service().report({
      options: { target, startedBy, region, endpoint, roleArn, listenerArn, ruleArn, stateTable, lockLease },
      config,
      endpointService,
      secrets: { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
    });
  }

  /**
   * Continue a paused rollout (pass its manual gate, accept an inconclusive step, or retry a failed promotion); --full skips the remaining steps.
   *
   * Returns the Outcome as JSON when promoted or paused again; fails with the outcome and its reason otherwise.
   *
   * Example: `dagger call promote --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --reason "dashboards look fine" --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN`
   */
  @func({ cache: "never" })
  async promote(
    /**
     * Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on
     * this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws.
     */
    target = "local",
    /** Who starts, promotes or aborts the rollout, recorded in the state and reports. */
    startedBy?: string,
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service. AWS only.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint. AWS only.
     */
    endpointService?: Service,
    /**
     * An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with
     * --web-identity-token (OIDC from CI) or with the access keys: a function's container has no AWS
     * credentials of its own (no host environment, ~/.aws or instance profile). AWS only.
     */
    roleArn?: string,
    /**
     * The ALB listener whose traffic is split. Without --rule-arn its default action holds the
     * weighted forward. AWS only.
     */
    listenerArn?: string,
    /**
     * The listener rule holding the weighted forward action (the Terraform module creates it). Also
     * the rollout's lock key when given. AWS only.
     */
    ruleArn?: string,
    /**
     * The DynamoDB table holding rollout state and the lock (created by the Terraform module or
     * `gray-deploy bootstrap`). AWS only.
     */
    stateTable?: string,
    /**
     * A running rollout renews its lock this often; a rollout silent for longer may be taken over.
     * Default 2m on aws, 30s on local.
     */
    lockLease?: string,
    /**
     * The Zabbix API (api_jsonrpc.php, or the frontend's URL ending in /) that gates with source
     * zabbix read. AWS only.
     */
    zabbixUrl?: string,
    /**
     * The Zabbix API token of gates with source zabbix (read-only user suffices). A secret, never
     * printed: prefer GRAY_DEPLOY_ZABBIX_TOKEN. AWS only. A Secret here: env:GRAY_DEPLOY_ZABBIX_TOKEN.
     */
    zabbixToken?: Secret,
    /**
     * Deadline of one Zabbix read (all its API calls); a Zabbix slower than this is a measurement
     * error of its gates, never a pass. AWS only.
     */
    zabbixTimeout = "10s",
    /**
     * A JSON or YAML file with any of these options (camelCase keys); flags override it. A flag equal
     * to its default does not: Dagger cannot tell it from an omitted one.
     */
    config?: File,
    /** POST each phase change and the outcome as JSON (Slack-compatible `text`). Treated as a secret. */
    notifyWebhook?: Secret,
    /** Skip the remaining steps and promote now (the 100% analysis and the return steps still run). */
    full = false,
    /** Why the operator aborts or approves, recorded in the state and reports. */
    reason?: string,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<string> {
    return this.service().promote({
      options: {
        target,
        startedBy,
        region,
        endpoint,
        roleArn,
        listenerArn,
        ruleArn,
        stateTable,
        lockLease,
        zabbixUrl,
        zabbixTimeout,
        full,
        reason,
      },
      config,
      endpointService,
      sensitive: { notifyWebhook, zabbixToken },
      secrets: { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
    });
  }

  /**
   * Back to stable 100% now (one verified write), then clean up; the rollout ends as aborted.
   *
   * An abort that succeeds ends in the outcome `aborted`, which fails the call (exit code 5 in the CLI) with the reason; a rollout that cannot be restored fails as `rollback-failed`.
   *
   * Example: `dagger call abort --target aws --region sa-east-1 --listener-arn $LISTENER_ARN --state-table gray-deploy-state --reason "customer reports" --role-arn $ROLE_ARN --web-identity-token env:ID_TOKEN`
   */
  @func({ cache: "never" })
  async abort(
    /**
     * Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on
     * this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws.
     */
    target = "local",
    /** Who starts, promotes or aborts the rollout, recorded in the state and reports. */
    startedBy?: string,
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service. AWS only.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint. AWS only.
     */
    endpointService?: Service,
    /**
     * An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with
     * --web-identity-token (OIDC from CI) or with the access keys: a function's container has no AWS
     * credentials of its own (no host environment, ~/.aws or instance profile). AWS only.
     */
    roleArn?: string,
    /**
     * The ALB listener whose traffic is split. Without --rule-arn its default action holds the
     * weighted forward. AWS only.
     */
    listenerArn?: string,
    /**
     * The listener rule holding the weighted forward action (the Terraform module creates it). Also
     * the rollout's lock key when given. AWS only.
     */
    ruleArn?: string,
    /**
     * The DynamoDB table holding rollout state and the lock (created by the Terraform module or
     * `gray-deploy bootstrap`). AWS only.
     */
    stateTable?: string,
    /**
     * A running rollout renews its lock this often; a rollout silent for longer may be taken over.
     * Default 2m on aws, 30s on local.
     */
    lockLease?: string,
    /**
     * A JSON or YAML file with any of these options (camelCase keys); flags override it. A flag equal
     * to its default does not: Dagger cannot tell it from an omitted one.
     */
    config?: File,
    /** POST each phase change and the outcome as JSON (Slack-compatible `text`). Treated as a secret. */
    notifyWebhook?: Secret,
    /** Why the operator aborts or approves, recorded in the state and reports. */
    reason?: string,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<string> {
    return this.service().abort({
      options: {
        target,
        startedBy,
        region,
        endpoint,
        roleArn,
        listenerArn,
        ruleArn,
        stateTable,
        lockLease,
        reason,
      },
      config,
      endpointService,
      sensitive: { notifyWebhook },
      secrets: { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
    });
  }

  /**
   * Dry run: check the environment and print what deploy-gray would change, changing nothing.
   *
   * Returns the plan as JSON: the checks made, the steps with gray's capacity and bake, the thresholds, the changes, the estimated duration and any blockers.
   *
   * Example: `dagger call plan --target local --steps 10,50,100 --bake 20s`
   */
  @func({ cache: "never" })
  async plan(
    /**
     * Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on
     * this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws.
     */
    target = "local",
    /**
     * The container image of the new version, preferably digest-qualified (…@sha256:…). On AWS it
     * replaces the image reference in the launch template's user data. Default
     * gray-deploy/sample-gateway:next on local.
     */
    image?: string,
    /** The source commit of the release, recorded in the rollout state and reports. */
    commit?: string,
    /** Who starts, promotes or aborts the rollout, recorded in the state and reports. */
    startedBy?: string,
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service. AWS only.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint. AWS only.
     */
    endpointService?: Service,
    /**
     * An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with
     * --web-identity-token (OIDC from CI) or with the access keys: a function's container has no AWS
     * credentials of its own (no host environment, ~/.aws or instance profile). AWS only.
     */
    roleArn?: string,
    /**
     * The ALB listener whose traffic is split. Without --rule-arn its default action holds the
     * weighted forward. AWS only.
     */
    listenerArn?: string,
    /**
     * The listener rule holding the weighted forward action (the Terraform module creates it). Also
     * the rollout's lock key when given. AWS only.
     */
    ruleArn?: string,
    /** The target group of the stable Auto Scaling group. AWS only. */
    stableTargetGroupArn?: string,
    /** The target group of the gray Auto Scaling group. AWS only. */
    grayTargetGroupArn?: string,
    /** The stable Auto Scaling group; promotion moves it to the new launch template version. AWS only. */
    stableAsg?: string,
    /** The gray Auto Scaling group that runs the new version during the rollout. AWS only. */
    grayAsg?: string,
    /**
     * The launch template (id or name) both groups use; a release is a new numbered version of it. AWS
     * only.
     */
    launchTemplate?: string,
    /** Also change the launch template's AMI in the new version. AWS only. */
    ami?: string,
    /**
     * The DynamoDB table holding rollout state and the lock (created by the Terraform module or
     * `gray-deploy bootstrap`). AWS only.
     */
    stateTable?: string,
    /** CloudWatch alarm names used as extra gates: any alarm in ALARM state fails the step. AWS only. */
    alarms?: string[],
    /**
     * Business-metric gates on CloudWatch or Zabbix metrics, judged at every step like the built-in
     * ones: a list of {name, source, the metric, one rule of max/min/ratio/test, minSamples, window,
     * maxErrors} (README "Business-metric gates"). A YAML list in --config; a JSON object or list per
     * --gates, repeatable. AWS only. Here: one string holding the JSON list (or put `gates:` in
     * --config).
     */
    gates?: string,
    /**
     * The Zabbix API (api_jsonrpc.php, or the frontend's URL ending in /) that gates with source
     * zabbix read. AWS only.
     */
    zabbixUrl?: string,
    /**
     * The Zabbix API token of gates with source zabbix (read-only user suffices). A secret, never
     * printed: prefer GRAY_DEPLOY_ZABBIX_TOKEN. AWS only. A Secret here: env:GRAY_DEPLOY_ZABBIX_TOKEN.
     */
    zabbixToken?: Secret,
    /**
     * Deadline of one Zabbix read (all its API calls); a Zabbix slower than this is a measurement
     * error of its gates, never a pass. AWS only.
     */
    zabbixTimeout = "10s",
    /**
     * The header (`Name: value`) the smoke rule routes straight to gray; given, smoke checks run
     * through the load balancer before any customer reaches gray. A secret, never printed: prefer
     * GRAY_DEPLOY_SMOKE_HEADER. AWS only. A Secret here: env:GRAY_DEPLOY_SMOKE_HEADER.
     */
    smokeHeader?: Secret,
    /**
     * Base URL of the smoke checks (default: the load balancer's DNS name and the listener's protocol
     * and port). AWS only.
     */
    smokeUrl?: string,
    /** Paths the smoke checks GET through the smoke route, each starting with /. AWS only. */
    smokePaths: string[] = ["/health"],
    /** HTTP statuses a smoke check accepts. AWS only. */
    smokeStatuses: string[] = ["200"],
    /**
     * Gray's traffic weight at each step, in percent: strictly increasing, each 1 to 100, ending at
     * 100.
     */
    steps = "5,25,50,100",
    /**
     * Manual gates: step weights (e.g. 50) and/or `promotion` before which the rollout pauses until
     * `gray-deploy promote`.
     */
    approveBefore?: string[],
    /**
     * How often the engine observes metrics and health while a step bakes. Default 30s on aws, 1s on
     * local.
     */
    interval?: string,
    /**
     * The minimum time at each step before it may pass; at least the promotion window plus the metrics
     * delay. Default 12m on aws, 13s on local.
     */
    bake?: string,
    /**
     * How long a step may be extended while its analysis is inconclusive, before the rollout pauses or
     * rolls back (--on-inconclusive). Default 30m on aws, 30s on local.
     */
    maxBake?: string,
    /**
     * The trailing window the rollback gates evaluate (the seed's 5 minutes on AWS). Default 5m on
     * aws, 10s on local.
     */
    rollbackWindow?: string,
    /**
     * The trailing window a step must pass over before it advances (the seed's 10 minutes on AWS).
     * Default 10m on aws, 12s on local.
     */
    promotionWindow?: string,
    /**
     * Granularity of the metric source: 60s for ALB metrics; shorter only against an emulator or
     * locally. Default 60s on aws, 1s on local.
     */
    metricPeriod?: string,
    /**
     * How far behind now metrics are complete; windows end this long ago (CloudWatch: 1 to 3 minutes).
     * Default 2m on aws, 1s on local.
     */
    metricsDelay?: string,
    /**
     * After promotion refreshes the stable fleet, stable's weight at each step back (analysed like the
     * forward steps), ending at 100.
     */
    returnSteps = "50,100",
    /**
     * Minimum time at each return step; at least the rollback window plus the metrics delay. Default
     * 7m on aws, 11s on local.
     */
    returnBake?: string,
    /**
     * What to do when a step stays inconclusive until --max-bake: pause for a person, or roll back.
     * One of: pause, rollback.
     */
    onInconclusive = "pause",
    /** Minimum gray instances at any step (gray's capacity otherwise follows its weight). */
    minGrayCapacity = 1,
    /**
     * Deadline for new instances to become healthy in their target group. Default 10m on aws, 30s on
     * local.
     */
    healthyTimeout?: string,
    /**
     * Instance refresh warm-up during promotion: how long a new stable instance serves before the next
     * is replaced. Default 5m on aws, 0s on local.
     */
    instanceWarmup?: string,
    /** Instance refresh floor during promotion: percentage of stable capacity kept in service. Unit: %. */
    refreshMinHealthy = 90,
    /** A paused rollout with traffic on gray longer than this is rolled back by the guard. */
    maxPause = "1h",
    /**
     * A running rollout renews its lock this often; a rollout silent for longer may be taken over.
     * Default 2m on aws, 30s on local.
     */
    lockLease?: string,
    /** Roll back when gray's 5xx rate over the rollback window is above this. */
    rollbackErrorRate = "2%",
    /** Roll back when gray's p99 latency over the rollback window is above this. */
    rollbackP99 = "2s",
    /**
     * Roll back when more than this many gray instances fail health checks (no healthy gray at all
     * always fails).
     */
    rollbackUnhealthy = 1,
    /** A step passes only while gray's 5xx rate over the promotion window is below this. */
    promoteErrorRate = "1%",
    /** A step passes only while gray's p95 latency over the promotion window is below this. */
    promoteP95 = "500ms",
    /** Minimum gray requests in the promotion window before a step can pass; less is inconclusive. */
    minRequests = 100,
    /**
     * Evidence for the rollback limits: a window's error rate or p99 is judged once the limit means at
     * least this many events in it (10: 500 requests at 2%, 1,000 for a p99); before that only an
     * overwhelming excess (p < 0.1%) rolls back. 0 judges every window.
     */
    evidenceEvents = 10,
    /**
     * Significance level of the tests that gray is worse than stable over the same window, in error
     * rate or in p95/p99 latency (a fail rolls back).
     */
    relativeSignificance = "0.1%",
    /** Gray must be worse than stable by more than this (in error rate) before the relative gate fails. */
    relativeErrorMargin = "0.5%",
    /** Relative latency gate: gray's p95 and p99 may exceed stable's by this fraction (plus --latency-slack). */
    latencyTolerance = "50%",
    /** Relative latency gate: absolute allowance added to stable's p95 and p99 before gray is judged slower. */
    latencySlack = "50ms",
    /**
     * Sequential error-rate test: it compares all of gray's traffic since its first request with
     * stable's at every observation and rolls back at most this share of releases no worse than
     * --sequential-tolerance, over the whole rollout; 0 switches it off.
     */
    sequentialAlpha = "1%",
    /**
     * Sequential error-rate test: gray counts as bad only when its error rate is more than this much
     * above stable's (25% = 1.25× stable's).
     */
    sequentialTolerance = "25%",
    /**
     * Load generated through the local load balancer during the rollout. Unit: requests/s. Local
     * target only.
     */
    rps = 200,
    /** Local stable fleet size (processes); gray's size follows the capacity rule. Local target only. */
    instances = 4,
    /** Fault injection: share of the new version's requests that answer 500. Local target only. */
    grayErrorRate = "0%",
    /** Fault injection: latency added to every request of the new version. Unit: ms. Local target only. */
    grayLatencyMs = 0,
    /** Fault injection: the new version exits right after it starts. Local target only. */
    grayCrash = false,
    /**
     * Share of requests that fail in both versions (the service's own baseline, not the release's
     * fault). Local target only.
     */
    baselineErrorRate = "0%",
    /**
     * A JSON or YAML file with any of these options (camelCase keys); flags override it. A flag equal
     * to its default does not: Dagger cannot tell it from an omitted one.
     */
    config?: File,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<string> {
    return this.service().plan({
      options: {
        target,
        image,
        commit,
        startedBy,
        region,
        endpoint,
        roleArn,
        listenerArn,
        ruleArn,
        stableTargetGroupArn,
        grayTargetGroupArn,
        stableAsg,
        grayAsg,
        launchTemplate,
        ami,
        stateTable,
        alarms,
        gates,
        zabbixUrl,
        zabbixTimeout,
        smokeUrl,
        smokePaths,
        smokeStatuses,
        steps,
        approveBefore,
        interval,
        bake,
        maxBake,
        rollbackWindow,
        promotionWindow,
        metricPeriod,
        metricsDelay,
        returnSteps,
        returnBake,
        onInconclusive,
        minGrayCapacity,
        healthyTimeout,
        instanceWarmup,
        refreshMinHealthy,
        maxPause,
        lockLease,
        rollbackErrorRate,
        rollbackP99,
        rollbackUnhealthy,
        promoteErrorRate,
        promoteP95,
        minRequests,
        evidenceEvents,
        relativeSignificance,
        relativeErrorMargin,
        latencyTolerance,
        latencySlack,
        sequentialAlpha,
        sequentialTolerance,
        rps,
        instances,
        grayErrorRate,
        grayLatencyMs,
        grayCrash,
        baselineErrorRate,
      },
      config,
      endpointService,
      sensitive: { smokeHeader, zabbixToken },
      secrets: { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
    });
  }

  /**
   * Create the DynamoDB table that holds rollout state and the lock (idempotent), as `gray-deploy bootstrap` does.
   *
   * Example: `dagger call bootstrap --target aws --region sa-east-1 --state-table gray-deploy-state --aws-access-key-id env:AWS_ACCESS_KEY_ID --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY`
   */
  @func({ cache: "never" })
  async bootstrap(
    /**
     * Where to deploy: `local` runs the embedded environment (real proxy, processes and traffic on
     * this machine); `aws` drives an ALB, Auto Scaling groups and CloudWatch. One of: local, aws.
     */
    target = "local",
    /** The AWS region of the load balancer and Auto Scaling groups. AWS only. */
    region?: string,
    /**
     * Send every AWS API call to this AWS-compatible endpoint instead of AWS (emulators, tests). It is
     * reached from the function's container inside the Dagger engine, where localhost is that
     * container, not your machine: for an emulator or LocalStack on your machine use
     * --endpoint-service. AWS only.
     */
    endpoint?: string,
    /**
     * An AWS-compatible endpoint running on your machine or in your pipeline (an emulator, LocalStack),
     * as a Dagger Service, e.g. --endpoint-service tcp://localhost:4566: every AWS API call goes to it
     * over HTTP through the engine's tunnel. Instead of --endpoint. AWS only.
     */
    endpointService?: Service,
    /**
     * An IAM role to assume for every AWS call; credentials refresh during long rollouts. Assumed with
     * --web-identity-token (OIDC from CI) or with the access keys: a function's container has no AWS
     * credentials of its own (no host environment, ~/.aws or instance profile). AWS only.
     */
    roleArn?: string,
    /**
     * The DynamoDB table holding rollout state and the lock (created by the Terraform module or
     * `gray-deploy bootstrap`). AWS only.
     */
    stateTable?: string,
    /**
     * A JSON or YAML file with any of these options (camelCase keys); flags override it. A flag equal
     * to its default does not: Dagger cannot tell it from an omitted one.
     */
    config?: File,
    /** AWS access key id, as a Secret (env:AWS_ACCESS_KEY_ID, file:…, op://…, vault://…). */
    awsAccessKeyId?: Secret,
    /** AWS secret access key, as a Secret. */
    awsSecretAccessKey?: Secret,
    /** Session token of temporary access keys, as a Secret; such keys cannot be refreshed: prefer --role-arn. */
    awsSessionToken?: Secret,
    /**
     * An OIDC token from CI (GitHub, GitLab), as a Secret, exchanged for --role-arn's credentials with
     * AssumeRoleWithWebIdentity and renewed during long rollouts.
     */
    webIdentityToken?: Secret,
  ): Promise<string> {
    return this.service().bootstrap({
      options: { target, region, endpoint, roleArn, stateTable },
      config,
      endpointService,
      secrets: { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, webIdentityToken },
    });
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
