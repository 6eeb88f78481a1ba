# ── Identity ────────────────────────────────────────────────────────────────────────────────

variable "name" {
  description = "Service name, used as the prefix of every resource this module creates (gray target group, gray ASG, alarms, policy). At most 27 characters so that \"<name>-gray\" fits the 32-character target group limit."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,25}[A-Za-z0-9])?$", var.name))
    error_message = "name must be 1-27 letters, digits or hyphens, not starting or ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (and propagated to gray instances at launch)."
  type        = map(string)
  default     = {}
}

# ── What other modules own ──────────────────────────────────────────────────────────────────

variable "listener_arn" {
  description = "ARN of the existing ALB listener (owned by another module) that receives the weighted listener rule. Region, account and partition of everything else are taken from it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:listener/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}$", var.listener_arn))
    error_message = "listener_arn must be an Application Load Balancer listener ARN: arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID."
  }
}

variable "stable_target_group_arn" {
  description = "ARN of the existing stable target group (the one the stable ASG is attached to). The gray target group mirrors its protocol, port, health check and deregistration delay."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$", var.stable_target_group_arn))
    error_message = "stable_target_group_arn must be a target group ARN: arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID."
  }
}

variable "stable_asg_name" {
  description = "Name of the existing stable Auto Scaling group. Its launch template, subnets, maximum size and health check settings are the defaults for the gray group; promotion moves it to the new launch template version, so its owner must ignore changes to that version (see the example)."
  type        = string

  validation {
    condition     = can(regex("^[^:\\s][^\\s]{0,254}$", var.stable_asg_name))
    error_message = "stable_asg_name must be an Auto Scaling group name (1-255 characters, no whitespace, not starting with ':')."
  }
}

variable "launch_template_id" {
  description = "ID (lt-…) of the service's launch template, shared by both groups. Default: the stable ASG's launch template."
  type        = string
  default     = null

  validation {
    condition     = var.launch_template_id == null ? true : can(regex("^lt-[0-9a-f]{8,17}$", var.launch_template_id))
    error_message = "launch_template_id must be a launch template ID such as lt-0123456789abcdef0."
  }
}

variable "launch_template_version" {
  description = "Numbered launch template version the gray ASG is created with. Default: the stable ASG's version. `$Latest`/`$Default` are refused: a replacement instance would pick up an untested release. The pipeline moves it afterwards (ignored by Terraform)."
  type        = string
  default     = null

  validation {
    condition     = var.launch_template_version == null ? true : can(regex("^[0-9]+$", var.launch_template_version))
    error_message = "launch_template_version must be a version number such as \"7\"; $Latest and $Default are not allowed."
  }
}

variable "instance_role_arn" {
  description = "ARN of the IAM role inside the launch template's instance profile. The pipeline needs iam:PassRole on exactly this role to point an ASG at a launch template version. Default: derived from the launch template's instance profile; no PassRole statement when the template has none."
  type        = string
  default     = null

  validation {
    condition     = var.instance_role_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]{1,512}$", var.instance_role_arn))
    error_message = "instance_role_arn must be an IAM role ARN: arn:aws:iam::ACCOUNT:role/NAME."
  }
}

# ── Gray target group ───────────────────────────────────────────────────────────────────────

variable "gray_target_group" {
  description = "Overrides for the gray target group. Every attribute left null is copied from the stable target group (name defaults to \"<name>-gray\")."
  type = object({
    name                 = optional(string)
    port                 = optional(number)
    protocol             = optional(string)
    protocol_version     = optional(string)
    deregistration_delay = optional(number)
    health_check = optional(object({
      path                = optional(string)
      port                = optional(string)
      protocol            = optional(string)
      matcher             = optional(string)
      interval            = optional(number)
      timeout             = optional(number)
      healthy_threshold   = optional(number)
      unhealthy_threshold = optional(number)
    }), {})
  })
  default = {}

  validation {
    condition     = var.gray_target_group.name == null ? true : can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$", var.gray_target_group.name))
    error_message = "gray_target_group.name must be 1-32 letters, digits or hyphens, not starting or ending with a hyphen."
  }

  validation {
    condition     = var.gray_target_group.protocol == null ? true : contains(["HTTP", "HTTPS"], var.gray_target_group.protocol)
    error_message = "gray_target_group.protocol must be HTTP or HTTPS (an Application Load Balancer target group)."
  }

  validation {
    condition     = var.gray_target_group.deregistration_delay == null ? true : (var.gray_target_group.deregistration_delay >= 0 && var.gray_target_group.deregistration_delay <= 3600)
    error_message = "gray_target_group.deregistration_delay must be between 0 and 3600 seconds."
  }
}

