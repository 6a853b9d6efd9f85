# shellcheck shell=bash
# Shared helpers for the EcrCache build scripts. Source it, do not execute it.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides: ECRCACHE_REPO_ROOT, ECRCACHE_STATE_DIR, ECRCACHE_DOCKER,
#           log/warn/die, require_root, pick_free_port, run_detached, pid_alive, stop_pid.

if [[ -n "${_ECRCACHE_LIB_SOURCED:-}" ]]; then
  return 0
fi
_ECRCACHE_LIB_SOURCED=1

ECRCACHE_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ECRCACHE_STATE_DIR="${ECRCACHE_STATE_DIR:-/tmp/ecrcache-services}"
# Debian's docker.io client. A newer /usr/local/bin/docker (without buildx) may
# shadow it on PATH, so every script uses this absolute path.
# (Constants below are used by the scripts that source this file. The docker
# paths and the network-interface folder can be overridden, which the tests of
# start-services.sh do to stand in for a daemon.)
# shellcheck disable=SC2034
ECRCACHE_DOCKER="${ECRCACHE_DOCKER:-/usr/bin/docker}"
# shellcheck disable=SC2034
ECRCACHE_DOCKERD="${ECRCACHE_DOCKERD:-/usr/sbin/dockerd}"
# shellcheck disable=SC2034
ECRCACHE_SYS_CLASS_NET="${ECRCACHE_SYS_CLASS_NET:-/sys/class/net}"
# shellcheck disable=SC2034
ECRCACHE_REGISTRY_BIN=/usr/bin/docker-registry
# shellcheck disable=SC2034
ECRCACHE_BUSYBOX=/bin/busybox
# Tools install-prereqs.sh installs outside apt (PowerShell 7 as a .NET tool, for the
# image.env.ps1 tests), in a folder that outlives the work tree and the state dir.
ECRCACHE_TOOLS_DIR="${ECRCACHE_TOOLS_DIR:-/opt/ecrcache-tools}"
# shellcheck disable=SC2034
ECRCACHE_PWSH="$ECRCACHE_TOOLS_DIR/pwsh"
# shellcheck disable=SC2034
ECRCACHE_PWSH_VERSION=7.6.10
export ECRCACHE_REPO_ROOT ECRCACHE_STATE_DIR ECRCACHE_TOOLS_DIR

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

# stop_pid PIDFILE COMM_SUBSTRING LABEL TIMEOUT_SECONDS
# Stops the process named by PIDFILE (only if it is alive and its command line
# contains COMM_SUBSTRING): SIGTERM, then SIGKILL after TIMEOUT_SECONDS.
stop_pid() {
  local pidfile="$1" expect="$2" label="$3" timeout="$4" pid
  if ! pid_alive "$pidfile" "$expect"; then
    log "$label is not running"
    rm -f "$pidfile"
    return 0
  fi
  pid="$(cat "$pidfile")"
  log "stopping $label (pid $pid)"
  kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      warn "$label (pid $pid) did not exit within ${timeout}s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

# Seconds since epoch with sub-second precision.
now_seconds() {
  date +%s.%N
}

# elapsed START END -> "12.34"
elapsed() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

# write_sdk_consumer_files DIR VERSION FEED_DIR [EXTRA_SOURCE_URL]
# Makes DIR consume EcrCache.Sdk VERSION from the local feed FEED_DIR, as a user would from a NuGet feed:
# global.json keeps the repository's settings (the .NET SDK pin) and adds msbuild-sdks; NuGet.config lists only
# the local feed (plus EXTRA_SOURCE_URL if given); empty Directory.Build.* / Directory.Packages.props stubs stop
# MSBuild from importing the repository's own files when DIR lives inside the repository (existing ones are kept).
write_sdk_consumer_files() {
  local dir="$1" version="$2" feed="$3" extra="${4:-}" f
  mkdir -p "$dir"
  python3 - "$ECRCACHE_REPO_ROOT/global.json" "$dir/global.json" "$version" <<'PY'
import json, os, sys
src, dst, version = sys.argv[1:4]
data = {}
if os.path.exists(src):
    try:
        with open(src, encoding="utf-8-sig") as f:
            data = json.load(f)
    except ValueError as e:
        print(f"[ecrcache] WARNING: ignoring unparsable {src}: {e}", file=sys.stderr)
data.setdefault("msbuild-sdks", {})["EcrCache.Sdk"] = version
with open(dst, "w", encoding="utf-8") as f:
    json.dump(data, f, indent=2)
    f.write("\n")
PY
  {
    printf '<?xml version="1.0" encoding="utf-8"?>\n<!-- Generated by build/lib.sh write_sdk_consumer_files -->\n'
    printf '<configuration>\n  <packageSources>\n    <clear />\n'
    printf '    <add key="ecrcache-local" value="%s" />\n' "$feed"
    [[ -z "$extra" ]] || printf '    <add key="extra" value="%s" />\n' "$extra"
    printf '  </packageSources>\n</configuration>\n'
  } >"$dir/NuGet.config"
  for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do
    [[ -e "$dir/$f" ]] || printf '<Project />\n' >"$dir/$f"
  done
}
