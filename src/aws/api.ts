/**
 * The lower of the two AWS layers: `AwsApi` lists exactly the SDK calls gray-deploy makes, one method
 * per call, with the SDK's own input/output types. The domain adapters (router, fleet, metrics, store)
 * are written against this interface only, so a test could fake exactly these calls; gray-deploy's
 * own tests run the real clients against the AWS emulator instead.
 *
 * `createAwsApi` builds the real one: one SDK v3 client per service, all pointed at `endpoint` when
 * given, credentials from the standard chain or an assumed role that refreshes itself, the SDK's
 * standard retry strategy (exponential backoff with jitter on throttling, 5xx and network errors,
 * never on client errors), every error mapped to the contract's typed errors (errors.ts), and a
 * counter of calls and attempts per operation (for the API-call budget reports).
 */
import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  type CancelInstanceRefreshCommandInput,
  type CancelInstanceRefreshCommandOutput,
  CreateOrUpdateTagsCommand,
  type CreateOrUpdateTagsCommandInput,
  type CreateOrUpdateTagsCommandOutput,
  DeleteTagsCommand,
  type DeleteTagsCommandInput,
  type DeleteTagsCommandOutput,
  DescribeAutoScalingGroupsCommand,
  type DescribeAutoScalingGroupsCommandInput,
  type DescribeAutoScalingGroupsCommandOutput,
  DescribeInstanceRefreshesCommand,
  type DescribeInstanceRefreshesCommandInput,
  type DescribeInstanceRefreshesCommandOutput,
  ResumeProcessesCommand,
  type ResumeProcessesCommandInput,
  type ResumeProcessesCommandOutput,
  RollbackInstanceRefreshCommand,
  type RollbackInstanceRefreshCommandInput,
  type RollbackInstanceRefreshCommandOutput,
  StartInstanceRefreshCommand,
  type StartInstanceRefreshCommandInput,
  type StartInstanceRefreshCommandOutput,
  SuspendProcessesCommand,
  type SuspendProcessesCommandInput,
  type SuspendProcessesCommandOutput,
  UpdateAutoScalingGroupCommand,
  type UpdateAutoScalingGroupCommandInput,
  type UpdateAutoScalingGroupCommandOutput,
} from "@aws-sdk/client-auto-scaling";
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandInput,
  type DescribeAlarmsCommandOutput,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
} from "@aws-sdk/client-cloudwatch";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type CreateTableCommandOutput,
  DescribeContinuousBackupsCommand,
  type DescribeContinuousBackupsCommandInput,
  type DescribeContinuousBackupsCommandOutput,
  DescribeTableCommand,
  type DescribeTableCommandInput,
  type DescribeTableCommandOutput,
  DescribeTimeToLiveCommand,
  type DescribeTimeToLiveCommandInput,
  type DescribeTimeToLiveCommandOutput,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  type GetItemCommandInput,
  type GetItemCommandOutput,
  UpdateContinuousBackupsCommand,
  type UpdateContinuousBackupsCommandInput,
  type UpdateContinuousBackupsCommandOutput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
  UpdateTimeToLiveCommand,
  type UpdateTimeToLiveCommandInput,
  type UpdateTimeToLiveCommandOutput,
} from "@aws-sdk/client-dynamodb";
import {
  CreateLaunchTemplateVersionCommand,
  type CreateLaunchTemplateVersionCommandInput,
  type CreateLaunchTemplateVersionCommandOutput,
  DescribeLaunchTemplatesCommand,
  type DescribeLaunchTemplatesCommandInput,
  type DescribeLaunchTemplatesCommandOutput,
  DescribeLaunchTemplateVersionsCommand,
  type DescribeLaunchTemplateVersionsCommandInput,
  type DescribeLaunchTemplateVersionsCommandOutput,
  EC2Client,
} from "@aws-sdk/client-ec2";
import {
  DescribeImagesCommand,
  type DescribeImagesCommandInput,
  type DescribeImagesCommandOutput,
  ECRClient,
} from "@aws-sdk/client-ecr";
import {
  DescribeListenersCommand,
  type DescribeListenersCommandInput,
  type DescribeListenersCommandOutput,
  DescribeLoadBalancersCommand,
  type DescribeLoadBalancersCommandInput,
  type DescribeLoadBalancersCommandOutput,
  DescribeRulesCommand,
  type DescribeRulesCommandInput,
  type DescribeRulesCommandOutput,
  DescribeTargetGroupAttributesCommand,
  type DescribeTargetGroupAttributesCommandInput,
  type DescribeTargetGroupAttributesCommandOutput,
  DescribeTargetGroupsCommand,
  type DescribeTargetGroupsCommandInput,
  type DescribeTargetGroupsCommandOutput,
  DescribeTargetHealthCommand,
  type DescribeTargetHealthCommandInput,
  type DescribeTargetHealthCommandOutput,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  type ModifyListenerCommandInput,
  type ModifyListenerCommandOutput,
  ModifyRuleCommand,
  type ModifyRuleCommandInput,
  type ModifyRuleCommandOutput,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { fromTemporaryCredentials, fromTokenFile } from "@aws-sdk/credential-providers";
import { mapAwsError } from "./errors.js";

type Call<I, O> = (input: I, signal?: AbortSignal) => Promise<O>;

/** Every AWS API call gray-deploy makes. Nothing else is ever sent. */
export interface AwsApi {
  readonly elb: {
    readonly describeListeners: Call<DescribeListenersCommandInput, DescribeListenersCommandOutput>;
    readonly describeLoadBalancers: Call<
      DescribeLoadBalancersCommandInput,
      DescribeLoadBalancersCommandOutput
    >;
    readonly describeRules: Call<DescribeRulesCommandInput, DescribeRulesCommandOutput>;
    readonly describeTargetGroups: Call<DescribeTargetGroupsCommandInput, DescribeTargetGroupsCommandOutput>;
    readonly describeTargetGroupAttributes: Call<
      DescribeTargetGroupAttributesCommandInput,
      DescribeTargetGroupAttributesCommandOutput
    >;
    readonly describeTargetHealth: Call<DescribeTargetHealthCommandInput, DescribeTargetHealthCommandOutput>;
    readonly modifyRule: Call<ModifyRuleCommandInput, ModifyRuleCommandOutput>;
    readonly modifyListener: Call<ModifyListenerCommandInput, ModifyListenerCommandOutput>;
  };
  readonly autoScaling: {
    readonly describeAutoScalingGroups: Call<
      DescribeAutoScalingGroupsCommandInput,
      DescribeAutoScalingGroupsCommandOutput
    >;
    readonly updateAutoScalingGroup: Call<
      UpdateAutoScalingGroupCommandInput,
      UpdateAutoScalingGroupCommandOutput
    >;
    readonly suspendProcesses: Call<SuspendProcessesCommandInput, SuspendProcessesCommandOutput>;
    readonly resumeProcesses: Call<ResumeProcessesCommandInput, ResumeProcessesCommandOutput>;
    readonly createOrUpdateTags: Call<CreateOrUpdateTagsCommandInput, CreateOrUpdateTagsCommandOutput>;
    readonly deleteTags: Call<DeleteTagsCommandInput, DeleteTagsCommandOutput>;
    readonly startInstanceRefresh: Call<StartInstanceRefreshCommandInput, StartInstanceRefreshCommandOutput>;
    readonly describeInstanceRefreshes: Call<
      DescribeInstanceRefreshesCommandInput,
      DescribeInstanceRefreshesCommandOutput
    >;
    readonly cancelInstanceRefresh: Call<
      CancelInstanceRefreshCommandInput,
      CancelInstanceRefreshCommandOutput
    >;
    readonly rollbackInstanceRefresh: Call<
      RollbackInstanceRefreshCommandInput,
      RollbackInstanceRefreshCommandOutput
    >;
  };
  readonly ec2: {
    readonly describeLaunchTemplates: Call<
      DescribeLaunchTemplatesCommandInput,
      DescribeLaunchTemplatesCommandOutput
    >;
    readonly describeLaunchTemplateVersions: Call<
      DescribeLaunchTemplateVersionsCommandInput,
      DescribeLaunchTemplateVersionsCommandOutput
    >;
    readonly createLaunchTemplateVersion: Call<
      CreateLaunchTemplateVersionCommandInput,
      CreateLaunchTemplateVersionCommandOutput
    >;
  };
  readonly cloudWatch: {
    readonly getMetricData: Call<GetMetricDataCommandInput, GetMetricDataCommandOutput>;
    readonly describeAlarms: Call<DescribeAlarmsCommandInput, DescribeAlarmsCommandOutput>;
  };
  readonly dynamo: {
    readonly getItem: Call<GetItemCommandInput, GetItemCommandOutput>;
    readonly updateItem: Call<UpdateItemCommandInput, UpdateItemCommandOutput>;
    readonly describeTable: Call<DescribeTableCommandInput, DescribeTableCommandOutput>;
    // `bootstrap` only (the Terraform module creates the table for pipelines):
    readonly createTable: Call<CreateTableCommandInput, CreateTableCommandOutput>;
    readonly describeTimeToLive: Call<DescribeTimeToLiveCommandInput, DescribeTimeToLiveCommandOutput>;
    readonly updateTimeToLive: Call<UpdateTimeToLiveCommandInput, UpdateTimeToLiveCommandOutput>;
    readonly describeContinuousBackups: Call<
      DescribeContinuousBackupsCommandInput,
      DescribeContinuousBackupsCommandOutput
    >;
    readonly updateContinuousBackups: Call<
      UpdateContinuousBackupsCommandInput,
      UpdateContinuousBackupsCommandOutput
    >;
  };
  /** ECR in the image's own region (an image may live in another region than the load balancer). */
  readonly ecr: (region: string) => {
    readonly describeImages: Call<DescribeImagesCommandInput, DescribeImagesCommandOutput>;
  };
}

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
}

