#!/usr/bin/env bash
# Sets up and starts a real Zabbix 6.0 LTS (Debian bookworm's packages) for gray-deploy's tests and CI:
#   PostgreSQL (the machine's cluster) with a `zabbix` role and database holding Zabbix's schema,
#   zabbix_server (trapper on loopback, small caches, 1 s configuration sync) and the PHP frontend
#   served by PHP's built-in server (its api_jsonrpc.php is the JSON-RPC API), then, through the API,
#   an API token, a host group and two hosts standing for the stable and gray Auto Scaling groups'
#   instances, tagged and with trapper items. Writes .zabbix/env (URL, token, ports) for the tests.
#
# Idempotent: packages are installed only when missing, the schema is loaded only into an empty
# database, running services are kept, hosts and items are created only when missing; the token is
# regenerated (its value can only be read when generated). No systemd needed.
#
# Usage: bash scripts/zabbix/setup.sh        (root, or a user with sudo)
# Then:  bash scripts/zabbix/start.sh        after a reboot (starts what is not running)
#        bash scripts/zabbix/stop.sh         stops what start.sh/setup.sh started
set -euo pipefail
ZBX_TAG=zabbix-setup
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(
  postgresql          # the database (bookworm: 15)
  zabbix-server-pgsql # zabbix_server, schema under /usr/share/zabbix-server-pgsql
  zabbix-frontend-php # the PHP frontend: api_jsonrpc.php is the API
  php8.2-cli          # PHP's built-in web server serves the frontend (no Apache)
  php8.2-cgi          # satisfies `php`'s SAPI dependency without pulling Apache's module
  php8.2-pgsql        # the frontend's database driver
  zabbix-agent        # ships /usr/bin/zabbix_sender, which tests use to push values
)

# ---------------------------------------------------------------------------------------------------
phase "packages"
command -v dpkg-query >/dev/null || die "dpkg not found: this script needs Debian (bookworm)"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep packages' maintainer scripts from starting services (zabbix-server, zabbix-agent,
  # postgresql): these scripts start what they need themselves. Docker images ship this same
  # policy-rc.d; when it is absent it is added for the install and removed afterwards.
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  cleanup_policy() { [ -z "$policy_added" ] || as_root rm -f /usr/sbin/policy-rc.d; }
  trap cleanup_policy EXIT
  as_root apt-get update -q >/dev/null || die "apt-get update failed (are Debian's mirrors reachable?)"
  as_root apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "${missing[@]}" >"${TMPDIR:-/tmp}/zabbix-apt.log" 2>&1 || {
    tail -30 "${TMPDIR:-/tmp}/zabbix-apt.log" >&2
    die "apt-get install failed for: ${missing[*]} (log above)"
  }
  cleanup_policy
  trap - EXIT
else
  say "already installed (${#APT_PACKAGES[@]} packages)"
fi
ZBX_SERVER_VERSION="$(/usr/sbin/zabbix_server -V | awk 'NR==1{print $NF}')"
case "$ZBX_SERVER_VERSION" in
6.0.*) say "zabbix_server $ZBX_SERVER_VERSION" ;;
*) die "zabbix_server is $ZBX_SERVER_VERSION; this set-up is for Zabbix 6.0 LTS (Debian bookworm)" ;;
esac
[ -x /usr/bin/zabbix_sender ] || die "/usr/bin/zabbix_sender missing (package zabbix-agent)"

# ---------------------------------------------------------------------------------------------------
phase "postgresql"
pg_start
say "PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT"

