#!/usr/bin/env bash
# EcrCache layer-cache benchmark: how long a miss takes cold, and how long the NEXT miss takes after a
# one-line change when it can reuse the unchanged layers (--cache-from the store's latest + inline cache metadata).
# A benchmark prints figures; it never passes or fails anything and is not part of build/test.sh.
#
#   sudo bash bench/layer-cache.sh
#
# Environment:
#   BENCH_RUNS=3             rounds (each round uses a fresh salt and repository, so nothing is cached across rounds)
#   BENCH_WORK=/tmp/ecrcache-bench-layers   work dir (packages/, nuget/, project/, logs/)
#   BENCH_STEP_SECONDS=6     rough CPU time of the "expensive" RUN step (a busybox sha256sum loop)
#
# The project builds with EcrCacheProvider=registry against the open local docker-registry. Per round:
#   legacy builder (/usr/local/bin/docker: a Docker 28 client without buildx), simulating a fresh CI agent - after
#   each build the round's images are removed from the daemon, which also removes the legacy builder's local cache:
#     L1 cold miss           (no latest in the store yet)
#     L2 second miss         one line of a COPYed file changed; EcrCacheLayerCache=true: latest is pulled and used
#     L3 second miss, off    the same change with EcrCacheLayerCache=false
#   BuildKit (/usr/bin/docker 20.10, DOCKER_BUILDKIT=1) on the same daemon (its build cache cannot be dropped without
#   a global prune, which this shared machine forbids, so B2 also profits from the daemon's own cache):
#     B1 cold miss, B2 second miss after a one-line change
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=build/lib.sh
source "$BENCH_DIR/../build/lib.sh"
REPO="$ECRCACHE_REPO_ROOT"
RUNS="${BENCH_RUNS:-3}"
WORK="${BENCH_WORK:-/tmp/ecrcache-bench-layers}"
STEP_SECONDS="${BENCH_STEP_SECONDS:-6}"
LEGACY_DOCKER=/usr/local/bin/docker
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1

require_root "bench/layer-cache.sh"
env_file="$(bash "$REPO/build/start-services.sh" | tail -n 1)"
# shellcheck disable=SC1090
source "$env_file"
REG="$ECRCACHE_TEST_REGISTRY"
mkdir -p "$WORK"/{packages,logs}
rm -rf "$WORK/project" && mkdir -p "$WORK/project"

