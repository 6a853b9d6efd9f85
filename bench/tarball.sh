#!/usr/bin/env bash
# Tarball providers benchmark: save/upload and download/load throughput of EcrCacheProvider=directory and
# EcrCacheProvider=s3 for a ~200 MB image, side by side with the raw tools on the same image in the same run:
#   raw save:  docker save IMAGE | gzip -1 > file      (and plain `gzip`, level 6)
#   raw load:  gunzip -c file | docker load
#   raw s3:    docker save IMAGE | gzip -1 | boto3 upload_fileobj   /   boto3 download_fileobj | gunzip | docker load
# It prints figures and never fails on them; it is not part of build/test.sh.
#
#   sudo bash bench/tarball.sh
#
# Environment:
#   BENCH_RUNS=3                 timed runs per row (after one discarded warm-up)
#   BENCH_IMAGE_MB=200           image payload: half random bytes (incompressible), half repeated text (compressible)
#   BENCH_WORK=/tmp/ecrcache-bench-tarball   work dir (packages/, nuget/, project/, logs/, cache/)
#
# Our figures are the store's own timings from the build log ("Saved ... in X s", "Loaded ... in X s",
# "Uploaded ... in X s", "Downloaded and loaded ... in X s"): the tarball phase only, without MSBuild start-up or the
# docker build. S3 is the local moto_server of build/start-services.sh (in-process Python, in memory): it measures our
# streaming and compression overhead, not a network.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=build/lib.sh
source "$BENCH_DIR/../build/lib.sh"

REPO="$ECRCACHE_REPO_ROOT"
RUNS="${BENCH_RUNS:-3}"
IMAGE_MB="${BENCH_IMAGE_MB:-200}"
WORK="${BENCH_WORK:-/tmp/ecrcache-bench-tarball}"
DOCKER="$ECRCACHE_DOCKER"
REPOSITORY="bench/tarball"
BUCKET="ecrcache-bench-tarball"
export LC_ALL=C DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ "$IMAGE_MB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_IMAGE_MB must be a positive integer (got '$IMAGE_MB')"
require_root "bench/tarball.sh"

log "bench/tarball: services"
services_env="$(bash "$REPO/build/start-services.sh" | tail -n 1)"
# shellcheck disable=SC1090
source "$services_env"
[[ -n "${ECRCACHE_TEST_MOTO_ENDPOINT:-}" ]] || die "start-services.sh did not start moto_server"
MOTO="$ECRCACHE_TEST_MOTO_ENDPOINT"

mkdir -p "$WORK"/{logs,project,cache}
LOGS="$WORK/logs"
PROJECT="$WORK/project"
CACHE="$WORK/cache"
FILE="$WORK/raw.tar.gz"

log "bench/tarball: packing the SDK"
sdk_version="$(dotnet msbuild "$REPO/src/EcrCache.Sdk/EcrCache.Sdk.csproj" -getProperty:PackageVersion -p:Configuration=Release |
  tr -d '\r' | awk 'NF { last = $0 } END { print last }' | tr -d '[:space:]')"
rm -rf "$WORK/packages"
dotnet build "$REPO/EcrCache.sln" -c Release --disable-build-servers -v:q -nologo >"$LOGS/build.log" 2>&1 ||
  { tail -n 40 "$LOGS/build.log" >&2; die "dotnet build failed"; }
dotnet pack "$REPO/src/EcrCache.Sdk/EcrCache.Sdk.csproj" -c Release -o "$WORK/packages" --disable-build-servers -v:q -nologo \
  >"$LOGS/pack.log" 2>&1 || { tail -n 40 "$LOGS/pack.log" >&2; die "dotnet pack failed"; }
export NUGET_PACKAGES="$WORK/nuget"
rm -rf "$NUGET_PACKAGES/ecrcache.sdk"

write_sdk_consumer_files "$PROJECT" "$sdk_version" "$WORK/packages"
half=$((IMAGE_MB * 1000000 / 2))
cat >"$PROJECT/Dockerfile" <<EOF
FROM $ECRCACHE_TEST_BASE_IMAGE
RUN head -c $half /dev/urandom > /random && yes 'EcrCache tarball benchmark: a compressible line of text' | head -c $half > /text
EOF
printf '{"bench":"tarball"}\n' >"$PROJECT/inputs.json"
cat >"$PROJECT/image.proj" <<EOF
<Project Sdk="EcrCache.Sdk">
  <PropertyGroup>
    <EcrCacheRepository>$REPOSITORY</EcrCacheRepository>
  </PropertyGroup>
  <ItemGroup>
    <CacheOn Include="inputs.json" />
  </ItemGroup>