# ---------------------------------------------------------------------------------------------------
phase "database"
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"; }
psql_zabbix() { PGPASSWORD="$ZBX_DB_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$ZBX_DB_USER" -d "$ZBX_DB_NAME" "$@"; }
# `cd /`: the postgres user may not be able to enter the current directory.
(cd / && psql_admin -d postgres <<SQL)
SELECT 'CREATE ROLE $ZBX_DB_USER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ZBX_DB_USER')\gexec
ALTER ROLE $ZBX_DB_USER WITH LOGIN PASSWORD '$ZBX_DB_PASSWORD';
SELECT 'CREATE DATABASE $ZBX_DB_NAME OWNER $ZBX_DB_USER ENCODING ''UTF8'' TEMPLATE template0'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ZBX_DB_NAME')\gexec
SQL
schema_version="$(psql_zabbix -tAc "SELECT mandatory FROM dbversion" 2>/dev/null || true)"
if [ -z "$schema_version" ]; then
  tables="$(psql_zabbix -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
  [ "$tables" = 0 ] || die "database $ZBX_DB_NAME has $tables tables but no Zabbix schema version: drop it (\`runuser -u postgres -- dropdb $ZBX_DB_NAME\`) and run again"
  say "loading the Zabbix schema (schema, images, data)"
  # Through the local socket as postgres with SET ROLE (objects owned by zabbix), and data.sql's
  # 173k INSERTs sent 500 per round trip (psql's \; joins statements into one request): ~6 s
  # instead of ~19 s statement by statement over TCP. A failed load leaves an unusable database:
  # it is dropped so the next run starts clean.
  if ! {
    echo "SET synchronous_commit = off; SET ROLE $ZBX_DB_USER;"
    zcat "$ZBX_SCHEMA_DIR/schema.sql.gz" "$ZBX_SCHEMA_DIR/images.sql.gz"
    zcat "$ZBX_SCHEMA_DIR/data.sql.gz" | awk '/^INSERT INTO .*\);$/ { if (++n % 500) sub(/;$/, "\\;") } { print }'
  } | (cd / && psql_admin -d "$ZBX_DB_NAME" >/dev/null); then
    (cd / && psql_admin -d postgres -c "DROP DATABASE IF EXISTS $ZBX_DB_NAME")
    die "loading the Zabbix schema failed (output above); the database was dropped"
  fi
  schema_version="$(psql_zabbix -tAc "SELECT mandatory FROM dbversion")"
fi
say "database $ZBX_DB_NAME, schema version $schema_version"

# ---------------------------------------------------------------------------------------------------
phase "configuration"
mkdir -p "$ZBX_STATE" "$ZBX_RUN"
# Ports: keep those of a running set-up; otherwise the first free ones from the defaults.
ZBX_TRAPPER_PORT="" ZBX_WEB_PORT=""
[ ! -r "$ZBX_SETTINGS" ] || . "$ZBX_SETTINGS"
server_pid="$(pid_from "$ZBX_RUN/zabbix_server.pid")"
frontend_pid="$(pid_from "$ZBX_RUN/frontend.pid")"
if ! pid_alive "$server_pid" || [ -z "$ZBX_TRAPPER_PORT" ]; then
  ZBX_TRAPPER_PORT="$(free_port "${ZBX_TRAPPER_PORT:-${GRAY_ZABBIX_TRAPPER_PORT:-20051}}")"
fi
if ! pid_alive "$frontend_pid" || [ -z "$ZBX_WEB_PORT" ]; then
  ZBX_WEB_PORT="$(free_port "${ZBX_WEB_PORT:-${GRAY_ZABBIX_WEB_PORT:-20080}}")"
fi
cat >"$ZBX_SETTINGS" <<EOS
ZBX_TRAPPER_PORT=$ZBX_TRAPPER_PORT
ZBX_WEB_PORT=$ZBX_WEB_PORT
EOS

# As root, zabbix_server drops to the `zabbix` user, which must reach .zabbix/run: a checkout under a
# directory it cannot enter (e.g. /root) makes it run as root instead (AllowRoot), which is fine
# for a loopback-only test server.
run_as="User=zabbix"
if [ "$(id -u)" -eq 0 ]; then
  chown zabbix "$ZBX_RUN"
  if ! runuser -u zabbix -- test -w "$ZBX_RUN" 2>/dev/null; then
    run_as="AllowRoot=1"
    say "user zabbix cannot reach $ZBX_RUN: zabbix_server will run as root"
  fi