export interface AwsConnection {
  readonly api: AwsApi;
  readonly calls: CallCounter;
  readonly region: string;
  readonly endpoint: string | undefined;
  /** Closes every client's sockets. Idempotent. */
  destroy(): void;
}

/**
 * Appended to the SDK's User-Agent of every AWS call gray-deploy makes: CloudTrail records it
 * (`userAgent`), so an audit tells the tool's ModifyRule from a person's, and the test suite's strict
 * proxy tells the tool's calls from the test's own.
 */
export const AWS_USER_AGENT = "gray-deploy";

/** IAM's service prefix per SDK client name (for `service:Operation` in errors and counts). */
const IAM_PREFIX: Readonly<Record<string, string>> = {
  ElasticLoadBalancingV2Client: "elasticloadbalancing",
  AutoScalingClient: "autoscaling",
  EC2Client: "ec2",
  CloudWatchClient: "cloudwatch",
  DynamoDBClient: "dynamodb",
  ECRClient: "ecr",
};

function credentialsFor(o: AwsConnectionOptions): AwsConnectionOptions["credentials"] {
  if (o.credentials !== undefined) return o.credentials;
  if (o.roleArn === undefined) return undefined; // the SDK's default chain
  const env = o.env ?? process.env;
  const session = `gray-deploy-${process.pid}-${Date.now().toString(36)}`;
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
  const ecrByRegion = new Map<string, ECRClient>();

  // One wrapper per command: maps errors to the contract's errors and passes the AbortSignal on.
  const call =
    <I, O>(client: unknown, operation: string, Command: new (...args: never[]) => unknown): Call<I, O> =>
    async (input, signal) => {
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
