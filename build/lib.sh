# shellcheck shell=bash
# Shared helpers for the EcrCache build scripts. Source it, do not execute it.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides: ECRCACHE_REPO_ROOT, ECRCACHE_STATE_DIR, ECRCACHE_DOCKER,
#           log/warn/die, require_root, pick_free_port, run_detached.

if [[ -n "${_ECRCACHE_LIB_SOURCED:-}" ]]; then
  return 0
fi
_ECRCACHE_LIB_SOURCED=1

ECRCACHE_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ECRCACHE_STATE_DIR="${ECRCACHE_STATE_DIR:-/tmp/ecrcache-services}"
# Debian's docker.io client. A newer /usr/local/bin/docker (without buildx) may
# shadow it on PATH, so every script uses this absolute path.
# (Constants below are used by the scripts that source this file.)
# shellcheck disable=SC2034
ECRCACHE_DOCKER=/usr/bin/docker
# shellcheck disable=SC2034
ECRCACHE_DOCKERD=/usr/sbin/dockerd
# shellcheck disable=SC2034
ECRCACHE_REGISTRY_BIN=/usr/bin/docker-registry
# shellcheck disable=SC2034
ECRCACHE_BUSYBOX=/bin/busybox
export ECRCACHE_REPO_ROOT ECRCACHE_STATE_DIR

log() {
  printf '[ecrcache] %s\n' "$*" >&2
}

warn() {
  printf '[ecrcache] WARNING: %s\n' "$*" >&2
}

die() {
  printf '[ecrcache] ERROR: %s\n' "$*" >&2
  exit 1
}

require_root() {
  if [[ "$(id -u)" -ne 0 ]]; then
    die "$1 must run as root (try: sudo bash $0)"
  fi
}

# Prints a TCP port on 127.0.0.1 that was free a moment ago.
pick_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# run_detached PIDFILE LOGFILE CMD [ARGS...]
# Starts CMD in its own session (so Ctrl-C / process-group kills of the caller
# do not take it down), stdin from /dev/null, stdout+stderr appended to LOGFILE,
# and writes its real pid to PIDFILE. fd 9 (the services lock, see
# start-services.sh) is closed in the child so it does not hold the lock.
run_detached() {
  local pidfile="$1" logfile="$2"
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and "$@" are expanded by the inner bash.
  setsid bash -c 'echo "$$" > "$0"; exec "$@"' "$pidfile" nohup "$@" \
    </dev/null >>"$logfile" 2>&1 9>&- &
  local _
  for _ in $(seq 1 50); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "could not start $1 (no pid file $pidfile); see $logfile"
}

# pid_alive PIDFILE [COMM_SUBSTRING]
# True if the pid in PIDFILE is a live process (whose command line contains
# COMM_SUBSTRING, when given; protects against recycled pids).
pid_alive() {
  local pidfile="$1" expect="${2:-}" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "$expect" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$expect" || return 1
  fi
  return 0
}

# Seconds since epoch with sub-second precision.
now_seconds() {
  date +%s.%N
}

# elapsed START END -> "12.34"
elapsed() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}
