# The gray deployment infrastructure of one service: a gray target group and Auto Scaling group
# next to the stable ones that other modules own, a weighted listener rule that gray-deploy moves,
# rollback alarms, the rollout state table and the pipeline's least-privilege policy.
#
# Everything the pipeline changes at run time (the rule's weights and stickiness, gray's capacity
# and launch template version) is in `ignore_changes`: `terraform apply` must never undo a rollout.

# ── What other modules own ──────────────────────────────────────────────────────────────────

data "aws_lb_target_group" "stable" {
  arn = var.stable_target_group_arn
}

data "aws_autoscaling_group" "stable" {
  name = var.stable_asg_name
}

locals {
  # Region, account and partition come from the listener ARN: no aws_region/aws_caller_identity
  # lookups, and no way to wire resources of two regions together by mistake.
  listener_arn_parts = split(":", var.listener_arn)
  partition          = local.listener_arn_parts[1]
  region             = local.listener_arn_parts[3]
  account_id         = local.listener_arn_parts[4]

  # "app/<name>/<id>": the LoadBalancer dimension of the per-target-group ALB metrics.
  load_balancer_arn_suffix = regex("listener/(app/[^/]+/[0-9a-f]+)/[0-9a-f]+$", var.listener_arn)[0]

  stable_health_check = data.aws_lb_target_group.stable.health_check[0]
  gray_health_check   = var.gray_target_group.health_check

  gray_target_group_name = coalesce(var.gray_target_group.name, "${var.name}-gray")
  gray_asg_name          = coalesce(var.gray_asg_name, "${var.name}-gray")

  stable_launch_template  = try(data.aws_autoscaling_group.stable.launch_template[0], null)
  launch_template_id      = coalesce(var.launch_template_id, try(local.stable_launch_template.id, null), "unknown")
  launch_template_version = coalesce(var.launch_template_version, try(local.stable_launch_template.version, null), "unknown")
  launch_template_arn     = "arn:${local.partition}:ec2:${local.region}:${local.account_id}:launch-template/${local.launch_template_id}"

  subnet_ids                = coalesce(var.subnet_ids, compact(split(",", data.aws_autoscaling_group.stable.vpc_zone_identifier)))
  gray_max_size             = coalesce(var.gray_max_size, data.aws_autoscaling_group.stable.max_size)
  health_check_grace_period = coalesce(var.health_check_grace_period, data.aws_autoscaling_group.stable.health_check_grace_period)

  module_tags = merge(var.tags, {
    "gray-deploy:service" = var.name
  })
}

# The instance profile role of the launch template: iam:PassRole target of the pipeline policy.
data "aws_launch_template" "service" {
  count = var.instance_role_arn != null ? 0 : (local.launch_template_id == "unknown" ? 0 : 1)
  id    = local.launch_template_id
}

locals {
  launch_template_profile = try(data.aws_launch_template.service[0].iam_instance_profile[0], null)
  launch_template_profile_name = try(
    coalesce(local.launch_template_profile.name, reverse(split("/", local.launch_template_profile.arn))[0]),
    null,
  )
}

data "aws_iam_instance_profile" "service" {
  count = var.instance_role_arn != null ? 0 : (local.launch_template_profile_name == null ? 0 : 1)
  name  = local.launch_template_profile_name
}

locals {
  instance_role_arn = coalesce(var.instance_role_arn, try(data.aws_iam_instance_profile.service[0].role_arn, null), "none")
}

# ── Gray target group ───────────────────────────────────────────────────────────────────────

