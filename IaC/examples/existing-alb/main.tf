# Wires the gray-deployment module to a service whose load balancer, stable target group, stable
# Auto Scaling group and launch template are owned by other modules (app_load_balance,
# autoscaling, launch_templates). Only the gray side, the weighted rule, the alarms, the state
# table and the pipeline policy are new.

module "gray" {
  source = "../../modules/gray-deployment"

  name = var.service

  # Owned elsewhere: passed by ARN/name, never managed here.
  listener_arn            = var.listener_arn
  stable_target_group_arn = var.stable_target_group_arn
  stable_asg_name         = aws_autoscaling_group.stable.name
  launch_template_id      = var.launch_template_id
  launch_template_version = var.launch_template_version
  instance_role_arn       = var.instance_role_arn

  # The weighted rule takes every path; the listener's default action stays with its owner.
  rule_priority = var.rule_priority
  rule_conditions = {
    path_patterns = ["/*"]
  }

  # Smoke tests reach gray before any customer: secret header (in SSM) and, if given, source CIDRs.
  enable_smoke_rule   = true
  smoke_rule_priority = var.smoke_rule_priority
  smoke_source_cidrs  = var.smoke_source_cidrs

  # Alarm thresholds default to gray-deploy's rollback thresholds (2% 5xx, p99 2s over 5 minutes,
  # more than 1 unhealthy gray target): change them only together with the pipeline's flags.

  ecr_repository_arn  = var.ecr_repository_arn
  pipeline_role_names = var.ci_role_name == null ? [] : [var.ci_role_name]

  tags = {
    service = var.service
  }
}
