output "gray_deploy_config" {
  description = "gray-deploy's --config file: `terraform output -json gray_deploy_config > gray-deploy.json`."
  value       = module.gray.gray_deploy_config
}

output "pipeline_policy_json" {
  description = "The CI role's policy, for review."
  value       = module.gray.pipeline_policy_json
}

output "smoke_header_ssm_parameter" {
  description = "SSM parameter with the smoke header's value."
  value       = module.gray.smoke_header_ssm_parameter
}