resource "aws_lb_target_group" "gray" {
  name             = local.gray_target_group_name
  vpc_id           = data.aws_lb_target_group.stable.vpc_id
  target_type      = "instance"
  port             = coalesce(var.gray_target_group.port, data.aws_lb_target_group.stable.port)
  protocol         = coalesce(var.gray_target_group.protocol, data.aws_lb_target_group.stable.protocol)
  protocol_version = coalesce(var.gray_target_group.protocol_version, data.aws_lb_target_group.stable.protocol_version, "HTTP1")

  deregistration_delay = coalesce(var.gray_target_group.deregistration_delay, tonumber(data.aws_lb_target_group.stable.deregistration_delay))

  health_check {
    enabled             = true
    path                = coalesce(local.gray_health_check.path, local.stable_health_check.path)
    port                = coalesce(local.gray_health_check.port, local.stable_health_check.port)
    protocol            = coalesce(local.gray_health_check.protocol, local.stable_health_check.protocol)
    matcher             = coalesce(local.gray_health_check.matcher, local.stable_health_check.matcher)
    interval            = coalesce(local.gray_health_check.interval, local.stable_health_check.interval)
    timeout             = coalesce(local.gray_health_check.timeout, local.stable_health_check.timeout)
    healthy_threshold   = coalesce(local.gray_health_check.healthy_threshold, local.stable_health_check.healthy_threshold)
    unhealthy_threshold = coalesce(local.gray_health_check.unhealthy_threshold, local.stable_health_check.unhealthy_threshold)
  }

  tags = merge(local.module_tags, {
    "gray-deploy:role" = "gray"
  })

  lifecycle {
    precondition {
      condition     = data.aws_lb_target_group.stable.target_type == "instance"
      error_message = "The stable target group must have target type \"instance\" (it serves an Auto Scaling group)."
    }
  }
}

# ── Gray Auto Scaling group ─────────────────────────────────────────────────────────────────

resource "aws_autoscaling_group" "gray" {
  name                = local.gray_asg_name
  min_size            = 0
  max_size            = local.gray_max_size
  desired_capacity    = 0
  vpc_zone_identifier = local.subnet_ids
  target_group_arns   = [aws_lb_target_group.gray.arn]

  health_check_type         = "ELB"
  health_check_grace_period = local.health_check_grace_period

  launch_template {
    id      = local.launch_template_id
    version = local.launch_template_version
  }

  dynamic "tag" {
    for_each = merge(local.module_tags, { "gray-deploy:role" = "gray" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # The pipeline sizes gray and points it at each release's launch template version;
    # it may also suspend processes during a rollout. Terraform must not undo any of it.
    ignore_changes = [
      desired_capacity,
      launch_template[0].version,
      suspended_processes,
    ]

    precondition {
      condition     = local.launch_template_id != "unknown"
      error_message = "No launch template: set launch_template_id, or give the stable ASG a launch template (mixed instances policies are not supported)."
    }

    precondition {
      condition     = can(regex("^[0-9]+$", local.launch_template_version))
      error_message = "The gray ASG needs a numbered launch template version; the stable ASG uses \"${local.launch_template_version}\". Set launch_template_version, or pin the stable ASG to a version number ($Latest/$Default would let new instances pick up an untested release)."
    }
  }
}

# ── Weighted listener rule ──────────────────────────────────────────────────────────────────

resource "aws_lb_listener_rule" "weighted" {
  listener_arn = var.listener_arn
  priority     = var.rule_priority

  action {
    type = "forward"

    forward {
      target_group {
        arn    = var.stable_target_group_arn
        weight = 100
      }

      target_group {
        arn    = aws_lb_target_group.gray.arn
        weight = 0
      }

      dynamic "stickiness" {
        for_each = var.stickiness_duration_seconds > 0 ? [var.stickiness_duration_seconds] : []
        content {
          enabled  = true
          duration = stickiness.value
        }
      }
    }
  }

  dynamic "condition" {
    for_each = length(var.rule_conditions.path_patterns) > 0 ? [var.rule_conditions.path_patterns] : []
    content {
      path_pattern {
        values = condition.value
      }
    }
  }

  dynamic "condition" {
    for_each = length(var.rule_conditions.host_headers) > 0 ? [var.rule_conditions.host_headers] : []
    content {
      host_header {
        values = condition.value
      }
    }
  }

  dynamic "condition" {
    for_each = var.rule_conditions.http_headers
    content {
      http_header {
        http_header_name = condition.key
        values           = condition.value
      }
    }
  }

  dynamic "condition" {
    for_each = length(var.rule_conditions.source_ips) > 0 ? [var.rule_conditions.source_ips] : []
    content {
      source_ip {
        values = condition.value
      }
    }
  }

  tags = merge(local.module_tags, {
    "gray-deploy:role" = "weighted-rule"
  })

  lifecycle {
    # gray-deploy moves the weights (and turns stickiness off during a rollback) with ModifyRule.
    # Without this, the next `terraform apply` puts 100/0 back in the middle of a rollout, or puts
    # traffic back on a release that was just promoted. Stable 100 / gray 0 is the creation state only.
    ignore_changes = [action]
  }
}
