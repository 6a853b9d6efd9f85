#!/usr/bin/env bash
# EcrCache lease benchmark: how soon another host takes over the lease of a builder that died, and what renewing a
# lease costs (requests per minute to the store). A benchmark prints figures; it never passes or fails anything and is
# not part of build/test.sh.
#
#   sudo bash bench/leases.sh
#
# Environment:
#   BENCH_RUNS=3                  take-over rounds
#   BENCH_WORK=/tmp/ecrcache-bench-leases   work dir (packages/, nuget/, holder/, waiter/, logs/)
#   BENCH_TTL=00:00:10            EcrCacheLeaseTtl of the take-over rounds (the default, 00:01:30, makes a round 2 min)
#   BENCH_RENEW=00:00:03          EcrCacheLeaseRenewInterval of the take-over rounds
#   BENCH_HOLD_SECONDS=65         how long the renewal-cost builds run (default renew interval and TTL: 20 s, 90 s)
#
# T  take-over: the holder builds in its own UTS namespace with another host name (unshare -u), so waiters on this
#    machine cannot see through /proc that it died, exactly as for a builder on another host. Once a second build
#    waits for its lease, the holder's whole process group is killed (SIGKILL: the host is lost). Printed: seconds from
#    the kill to the waiter's ECRC1320 take-over warning, against the TTL.
# R  renewal cost at the defaults: lease requests of a short build and of one holding its lease for BENCH_HOLD_SECONDS,
#    counted in the registry's access log (registry provider) and in moto's log (s3 provider); their difference per
#    minute of the difference in holding is the renewals' cost.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=build/lib.sh
source "$BENCH_DIR/../build/lib.sh"
REPO="$ECRCACHE_REPO_ROOT"
RUNS="${BENCH_RUNS:-3}"
WORK="${BENCH_WORK:-/tmp/ecrcache-bench-leases}"
TTL="${BENCH_TTL:-00:00:10}"
RENEW="${BENCH_RENEW:-00:00:03}"
HOLD="${BENCH_HOLD_SECONDS:-65}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ "$HOLD" =~ ^[1-9][0-9]*$ ]] || die "BENCH_HOLD_SECONDS must be a positive integer (got '$HOLD')"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1

require_root "bench/leases.sh"
unshare -u true 2>/dev/null || die "unshare -u (a second host name for the holder) does not work here"
env_file="$(bash "$REPO/build/start-services.sh" | tail -n 1)"
# shellcheck disable=SC1090
source "$env_file"
REG="$ECRCACHE_TEST_REGISTRY"
mkdir -p "$WORK"/{packages,logs}