# ── Gray Auto Scaling group ─────────────────────────────────────────────────────────────────

variable "gray_asg_name" {
  description = "Name of the gray Auto Scaling group. Default: \"<name>-gray\"."
  type        = string
  default     = null

  validation {
    condition     = var.gray_asg_name == null ? true : can(regex("^[^:\\s][^\\s]{0,254}$", var.gray_asg_name))
    error_message = "gray_asg_name must be an Auto Scaling group name (1-255 characters, no whitespace, not starting with ':')."
  }
}

variable "gray_max_size" {
  description = "Maximum size of the gray ASG. Default: the stable ASG's maximum, so a rollout can reach 100% on gray. The group is created with minimum 0 and desired 0; the pipeline sizes it."
  type        = number
  default     = null

  validation {
    condition     = var.gray_max_size == null ? true : (floor(var.gray_max_size) == var.gray_max_size && var.gray_max_size >= 1)
    error_message = "gray_max_size must be a whole number of at least 1."
  }
}

variable "subnet_ids" {
  description = "Subnets of the gray ASG. Default: the stable ASG's subnets."
  type        = list(string)
  default     = null

  validation {
    condition     = var.subnet_ids == null ? true : length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must be subnet IDs such as subnet-0123456789abcdef0."
  }
}

variable "health_check_grace_period" {
  description = "Seconds the gray ASG waits before acting on ELB health checks of a new instance. Default: the stable ASG's value."
  type        = number
  default     = null

  validation {
    condition     = var.health_check_grace_period == null ? true : (var.health_check_grace_period >= 0 && var.health_check_grace_period <= 7200)
    error_message = "health_check_grace_period must be between 0 and 7200 seconds."
  }
}

# ── Weighted listener rule ──────────────────────────────────────────────────────────────────

variable "rule_priority" {
  description = "Priority of the weighted listener rule on the listener (unique per listener; lower is evaluated first)."
  type        = number

  validation {
    condition     = var.rule_priority >= 1 && var.rule_priority <= 50000 && floor(var.rule_priority) == var.rule_priority
    error_message = "rule_priority must be a whole number from 1 to 50000."
  }
}

variable "rule_conditions" {
  description = "Conditions of the weighted rule. Default: every path (`/*`). http_headers maps a header name to its accepted values."
  type = object({
    path_patterns = optional(list(string), ["/*"])
    host_headers  = optional(list(string), [])
    http_headers  = optional(map(list(string)), {})
    source_ips    = optional(list(string), [])
  })
  default = {}

  validation {
    condition = (
      length(var.rule_conditions.path_patterns) + length(var.rule_conditions.host_headers) +
      length(var.rule_conditions.source_ips) + length(flatten(values(var.rule_conditions.http_headers)))
    ) >= 1
    error_message = "rule_conditions must contain at least one condition value (an ALB rule needs a condition)."
  }

  validation {
    condition = (
      length(var.rule_conditions.path_patterns) + length(var.rule_conditions.host_headers) +
      length(var.rule_conditions.source_ips) + length(flatten(values(var.rule_conditions.http_headers)))
    ) <= 5
    error_message = "rule_conditions may hold at most 5 condition values in total (ALB limit per rule)."
  }

  validation {
    condition     = alltrue([for c in var.rule_conditions.source_ips : can(cidrhost(c, 0))])
    error_message = "rule_conditions.source_ips must be CIDR blocks such as 10.0.0.0/8."
  }
}