</Project>
EOF

aws_env=(env AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3="$MOTO"
  AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)

boto() { "${aws_env[@]}" python3 -c "$1" "${@:2}"; }
boto "import boto3, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1])
try: s3.create_bucket(Bucket=sys.argv[2])
except s3.exceptions.BucketAlreadyOwnedByYou: pass" "$MOTO" "$BUCKET"

s3_clear() {
  boto "import boto3, sys
b = boto3.resource('s3', endpoint_url=sys.argv[1]).Bucket(sys.argv[2])
b.objects.all().delete()
for u in b.multipart_uploads.all(): u.abort()" "$MOTO" "$BUCKET"
}

# ensure PROVIDER_ARGS... -> runs the build at -v:d, log in $LOGS/last.log
ensure() {
  rm -rf "$PROJECT/obj"
  (cd "$PROJECT" && "${aws_env[@]}" dotnet build image.proj -nodeReuse:false --disable-build-servers -v:d \
    -p:EcrCacheDockerPath="$DOCKER" "$@") >"$LOGS/last.log" 2>&1 || { tail -n 60 "$LOGS/last.log" >&2; die "dotnet build failed"; }
}

result_of() { sed -n 's/.*EcrCache: \([^ ]*\) (\([a-z-]*\)).*/\2/p' "$LOGS/last.log" | tail -n 1; }
reference_of() { sed -n 's/.*EcrCache: \([^ ]*\) (\([a-z-]*\)).*/\1/p' "$LOGS/last.log" | tail -n 1; }
# seconds_of REGEX: the "in X s" figure of the last log line matching REGEX
seconds_of() { grep -E "$1" "$LOGS/last.log" | tail -n 1 | sed -n 's/.* in \([0-9.]*\) s[ .(].*/\1/p'; }