log "packing the SDK into $WORK/packages"
rm -f "$WORK"/packages/*.nupkg
dotnet pack "$REPO/src/EcrCache.Sdk/EcrCache.Sdk.csproj" -c Release -o "$WORK/packages" --disable-build-servers >"$WORK/logs/pack.log" 2>&1 ||
  die "dotnet pack failed (see $WORK/logs/pack.log)"
nupkg="$(ls "$WORK"/packages/EcrCache.Sdk.*.nupkg | head -n 1)"
version="$(basename "$nupkg" .nupkg)"; version="${version#EcrCache.Sdk.}"
export NUGET_PACKAGES="$WORK/nuget"
rm -rf "$NUGET_PACKAGES/ecrcache.sdk"

# Two copies of one project (the holder's and the waiter's: same inputs, so the same key) with a RUN that sleeps.
for side in holder waiter; do
  rm -rf "${WORK:?}/$side" && mkdir -p "$WORK/$side/locks"
  write_sdk_consumer_files "$WORK/$side" "$version" "$WORK/packages"
  cat >"$WORK/$side/Dockerfile" <<'DOCKERFILE'
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG BENCH_SALT
ARG SLEEP
RUN echo "lease bench step started: ${BENCH_SALT}" && sleep ${SLEEP}
DOCKERFILE
  cat >"$WORK/$side/Leases.proj" <<'PROJ'
<Project Sdk="EcrCache.Sdk">
  <ItemGroup>
    <CacheOn Include="Dockerfile" />
    <BuildArg Include="BASE_IMAGE" />
    <BuildArg Include="BENCH_SALT" />
    <BuildArg Include="SLEEP" />
  </ItemGroup>
</Project>
PROJ
  dotnet restore "$WORK/$side/Leases.proj" --disable-build-servers >"$WORK/logs/restore-$side.log" 2>&1 || die "restore failed (see $WORK/logs/restore-$side.log)"
done
export BASE_IMAGE="$ECRCACHE_TEST_BASE_IMAGE"

build_args() { # build_args SIDE REPOSITORY [extra ...]
  local side="$1" repository="$2"; shift 2
  printf '%s\n' build "$WORK/$side/Leases.proj" -t:EnsureCachedImage --no-restore --disable-build-servers -v:n \
    -p:EcrCacheDockerPath="$ECRCACHE_DOCKER" -p:EcrCacheRepository="$repository" "$@"
}
wait_for() { # wait_for FILE TEXT SECONDS
  local deadline=$(( $(date +%s) + $3 ))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}
forget() {
  local tags
  tags="$("$ECRCACHE_DOCKER" images --format '{{.Repository}}:{{.Tag}}' "$1" | grep -v ':<none>$' || true)"
  [[ -z "$tags" ]] || "$ECRCACHE_DOCKER" rmi -f $tags >/dev/null
}

# ---- T: take-over after the holder's host is lost ---------------------------------------------------------------
takeovers=""
for round in $(seq 1 "$RUNS"); do
  salt="$(date +%s%N)"
  repo="bench/leases-$salt"
  holder_log="$WORK/logs/t-holder-$round.log" waiter_log="$WORK/logs/t-waiter-$round.log"
  mapfile -t hargs < <(build_args holder "$repo" -p:EcrCacheProvider=registry -p:EcrCacheRegistry="$REG" -p:EcrCacheLeaseTtl="$TTL" -p:EcrCacheLeaseRenewInterval="$RENEW")
  mapfile -t wargs < <(build_args waiter "$repo" -p:EcrCacheProvider=registry -p:EcrCacheRegistry="$REG" -p:EcrCacheLeaseTtl="$TTL" -p:EcrCacheLeaseRenewInterval="$RENEW")
  export BENCH_SALT="$salt" SLEEP=20
  # setsid: the holder leads its own process group, so one kill takes it and its children, as a lost host would.
  ECRCACHE_LOCK_DIR="$WORK/holder/locks" setsid unshare -u sh -c 'hostname bench-host-2 && exec dotnet "$@"' sh "${hargs[@]}" >"$holder_log" 2>&1 &
  holder=$!
  wait_for "$holder_log" "lease bench step started" 180 || die "the holder never started its RUN (see $holder_log)"
  ECRCACHE_LOCK_DIR="$WORK/waiter/locks" dotnet "${wargs[@]}" >"$waiter_log" 2>&1 &
  waiter=$!
  wait_for "$waiter_log" "on bench-host-2 (since" 120 || die "the second build never waited for the lease (see $waiter_log)"
  killed="$(now_seconds)"
  kill -KILL -- "-$holder" 2>/dev/null || true
  wait_for "$waiter_log" "warning ECRC1320" 600 || die "the lease was never taken over (see $waiter_log)"
  took="$(elapsed "$killed" "$(now_seconds)")"
  wait "$waiter" || die "the second build failed (see $waiter_log)"
  wait "$holder" 2>/dev/null || true
  takeovers+="$took "
  forget "$REG/$repo"
  log "take-over round $round: $took s"
done

# ---- R: renewal requests per minute at the defaults ----------------------------------------------------------------
# Each provider builds twice: a 1 s RUN (taking and releasing the lease, no renewal) and a BENCH_HOLD_SECONDS one; the
# difference in lease requests over the difference in time is what renewing costs.
moto_log="$(dirname "$ECRCACHE_TEST_REGISTRY_LOG")/moto.log"
renew_registry="" renew_s3=""
measure() { # measure PROVIDER SLEEP -> "REQUESTS SECONDS"
  local provider="$1" salt log_file before start held requests args
  salt="$(date +%s%N)"
  export BENCH_SALT="$salt" SLEEP="$2"
  log_file="$WORK/logs/r-$provider-$2.log"
  if [[ "$provider" == registry ]]; then
    local repo="bench/leases-renew-$salt"
    before="$(wc -l <"$ECRCACHE_TEST_REGISTRY_LOG")"
    mapfile -t args < <(build_args holder "$repo" -p:EcrCacheProvider=registry -p:EcrCacheRegistry="$REG")
    start="$(now_seconds)"
    ECRCACHE_LOCK_DIR="$WORK/holder/locks" dotnet "${args[@]}" >"$log_file" 2>&1 || die "the registry build failed (see $log_file)"
    held="$(elapsed "$start" "$(now_seconds)")"
    sleep 1
    requests="$(tail -n +"$((before + 1))" "$ECRCACHE_TEST_REGISTRY_LOG" | grep -a '^[0-9.]* - ' | grep -ac "/v2/$repo/manifests/[0-9a-f]*-lease" || true)"
    forget "$REG/$repo"
  else
    local bucket="ecrcache-bench-leases-$salt"
    python3 -c "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing').create_bucket(Bucket=sys.argv[2])" "$ECRCACHE_TEST_MOTO_ENDPOINT" "$bucket"
    before="$(wc -l <"$moto_log")"
    mapfile -t args < <(build_args holder "bench/leases-s3" -p:EcrCacheProvider=s3 -p:EcrCacheS3Bucket="$bucket")
    start="$(now_seconds)"
    AWS_ENDPOINT_URL_S3="$ECRCACHE_TEST_MOTO_ENDPOINT" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
      ECRCACHE_LOCK_DIR="$WORK/holder/locks" dotnet "${args[@]}" >"$log_file" 2>&1 || die "the s3 build failed (see $log_file)"
    held="$(elapsed "$start" "$(now_seconds)")"
    sleep 1
    requests="$(tail -n +"$((before + 1))" "$moto_log" | grep -ac "/$bucket/[^ ]*\.lease " || true)"
  fi
  echo "$requests $held"
}
renew_registry="$(measure registry 1) $(measure registry "$HOLD")"
if [[ -n "${ECRCACHE_TEST_MOTO_ENDPOINT:-}" && -f "$moto_log" ]]; then
  renew_s3="$(measure s3 1) $(measure s3 "$HOLD")"
fi

python3 - "$TTL" "$RENEW" "$takeovers" "$renew_registry" "$renew_s3" <<'PY'
import statistics, sys
ttl, renew, takeovers, registry, s3 = sys.argv[1:6]
def seconds(hms):
    h, m, s = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
t = [float(x) for x in takeovers.split()]
print(f"\nleases: take-over after the holder's host is lost (TTL {ttl}, renewal every {renew}, waiter polls every 2 s)")
print(f"  {'rounds':<8}{'min':>8}{'median':>8}{'max':>8}   bound: TTL + one poll = {seconds(ttl) + 2:.1f} s")
print(f"  {len(t):<8}{min(t):8.1f}{statistics.median(t):8.1f}{max(t):8.1f}   seconds from SIGKILL to the waiter's ECRC1320")
print("\nleases: renewal requests at the defaults (renewal every 20 s, TTL 90 s), one build holding its lease")
for name, text in (("registry", registry), ("s3 (moto)", s3)):
    if not text:
        print(f"  {name:<10} not measured (no moto)")
        continue
    n0, t0, n1, t1 = (float(x) for x in text.split())
    print(f"  {name:<10} {n0:3.0f} lease requests in a {t0:5.1f} s build, {n1:3.0f} in a {t1:5.1f} s one: "
          f"{(n1 - n0) / (t1 - t0) * 60:4.1f} renewal requests per minute")
PY
