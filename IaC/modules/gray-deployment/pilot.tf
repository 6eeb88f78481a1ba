# Optional chosen-customers rule (gray-deploy's first step for chosen customers: --pilot-rule-arn).
# Requests whose header matches (an internal merchant, a pilot tenant) are forwarded by this rule,
# evaluated before the weighted rule. Created OFF: it forwards stable 100 / gray 0, so those
# customers are served like everyone else until a rollout's first step switches it to gray 100; a
# rollback (and promotion) switches it back first, read back each time. Like the weighted rule, its
# action is the pipeline's at run time: Terraform ignores changes to it.

resource "aws_lb_listener_rule" "pilot" {
  count = var.enable_pilot_rule ? 1 : 0

  listener_arn = var.listener_arn
  priority     = var.pilot_rule_priority

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
    }
  }

  condition {
    http_header {
      http_header_name = var.pilot_header_name
      values           = var.pilot_header_values
    }
  }

  tags = merge(local.module_tags, {
    "gray-deploy:role" = "pilot-rule"
  })

  lifecycle {
    # The pipeline switches the rule between stable and gray; `terraform apply` must not undo it.
    ignore_changes = [action]

    precondition {
      condition     = var.pilot_rule_priority == null ? false : var.pilot_rule_priority < var.rule_priority
      error_message = "pilot_rule_priority must be set and lower than rule_priority, so the chosen-customers rule is evaluated before the weighted rule."
    }

    precondition {
      condition     = length(var.pilot_header_values) > 0
      error_message = "pilot_header_values must name at least one value (e.g. the pilot tenant's id): an empty condition would match nobody."
    }
  }
}
