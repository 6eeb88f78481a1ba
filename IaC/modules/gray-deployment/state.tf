# Rollout state and lock: the schema `gray-deploy bootstrap` creates, so either can make the table.
# One item per scope (the weighted rule's ARN): the rollout, its revision and the lock's lease.
# Conditional writes on the revision make the lock atomic; ended rollouts may get an `expiresAt`
# (epoch seconds) that DynamoDB's TTL uses to remove them.

resource "aws_dynamodb_table" "state" {
  count = var.create_state_table ? 1 : 0

  name         = var.state_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "scope"

  attribute {
    name = "scope"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  deletion_protection_enabled = var.state_table_deletion_protection

  tags = merge(local.module_tags, {
    "gray-deploy:role" = "state"
  })
}

locals {
  state_table_name = var.create_state_table ? aws_dynamodb_table.state[0].name : var.state_table_name
  state_table_arn  = var.create_state_table ? aws_dynamodb_table.state[0].arn : "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.state_table_name}"
}
