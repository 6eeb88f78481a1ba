#!/usr/bin/env bash
# Checks the formatting of the Terraform code (IaC/ by default, or the directory given) with
# `terraform fmt -check -recursive`. Needs only the terraform binary, no provider and no network.
# Where no terraform binary is installed it says so and succeeds: the structural tests in
# test/iac still parse every .tf file.
#
# Usage: scripts/terraform-fmt-check.sh [DIR]
# Exit: 0 formatted (or skipped), 3 files need `terraform fmt`, other non-zero: terraform failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/IaC}"

if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform fmt check skipped: terraform not installed"
  exit 0
fi

if [ ! -d "$dir" ]; then
  echo "terraform fmt check: no such directory: $dir" >&2
  exit 2
fi

# No CLI configuration is needed for fmt; this keeps a missing ~/.terraformrc from warning.
export TF_CLI_CONFIG_FILE=/dev/null
export TF_IN_AUTOMATION=1
export CHECKPOINT_DISABLE=1

set +e
unformatted="$(terraform fmt -check -recursive -list=true "$dir" 2>&1)"
rc=$?
set -e

if [ "$rc" -eq 0 ]; then
  echo "terraform fmt check passed: $(terraform version | head -n 1), $dir"
  exit 0
fi

if [ "$rc" -eq 3 ]; then
  echo "terraform fmt check failed: these files need \`terraform fmt\`:" >&2
  printf '%s\n' "$unformatted" >&2
  terraform fmt -check -recursive -diff "$dir" >&2 || true
  exit 3
fi

echo "terraform fmt check: terraform fmt failed (exit $rc):" >&2
printf '%s\n' "$unformatted" >&2
exit "$rc"