variable "stickiness_duration_seconds" {
  description = "Target-group stickiness of the weighted forward action, in seconds (1 to 604800); 0 disables it. The pipeline removes stickiness during a rollback so that no client keeps reaching gray."
  type        = number
  default     = 0

  validation {
    condition     = var.stickiness_duration_seconds == 0 || (var.stickiness_duration_seconds >= 1 && var.stickiness_duration_seconds <= 604800)
    error_message = "stickiness_duration_seconds must be 0 (off) or between 1 and 604800 (7 days)."
  }
}

# ── Smoke-test rule ─────────────────────────────────────────────────────────────────────────

variable "enable_smoke_rule" {
  description = "Create a listener rule that sends requests carrying the smoke header (and/or coming from smoke_source_cidrs) straight to gray, so a release can be checked before any customer traffic reaches it."
  type        = bool
  default     = false
}

variable "smoke_rule_priority" {
  description = "Priority of the smoke-test rule; must be lower (evaluated earlier) than rule_priority. Required when enable_smoke_rule is true."
  type        = number
  default     = null

  validation {
    condition     = var.smoke_rule_priority == null ? true : (var.smoke_rule_priority >= 1 && var.smoke_rule_priority <= 50000 && floor(var.smoke_rule_priority) == var.smoke_rule_priority)
    error_message = "smoke_rule_priority must be a whole number from 1 to 50000."
  }
}

variable "smoke_header_name" {
  description = "HTTP header whose value must equal the generated secret for the smoke rule to match."
  type        = string
  default     = "X-Gray-Smoke"

  validation {
    condition     = can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$", var.smoke_header_name))
    error_message = "smoke_header_name must be a valid HTTP header name of at most 40 characters."
  }
}

variable "smoke_secret_header" {
  description = "Protect the smoke rule with a generated secret header value (stored as an SSM SecureString parameter). Turn off only when smoke_source_cidrs alone is enough."
  type        = bool
  default     = true
}

variable "smoke_source_cidrs" {
  description = "Source CIDR blocks allowed to reach gray through the smoke rule (at most 4 when the secret header is on). Empty: any source that knows the secret."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.smoke_source_cidrs : can(cidrhost(c, 0))])
    error_message = "smoke_source_cidrs must be CIDR blocks such as 203.0.113.0/24."
  }
}

variable "smoke_ssm_parameter_name" {
  description = "Name of the SSM parameter holding the smoke header value. Default: \"/gray-deploy/<name>/smoke-header\"."
  type        = string
  default     = null

  validation {
    condition     = var.smoke_ssm_parameter_name == null ? true : can(regex("^/[A-Za-z0-9_./-]{1,1010}$", var.smoke_ssm_parameter_name))
    error_message = "smoke_ssm_parameter_name must be a hierarchical SSM parameter name starting with '/'."
  }
}

# ── Rollback alarms (defaults = gray-deploy's default rollback thresholds) ──────────────────

variable "error_rate_threshold_percent" {
  description = "Error-rate alarm: gray's 5xx responses as a percentage of its requests over the rollback window above this value (the tool's --rollback-error-rate, default 2%)."
  type        = number
  default     = 2

  validation {
    condition     = var.error_rate_threshold_percent > 0 && var.error_rate_threshold_percent <= 50
    error_message = "error_rate_threshold_percent must be above 0 and at most 50 (the tool accepts 0.01% to 50%)."
  }
}

variable "error_rate_min_requests" {
  description = "Error-rate alarm: the rate counts only when gray served at least this many requests in the window (1 = any traffic)."
  type        = number
  default     = 1

  validation {
    condition     = var.error_rate_min_requests >= 1 && floor(var.error_rate_min_requests) == var.error_rate_min_requests
    error_message = "error_rate_min_requests must be a whole number of at least 1."
  }
}

variable "p99_threshold_seconds" {
  description = "Latency alarm: gray's p99 TargetResponseTime over the rollback window above this many seconds (the tool's --rollback-p99, default 2s)."
  type        = number
  default     = 2

  validation {
    condition     = var.p99_threshold_seconds > 0 && var.p99_threshold_seconds <= 600
    error_message = "p99_threshold_seconds must be above 0 and at most 600."
  }
}

