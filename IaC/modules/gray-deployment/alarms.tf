# Rollback alarms on the gray target group: the seed's criteria, with the tool's default rollback
# thresholds as defaults (a test fails when they drift apart).
#
# "Over 5 minutes" means what gray-deploy means by its rollback window: ONE aggregate over the
# trailing window (5xx / requests summed over 5 minutes; p99 of every response in 5 minutes),
# evaluated on CloudWatch's sliding window every minute. Not "5 consecutive bad minutes", which
# would miss a window whose total breaches with one clean minute in it, and not a 1-minute
# datapoint, which would fire on a burst the tool does not act on.
#
# treat_missing_data = "notBreaching": ALB publishes no count when gray has no traffic (weight 0,
# no instances), and that must not alarm.

locals {
  alarm_prefix   = "${var.name}-gray-"
  window_seconds = var.rollback_window_minutes * 60

  gray_metric_dimensions = {
    LoadBalancer = local.load_balancer_arn_suffix
    TargetGroup  = aws_lb_target_group.gray.arn_suffix
  }
}

resource "aws_cloudwatch_metric_alarm" "gray_error_rate" {
  alarm_name          = "${local.alarm_prefix}error-rate"
  alarm_description   = "Roll back ${var.name}: gray's 5xx rate over the last ${var.rollback_window_minutes} minutes is above ${var.error_rate_threshold_percent}%."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold_percent
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "error_rate"
    expression  = "IF(requests >= ${var.error_rate_min_requests}, 100 * FILL(errors, 0) / requests, 0)"
    label       = "Gray 5xx rate (%)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.gray_metric_dimensions
      period      = local.window_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.gray_metric_dimensions
      period      = local.window_seconds
      stat        = "Sum"
    }
  }

  tags = local.module_tags
}

resource "aws_cloudwatch_metric_alarm" "gray_p99" {
  alarm_name          = "${local.alarm_prefix}p99"
  alarm_description   = "Roll back ${var.name}: gray's p99 response time over the last ${var.rollback_window_minutes} minutes is above ${var.p99_threshold_seconds}s."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.gray_metric_dimensions
  extended_statistic  = "p99"
  period              = local.window_seconds
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.p99_threshold_seconds
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.module_tags
}

resource "aws_cloudwatch_metric_alarm" "gray_unhealthy" {
  alarm_name          = "${local.alarm_prefix}unhealthy"
  alarm_description   = "Roll back ${var.name}: more than ${var.unhealthy_hosts_threshold} gray target(s) fail health checks."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.gray_metric_dimensions
  statistic           = "Maximum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.unhealthy_hosts_threshold
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.module_tags
}

locals {
  gray_alarms = [
    aws_cloudwatch_metric_alarm.gray_error_rate,
    aws_cloudwatch_metric_alarm.gray_p99,
    aws_cloudwatch_metric_alarm.gray_unhealthy,
  ]
}
