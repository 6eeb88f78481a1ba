# Optional smoke-test route: requests that carry the secret header (and/or come from the allowed
# CIDR blocks) go straight to gray, whatever the weights, so a release can be checked through the
# real load balancer before the first customer request reaches it.

resource "random_password" "smoke_header" {
  count = var.enable_smoke_rule && var.smoke_secret_header ? 1 : 0

  length = 40
  # ALB header conditions treat '*' and '?' as wildcards: letters and digits only.
  special = false
}

resource "aws_ssm_parameter" "smoke_header" {
  count = var.enable_smoke_rule && var.smoke_secret_header ? 1 : 0

  name        = coalesce(var.smoke_ssm_parameter_name, "/gray-deploy/${var.name}/smoke-header")
  description = "Value of the ${var.smoke_header_name} header that routes a request to ${var.name}'s gray target group (smoke tests)."
  type        = "SecureString"
  value       = random_password.smoke_header[0].result
  tags        = local.module_tags
}

resource "aws_lb_listener_rule" "smoke" {
  count = var.enable_smoke_rule ? 1 : 0

  listener_arn = var.listener_arn
  priority     = var.smoke_rule_priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gray.arn
  }

  dynamic "condition" {
    for_each = var.smoke_secret_header ? [var.smoke_header_name] : []
    content {
      http_header {
        http_header_name = condition.value
        values           = [random_password.smoke_header[0].result]
      }
    }
  }

  dynamic "condition" {
    for_each = length(var.smoke_source_cidrs) > 0 ? [var.smoke_source_cidrs] : []
    content {
      source_ip {
        values = condition.value
      }
    }
  }

  tags = merge(local.module_tags, {
    "gray-deploy:role" = "smoke-rule"
  })

  lifecycle {
    precondition {
      condition     = var.smoke_rule_priority == null ? false : var.smoke_rule_priority < var.rule_priority
      error_message = "smoke_rule_priority must be set and lower than rule_priority, so the smoke rule is evaluated before the weighted rule."
    }

    precondition {
      condition     = var.smoke_secret_header || length(var.smoke_source_cidrs) > 0
      error_message = "The smoke rule needs the secret header and/or smoke_source_cidrs: otherwise anyone could reach an unreleased version."
    }

    precondition {
      condition     = length(var.smoke_source_cidrs) + (var.smoke_secret_header ? 1 : 0) <= 5
      error_message = "An ALB rule holds at most 5 condition values: use at most 4 smoke_source_cidrs with the secret header (5 without)."
    }
  }
}