variable "unhealthy_hosts_threshold" {
  description = "Health alarm: more than this many unhealthy gray targets (the tool's --rollback-unhealthy, default 1)."
  type        = number
  default     = 1

  validation {
    condition     = var.unhealthy_hosts_threshold >= 0 && var.unhealthy_hosts_threshold <= 1000 && floor(var.unhealthy_hosts_threshold) == var.unhealthy_hosts_threshold
    error_message = "unhealthy_hosts_threshold must be a whole number from 0 to 1000."
  }
}

variable "rollback_window_minutes" {
  description = "Rollback window of the error-rate and latency alarms, in minutes (the tool's --rollback-window, default 5m): each evaluates one aggregate datapoint over the trailing window."
  type        = number
  default     = 5

  validation {
    condition     = var.rollback_window_minutes >= 1 && var.rollback_window_minutes <= 1440 && floor(var.rollback_window_minutes) == var.rollback_window_minutes
    error_message = "rollback_window_minutes must be a whole number of minutes from 1 to 1440."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when a gray alarm enters ALARM or returns to OK (e.g. an SNS topic). The pipeline and the guard read the alarms directly; actions are for people."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_actions : can(regex("^arn:aws[a-z-]*:", a))])
    error_message = "alarm_actions must be ARNs."
  }
}

# ── Rollout state ───────────────────────────────────────────────────────────────────────────

variable "create_state_table" {
  description = "Create the DynamoDB table for rollout state and lock. Set false to share a table created elsewhere (by another instance of this module or `gray-deploy bootstrap`)."
  type        = bool
  default     = true
}

variable "state_table_name" {
  description = "Name of the DynamoDB state table (created, or existing when create_state_table is false)."
  type        = string
  default     = "gray-deploy-state"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.state_table_name))
    error_message = "state_table_name must be 3-255 letters, digits, '_', '.' or '-'."
  }
}

variable "state_table_deletion_protection" {
  description = "Enable deletion protection on the state table (it holds the record of every rollout and the lock)."
  type        = bool
  default     = true
}

# ── Pipeline permissions ────────────────────────────────────────────────────────────────────

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository the service's images live in: the pipeline resolves a release's digest there (ecr:DescribeImages) and publishes there. Null: no ECR statements (images come from another registry)."
  type        = string
  default     = null

  validation {
    condition     = var.ecr_repository_arn == null ? true : can(regex("^arn:aws[a-z-]*:ecr:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:repository/[a-z0-9._/-]+$", var.ecr_repository_arn))
    error_message = "ecr_repository_arn must be an ECR repository ARN: arn:aws:ecr:REGION:ACCOUNT:repository/NAME."
  }
}

variable "allow_listener_default_action" {
  description = "Also allow ModifyListener on the listener, for the tool's mode without a rule (weights in the listener's default action). The module's own rule never needs it: leave false unless you drive a listener's default action."
  type        = bool
  default     = false
}

variable "pipeline_role_names" {
  description = "Names of existing IAM roles (e.g. the CI's OIDC role) to attach the pipeline policy to."
  type        = list(string)
  default     = []
}

# ── Guard (rollback when no pipeline is watching) ───────────────────────────────────────────

variable "enable_guard" {
  description = "Deploy the guard Lambda: on a gray alarm (EventBridge) it rolls back at once, and on a schedule it rolls back a rollout paused or unwatched with traffic on gray for longer than guard_max_pause. On by default: a payments service must not stay on an unjudged release because a CI job died."
  type        = bool
  default     = true
}

variable "guard_package_path" {
  description = "Path of the guard's deployment package, built by gray-deploy's scripts/package-guard.ts (`npm run package:guard`). Default: guard/gray-deploy-guard.zip in this module, where that script writes it; the plan fails with that command when it is missing."
  type        = string
  default     = null

  validation {
    condition     = var.guard_package_path == null ? true : can(regex("\\.zip$", var.guard_package_path))
    error_message = "guard_package_path must point to a .zip deployment package."
  }
}

