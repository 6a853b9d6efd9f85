#!/usr/bin/env bash
# Starts (or reuses) the local services the EcrCache tests and demo need:
#   * dockerd (only if `docker info` fails; recorded so stop-services.sh can stop it;
#     a daemon it did not start is never stopped or restarted)
#   * two distribution v2 registries on 127.0.0.1, free ports:
#       "open" - no auth
#       "auth" - htpasswd basic auth, user "ecrcache", random password
#   * a locally built busybox base image, pushed to the open registry
#   * moto_server (AWS emulator) on 127.0.0.1, free port, for the ECR provider tests
# and writes $ECRCACHE_STATE_DIR/services.env (default /tmp/ecrcache-services).
#
# The path of services.env is printed on stdout (last line); all progress
# messages go to stderr. Safe to run repeatedly and concurrently.
# `--only dockerd` starts (or checks) the daemon and nothing else.
set -euo pipefail

# shellcheck source=build/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=""
case "${1:-}" in
  "") ;;
  --only)
    [[ "${2:-}" == dockerd ]] || die "usage: $0 [--only dockerd]"
    ONLY=dockerd
    ;;
  *) die "usage: $0 [--only dockerd]" ;;
esac

STATE="$ECRCACHE_STATE_DIR"
AUTH_USER=ecrcache
BASE_IMAGE_REPO=ecrcache/busybox
BASE_IMAGE_TAG=1
LOCAL_BASE_IMAGE="$BASE_IMAGE_REPO:$BASE_IMAGE_TAG"

mkdir -p "$STATE"

# Serialise concurrent invocations. fd 9 is closed in detached children
# (see run_detached) so long-running services never hold the lock.
exec 9>"$STATE/.lock"
if ! flock -w 300 9; then
  die "timed out waiting for lock $STATE/.lock (another start-services.sh is running?)"
fi

docker() {
  "$ECRCACHE_DOCKER" "$@"
}

# --------------------------------------------------------------------------
# (a) dockerd
# --------------------------------------------------------------------------
ensure_dockerd() {
  [[ -x "$ECRCACHE_DOCKER" ]] || die "$ECRCACHE_DOCKER not found; run build/install-prereqs.sh first"
  local pidfile="$STATE/dockerd.pid" logfile="$STATE/dockerd.log" restarted_for_bridge=0
  if docker info >/dev/null 2>&1; then
    # A daemon whose default bridge vanished (e.g. another dockerd on the host removed docker0) cannot run
    # RUN steps ("could not find bridge docker0"). Only a daemon this script started may be restarted: on a
    # workstation the running daemon belongs to the user, and stopping it would stop their containers.
    if [[ -d "$ECRCACHE_SYS_CLASS_NET" ]] && [[ ! -e "$ECRCACHE_SYS_CLASS_NET/docker0" ]] && [[ -z "${DOCKER_HOST:-}" ]] \
       && [[ "${ECRCACHE_SKIP_BRIDGE_CHECK:-}" != 1 ]] && [[ "$(docker info --format '{{.Name}}' 2>/dev/null)" != "" ]]; then
      if [[ -e "$STATE/dockerd.started-by-ecrcache" ]] && pid_alive "$pidfile" dockerd; then
        log "the docker daemon this script started (pid $(cat "$pidfile")) lost its docker0 bridge; restarting it"
        stop_pid "$pidfile" dockerd "dockerd (started by start-services.sh)" 30
        rm -f "$STATE/dockerd.started-by-ecrcache"
        restarted_for_bridge=1
      else
        die "the running docker daemon has no docker0 bridge, so RUN steps would fail with 'could not find bridge docker0'. This script did not start that daemon (no live pid in $pidfile), so it leaves it alone: restart it yourself (for example 'systemctl restart docker'), or stop it and run this script again to start one of its own. If the daemon runs without a default bridge on purpose (--bridge=none), set ECRCACHE_SKIP_BRIDGE_CHECK=1."
      fi
    else
      log "docker daemon is running; reusing it"
      return 0
    fi
  fi

  if pid_alive "$pidfile" dockerd; then
    log "dockerd (pid $(cat "$pidfile")) started earlier is not answering yet; waiting"
  else
    require_root "starting dockerd"
    [[ -x "$ECRCACHE_DOCKERD" ]] || die "$ECRCACHE_DOCKERD not found; run build/install-prereqs.sh first"
    log "docker daemon not reachable; starting $ECRCACHE_DOCKERD (log: $logfile)"
    : >"$logfile"
    # Extra daemon flags (e.g. --storage-driver=vfs) can be passed via
    # ECRCACHE_DOCKERD_ARGS. Word splitting is intended.
    # shellcheck disable=SC2086
    run_detached "$pidfile" "$logfile" "$ECRCACHE_DOCKERD" ${ECRCACHE_DOCKERD_ARGS:-}
    touch "$STATE/dockerd.started-by-ecrcache"
  fi

  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ! pid_alive "$pidfile" dockerd; then
      tail -n 30 "$logfile" >&2 || true
      rm -f "$STATE/dockerd.started-by-ecrcache"
      die "dockerd exited during startup; see $logfile"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$logfile" >&2 || true
      die "dockerd did not become ready within 60s; see $logfile"
    fi
    sleep 1
  done
  # A daemon restarted to get its bridge back must really have it: a daemon that answers before its network is
  # set up, or one that cannot create docker0 at all, would otherwise fail every RUN step later.
  if ((restarted_for_bridge)); then
    until [[ -e "$ECRCACHE_SYS_CLASS_NET/docker0" ]]; do
      if ((SECONDS >= deadline)); then
        tail -n 30 "$logfile" >&2 || true
        die "the restarted dockerd (pid $(cat "$pidfile")) still has no docker0 bridge; see $logfile"
      fi
      sleep 0.2
    done
  fi
  log "docker daemon ready (pid $(cat "$pidfile"))"
}

