/**
 * The real AwsApi: one SDK v3 client per service, all pointed at `endpoint` when given, credentials
 * from the standard chain or an assumed role that refreshes itself, the SDK's standard retry
 * strategy (exponential backoff with jitter on throttling, 5xx and network errors, never on client
 * errors), every error mapped to the contract's typed errors (errors.ts), and a counter of calls and
 * attempts per operation (for the API-call budget reports).
 */
import type { DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { toGrayDeployError } from "../contract/errors.js";
import { AWS_USER_AGENT } from "../contract/identity.js";
import { systemClock } from "../engine/clock.js";
import { RETRY, retry } from "../engine/retry.js";
import type { AwsApi, Call } from "./api.js";
import { mapAwsError } from "./errors.js";
import sdk from "./sdk.cjs";

// The SDK through require (sdk.cjs says why).
const {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  CreateOrUpdateTagsCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  DescribePoliciesCommand,
  ResumeProcessesCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} = sdk.autoScaling;
const { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, ListMetricsCommand } = sdk.cloudWatch;
const {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateContinuousBackupsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} = sdk.dynamoDb;
const {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} = sdk.ec2;
const { DescribeImagesCommand, ECRClient } = sdk.ecr;
const {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  ModifyRuleCommand,
} = sdk.elb;
const { InvokeCommand, LambdaClient } = sdk.lambda;
const { fromTemporaryCredentials, fromTokenFile } = sdk.credentialProviders;

/** Calls per operation since creation: `operations` counts API calls, `attempts` HTTP requests (retries included). */
export interface CallCounts {
  readonly operations: Readonly<Record<string, number>>;
  readonly attempts: Readonly<Record<string, number>>;
  readonly totalOperations: number;
  readonly totalAttempts: number;
}

export class CallCounter {
  readonly #operations = new Map<string, number>();
  readonly #attempts = new Map<string, number>();

  operation(name: string): void {
    this.#operations.set(name, (this.#operations.get(name) ?? 0) + 1);
  }

  attempt(name: string): void {
    this.#attempts.set(name, (this.#attempts.get(name) ?? 0) + 1);
  }

  snapshot(): CallCounts {
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    return {
      operations: Object.fromEntries(this.#operations),
      attempts: Object.fromEntries(this.#attempts),
      totalOperations: sum(this.#operations),
      totalAttempts: sum(this.#attempts),
    };
  }

  /** What happened between `before` and now. */
  since(before: CallCounts): CallCounts {
    const now = this.snapshot();
    const diff = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>) =>
      Object.fromEntries(
        Object.entries(a)
          .map(([k, v]) => [k, v - (b[k] ?? 0)] as const)
          .filter(([, v]) => v > 0),
      );
    return {
      operations: diff(now.operations, before.operations),
      attempts: diff(now.attempts, before.attempts),
      totalOperations: now.totalOperations - before.totalOperations,
      totalAttempts: now.totalAttempts - before.totalAttempts,
    };
  }
}

export interface AwsConnectionOptions {
  readonly region: string;
  /** Every client talks to this endpoint (an emulator) instead of AWS. */
  readonly endpoint?: string | undefined;
  /** Assume this role for every call; with AWS_WEB_IDENTITY_TOKEN_FILE set, by web identity (CI OIDC). */
  readonly roleArn?: string | undefined;
  /** Explicit credentials (tests); otherwise the standard chain or `roleArn`. Never logged. */
  readonly credentials?: DynamoDBClientConfig["credentials"] | undefined;
  /** Attempts per call including the first (SDK standard retry strategy). Default 5. */
  readonly maxAttempts?: number;
  /** Per-request timeout. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Environment for the web-identity token file. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Receives one line per failed attempt that the SDK will retry (throttling, 5xx, network). */
  readonly log?: (line: string) => void;
  /** The time, for the assumed role's session name. Default: the system clock. */
  readonly now?: () => number;
}

export interface AwsConnection {
  readonly api: AwsApi;
  readonly calls: CallCounter;
  readonly region: string;
  readonly endpoint: string | undefined;
  /** Closes every client's sockets. Idempotent. */
  destroy(): void;
}

/** IAM's service prefix per SDK client name (for `service:Operation` in errors and counts). */
const IAM_PREFIX: Readonly<Record<string, string>> = {
  ElasticLoadBalancingV2Client: "elasticloadbalancing",
  AutoScalingClient: "autoscaling",
  EC2Client: "ec2",
  CloudWatchClient: "cloudwatch",
  DynamoDBClient: "dynamodb",
  ECRClient: "ecr",
  LambdaClient: "lambda",
};

function credentialsFor(o: AwsConnectionOptions): AwsConnectionOptions["credentials"] {
  if (o.credentials !== undefined) return o.credentials;
  if (o.roleArn === undefined) return undefined; // the SDK's default chain
  const env = o.env ?? process.env;
  const session = `gray-deploy-${process.pid}-${(o.now ?? systemClock().now)().toString(36)}`;
  const stsConfig = {
    region: o.region,
    customUserAgent: AWS_USER_AGENT,
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
  };
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE;
  // Both providers re-assume the role shortly before the session expires, so a rollout longer than one
  // role session keeps working.
  if (tokenFile !== undefined && tokenFile !== "") {
    return fromTokenFile({
      roleArn: o.roleArn,
      webIdentityTokenFile: tokenFile,
      roleSessionName: session,
      clientConfig: stsConfig,
    });
  }
  return fromTemporaryCredentials({
    params: { RoleArn: o.roleArn, RoleSessionName: session, DurationSeconds: 3600 },
    clientConfig: stsConfig,
  });
}

interface SdkClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  destroy(): void;
  middlewareStack: {
    add(
      mw: (
        next: (args: unknown) => Promise<unknown>,
        context: Record<string, unknown>,
      ) => (args: unknown) => Promise<unknown>,
      options: {
        step: "initialize" | "deserialize";
        name: string;
        override?: boolean;
        priority?: "high" | "normal" | "low";
      },
    ): void;
  };
}

/**
 * The calls sent again after the SDK's attempts ran out (RETRY.awsRead): reads only, which change
 * nothing. Writes are not: a write repeated late could land after another process took the rollout
 * over; the engine retries its own writes where it knows they are idempotent (verified weight writes,
 * preparing the release, sizing gray). CloudWatch reads are not either (see RETRY.awsRead).
 */
const REPEATABLE = /^(elasticloadbalancing|autoscaling|ec2|dynamodb|ecr):(Describe|Get|List)/;

const RETRYABLE_ATTEMPT =
  /Throttl|TooManyRequests|RequestLimitExceeded|SlowDown|ECONN|ETIMEDOUT|EPIPE|socket|Timeout/i;

function instrument(
  client: SdkClient,
  clientName: string,
  calls: CallCounter,
  log: ((line: string) => void) | undefined,
  maxAttempts: number,
): void {
  const prefix = IAM_PREFIX[clientName] ?? clientName;
  const nameOf = (context: Record<string, unknown>) =>
    `${prefix}:${String(context.commandName ?? "Unknown").replace(/Command$/, "")}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.operation(nameOf(context));
      return next(args);
    },
    { step: "initialize", name: "grayDeployCountOperations", override: true },
  );
  // The deserialize step runs once per HTTP attempt (the retry middleware sits before it). High
  // priority puts this middleware outside the SDK's deserializer: only there does an AWS error
  // answer (throttling, 5xx) surface as a thrown error — inside it, the attempt is a plain HTTP
  // response and a failed attempt was counted but never logged.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.attempt(nameOf(context));
      // The context lives as long as the operation: it counts this operation's attempts.
      const attempt = ((context.grayDeployAttempt as number | undefined) ?? 0) + 1;
      context.grayDeployAttempt = attempt;
      try {
        return await next(args);
      } catch (e) {
        const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
        const status = err.$metadata?.httpStatusCode;
        if (log && (RETRYABLE_ATTEMPT.test(String(err.name)) || (status !== undefined && status >= 500))) {
          log(
            `AWS ${nameOf(context)}: attempt ${attempt}/${maxAttempts} failed (${err.name ?? "error"}${status ? ` ${status}` : ""}); ${attempt < maxAttempts ? "the SDK retries with backoff" : "no attempt left"}`,
          );
        }
        throw e;
      }
    },
    { step: "deserialize", name: "grayDeployCountAttempts", override: true, priority: "high" },
  );
}

export function createAwsApi(o: AwsConnectionOptions): AwsConnection {
  // The SDK warns on every run under Node 20 that SDK releases from 2027 will need Node 22. The
  // versions here are pinned and support Node 20, so in a pipeline's log the warning only misleads.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const calls = new CallCounter();
  const credentials = credentialsFor(o);
  const base = {
    region: o.region,
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
    ...(credentials === undefined ? {} : { credentials }),
    maxAttempts: o.maxAttempts ?? 5,
    retryMode: "standard",
    customUserAgent: AWS_USER_AGENT,
    requestHandler: { requestTimeout: o.requestTimeoutMs ?? 30_000, connectionTimeout: 5000 },
  };
  const clients: SdkClient[] = [];
  const make = <C>(Ctor: new (config: typeof base) => C, name: string, config = base): C => {
    const client = new Ctor(config);
    instrument(client as unknown as SdkClient, name, calls, o.log, base.maxAttempts);
    clients.push(client as unknown as SdkClient);
    return client;
  };
  const elb = make(ElasticLoadBalancingV2Client, "ElasticLoadBalancingV2Client");
  const asg = make(AutoScalingClient, "AutoScalingClient");
  const ec2 = make(EC2Client, "EC2Client");
  const cw = make(CloudWatchClient, "CloudWatchClient");
  const ddb = make(DynamoDBClient, "DynamoDBClient");
  const ecrByRegion = new Map<string, InstanceType<typeof ECRClient>>();
  const lambdaByRegion = new Map<string, InstanceType<typeof LambdaClient>>();

  // One wrapper per command: maps errors to the contract's errors and passes the AbortSignal on. A
  // read (REPEATABLE) whose SDK attempts all failed retryably is sent again (RETRY.awsRead).
  const clock = systemClock();
  const call = <I, O>(
    client: unknown,
    operation: string,
    Command: new (...args: never[]) => unknown,
  ): Call<I, O> => {
    const once: Call<I, O> = async (input, signal) => {
      try {
        const command = new (Command as new (input: I) => unknown)(input);
        return (await (client as SdkClient).send(
          command,
          signal === undefined ? undefined : { abortSignal: signal },
        )) as O;
      } catch (e) {
        throw mapAwsError(e, operation, signal);
      }
    };
    if (!REPEATABLE.test(operation)) return once;
    return (input, signal) =>
      retry(RETRY.awsRead, () => once(input, signal), {
        clock,
        signal,
        onFailure: (f) => {
          if (f.nextDelayMs !== null)
            o.log?.(
              `AWS ${operation}: out of SDK attempts (${toGrayDeployError(f.error).message}); sent again in ${f.nextDelayMs} ms (a read is safe to repeat)`,
            );
        },
      });
  };

  const api: AwsApi = {
    elb: {
      describeListeners: call(elb, "elasticloadbalancing:DescribeListeners", DescribeListenersCommand),
      describeLoadBalancers: call(
        elb,
        "elasticloadbalancing:DescribeLoadBalancers",
        DescribeLoadBalancersCommand,
      ),
      describeRules: call(elb, "elasticloadbalancing:DescribeRules", DescribeRulesCommand),
      describeTargetGroups: call(
        elb,
        "elasticloadbalancing:DescribeTargetGroups",
        DescribeTargetGroupsCommand,
      ),
      describeTargetGroupAttributes: call(
        elb,
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        DescribeTargetGroupAttributesCommand,
      ),
      describeTargetHealth: call(
        elb,
        "elasticloadbalancing:DescribeTargetHealth",
        DescribeTargetHealthCommand,
      ),
      modifyRule: call(elb, "elasticloadbalancing:ModifyRule", ModifyRuleCommand),
      modifyListener: call(elb, "elasticloadbalancing:ModifyListener", ModifyListenerCommand),
    },
    autoScaling: {
      describeAutoScalingGroups: call(
        asg,
        "autoscaling:DescribeAutoScalingGroups",
        DescribeAutoScalingGroupsCommand,
      ),
      updateAutoScalingGroup: call(asg, "autoscaling:UpdateAutoScalingGroup", UpdateAutoScalingGroupCommand),
      suspendProcesses: call(asg, "autoscaling:SuspendProcesses", SuspendProcessesCommand),
      resumeProcesses: call(asg, "autoscaling:ResumeProcesses", ResumeProcessesCommand),
      createOrUpdateTags: call(asg, "autoscaling:CreateOrUpdateTags", CreateOrUpdateTagsCommand),
      deleteTags: call(asg, "autoscaling:DeleteTags", DeleteTagsCommand),
      startInstanceRefresh: call(asg, "autoscaling:StartInstanceRefresh", StartInstanceRefreshCommand),
      describeInstanceRefreshes: call(
        asg,
        "autoscaling:DescribeInstanceRefreshes",
        DescribeInstanceRefreshesCommand,
      ),
      cancelInstanceRefresh: call(asg, "autoscaling:CancelInstanceRefresh", CancelInstanceRefreshCommand),
      rollbackInstanceRefresh: call(
        asg,
        "autoscaling:RollbackInstanceRefresh",
        RollbackInstanceRefreshCommand,
      ),
      describePolicies: call(asg, "autoscaling:DescribePolicies", DescribePoliciesCommand),
    },
    ec2: {
      describeLaunchTemplates: call(ec2, "ec2:DescribeLaunchTemplates", DescribeLaunchTemplatesCommand),
      describeLaunchTemplateVersions: call(
        ec2,
        "ec2:DescribeLaunchTemplateVersions",
        DescribeLaunchTemplateVersionsCommand,
      ),
      createLaunchTemplateVersion: call(
        ec2,
        "ec2:CreateLaunchTemplateVersion",
        CreateLaunchTemplateVersionCommand,
      ),
    },
    cloudWatch: {
      getMetricData: call(cw, "cloudwatch:GetMetricData", GetMetricDataCommand),
      describeAlarms: call(cw, "cloudwatch:DescribeAlarms", DescribeAlarmsCommand),
      listMetrics: call(cw, "cloudwatch:ListMetrics", ListMetricsCommand),
    },
    dynamo: {
      getItem: call(ddb, "dynamodb:GetItem", GetItemCommand),
      updateItem: call(ddb, "dynamodb:UpdateItem", UpdateItemCommand),
      describeTable: call(ddb, "dynamodb:DescribeTable", DescribeTableCommand),
      createTable: call(ddb, "dynamodb:CreateTable", CreateTableCommand),
      describeTimeToLive: call(ddb, "dynamodb:DescribeTimeToLive", DescribeTimeToLiveCommand),
      updateTimeToLive: call(ddb, "dynamodb:UpdateTimeToLive", UpdateTimeToLiveCommand),
      describeContinuousBackups: call(
        ddb,
        "dynamodb:DescribeContinuousBackups",
        DescribeContinuousBackupsCommand,
      ),
      updateContinuousBackups: call(ddb, "dynamodb:UpdateContinuousBackups", UpdateContinuousBackupsCommand),
    },
    ecr: (region) => {
      let client = ecrByRegion.get(region);
      if (client === undefined) {
        client = make(ECRClient, "ECRClient", { ...base, region });
        ecrByRegion.set(region, client);
      }
      return { describeImages: call(client, "ecr:DescribeImages", DescribeImagesCommand) };
    },
    lambda: (region) => {
      let client = lambdaByRegion.get(region);
      if (client === undefined) {
        // One attempt per call: a hook is retried by its own policy (RETRY.hookCall), and an SDK
        // retry of Invoke would run the function again behind the hook's back. A hook may take up to
        // its own timeout (60 s at most): the request timeout leaves it that long.
        client = make(LambdaClient, "LambdaClient", {
          ...base,
          region,
          maxAttempts: 1,
          requestHandler: { requestTimeout: 65_000, connectionTimeout: 5000 },
        });
        lambdaByRegion.set(region, client);
      }
      return { invoke: call(client, "lambda:InvokeFunction", InvokeCommand) };
    },
  };

  let destroyed = false;
  return {
    api,
    calls,
    region: o.region,
    endpoint: o.endpoint,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const c of clients) c.destroy();
    },
  };
}