variable "guard_handler" {
  description = "Handler of the guard function inside its package."
  type        = string
  default     = "index.handler"
}

variable "guard_runtime" {
  description = "Lambda runtime of the guard function."
  type        = string
  default     = "nodejs20.x"

  validation {
    condition     = can(regex("^nodejs[0-9]+\\.x$", var.guard_runtime))
    error_message = "guard_runtime must be a Node.js Lambda runtime such as nodejs20.x."
  }
}

variable "guard_schedule_expression" {
  description = "How often the guard checks for paused or unwatched rollouts (EventBridge schedule)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.guard_schedule_expression))
    error_message = "guard_schedule_expression must be an EventBridge rate(...) or cron(...) expression."
  }
}

variable "guard_max_pause" {
  description = "A paused rollout with traffic on gray longer than this is rolled back by the guard (the tool's --max-pause, default 1h). Written as the tool writes durations."
  type        = string
  default     = "1h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$", var.guard_max_pause))
    error_message = "guard_max_pause must be a duration with units, such as 1h, 90m or 1h30m."
  }
}

variable "guard_timeout_seconds" {
  description = "Timeout of the guard function; a verified rollback waits for the deregistration delay before scaling gray in, so this must exceed the gray target group's deregistration delay by 60 s (checked)."
  type        = number
  default     = 600

  validation {
    condition     = var.guard_timeout_seconds >= 30 && var.guard_timeout_seconds <= 900
    error_message = "guard_timeout_seconds must be between 30 and 900."
  }
}

variable "guard_log_retention_days" {
  description = "Retention of the guard function's CloudWatch log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.guard_log_retention_days)
    error_message = "guard_log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, …)."
  }
}

variable "enable_pilot_rule" {
  description = "Create the chosen-customers listener rule (gray-deploy --pilot-rule-arn): requests whose pilot_header_name matches one of pilot_header_values go to gray in a first step, before any percentage step. Created forwarding to stable (off)."
  type        = bool
  default     = false
}

variable "pilot_rule_priority" {
  description = "Priority of the chosen-customers rule; must be lower (evaluated earlier) than rule_priority. Required when enable_pilot_rule is true."
  type        = number
  default     = null

  validation {
    condition     = var.pilot_rule_priority == null ? true : (var.pilot_rule_priority >= 1 && var.pilot_rule_priority <= 50000 && floor(var.pilot_rule_priority) == var.pilot_rule_priority)
    error_message = "pilot_rule_priority must be a whole number from 1 to 50000."
  }
}

variable "pilot_header_name" {
  description = "HTTP header that selects the chosen customers (e.g. X-Tenant). For a cookie, use Cookie with values like \"*pilot=internal*\"."
  type        = string
  default     = "X-Gray-Pilot"

  validation {
    condition     = can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$", var.pilot_header_name))
    error_message = "pilot_header_name must be a valid HTTP header name of at most 40 characters."
  }
}

variable "pilot_header_values" {
  description = "Values of pilot_header_name that select the chosen customers (ALB matching: case-insensitive, * and ? wildcards), at most 5."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.pilot_header_values) <= 5 && alltrue([for v in var.pilot_header_values : length(v) >= 1 && length(v) <= 128])
    error_message = "pilot_header_values holds at most 5 values (an ALB rule's limit) of 1 to 128 characters each."
  }
}

variable "hook_function_name_prefix" {
  description = "gray-deploy's Lambda lifecycle hooks: the pipeline may invoke (lambda:InvokeFunction) the functions of this account and region whose names start with this prefix, e.g. \"gray-hook-\". Null: no Lambda hooks (the statement is dropped)."
  type        = string
  default     = null

  validation {
    condition     = var.hook_function_name_prefix == null ? true : can(regex("^[A-Za-z0-9_-]{3,60}$", var.hook_function_name_prefix))
    error_message = "hook_function_name_prefix must be 3 to 60 letters, digits, - or _ (a Lambda function name's characters), long enough not to match every function."
  }
}