# --------------------------------------------------------------------------
# (b) registries
# --------------------------------------------------------------------------
http_code() {
  # http_code URL [curl args...] -> prints the HTTP status ("000" if unreachable)
  local url="$1"
  shift
  curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" 2>/dev/null || true
}

auth_password() {
  local pwfile="$STATE/auth-password"
  if [[ ! -s "$pwfile" ]]; then
    (
      umask 077
      python3 -c 'import secrets; print(secrets.token_hex(16))' >"$pwfile"
    )
    log "generated a new password for registry user $AUTH_USER ($pwfile)"
  fi
  cat "$pwfile"
}

bcrypt_hash() {
  # bcrypt_hash PASSWORD -> prints a bcrypt hash suitable for htpasswd
  local pw="$1" py hash=""
  if command -v htpasswd >/dev/null 2>&1; then
    hash="$(htpasswd -nbB "$AUTH_USER" "$pw" | head -n 1)"
    hash="${hash#*:}"
  else
    for py in python3 /usr/bin/python3; do
      command -v "$py" >/dev/null 2>&1 || continue
      if hash="$("$py" -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))' "$pw" 2>/dev/null)"; then
        break
      fi
      hash=""
    done
  fi
  # shellcheck disable=SC2016 # '$2' is the bcrypt prefix, not a variable.
  [[ "$hash" == '$2'* ]] || die "cannot create a bcrypt hash (install apache2-utils, or run build/install-prereqs.sh)"
  printf '%s\n' "$hash"
}

registry_healthy() {
  # registry_healthy NAME PORT
  local name="$1" port="$2" url="http://127.0.0.1:$2/v2/"
  case "$name" in
    open)
      [[ "$(http_code "$url")" == 200 ]]
      ;;
    auth)
      [[ "$(http_code "$url")" == 401 ]] &&
        [[ "$(http_code "$url" -u "$AUTH_USER:$(auth_password)")" == 200 ]]
      ;;
    *) die "unknown registry $name" ;;
  esac
}

write_registry_config() {
  # write_registry_config NAME DIR PORT
  local name="$1" dir="$2" port="$3" secret
  secret="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  {
    cat <<EOF
# Generated by build/start-services.sh - do not edit.
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
  fields:
    service: registry
    instance: $name
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [[ "$name" == auth ]]; then
      cat <<EOF
auth:
  htpasswd:
    realm: basic-realm
    path: $dir/htpasswd
EOF
    fi
  } >"$dir/config.yml"
}

