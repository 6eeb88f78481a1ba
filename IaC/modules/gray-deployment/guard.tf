# The guard (on by default): a Lambda function running gray-deploy's guard (src/guard) that performs
# the same verified rollback as the pipeline when nobody is watching: on any gray alarm entering ALARM
# (EventBridge), and on a schedule for rollouts paused (or left by a dead pipeline) longer than max
# pause with traffic on gray. It reads the same configuration object the pipeline uses
# (GRAY_DEPLOY_CONFIG) and runs with the pipeline's policy minus publishing and release creation
# (guard_disabled_sids in iam.tf).
#
# Its package is built from the gray-deploy sources, not downloaded: `npm run package:guard` writes
# guard/gray-deploy-guard.zip in this module (the default guard_package_path). Build it in the same
# pipeline that applies this module, from the same gray-deploy version the pipeline runs.

locals {
  guard_count         = var.enable_guard ? 1 : 0
  guard_function_name = "${var.name}-gray-deploy-guard"
  guard_package_path  = coalesce(var.guard_package_path, "${path.module}/guard/gray-deploy-guard.zip")
  guard_package_found = fileexists(local.guard_package_path)
}

data "aws_iam_policy_document" "guard_assume" {
  count = local.guard_count

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "guard" {
  count = local.guard_count

  name               = local.guard_function_name
  assume_role_policy = data.aws_iam_policy_document.guard_assume[0].json
  tags               = local.module_tags
}

resource "aws_iam_role_policy" "guard" {
  count = local.guard_count

  name   = "gray-deploy-rollback"
  role   = aws_iam_role.guard[0].id
  policy = local.guard_policy_json
}

resource "aws_iam_role_policy_attachment" "guard_logs" {
  count = local.guard_count

  role       = aws_iam_role.guard[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_cloudwatch_log_group" "guard" {
  count = local.guard_count

  name              = "/aws/lambda/${local.guard_function_name}"
  retention_in_days = var.guard_log_retention_days
  tags              = local.module_tags
}

resource "aws_lambda_function" "guard" {
  count = local.guard_count

  function_name    = local.guard_function_name
  description      = "gray-deploy guard for ${var.name}: rolls back unwatched or over-paused rollouts."
  role             = aws_iam_role.guard[0].arn
  filename         = local.guard_package_path
  source_code_hash = local.guard_package_found ? filebase64sha256(local.guard_package_path) : null
  handler          = var.guard_handler
  runtime          = var.guard_runtime
  timeout          = var.guard_timeout_seconds
  memory_size      = 256

  environment {
    variables = {
      GRAY_DEPLOY_CONFIG = jsonencode(merge(local.gray_deploy_config, { maxPause = var.guard_max_pause }))
    }
  }

  tags = local.module_tags

  depends_on = [
    aws_cloudwatch_log_group.guard,
    aws_iam_role_policy.guard,
    aws_iam_role_policy_attachment.guard_logs,
  ]

  lifecycle {
    precondition {
      condition     = local.guard_package_found
      error_message = "The guard's package ${local.guard_package_path} does not exist: build it from the gray-deploy sources with `npm run package:guard` (or set guard_package_path to a .zip built by scripts/package-guard.ts). To run without the guard, set enable_guard = false."
    }

    precondition {
      # A rollback drains gray for the target group's deregistration delay before scaling it in: the
      # function must outlive it, or every invocation would time out in the drain and start over.
      condition     = var.guard_timeout_seconds >= aws_lb_target_group.gray.deregistration_delay + 60
      error_message = "guard_timeout_seconds (${var.guard_timeout_seconds}) must exceed the gray target group's deregistration delay (${aws_lb_target_group.gray.deregistration_delay} s) by at least 60 s."
    }
  }
}

resource "aws_cloudwatch_event_rule" "guard_alarm" {
  count = local.guard_count

  name        = "${local.guard_function_name}-alarm"
  description = "A gray alarm of ${var.name} entered ALARM: let the guard roll back if no pipeline is watching."
  state       = "ENABLED"

  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    resources     = [for a in local.gray_alarms : a.arn]
    detail = {
      state = {
        value = ["ALARM"]
      }
    }
  })

  tags = local.module_tags
}

resource "aws_cloudwatch_event_rule" "guard_schedule" {
  count = local.guard_count

  name                = "${local.guard_function_name}-schedule"
  description         = "Let the guard check ${var.name}'s rollout for an over-long pause or a dead pipeline."
  schedule_expression = var.guard_schedule_expression
  state               = "ENABLED"
  tags                = local.module_tags
}

resource "aws_cloudwatch_event_target" "guard_alarm" {
  count = local.guard_count

  rule = aws_cloudwatch_event_rule.guard_alarm[0].name
  arn  = aws_lambda_function.guard[0].arn
}

resource "aws_cloudwatch_event_target" "guard_schedule" {
  count = local.guard_count

  rule = aws_cloudwatch_event_rule.guard_schedule[0].name
  arn  = aws_lambda_function.guard[0].arn
}

resource "aws_lambda_permission" "guard_alarm" {
  count = local.guard_count

  statement_id  = "AllowGrayAlarmRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.guard[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.guard_alarm[0].arn
}

resource "aws_lambda_permission" "guard_schedule" {
  count = local.guard_count

  statement_id  = "AllowGuardSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.guard[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.guard_schedule[0].arn
}
