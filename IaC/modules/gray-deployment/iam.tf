# The pipeline's least-privilege policy. ONE document, policy/pipeline-policy.json.tftpl, is the
# source of truth: Terraform renders it with this module's ARNs, and the test suite parses the same
# file to check that every AWS call gray-deploy makes is allowed and that nothing else is.
#
# Statements that a configuration does not need are dropped by Sid (never edited here), so the
# document and its tests stay the single description of what the pipeline may do.

locals {
  policy_template_vars = {
    partition           = local.partition
    region              = local.region
    account_id          = local.account_id
    listener_arn        = var.listener_arn
    rule_arn            = aws_lb_listener_rule.weighted.arn
    pilot_rule_arn      = try(aws_lb_listener_rule.pilot[0].arn, "none")
    stable_asg_name     = var.stable_asg_name
    gray_asg_name       = aws_autoscaling_group.gray.name
    launch_template_arn = local.launch_template_arn
    instance_role_arn   = local.instance_role_arn
    state_table_arn     = local.state_table_arn
    ecr_repository_arn  = coalesce(var.ecr_repository_arn, "none")
    # Lambda hooks (InvokeHookFunctions): functions named with this prefix.
    hook_function_name_prefix = coalesce(var.hook_function_name_prefix, "none")
  }

  policy_document = jsondecode(templatefile("${path.module}/policy/pipeline-policy.json.tftpl", local.policy_template_vars))

  # Statements dropped from the pipeline policy when the configuration does not need them.
  pipeline_disabled_sids = concat(
    var.allow_listener_default_action ? [] : ["ShiftWeightsOnListenerDefaultAction"],
    local.instance_role_arn == "none" ? ["PassInstanceRole"] : [],
    var.ecr_repository_arn == null ? ["ReadReleaseImage", "EcrAuthentication", "EcrPublish"] : [],
    var.enable_pilot_rule ? [] : ["SwitchPilotRule"],
    var.hook_function_name_prefix == null ? ["InvokeHookFunctions"] : [],
  )

  # The guard only rolls back (switching the chosen-customers rule off first): it never publishes or
  # resolves an image, creates a release version or calls a team's hooks.
  guard_disabled_sids = concat(local.pipeline_disabled_sids, [
    "InvokeHookFunctions",
    "CreateReleaseVersions",
    "ReadReleaseImage",
    "EcrAuthentication",
    "EcrPublish",
  ])

  pipeline_policy_json = jsonencode({
    Version   = local.policy_document.Version
    Statement = [for s in local.policy_document.Statement : s if !contains(local.pipeline_disabled_sids, s.Sid)]
  })

  guard_policy_json = jsonencode({
    Version   = local.policy_document.Version
    Statement = [for s in local.policy_document.Statement : s if !contains(local.guard_disabled_sids, s.Sid)]
  })
}

resource "aws_iam_policy" "pipeline" {
  name        = "${var.name}-gray-deploy-pipeline"
  description = "gray-deploy pipeline for ${var.name}: shift ALB weights, drive the stable and gray ASGs, read metrics and alarms, keep rollout state."
  policy      = local.pipeline_policy_json
  tags        = local.module_tags
}

resource "aws_iam_role_policy_attachment" "pipeline" {
  for_each = toset(var.pipeline_role_names)

  role       = each.value
  policy_arn = aws_iam_policy.pipeline.arn
}
