#!/usr/bin/env bash
# The real-account check (docs/gray-deployment-runbook.md, section 11.1): from an APPLIED
# IaC/examples/existing-alb in a SANDBOX account, runs `plan`, a full rollout of the sample gateway
# image, a bad release that must roll back, and `abort` during a bake, then prints each item of the
# runbook's real-AWS checklist with what it observed. It changes the account (weights, launch
# template versions, Auto Scaling groups): never point it at production.
#
# Usage:
#   scripts/live-check.sh --account-id 123456789012 --i-understand-this-changes-aws \
#     --url https://gatewaypix.sandbox.example.com \
#     --good-image ACCT.dkr.ecr.REGION.amazonaws.com/gatewaypix:live-good \
#     --bad-image  ACCT.dkr.ecr.REGION.amazonaws.com/gatewaypix:live-bad \
#     --next-image ACCT.dkr.ecr.REGION.amazonaws.com/gatewaypix:live-next \
#     [--example-dir IaC/examples/existing-alb] [--no-ask-aws]
#
# Credentials: the standard AWS chain (AWS_PROFILE, environment, SSO…) of an identity with the
# module's pipeline policy (terraform output pipeline_policy_json) in that account.
# Exit: 0 every checklist item as expected · 1 an item failed · 2 usage · 3 refused (wrong account,
# missing confirmation, example not applied).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
account="" confirmed="" url="" good="" bad="" next="" example="$root/IaC/examples/existing-alb" ask="--ask-aws"

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --account-id) account="${2:-}"; shift 2 ;;
    --i-understand-this-changes-aws) confirmed=yes; shift ;;
    --url) url="${2:-}"; shift 2 ;;
    --good-image) good="${2:-}"; shift 2 ;;
    --bad-image) bad="${2:-}"; shift 2 ;;
    --next-image) next="${2:-}"; shift 2 ;;
    --example-dir) example="${2:-}"; shift 2 ;;
    --no-ask-aws) ask=""; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "live-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if ! [[ "$account" =~ ^[0-9]{12}$ ]]; then
  echo "live-check: refusing: name the sandbox account explicitly with --account-id <12 digits>; the check changes it" >&2
  exit 3
fi
if [ "$confirmed" != yes ]; then
  echo "live-check: refusing: this deploys, rolls back and aborts releases in account $account; confirm with --i-understand-this-changes-aws (sandbox accounts only)" >&2
  exit 3
fi
for pair in url:--url good:--good-image bad:--bad-image next:--next-image; do
  name="${pair%%:*}"
  if [ -z "${!name}" ]; then
    echo "live-check: ${pair#*:} is required (see --help)" >&2
    exit 2
  fi
done
if [ "$good" = "$bad" ] || [ "$good" = "$next" ] || [ "$bad" = "$next" ]; then
  echo "live-check: --good-image, --bad-image and --next-image must be three different images" >&2
  exit 2
fi
command -v terraform >/dev/null 2>&1 || { echo "live-check: terraform is needed to read the applied example's outputs" >&2; exit 2; }

config="$(mktemp "${TMPDIR:-/tmp}/gray-deploy-live-check.XXXXXX.json")"
trap 'rm -f "$config"' EXIT
if ! terraform -chdir="$example" output -json gray_deploy_config >"$config" 2>/dev/null || ! [ -s "$config" ]; then
  echo "live-check: refusing: $example has no applied state with the gray_deploy_config output (terraform apply it first)" >&2
  exit 3
fi

cd "$root"
exec npx tsx scripts/live-check.ts --config "$config" --account-id "$account" --url "$url" \
  --good-image "$good" --bad-image "$bad" --next-image "$next" $ask
