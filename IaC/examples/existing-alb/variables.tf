variable "region" {
  description = "Region of the existing load balancer."
  type        = string
  default     = "sa-east-1"
}

variable "service" {
  description = "Service name (prefix of the gray resources)."
  type        = string
  default     = "gatewaypix"
}

variable "listener_arn" {
  description = "ARN of the existing HTTPS listener (owned by IaC/modules/app_load_balance)."
  type        = string
}

variable "stable_target_group_arn" {
  description = "ARN of the existing stable target group (owned by IaC/modules/app_load_balance)."
  type        = string
}

variable "launch_template_id" {
  description = "ID of the existing launch template (owned by IaC/modules/launch_templates)."
  type        = string
}

variable "launch_template_version" {
  description = "Numbered launch template version the stable ASG was created with. After the first rollout the pipeline owns the version: Terraform ignores it."
  type        = string
}

variable "instance_role_arn" {
  description = "ARN of the role in the launch template's instance profile (the pipeline passes it when it points an ASG at a new version)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the service's instances."
  type        = list(string)
}

variable "stable_capacity" {
  description = "Minimum, desired and maximum size of the stable ASG."
  type = object({
    min     = number
    desired = number
    max     = number
  })
  default = {
    min     = 2
    desired = 4
    max     = 8
  }
}

variable "rule_priority" {
  description = "Priority of the weighted rule on the listener."
  type        = number
  default     = 100
}

variable "smoke_rule_priority" {
  description = "Priority of the smoke-test rule (lower than rule_priority)."
  type        = number
  default     = 99
}

variable "smoke_source_cidrs" {
  description = "Where smoke tests come from (the CI runners' egress or the VPN)."
  type        = list(string)
  default     = []
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository the pipeline publishes the service image to."
  type        = string
  default     = null
}

variable "ci_role_name" {
  description = "Name of the CI's existing OIDC role that runs gray-deploy; the pipeline policy is attached to it."
  type        = string
  default     = null
}