log "packing the SDK into $WORK/packages"
rm -f "$WORK"/packages/*.nupkg
dotnet pack "$REPO/src/EcrCache.Sdk/EcrCache.Sdk.csproj" -c Release -o "$WORK/packages" --disable-build-servers >"$WORK/logs/pack.log" 2>&1 ||
  die "dotnet pack failed (see $WORK/logs/pack.log)"
nupkg="$(ls "$WORK"/packages/EcrCache.Sdk.*.nupkg | head -n 1)"
version="$(basename "$nupkg" .nupkg)"; version="${version#EcrCache.Sdk.}"
write_sdk_consumer_files "$WORK/project" "$version" "$WORK/packages"
export NUGET_PACKAGES="$WORK/nuget"
rm -rf "$NUGET_PACKAGES/ecrcache.sdk"

# The expensive step: CPU work plus a 32 MB layer, keyed by a per-round salt so no round reuses another's cache.
loops=$(( STEP_SECONDS * 60 ))
cat >"$WORK/project/Dockerfile" <<DOCKERFILE
FROM $ECRCACHE_TEST_BASE_IMAGE
ARG BENCH_SALT
RUN echo "\$BENCH_SALT" > /salt && i=0 && while [ \$i -lt $loops ]; do sha256sum /bin/busybox >/dev/null; i=\$((i+1)); done && dd if=/dev/urandom of=/blob bs=1M count=32 2>/dev/null
COPY input.txt /input.txt
DOCKERFILE
cat >"$WORK/project/Layers.proj" <<'PROJ'
<Project Sdk="EcrCache.Sdk">
  <ItemGroup>
    <CacheOn Include="input.txt" />
    <BuildArg Include="BENCH_SALT" />
  </ItemGroup>
</Project>
PROJ
printf 'node_modules\nobj/\nbin/\n' >"$WORK/project/.dockerignore"

log "restore"
dotnet restore "$WORK/project/Layers.proj" --disable-build-servers >"$WORK/logs/restore.log" 2>&1 || die "restore failed (see $WORK/logs/restore.log)"

declare -A samples
ensure() { # ensure ID DOCKER REPOSITORY [extra -p: ...]
  local id="$1" docker="$2" repository="$3"; shift 3
  local start end log_file="$WORK/logs/$id-$round.log"
  start="$(date +%s.%N)"
  dotnet build "$WORK/project/Layers.proj" -t:EnsureCachedImage --no-restore --disable-build-servers -v:n \
    -p:EcrCacheDockerPath="$docker" -p:EcrCacheProvider=registry -p:EcrCacheRegistry="$REG" \
    -p:EcrCacheRepository="$repository" "$@" >"$log_file" 2>&1 || die "$id failed (see $log_file)"
  end="$(date +%s.%N)"
  grep -q '(built)' "$log_file" || die "$id was not a miss (see $log_file)"
  samples[$id]+="$(python3 -c "print(f'{$end-$start:.2f}')") "
}
forget() { # removes every local tag of a repository (and with it the legacy builder's cache of it)
  local tags
  tags="$("$ECRCACHE_DOCKER" images --format '{{.Repository}}:{{.Tag}}' "$REG/$1" | grep -v ':<none>$' || true)"
  [[ -z "$tags" ]] || "$ECRCACHE_DOCKER" rmi -f $tags >/dev/null
}

for round in $(seq 1 "$RUNS"); do
  salt="$(date +%s%N)"
  export BENCH_SALT="$salt"
  # legacy builder, fresh agent every time
  for mode in on off; do
    repo="bench/layers-legacy-$mode-$salt"
    printf 'line one\nline two\n' >"$WORK/project/input.txt"
    rm -rf "$WORK/project/obj"
    BENCH_SALT="$salt-$mode" ensure "L1-$mode" "$LEGACY_DOCKER" "$repo"
    forget "$repo"
    printf 'line one\nline two changed\n' >"$WORK/project/input.txt"
    if [[ "$mode" == on ]]; then
      BENCH_SALT="$salt-$mode" ensure L2 "$LEGACY_DOCKER" "$repo"
    else
      BENCH_SALT="$salt-$mode" ensure L3 "$LEGACY_DOCKER" "$repo" -p:EcrCacheLayerCache=false
    fi
    forget "$repo"
  done
  # BuildKit on the same daemon
  repo="bench/layers-buildkit-$salt"
  printf 'line one\nline two\n' >"$WORK/project/input.txt"
  rm -rf "$WORK/project/obj"
  ensure B1 "$ECRCACHE_DOCKER" "$repo"
  printf 'line one\nline two changed\n' >"$WORK/project/input.txt"
  ensure B2 "$ECRCACHE_DOCKER" "$repo"
  forget "$repo"
  log "round $round done"
done

python3 - "$RUNS" "${samples[L1-on]} ${samples[L1-off]}" "${samples[L2]}" "${samples[L3]}" "${samples[B1]}" "${samples[B2]}" <<'PY'
import statistics, sys
runs = sys.argv[1]
rows = [
    ("L1", "legacy, fresh agent: cold miss", sys.argv[2]),
    ("L2", "legacy, fresh agent: 2nd miss after a one-line change, layer cache on", sys.argv[3]),
    ("L3", "legacy, fresh agent: 2nd miss after a one-line change, layer cache off", sys.argv[4]),
    ("B1", "BuildKit, same daemon: cold miss", sys.argv[5]),
    ("B2", "BuildKit, same daemon: 2nd miss after a one-line change", sys.argv[6]),
]
def stats(text):
    v = [float(x) for x in text.split()]
    return min(v), statistics.median(v), max(v)
cold = stats(sys.argv[2])[1]
print(f"\nlayer cache: whole 'dotnet build -t:EnsureCachedImage' wall time, seconds ({runs} rounds)")
print(f"{'id':<4} {'scenario':<72} {'min':>7} {'median':>7} {'max':>7} {'vs L1':>7}")
for rid, name, text in rows:
    lo, med, hi = stats(text)
    print(f"{rid:<4} {name:<72} {lo:7.2f} {med:7.2f} {hi:7.2f} {med / cold:7.2f}")
PY
