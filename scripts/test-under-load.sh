#!/usr/bin/env bash
# Runs the test suite on a busy machine, on purpose: a CPU burner (Debian's stress-ng) takes one core
# for the whole run, then the suite must pass all the same. The burner starts before the tests and is
# stopped whatever happens: when the tests pass or fail, on Ctrl-C, and — through a small watchdog —
# even when this script is SIGKILLed (stress-ng's own --timeout is a last backstop).
#
#   bash scripts/test-under-load.sh                          # npm test (set-up, then vitest run)
#   bash scripts/test-under-load.sh npx vitest run test/safety   # any other command
#
# GRAY_LOAD_CPUS (default 1) is the number of stress-ng --cpu workers. stress-ng is installed with
# apt when missing (root or sudo), as the other set-up scripts install what they need.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[test-under-load] %s\n' "$*" >&2; }
die() {
  printf '[test-under-load] ERROR: %s\n' "$*" >&2
  exit 1
}
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    command -v sudo >/dev/null || die "not root and no sudo: install stress-ng as root (apt-get install -y stress-ng)"
    sudo "$@"
  fi
}

CPUS="${GRAY_LOAD_CPUS:-1}"
[[ "$CPUS" =~ ^[1-9][0-9]*$ ]] || die "GRAY_LOAD_CPUS must be a whole number of 1 or more, not '$CPUS'"
[ "$#" -gt 0 ] || set -- npm test

if ! command -v stress-ng >/dev/null; then
  command -v apt-get >/dev/null || die "stress-ng is missing and there is no apt-get: install stress-ng, then run again"
  say "installing stress-ng (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q >/dev/null || die "apt-get update failed (are Debian's mirrors reachable?)"
  as_root apt-get install -y -q --no-install-recommends stress-ng >/dev/null ||
    die "apt-get install stress-ng failed"
fi

# Its own session (setsid), so stopping it stops its workers too: kill the process group.
setsid stress-ng --cpu "$CPUS" --cpu-method matrixprod --timeout 3h --metrics-brief >&2 &
BURNER=$!
# A watchdog stops the burner if this script dies without running its trap (SIGKILL).
SCRIPT=$$
(
  trap '' INT TERM
  while kill -0 "$SCRIPT" 2>/dev/null && kill -0 "$BURNER" 2>/dev/null; do sleep 2; done
  kill -TERM -- "-$BURNER" 2>/dev/null || true
) </dev/null >/dev/null 2>&1 &
stop_burner() {
  local rc=$?
  if kill -0 "$BURNER" 2>/dev/null; then
    kill -TERM -- "-$BURNER" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$BURNER" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$BURNER" 2>/dev/null || true
  fi
  wait "$BURNER" 2>/dev/null || true
  say "burner stopped; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit "$rc"
}
trap stop_burner EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sleep 1
kill -0 "$BURNER" 2>/dev/null || die "stress-ng did not start"
say "stress-ng --cpu $CPUS running (pid $BURNER) on $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
say "running: $*"
started=$(date +%s)
set +e
"$@"
rc=$?
set -e
say "exit $rc after $(($(date +%s) - started)) s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$rc"
