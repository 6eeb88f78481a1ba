# Shared by scripts/zabbix/{setup,start,stop}.sh: paths, logging, timing, privileges, PostgreSQL and
# port helpers. Sourced, never run. Everything the scripts create lives in the repository's .zabbix/
# (git-ignored) except what is machine-wide by nature: the Debian packages, the PostgreSQL cluster
# with its `zabbix` role and database, and the frontend's config file (Debian's frontend reads
# /etc/zabbix/zabbix.conf.php and nothing else).

ZBX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ZBX_STATE="$ZBX_ROOT/.zabbix"         # env, generated config, logs
ZBX_RUN="$ZBX_STATE/run"              # pid files, logs, runtime socket (writable by the server's user)
ZBX_ENV="$ZBX_STATE/env"              # what tests read: URL, token, ports (mode 0600)
ZBX_SERVER_CONF="$ZBX_STATE/zabbix_server.conf"
ZBX_SETTINGS="$ZBX_STATE/settings"    # ports chosen by setup, read by start.sh
ZBX_FRONTEND_CONF=/etc/zabbix/zabbix.conf.php
ZBX_FRONTEND_ROOT=/usr/share/zabbix
ZBX_SCHEMA_DIR=/usr/share/zabbix-server-pgsql

# Test-only database credentials: the role only accepts connections from loopback (Debian's pg_hba).
ZBX_DB_NAME=zabbix
ZBX_DB_USER=zabbix
ZBX_DB_PASSWORD=gray-deploy-test

ZBX_TAG="${ZBX_TAG:-zabbix}"
say() { printf '[%s] %s\n' "$ZBX_TAG" "$*"; }
die() {
  printf '[%s] ERROR: %s\n' "$ZBX_TAG" "$*" >&2
  exit 1
}

# Phase timing: `phase NAME` starts a phase (ending the previous one); `phases_done` prints them all.
_phase_name=""
_phase_start=0
_phase_report=()
_now_ms() { date +%s%3N; }
_script_start=$(_now_ms)
phase() {
  _phase_end
  _phase_name="$1"
  _phase_start=$(_now_ms)
  say "-- $1"
}
_phase_end() {
  if [ -n "$_phase_name" ]; then
    local ms=$(($(_now_ms) - _phase_start))
    _phase_report+=("$(printf '%8.1fs  %s' "$(awk "BEGIN{print $ms/1000}")" "$_phase_name")")
    _phase_name=""
  fi
}
phases_done() {
  _phase_end
  say "timings:"
  local line
  for line in "${_phase_report[@]}"; do say "$line"; done
  local total=$(($(_now_ms) - _script_start))
  say "$(printf '%8.1fs  total' "$(awk "BEGIN{print $total/1000}")")"
}

# Root, or sudo for the commands that need it.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    command -v sudo >/dev/null || die "not root and no sudo: run this script as root"
    sudo "$@"
  fi
}

# Runs a command as the postgres OS user (peer authentication on the local socket).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then
    "$@"
  elif [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    sudo -u postgres "$@"
  fi
}

