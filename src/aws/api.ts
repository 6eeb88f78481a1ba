/**
 * The lower of the two AWS layers: `AwsApi` lists exactly the SDK calls gray-deploy makes, one method
 * per call, with the SDK's own input/output types. The domain adapters (router, fleet, metrics, store)
 * are written against this interface only, so a test could fake exactly these calls; gray-deploy's
 * own tests run the real clients against the AWS emulator instead. connection.ts builds the real one.
 */
import type {
  CancelInstanceRefreshCommandInput,
  CancelInstanceRefreshCommandOutput,
  CreateOrUpdateTagsCommandInput,
  CreateOrUpdateTagsCommandOutput,
  DeleteTagsCommandInput,
  DeleteTagsCommandOutput,
  DescribeAutoScalingGroupsCommandInput,
  DescribeAutoScalingGroupsCommandOutput,
  DescribeInstanceRefreshesCommandInput,
  DescribeInstanceRefreshesCommandOutput,
  DescribePoliciesCommandInput,
  DescribePoliciesCommandOutput,
  ResumeProcessesCommandInput,
  ResumeProcessesCommandOutput,
  RollbackInstanceRefreshCommandInput,
  RollbackInstanceRefreshCommandOutput,
  StartInstanceRefreshCommandInput,
  StartInstanceRefreshCommandOutput,
  SuspendProcessesCommandInput,
  SuspendProcessesCommandOutput,
  UpdateAutoScalingGroupCommandInput,
  UpdateAutoScalingGroupCommandOutput,
} from "@aws-sdk/client-auto-scaling";
import type {
  DescribeAlarmsCommandInput,
  DescribeAlarmsCommandOutput,
  GetMetricDataCommandInput,
  GetMetricDataCommandOutput,
  ListMetricsCommandInput,
  ListMetricsCommandOutput,
} from "@aws-sdk/client-cloudwatch";
import type {
  CreateTableCommandInput,
  CreateTableCommandOutput,
  DescribeContinuousBackupsCommandInput,
  DescribeContinuousBackupsCommandOutput,
  DescribeTableCommandInput,
  DescribeTableCommandOutput,
  DescribeTimeToLiveCommandInput,
  DescribeTimeToLiveCommandOutput,
  GetItemCommandInput,
  GetItemCommandOutput,
  UpdateContinuousBackupsCommandInput,
  UpdateContinuousBackupsCommandOutput,
  UpdateItemCommandInput,
  UpdateItemCommandOutput,
  UpdateTimeToLiveCommandInput,
  UpdateTimeToLiveCommandOutput,
} from "@aws-sdk/client-dynamodb";
import type {
  CreateLaunchTemplateVersionCommandInput,
  CreateLaunchTemplateVersionCommandOutput,
  DescribeLaunchTemplatesCommandInput,
  DescribeLaunchTemplatesCommandOutput,
  DescribeLaunchTemplateVersionsCommandInput,
  DescribeLaunchTemplateVersionsCommandOutput,
} from "@aws-sdk/client-ec2";
import type { DescribeImagesCommandInput, DescribeImagesCommandOutput } from "@aws-sdk/client-ecr";
import type {
  DescribeListenersCommandInput,
  DescribeListenersCommandOutput,
  DescribeLoadBalancersCommandInput,
  DescribeLoadBalancersCommandOutput,
  DescribeRulesCommandInput,
  DescribeRulesCommandOutput,
  DescribeTargetGroupAttributesCommandInput,
  DescribeTargetGroupAttributesCommandOutput,
  DescribeTargetGroupsCommandInput,
  DescribeTargetGroupsCommandOutput,
  DescribeTargetHealthCommandInput,
  DescribeTargetHealthCommandOutput,
  ModifyListenerCommandInput,
  ModifyListenerCommandOutput,
  ModifyRuleCommandInput,
  ModifyRuleCommandOutput,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import type { InvokeCommandInput, InvokeCommandOutput } from "@aws-sdk/client-lambda";

export type Call<I, O> = (input: I, signal?: AbortSignal) => Promise<O>;

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
    // Following the load: what one stable instance carries by its target-tracking policy.
    readonly describePolicies: Call<DescribePoliciesCommandInput, DescribePoliciesCommandOutput>;
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
    /** --signal service preflight only: which dimension sets a missing service metric has. */
    readonly listMetrics: Call<ListMetricsCommandInput, ListMetricsCommandOutput>;
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
  /** Lambda in the function's own region: lifecycle hooks (src/aws/lambda-hooks.ts). */
  readonly lambda: (region: string) => {
    readonly invoke: Call<InvokeCommandInput, InvokeCommandOutput>;
  };
}
