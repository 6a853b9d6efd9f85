#!/usr/bin/env bash
# Stops what build/start-services.sh started: both registries, and dockerd
# only if start-services.sh started it (marker file). A dockerd that was
# already running is left alone.
#
#   bash build/stop-services.sh           # stop; keep registry storage
#   bash build/stop-services.sh --purge   # stop and delete the state dir
set -euo pipefail

# shellcheck source=build/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE="$ECRCACHE_STATE_DIR"
purge=false
case "${1:-}" in
  "") ;;
  --purge) purge=true ;;
  *) die "usage: $0 [--purge]" ;;
esac

if [[ ! -d "$STATE" ]]; then
  log "no state dir $STATE; nothing to stop"
  exit 0
fi

stop_pid "$STATE/registry-open/pid" docker-registry "registry 'open'" 10
stop_pid "$STATE/registry-auth/pid" docker-registry "registry 'auth'" 10
stop_pid "$STATE/moto/pid" moto_server "moto_server" 10
rm -f "$STATE/services.env"

if [[ -e "$STATE/dockerd.started-by-ecrcache" ]]; then
  stop_pid "$STATE/dockerd.pid" dockerd "dockerd (started by start-services.sh)" 30
  rm -f "$STATE/dockerd.started-by-ecrcache"
else
  log "dockerd was not started by start-services.sh; leaving it running"
fi

if $purge; then
  log "removing state dir $STATE"
  rm -rf "$STATE"
fi
log "services stopped"
