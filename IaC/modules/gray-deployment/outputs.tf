locals {
  # Exactly the tool's configuration file: camelCase keys equal to gray-deploy's option names.
  # `terraform output -json gray_deploy_config > gray-deploy.json` gives a working --config file.
  gray_deploy_config = {
    target               = "aws"
    region               = local.region
    listenerArn          = var.listener_arn
    ruleArn              = aws_lb_listener_rule.weighted.arn
    stableTargetGroupArn = var.stable_target_group_arn
    grayTargetGroupArn   = aws_lb_target_group.gray.arn
    stableAsg            = var.stable_asg_name
    grayAsg              = aws_autoscaling_group.gray.name
    launchTemplate       = local.launch_template_id
    stateTable           = local.state_table_name
    alarms               = [for a in local.gray_alarms : a.alarm_name]
  }
}

output "gray_deploy_config" {
  description = "gray-deploy's configuration for this service (JSON/YAML --config file, camelCase option names): `terraform output -json gray_deploy_config > gray-deploy.json`."
  value       = local.gray_deploy_config
}

output "region" {
  description = "AWS region of the load balancer and Auto Scaling groups (--region)."
  value       = local.region
}

output "listener_arn" {
  description = "ARN of the listener holding the weighted rule (--listener-arn)."
  value       = var.listener_arn
}

output "rule_arn" {
  description = "ARN of the weighted listener rule gray-deploy moves (--rule-arn; also the rollout's lock scope)."
  value       = aws_lb_listener_rule.weighted.arn
}

output "stable_target_group_arn" {
  description = "ARN of the stable target group (--stable-target-group-arn)."
  value       = var.stable_target_group_arn
}

output "gray_target_group_arn" {
  description = "ARN of the gray target group (--gray-target-group-arn)."
  value       = aws_lb_target_group.gray.arn
}

output "stable_asg_name" {
  description = "Name of the stable Auto Scaling group (--stable-asg)."
  value       = var.stable_asg_name
}

output "gray_asg_name" {
  description = "Name of the gray Auto Scaling group (--gray-asg)."
  value       = aws_autoscaling_group.gray.name
}

output "launch_template_id" {
  description = "ID of the launch template both groups use (--launch-template)."
  value       = local.launch_template_id
}

output "state_table_name" {
  description = "Name of the DynamoDB rollout state table (--state-table)."
  value       = local.state_table_name
}

output "alarm_names" {
  description = "Names of the gray rollback alarms (--alarms): error rate, p99 latency, unhealthy targets."
  value       = [for a in local.gray_alarms : a.alarm_name]
}

output "alarm_arns" {
  description = "ARNs of the gray rollback alarms."
  value       = [for a in local.gray_alarms : a.arn]
}

output "pipeline_policy_json" {
  description = "The pipeline's least-privilege IAM policy document, rendered for this service."
  value       = local.pipeline_policy_json
}

output "pipeline_policy_arn" {
  description = "ARN of the managed policy holding pipeline_policy_json (attach it to the CI role, or use pipeline_role_names)."
  value       = aws_iam_policy.pipeline.arn
}

output "smoke_rule_arn" {
  description = "ARN of the smoke-test listener rule, or null when enable_smoke_rule is false."
  value       = try(aws_lb_listener_rule.smoke[0].arn, null)
}

output "smoke_header_name" {
  description = "Header that routes a request to gray through the smoke rule, or null when there is no secret header."
  value       = var.enable_smoke_rule && var.smoke_secret_header ? var.smoke_header_name : null
}

output "smoke_header_ssm_parameter" {
  description = "Name of the SecureString SSM parameter holding the smoke header's value (read it with --with-decryption), or null."
  value       = try(aws_ssm_parameter.smoke_header[0].name, null)
}

output "guard_function_arn" {
  description = "ARN of the guard Lambda function, or null when enable_guard is false."
  value       = try(aws_lambda_function.guard[0].arn, null)
}

output "pilot_rule_arn" {
  description = "ARN of the chosen-customers listener rule (--pilot-rule-arn), or null when enable_pilot_rule is false."
  value       = try(aws_lb_listener_rule.pilot[0].arn, null)
}
