# Optional guard: a Lambda function (its handler ships with gray-deploy; this module only wires it)
# that performs the same verified rollback as the pipeline when nobody is watching: on any gray
# alarm entering ALARM (EventBridge), and on a schedule for rollouts paused longer than max pause.
# It reads the same configuration object the pipeline uses (GRAY_DEPLOY_CONFIG) and runs with the
# pipeline's policy minus publishing and release creation (guard_disabled_sids in iam.tf).

locals {
  guard_count         = var.enable_guard ? 1 : 0
  guard_function_name = "${var.name}-gray-deploy-guard"
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
  filename         = var.guard_package_path
  source_code_hash = var.guard_package_path == null ? null : filebase64sha256(var.guard_package_path)
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
      condition     = var.guard_package_path != null
      error_message = "enable_guard needs guard_package_path: the .zip of gray-deploy's guard handler."
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
