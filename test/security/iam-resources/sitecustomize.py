"""IAM resource evaluation for gray-deploy's least-privilege test (loaded by Python at start-up when
this directory is on the emulator's PYTHONPATH; nothing else loads it).

moto 5.2.4 enforces IAM policies (INITIAL_NO_AUTH_ACTION_COUNT) but checks every call of these
services against the resource "*": a statement scoped to an ARN never matches, so a real
least-privilege policy is denied everything it scopes. AWS evaluates the ARN of the resource the call
acts on. This gives moto that ARN, for the calls gray-deploy makes, as the Service Authorization
Reference lists them:

  elasticloadbalancing:ModifyRule / ModifyListener          the rule / the listener
  autoscaling:<group writes>, CreateOrUpdateTags, DeleteTags the group's ARN (with its UUID)
  ec2:CreateLaunchTemplateVersion                            the launch template
  cloudwatch:DescribeAlarms                                  the (first) alarm named
  dynamodb:*                                                 the table
  ecr:DescribeImages (and the other repository actions)      the repository
  everything else (Describe*, GetMetricData, ...)            "*", as AWS (no resource-level support)

It also names CloudWatch's actions as IAM does: moto builds the action from the SigV4 signing name,
which for CloudWatch is `monitoring`, so a policy granting `cloudwatch:GetMetricData` was never
matched (`monitoring:GetMetricData` was evaluated instead).

Not modelled (moto still ignores them): Condition keys other than sts:ExternalId (see
moto/iam/policy_conditions.py), and the permissions AWS checks on the caller for what a call implies
(ec2:RunInstances and iam:PassRole when an Auto Scaling group is pointed at a launch template).
"""

from __future__ import annotations

import sys

GROUP_ACTIONS = {
    "UpdateAutoScalingGroup",
    "SetDesiredCapacity",
    "SuspendProcesses",
    "ResumeProcesses",
    "StartInstanceRefresh",
    "CancelInstanceRefresh",
    "RollbackInstanceRefresh",
    "AttachLoadBalancerTargetGroups",
    "DetachLoadBalancerTargetGroups",
    "DeleteAutoScalingGroup",
}
SIGNING_NAME_TO_IAM_PREFIX = {"monitoring": "cloudwatch"}
REPOSITORY_ACTIONS = {
    "DescribeImages",
    "BatchGetImage",
    "BatchCheckLayerAvailability",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "PutImage",
}


def _install() -> None:
    from moto.core import responses as core
    from moto.utilities.utils import get_partition

    if hasattr(core.BaseResponse, "_determine_resource") or not hasattr(core.BaseResponse, "call_action"):
        raise RuntimeError(
            "moto's BaseResponse changed (_determine_resource exists, or call_action is gone): "
            "review test/security/iam-resources/sitecustomize.py for this moto version"
        )

    def param(self, name):
        try:
            value = self._get_param(name)
        except Exception:
            value = None
        if value is None:
            values = (getattr(self, "querystring", None) or {}).get(name)
            value = values[0] if values else None
        return value

    def group_arn(account, region, partition, name):
        from moto.autoscaling.models import autoscaling_backends

        group = autoscaling_backends[account][region].autoscaling_groups.get(name)
        if group is not None:
            return group.arn
        return (
            f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:"
            f"00000000-0000-0000-0000-000000000000:autoScalingGroupName/{name}"
        )

    def determine_resource(self):
        service = getattr(self, "service_name", None)
        action = self._get_action()
        region = self.region
        account = self.current_account
        partition = get_partition(region)
        if service == "elbv2":
            if action == "ModifyRule":
                return param(self, "RuleArn") or "*"
            if action == "ModifyListener":
                return param(self, "ListenerArn") or "*"
            return "*"
        if service == "autoscaling":
            if action in GROUP_ACTIONS:
                name = param(self, "AutoScalingGroupName")
            elif action in ("CreateOrUpdateTags", "DeleteTags"):
                name = param(self, "Tags.member.1.ResourceId")
            else:
                return "*"
            return group_arn(account, region, partition, name) if name else "*"
        if service == "ec2":
            if action in ("CreateLaunchTemplateVersion", "ModifyLaunchTemplate", "DeleteLaunchTemplate"):
                template = param(self, "LaunchTemplateId")
                if template is None:
                    from moto.ec2.models import ec2_backends

                    found = ec2_backends[account][region].describe_launch_templates(
                        template_names=[param(self, "LaunchTemplateName")], template_ids=[], filters={}
                    )
                    template = found[0].id if found else "unknown"
                return f"arn:{partition}:ec2:{region}:{account}:launch-template/{template}"
            return "*"
        if service == "cloudwatch":
            if action == "DescribeAlarms":
                names = param(self, "AlarmNames")
                first = names[0] if isinstance(names, list) and names else param(self, "AlarmNames.member.1")
                return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{first or '*'}"
            return "*"
        if service == "dynamodb":
            table = param(self, "TableName")
            return f"arn:{partition}:dynamodb:{region}:{account}:table/{table}" if table else "*"
        if service == "ecr":
            if action in REPOSITORY_ACTIONS:
                repository = param(self, "repositoryName")
                registry = param(self, "registryId") or account
                return f"arn:{partition}:ecr:{region}:{registry}:repository/{repository}"
            return "*"
        return "*"

    core.BaseResponse._determine_resource = determine_resource

    from moto.iam import access_control

    original_init = access_control.IAMRequestBase.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        service, _, operation = self._action.partition(":")
        if service in SIGNING_NAME_TO_IAM_PREFIX:
            self._action = f"{SIGNING_NAME_TO_IAM_PREFIX[service]}:{operation}"

    access_control.IAMRequestBase.__init__ = init
    sys.stderr.write("gray iam-resources: moto evaluates IAM resources for gray-deploy's calls\n")


_install()