# ensure_registry NAME -> sets REGISTRY_PORT
ensure_registry() {
  local name="$1"
  local dir="$STATE/registry-$name"
  local pidfile="$dir/pid" portfile="$dir/port"
  local logfile="$STATE/registry-$name.log"
  mkdir -p "$dir/storage"

  if pid_alive "$pidfile" docker-registry && [[ -s "$portfile" ]]; then
    local port
    port="$(cat "$portfile")"
    if registry_healthy "$name" "$port"; then
      log "registry '$name' already running on 127.0.0.1:$port (pid $(cat "$pidfile")); reusing it"
      REGISTRY_PORT="$port"
      return 0
    fi
    log "registry '$name' (pid $(cat "$pidfile")) is not healthy; restarting it"
    kill "$(cat "$pidfile")" 2>/dev/null || true
    sleep 1
  fi

  if [[ "$name" == auth ]]; then
    local pw
    pw="$(auth_password)"
    (
      umask 077
      printf '%s:%s\n' "$AUTH_USER" "$(bcrypt_hash "$pw")" >"$dir/htpasswd"
    )
  fi

  local attempt port
  for attempt in 1 2 3; do
    port="$(pick_free_port)"
    write_registry_config "$name" "$dir" "$port"
    printf '%s\n' "$port" >"$portfile"
    : >"$logfile"
    log "starting registry '$name' on 127.0.0.1:$port (log: $logfile)"
    run_detached "$pidfile" "$logfile" "$ECRCACHE_REGISTRY_BIN" serve "$dir/config.yml"

    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
      if registry_healthy "$name" "$port"; then
        log "registry '$name' ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
        REGISTRY_PORT="$port"
        return 0
      fi
      pid_alive "$pidfile" docker-registry || break
      sleep 0.2
    done
    warn "registry '$name' did not come up on port $port (attempt $attempt); last log lines:"
    tail -n 10 "$logfile" >&2 || true
    if pid_alive "$pidfile" docker-registry; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  die "could not start registry '$name'; see $logfile"
}