# The newest installed PostgreSQL major version, and its cluster (the first one, normally `main`).
pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }
pg_cluster_line() { pg_lsclusters -h 2>/dev/null | awk -v v="$1" '$1 == v { print; exit }'; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# First port from $1 upwards that nothing listens on.
free_port() {
  local p="$1"
  while port_open "$p"; do p=$((p + 1)); done
  echo "$p"
}

# Pids of processes whose command name is $1 (from /proc: procps may not be installed).
pids_named() {
  local d out=""
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] && out+="${d#/proc/} "
  done
  echo "${out% }"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_from() { [ -r "$1" ] && tr -dc '0-9' <"$1" || true; }

# POSTs one JSON-RPC request to the API with Node (always present: the project needs it).
# Prints the response body; exit status 1 when the API does not answer with JSON.
api_call() {
  node -e '
    const [url, body] = process.argv.slice(1);
    fetch(url, { method: "POST", headers: { "content-type": "application/json-rpc" }, body,
      signal: AbortSignal.timeout(5000) })
      .then(async (r) => { const t = await r.text(); JSON.parse(t); process.stdout.write(t); })
      .catch(() => process.exit(1));
  ' "$1" "$2"
}

# Waits until the API at $1 answers apiinfo.version; prints the version.
wait_api() {
  local url="$1" deadline=$((SECONDS + ${2:-60})) out
  while ((SECONDS < deadline)); do
    if out=$(api_call "$url" '{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}'); then
      node -e 'const r = JSON.parse(process.argv[1]); if (!r.result) process.exit(1); console.log(r.result)' "$out" &&
        return 0
    fi
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------------------------------------------
# Starting the three services. Each is a no-op when its service already runs.

# Starts the PostgreSQL cluster (creating it when the package made none) and waits until it accepts
# connections on loopback. Sets PG_VERSION, PG_PORT. Works with or without systemd: pg_ctlcluster
# hands over to systemctl itself when systemd is PID 1.
pg_start() {
  PG_VERSION="$(pg_version)"
  [ -n "$PG_VERSION" ] || die "PostgreSQL is not installed: run \`bash scripts/zabbix/setup.sh\`"
  local line
  line="$(pg_cluster_line "$PG_VERSION")"
  if [ -z "$line" ]; then
    say "creating PostgreSQL $PG_VERSION cluster main"
    as_root pg_createcluster "$PG_VERSION" main >/dev/null
    line="$(pg_cluster_line "$PG_VERSION")"
  fi
  local cluster status
  cluster="$(awk '{print $2}' <<<"$line")"
  PG_PORT="$(awk '{print $3}' <<<"$line")"
  status="$(awk '{print $4}' <<<"$line")"
  if [ "$status" != online ]; then
    say "starting PostgreSQL $PG_VERSION/$cluster on port $PG_PORT"
    as_root pg_ctlcluster "$PG_VERSION" "$cluster" start ||
      die "PostgreSQL $PG_VERSION/$cluster did not start (see /var/log/postgresql/postgresql-$PG_VERSION-$cluster.log)"
    mkdir -p "$ZBX_RUN"
    echo "$PG_VERSION $cluster" >"$ZBX_RUN/postgresql.started-by-us"
  fi
  local deadline=$((SECONDS + 30))
  until pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do
    ((SECONDS < deadline)) || die "PostgreSQL on 127.0.0.1:$PG_PORT does not accept connections after 30 s"
    sleep 0.2
  done
}

# The OS user zabbix_server runs as: it drops root privileges to `zabbix` by itself (User=zabbix).
server_user() { if [ "$(id -u)" -eq 0 ]; then echo zabbix; else id -un; fi; }

# Starts zabbix_server (it daemonizes; pid in $ZBX_RUN) and waits until its trapper port accepts
# connections. Needs ZBX_TRAPPER_PORT (from $ZBX_SETTINGS).
server_start() {
  local pid
  pid="$(pid_from "$ZBX_RUN/zabbix_server.pid")"
  if pid_alive "$pid"; then
    say "zabbix_server already running (pid $pid, trapper port $ZBX_TRAPPER_PORT)"
    return 0
  fi
  [ -r "$ZBX_SERVER_CONF" ] || die "$ZBX_SERVER_CONF is missing: run \`bash scripts/zabbix/setup.sh\`"
  local others
  others="$(pids_named zabbix_server)"
  if [ -n "$others" ]; then
    die "another zabbix_server runs (pids $others) — two servers on one database corrupt each other's data: stop it first (e.g. \`service zabbix-server stop\`, or \`bash scripts/zabbix/stop.sh\` in the checkout that started it)"
  fi
  if port_open "$ZBX_TRAPPER_PORT"; then
    die "port $ZBX_TRAPPER_PORT (trapper) is taken by another process: run \`bash scripts/zabbix/setup.sh\` to choose a free one"
  fi
  mkdir -p "$ZBX_RUN"
  [ "$(id -u)" -ne 0 ] || chown "$(server_user)" "$ZBX_RUN"
  : >"$ZBX_RUN/zabbix_server.log"
  [ "$(id -u)" -ne 0 ] || chown "$(server_user)" "$ZBX_RUN/zabbix_server.log"
  say "starting zabbix_server (trapper 127.0.0.1:$ZBX_TRAPPER_PORT, log $ZBX_RUN/zabbix_server.log)"
  /usr/sbin/zabbix_server -c "$ZBX_SERVER_CONF" || die "zabbix_server did not start: see $ZBX_RUN/zabbix_server.log"
  local deadline=$((SECONDS + 30))
  until port_open "$ZBX_TRAPPER_PORT"; do
    if ((SECONDS >= deadline)); then
      tail -20 "$ZBX_RUN/zabbix_server.log" >&2 || true
      die "zabbix_server does not listen on 127.0.0.1:$ZBX_TRAPPER_PORT after 30 s (log above)"
    fi
    sleep 0.2
  done
}

# Serves the PHP frontend (its api_jsonrpc.php is the API) with PHP's built-in server: several
# workers so parallel test files are not serialised, OPcache on so a request does not recompile
# the frontend. Needs ZBX_WEB_PORT.
frontend_start() {
  local pid
  pid="$(pid_from "$ZBX_RUN/frontend.pid")"
  if pid_alive "$pid" && port_open "$ZBX_WEB_PORT"; then
    say "frontend already running (pid $pid, http://127.0.0.1:$ZBX_WEB_PORT)"
    return 0
  fi
  if port_open "$ZBX_WEB_PORT"; then
    die "port $ZBX_WEB_PORT (frontend) is taken by another process: run \`bash scripts/zabbix/setup.sh\` to choose a free one"
  fi
  [ -r "$ZBX_FRONTEND_CONF" ] || die "$ZBX_FRONTEND_CONF is missing or unreadable: run \`bash scripts/zabbix/setup.sh\`"
  mkdir -p "$ZBX_RUN"
  say "starting the frontend (PHP built-in server, http://127.0.0.1:$ZBX_WEB_PORT)"
  # setsid: its own session, so it outlives this script and the shell that ran it.
  PHP_CLI_SERVER_WORKERS="${ZBX_WEB_WORKERS:-4}" setsid php \
    -d opcache.enable_cli=1 -d memory_limit=256M \
    -d display_errors=stderr -d date.timezone=UTC \
    -S "127.0.0.1:$ZBX_WEB_PORT" -t "$ZBX_FRONTEND_ROOT" \
    </dev/null >>"$ZBX_RUN/frontend.log" 2>&1 &
  echo $! >"$ZBX_RUN/frontend.pid"
  local deadline=$((SECONDS + 20))
  until port_open "$ZBX_WEB_PORT"; do
    if ! pid_alive "$(pid_from "$ZBX_RUN/frontend.pid")" || ((SECONDS >= deadline)); then
      tail -20 "$ZBX_RUN/frontend.log" >&2 || true
      die "the frontend did not start on 127.0.0.1:$ZBX_WEB_PORT (log above)"
    fi
    sleep 0.1
  done
}

load_settings() {
  [ -r "$ZBX_SETTINGS" ] || die "$ZBX_SETTINGS is missing: run \`bash scripts/zabbix/setup.sh\` first"
  # shellcheck disable=SC1090
  . "$ZBX_SETTINGS"
}

api_url() { echo "http://127.0.0.1:$ZBX_WEB_PORT/api_jsonrpc.php"; }