forget_local() { "$DOCKER" rmi -f "$1" >/dev/null 2>&1 || true; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# The shared moto_server keeps objects in memory, and the image is ~200 MB: leave neither behind.
cleanup() {
  boto "import boto3, sys
b = boto3.resource('s3', endpoint_url=sys.argv[1]).Bucket(sys.argv[2])
b.objects.all().delete()
for u in b.multipart_uploads.all(): u.abort()
b.delete()" "$MOTO" "$BUCKET" >/dev/null 2>&1 || true
  [[ -z "${REF:-}" ]] || "$DOCKER" rmi -f "$REF" >/dev/null 2>&1 || true
  rm -f "$FILE" "$FILE.6"
}
trap cleanup EXIT

declare -A samples
add() { samples[$1]="${samples[$1]:-} $2"; }

DIR_ARGS=(-p:EcrCacheProvider=directory -p:EcrCacheDirectory="$CACHE")
S3_ARGS=(-p:EcrCacheProvider=s3 -p:EcrCacheS3Bucket="$BUCKET" -p:EcrCacheS3Prefix=bench/)

log "bench/tarball: first build of the ${IMAGE_MB} MB image (not timed)"
rm -rf "$CACHE"/*
ensure "${DIR_ARGS[@]}"
REF="$(reference_of)"
[[ -n "$REF" ]] || die "no EcrCache result line in the build log"
IMAGE_BYTES="$("$DOCKER" image inspect --format '{{.Size}}' "$REF")"
log "bench/tarball: $REF, $((IMAGE_BYTES / 1048576)) MiB"

for run in $(seq 0 "$RUNS"); do
  label="run $run"
  [[ $run -eq 0 ]] && label="warm-up"
  log "bench/tarball: $label"

  # ours: directory miss (save) then hit (load)
  rm -rf "$CACHE"/*
  forget_local "$REF"
  ensure "${DIR_ARGS[@]}" -p:EcrCachePushLatest=false
  [[ "$(result_of)" == built ]] || die "expected a miss, got $(result_of)"
  s_dir_save="$(seconds_of '^ *Saved ')"
  forget_local "$REF"
  ensure "${DIR_ARGS[@]}"
  [[ "$(result_of)" == hit-pulled ]] || die "expected a directory hit, got $(result_of)"
  s_dir_load="$(seconds_of '^ *Loaded [0-9.]+ MB from ')"

  # ours: s3 miss (save + upload) then hit (download + load)
  s3_clear
  forget_local "$REF"
  ensure "${S3_ARGS[@]}" -p:EcrCachePushLatest=false
  [[ "$(result_of)" == built ]] || die "expected an s3 miss, got $(result_of)"
  s_s3_up="$(seconds_of '^ *Uploaded s3://')"
  forget_local "$REF"
  ensure "${S3_ARGS[@]}"
  [[ "$(result_of)" == hit-pulled ]] || die "expected an s3 hit, got $(result_of)"
  s_s3_down="$(seconds_of 'Downloaded and loaded ')"

  # raw tools on the same image
  t="$(now)"; "$DOCKER" save "$REF" | gzip -1 >"$FILE"; s_raw_save1="$(elapsed "$t")"
  t="$(now)"; "$DOCKER" save "$REF" | gzip >"$FILE.6"; s_raw_save6="$(elapsed "$t")"
  forget_local "$REF"
  t="$(now)"; gunzip -c "$FILE" | "$DOCKER" load >/dev/null; s_raw_load="$(elapsed "$t")"
  t="$(now)"
  "$DOCKER" save "$REF" | gzip -1 | boto "import boto3, sys
boto3.client('s3', endpoint_url=sys.argv[1]).upload_fileobj(sys.stdin.buffer, sys.argv[2], 'raw.tar.gz')" "$MOTO" "$BUCKET"
  s_raw_up="$(elapsed "$t")"
  forget_local "$REF"
  t="$(now)"
  boto "import boto3, sys
boto3.client('s3', endpoint_url=sys.argv[1]).download_fileobj(sys.argv[2], 'raw.tar.gz', sys.stdout.buffer)" "$MOTO" "$BUCKET" |
    gunzip | "$DOCKER" load >/dev/null
  s_raw_down="$(elapsed "$t")"

  if [[ $run -gt 0 ]]; then
    add dir_save "$s_dir_save"; add dir_load "$s_dir_load"; add s3_up "$s_s3_up"; add s3_down "$s_s3_down"
    add raw_save1 "$s_raw_save1"; add raw_save6 "$s_raw_save6"; add raw_load "$s_raw_load"
    add raw_up "$s_raw_up"; add raw_down "$s_raw_down"
  fi
done

gz_ours="$(stat -c %s "$CACHE"/*.tar.gz 2>/dev/null | head -n 1 || echo 0)"
gz1="$(stat -c %s "$FILE")"
gz6="$(stat -c %s "$FILE.6")"

python3 - "$IMAGE_BYTES" "$RUNS" "$gz_ours" "$gz1" "$gz6" \
  "${samples[dir_save]}" "${samples[raw_save1]}" "${samples[raw_save6]}" "${samples[s3_up]}" "${samples[raw_up]}" \
  "${samples[dir_load]}" "${samples[raw_load]}" "${samples[s3_down]}" "${samples[raw_down]}" <<'PY'
import statistics, sys
image, runs, gz_ours, gz1, gz6 = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [
    ("save  ours: directory (docker save | gzip Fastest -> file)", sys.argv[6], "raw_save1"),
    ("save  raw:  docker save | gzip -1 > file = BASE save", sys.argv[7], None),
    ("save  raw:  docker save | gzip (-6) > file", sys.argv[8], "raw_save1"),
    ("upload ours: s3 (docker save | gzip | multipart upload)", sys.argv[9], "raw_up"),
    ("upload raw:  docker save | gzip -1 | boto3 upload_fileobj = BASE upload", sys.argv[10], None),
    ("load  ours: directory (file | gunzip | docker load)", sys.argv[11], "raw_load"),
    ("load  raw:  gunzip -c file | docker load = BASE load", sys.argv[12], None),
    ("download ours: s3 (GetObject | gunzip | docker load)", sys.argv[13], "raw_down"),
    ("download raw:  boto3 download_fileobj | gunzip | docker load = BASE download", sys.argv[14], None),
]
bases = {"raw_save1": sys.argv[7], "raw_up": sys.argv[10], "raw_load": sys.argv[12], "raw_down": sys.argv[14]}
med = lambda s: statistics.median(float(x) for x in s.split())
mib = image / 1048576
print(f"\nEcrCache tarball benchmark: image {mib:.0f} MiB (docker image inspect .Size), median of {runs} runs after a warm-up")
print(f"gzipped: ours {gz_ours / 1048576:.1f} MiB, gzip -1 {gz1 / 1048576:.1f} MiB, gzip -6 {gz6 / 1048576:.1f} MiB")
print(f"{'measurement':<78}{'median s':>9}{'MiB/s':>8}{'ratio':>7}")
print("-" * 102)
for name, s, base in rows:
    m = med(s)
    ratio = f"{m / med(bases[base]):.2f}x" if base else "1.00x"
    print(f"{name:<78}{m:>9.2f}{mib / m:>8.0f}{ratio:>7}")
PY
log "bench/tarball: done (logs in $LOGS)"
