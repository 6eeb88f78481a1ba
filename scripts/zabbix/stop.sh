#!/usr/bin/env bash
# Stops the frontend and zabbix_server that setup.sh/start.sh started (by their pid files), and
# PostgreSQL only when one of them started it (it may serve others on this machine).
# Leaves the database, the token and .zabbix/env in place: start.sh brings everything back.
set -euo pipefail
ZBX_TAG=zabbix-stop
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The frontend is a process group (setsid; PHP's workers are its children and outlive a killed
# parent): its whole group is signalled. zabbix_server stops its children itself on SIGTERM.
stop_pid() { # name pidfile group|single
  local pid target
  pid="$(pid_from "$2")"
  if pid_alive "$pid"; then
    target="$pid"
    [ "$3" != group ] || target="-$pid"
    kill -- "$target"
    for _ in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
      say "$1 (pid $pid) still runs after 10 s: sending SIGKILL"
      kill -9 -- "$target" 2>/dev/null || true
    fi
    say "stopped $1 (pid $pid)"
  else
    say "$1 is not running"
  fi
  rm -f "$2"
}

stop_pid frontend "$ZBX_RUN/frontend.pid" group
stop_pid zabbix_server "$ZBX_RUN/zabbix_server.pid" single

if [ -r "$ZBX_RUN/postgresql.started-by-us" ]; then
  read -r v c <"$ZBX_RUN/postgresql.started-by-us"
  as_root pg_ctlcluster "$v" "$c" stop && say "stopped PostgreSQL $v/$c"
  rm -f "$ZBX_RUN/postgresql.started-by-us"
fi