# --------------------------------------------------------------------------
# (c) busybox base image
# --------------------------------------------------------------------------
build_base_image() {
  [[ -x "$ECRCACHE_BUSYBOX" ]] || die "$ECRCACHE_BUSYBOX not found; run build/install-prereqs.sh first"
  local rootfs
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/ecrcache-rootfs.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: rootfs is local.
  trap "rm -rf '$rootfs'; trap - RETURN" RETURN

  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/root"
  chmod 1777 "$rootfs/tmp"
  chmod 700 "$rootfs/root"
  cp "$ECRCACHE_BUSYBOX" "$rootfs/bin/busybox"
  chmod 755 "$rootfs/bin/busybox"
  local applet count=0
  while IFS= read -r applet; do
    # A bin/busybox -> busybox self-link would replace the binary itself.
    [[ -z "$applet" || "$applet" == busybox || "$applet" == */* ]] && continue
    ln -sf busybox "$rootfs/bin/$applet"
    count=$((count + 1))
  done < <("$ECRCACHE_BUSYBOX" --list)
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"

  log "importing base image $LOCAL_BASE_IMAGE (static busybox, $count applets)"
  tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . |
    docker import -c 'ENV PATH=/bin' -m 'EcrCache test base image (static busybox)' - "$LOCAL_BASE_IMAGE" >/dev/null
}

ensure_base_image() {
  local open_port="$1"
  local remote="127.0.0.1:$open_port/$BASE_IMAGE_REPO:$BASE_IMAGE_TAG"

  if docker image inspect "$LOCAL_BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $LOCAL_BASE_IMAGE exists locally"
  else
    build_base_image
  fi

  local code
  code="$(http_code "http://127.0.0.1:$open_port/v2/$BASE_IMAGE_REPO/manifests/$BASE_IMAGE_TAG" \
    -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json')"
  if [[ "$code" == 200 ]]; then
    log "base image already in registry: $remote"
    # Keep a local tag for convenience (tests may rmi it; that is fine).
    docker tag "$LOCAL_BASE_IMAGE" "$remote"
  else
    log "pushing base image to $remote"
    docker tag "$LOCAL_BASE_IMAGE" "$remote"
    docker push "$remote" >&2
  fi
  BASE_IMAGE="$remote"
}

# --------------------------------------------------------------------------
# (d) moto_server: an AWS emulator for the ECR provider's control plane
# --------------------------------------------------------------------------
find_moto_server() {
  local candidate
  for candidate in "${ECRCACHE_MOTO_SERVER:-}" "$(command -v moto_server 2>/dev/null || true)" /root/.pyenv/shims/moto_server /usr/local/bin/moto_server; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

moto_healthy() {
  [[ "$(http_code "http://127.0.0.1:$1/moto-api/")" == 200 ]]
}

# ensure_moto -> sets MOTO_PORT
ensure_moto() {
  local dir="$STATE/moto"
  local pidfile="$dir/pid" portfile="$dir/port" logfile="$STATE/moto.log" bin
  mkdir -p "$dir"

  if pid_alive "$pidfile" moto_server && [[ -s "$portfile" ]]; then
    local port
    port="$(cat "$portfile")"
    if moto_healthy "$port"; then
      log "moto_server already running on 127.0.0.1:$port (pid $(cat "$pidfile")); reusing it"
      MOTO_PORT="$port"
      return 0
    fi
    log "moto_server (pid $(cat "$pidfile")) is not healthy; restarting it"
    kill "$(cat "$pidfile")" 2>/dev/null || true
    sleep 1
  fi

  bin="$(find_moto_server)" || die "moto_server not found (looked at \$ECRCACHE_MOTO_SERVER, PATH, /root/.pyenv/shims and /usr/local/bin); the ECR tests need it: install moto[server] 5.x (pip install 'moto[server]') or set ECRCACHE_MOTO_SERVER to its path"

  local attempt port
  for attempt in 1 2 3; do
    port="$(pick_free_port)"
    printf '%s\n' "$port" >"$portfile"
    : >"$logfile"
    log "starting moto_server on 127.0.0.1:$port (log: $logfile)"
    run_detached "$pidfile" "$logfile" "$bin" -H 127.0.0.1 -p "$port"

    local deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
      if moto_healthy "$port"; then
        log "moto_server ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
        MOTO_PORT="$port"
        return 0
      fi
      pid_alive "$pidfile" moto_server || break
      sleep 0.3
    done
    warn "moto_server did not come up on port $port (attempt $attempt); last log lines:"
    tail -n 10 "$logfile" >&2 || true
    if pid_alive "$pidfile" moto_server; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  die "could not start moto_server; see $logfile"
}

# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
ensure_dockerd
if [[ "$ONLY" == dockerd ]]; then
  log "dockerd ready (--only dockerd: no registries, base image or moto)"
  exit 0
fi

ensure_registry open
OPEN_PORT="$REGISTRY_PORT"
ensure_registry auth
AUTH_PORT="$REGISTRY_PORT"

ensure_base_image "$OPEN_PORT"

ensure_moto

ENV_FILE="$STATE/services.env"
tmp_env="$(mktemp "$STATE/services.env.XXXXXX")"
{
  printf '# Generated by build/start-services.sh - source this file.\n'
  printf 'export %s=%q\n' \
    ECRCACHE_TEST_DOCKER "$ECRCACHE_DOCKER" \
    ECRCACHE_TEST_REGISTRY "127.0.0.1:$OPEN_PORT" \
    ECRCACHE_TEST_AUTH_REGISTRY "127.0.0.1:$AUTH_PORT" \
    ECRCACHE_TEST_AUTH_USER "$AUTH_USER" \
    ECRCACHE_TEST_AUTH_PASSWORD "$(auth_password)" \
    ECRCACHE_TEST_BASE_IMAGE "$BASE_IMAGE" \
    ECRCACHE_TEST_REGISTRY_LOG "$STATE/registry-open.log" \
    ECRCACHE_TEST_AUTH_REGISTRY_LOG "$STATE/registry-auth.log" \
    ECRCACHE_TEST_MOTO_ENDPOINT "http://127.0.0.1:$MOTO_PORT" \
    ECRCACHE_TEST_MOTO_SERVER "$(find_moto_server)" \
    ECRCACHE_TEST_PWSH "$ECRCACHE_PWSH"
} >"$tmp_env"
chmod 600 "$tmp_env"
mv -f "$tmp_env" "$ENV_FILE"

log "services ready; environment written to $ENV_FILE"
printf '%s\n' "$ENV_FILE"
