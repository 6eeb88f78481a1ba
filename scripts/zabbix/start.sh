#!/usr/bin/env bash
# Starts what scripts/zabbix/setup.sh set up and is not running (PostgreSQL, zabbix_server, the
# frontend), then waits until the API answers. For a machine or session where setup.sh already ran
# (processes do not survive a new session). Fails, saying so, when setup.sh has not run.
set -euo pipefail
ZBX_TAG=zabbix-start
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -r "$ZBX_ENV" ] || die "$ZBX_ENV is missing: run \`bash scripts/zabbix/setup.sh\`"
command -v zabbix_server >/dev/null || [ -x /usr/sbin/zabbix_server ] ||
  die "Zabbix is not installed: run \`bash scripts/zabbix/setup.sh\`"
load_settings

phase "postgresql"
pg_start
phase "zabbix_server"
server_start
phase "frontend"
frontend_start
phase "api"
url="$(api_url)"
version="$(wait_api "$url" 60)" || die "the API at $url does not answer after 60 s (see $ZBX_RUN/frontend.log)"
phases_done
say "API $version at $url"