fi
new_conf="$(mktemp)"
cat >"$new_conf" <<EOC
# Generated by scripts/zabbix/setup.sh for gray-deploy's tests: edit the script, not this file.
DBHost=127.0.0.1
DBPort=$PG_PORT
DBName=$ZBX_DB_NAME
DBUser=$ZBX_DB_USER
DBPassword=$ZBX_DB_PASSWORD
ListenIP=127.0.0.1
ListenPort=$ZBX_TRAPPER_PORT
LogType=file
LogFile=$ZBX_RUN/zabbix_server.log
LogFileSize=10
PidFile=$ZBX_RUN/zabbix_server.pid
SocketDir=$ZBX_RUN
$run_as
# Only what trapper items and the API need: no pollers, pingers, discovery, HTTP checks.
StartPollers=0
StartPollersUnreachable=0
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
StartHistoryPollers=0
StartODBCPollers=0
StartProxyPollers=0
StartTrappers=4
StartPreprocessors=1
StartLLDProcessors=1
StartAlerters=1
StartEscalators=1
StartTimers=1
StartDBSyncers=2
# A host or item created through the API is known to the trapper within 5 s (default 60 s); tests
# that create hosts make it immediate with \`zabbix_server -R config_cache_reload\`. Every sync
# reads the whole configuration (6.0 has no incremental sync): each second would cost ~6% of a core.
CacheUpdateFrequency=5
CacheSize=16M
HistoryCacheSize=8M
HistoryIndexCacheSize=2M
TrendCacheSize=2M
ValueCacheSize=2M
# Housekeeping every hour deletes values past the items' storage periods (setup gives them 7d/30d).
HousekeepingFrequency=1
MaxHousekeeperDelete=10000
ProblemHousekeepingFrequency=60
Timeout=4
EOC
if ! cmp -s "$new_conf" "$ZBX_SERVER_CONF" 2>/dev/null; then
  mv "$new_conf" "$ZBX_SERVER_CONF"
  if pid_alive "$server_pid"; then
    say "configuration changed: stopping zabbix_server (pid $server_pid) to restart it"
    kill "$server_pid"
    for _ in $(seq 1 100); do pid_alive "$server_pid" || break; sleep 0.1; done
    pid_alive "$server_pid" && die "zabbix_server (pid $server_pid) did not stop"
  fi
else
  rm -f "$new_conf"
fi
chmod 640 "$ZBX_SERVER_CONF"
[ "$(id -u)" -ne 0 ] || chgrp zabbix "$ZBX_SERVER_CONF"

# The frontend's database connection. Debian's frontend reads only this path.
frontend_conf="$(mktemp)"
cat >"$frontend_conf" <<EOP
<?php
// Generated by gray-deploy's scripts/zabbix/setup.sh (test set-up; loopback only).
\$DB['TYPE']           = 'POSTGRESQL';
\$DB['SERVER']         = '127.0.0.1';
\$DB['PORT']           = '$PG_PORT';
\$DB['DATABASE']       = '$ZBX_DB_NAME';
\$DB['USER']           = '$ZBX_DB_USER';
\$DB['PASSWORD']       = '$ZBX_DB_PASSWORD';
\$DB['SCHEMA']         = '';
\$DB['ENCRYPTION']     = false;
\$DB['KEY_FILE']       = '';
\$DB['CERT_FILE']      = '';
\$DB['CA_FILE']        = '';
\$DB['VERIFY_HOST']    = false;
\$DB['CIPHER_LIST']    = '';
\$DB['VAULT_URL']      = '';
\$DB['VAULT_DB_PATH']  = '';
\$DB['VAULT_TOKEN']    = '';
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER           = '127.0.0.1';
\$ZBX_SERVER_PORT      = '$ZBX_TRAPPER_PORT';
\$ZBX_SERVER_NAME      = 'gray-deploy tests';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
EOP
if ! as_root cmp -s "$frontend_conf" "$ZBX_FRONTEND_CONF" 2>/dev/null; then
  as_root install -m 644 "$frontend_conf" "$ZBX_FRONTEND_CONF"
fi
rm -f "$frontend_conf"
say "server config $ZBX_SERVER_CONF, frontend config $ZBX_FRONTEND_CONF"

# ---------------------------------------------------------------------------------------------------
phase "zabbix_server"
server_start

phase "frontend"
frontend_start

phase "api"
ZBX_URL="$(api_url)"
api_version="$(wait_api "$ZBX_URL" 60)" || {
  tail -20 "$ZBX_RUN/frontend.log" >&2 || true
  die "the API at $ZBX_URL does not answer apiinfo.version after 60 s (frontend log above)"
}
say "API $api_version at $ZBX_URL"

# ---------------------------------------------------------------------------------------------------
phase "provision (token, host group, hosts, items)"
node "$ZBX_ROOT/scripts/zabbix/provision.mjs" \
  --url "$ZBX_URL" --env "$ZBX_ENV" --trapper-port "$ZBX_TRAPPER_PORT" --version "$api_version" \
  --server-conf "$ZBX_SERVER_CONF"

phases_done
say "ready: tests read $ZBX_ENV"
