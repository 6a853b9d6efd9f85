#!/usr/bin/env bash
# EcrCache benchmarks: our key computation, hit, no-op, miss and memory side by side with the raw tools, on the same
# generated inputs, printed as ONE table (min/median/max and ratios). Benchmarks print figures; they never pass or fail
# a build and are not part of build/test.sh.
#
#   sudo bash bench/run.sh
#
# Environment:
#   BENCH_RUNS=5          timed runs per measurement (each measurement also runs once before, discarded: warm cache)
#   BENCH_SCALE=1         fixture size factor; 1 = ~22,000 files / 450 MB (mono) and 200,000 files (wide).
#                         BENCH_SCALE=0.1 is a quick smoke run.
#   BENCH_WORK=/tmp/ecrcache-bench   work dir: fixtures-<scale>/ (reused while the generator version matches),
#                         packages/, nuget/, projects/, logs/, results/ (samples.tsv, meta.env, table.txt),
#                         baseline-src/ (with BENCH_BASELINE_REV)
#   BENCH_ONLY=P1,P1b,P2,P2b,P3,P3b,P4,P5,P6   run a subset (P1b: the glob walk of a wide tree; P2b: a hit that pulls;
#                         P3b: the no-op on the large tree; P6: base-image digests of two Docker Hub base images through
#                         a registry mirror)
#   BENCH_BASELINE_REV=   a git revision: also pack the SDK as it was there (version 0.0.1-baseline, same local feed)
#                         and measure P2 and P3 with it and with this checkout's SDK alternately, run by run, in the
#                         same invocation (drift and load hit both), with the after/before ratio of each run pair
#
# Steps: build/install-prereqs.sh (+ the 'time' package), build/start-services.sh, dotnet build bench/KeyBench (for P1,
# P1b, P5), dotnet pack of the SDK (and of the baseline's) into $BENCH_WORK/packages, python3 bench/gen_fixtures.py,
# then the measurements, then python3 bench/report.py. Consumes the packed SDK the way build/demo.sh does: global.json
# "msbuild-sdks", a NuGet.config with only the local package folder, a private NUGET_PACKAGES, empty Directory.Build.*
# stubs.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=build/lib.sh
source "$BENCH_DIR/../build/lib.sh"

REPO="$ECRCACHE_REPO_ROOT"
RUNS="${BENCH_RUNS:-5}"
SCALE="${BENCH_SCALE:-1}"
WORK="${BENCH_WORK:-/tmp/ecrcache-bench}"
ONLY=",${BENCH_ONLY:-P1,P1b,P2,P2b,P3,P3b,P4,P5,P6},"
BASELINE_REV="${BENCH_BASELINE_REV:-}"
BASELINE_VERSION=0.0.1-baseline
DOCKER="$ECRCACHE_DOCKER"
NPROC="$(nproc)"
PAYLOAD_MB=4

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ "$SCALE" =~ ^[0-9]*\.?[0-9]+$ ]] || die "BENCH_SCALE must be a number (got '$SCALE')"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MSBUILDDISABLENODEREUSE=1

want() { [[ "$ONLY" == *",$1,"* ]]; }

bench_start="$(date +%s)"
require_root "bench/run.sh"
mkdir -p "$WORK"/{logs,results,projects}
RESULTS="$WORK/results"
LOGS="$WORK/logs"
SAMPLES="$RESULTS/samples.tsv"
META="$RESULTS/meta.env"
: >"$SAMPLES"
: >"$META"

meta() { printf '%s=%s\n' "$1" "$2" >>"$META"; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$SAMPLES"; }

# ---- set-up ------------------------------------------------------------------------------------------------------
log "bench: prerequisites"
bash "$REPO/build/install-prereqs.sh"
if [[ ! -x /usr/bin/time ]]; then
  log "installing the 'time' package (/usr/bin/time -v for peak RSS)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null || {
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null
  }
fi
for tool in sha256sum xargs find curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

log "bench: services"
env_file="$(bash "$REPO/build/start-services.sh" | tail -n 1)"
# shellcheck disable=SC1090
source "$env_file"
REG="$ECRCACHE_TEST_REGISTRY"
REGLOG="$ECRCACHE_TEST_REGISTRY_LOG"
BASE_IMAGE="$ECRCACHE_TEST_BASE_IMAGE"
# The open registry is shared with the test suites of whoever else uses the machine (EcrCache's own tests send the
# same user agent), so only requests for the bench/ repositories and the base image (base-image digest lookups) are
# counted; a bare "GET /v2/" ping is not, and other builds FROM the base image can still add to the count.
base_repo="${BASE_IMAGE#"$REG"/}"
base_repo="${base_repo%:*}"
registry_requests() { grep -cE "^127\.0\.0\.1 - - \[[^]]*\] \"[A-Z]+ /v2/(bench/|${base_repo}/)" "$REGLOG" || true; }

# KeyBench (the in-process rows of P1, P1b and P5) is built only when one of them runs.
KEYBENCH="$REPO/bench/KeyBench/bin/Release/net10.0/KeyBench"
if want P1 || want P1b || want P5; then
  log "bench: building bench/KeyBench (Release; not part of EcrCache.sln)"
  dotnet build "$REPO/bench/KeyBench/KeyBench.csproj" -c Release --disable-build-servers -v:q -nologo >"$LOGS/keybench-build.log" 2>&1 ||
    { tail -n 40 "$LOGS/keybench-build.log" >&2; die "building KeyBench failed"; }
  [[ -x "$KEYBENCH" ]] || die "$KEYBENCH not found"
fi

log "bench: packing the SDK into $WORK/packages"
sdk_version="$(dotnet msbuild "$REPO/src/EcrCache.Sdk/EcrCache.Sdk.csproj" -getProperty:PackageVersion -p:Configuration=Release |
  tr -d '\r' | awk 'NF { last = $0 } END { print last }' | tr -d '[:space:]')"
[[ "$sdk_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "could not read the SDK PackageVersion (got '$sdk_version')"
rm -rf "$WORK/packages"
mkdir -p "$WORK/packages"
dotnet pack "$REPO/src/EcrCache.Sdk/EcrCache.Sdk.csproj" -c Release -o "$WORK/packages" --disable-build-servers -v:q -nologo \
  >"$LOGS/pack.log" 2>&1 || { tail -n 40 "$LOGS/pack.log" >&2; die "dotnet pack failed"; }
[[ -f "$WORK/packages/EcrCache.Sdk.$sdk_version.nupkg" ]] || die "EcrCache.Sdk.$sdk_version.nupkg was not produced"

# The baseline SDK: the tree at BENCH_BASELINE_REV (git archive: nothing is registered in the repository, and a rerun
# at the same commit reuses the folder and its incremental build), packed under its own version into the same feed.
if [[ -n "$BASELINE_REV" ]]; then
  baseline_commit="$(git -C "$REPO" rev-parse --verify --quiet "$BASELINE_REV^{commit}")" ||
    die "BENCH_BASELINE_REV '$BASELINE_REV' is not a commit of $REPO"
  BASE_SRC="$WORK/baseline-src"
  if [[ "$(cat "$BASE_SRC/.bench-commit" 2>/dev/null)" != "$baseline_commit" ]]; then
    rm -rf "$BASE_SRC"
    mkdir -p "$BASE_SRC"
    git -C "$REPO" archive --format=tar "$baseline_commit" | tar -x -C "$BASE_SRC"
    echo "$baseline_commit" >"$BASE_SRC/.bench-commit"
  fi
  log "bench: packing the SDK at $BASELINE_REV (${baseline_commit:0:12}) as $BASELINE_VERSION into $WORK/packages"
  dotnet pack "$BASE_SRC/src/EcrCache.Sdk/EcrCache.Sdk.csproj" -c Release -o "$WORK/packages" -p:EcrCacheVersion="$BASELINE_VERSION" \
    --disable-build-servers -v:q -nologo >"$LOGS/pack-baseline.log" 2>&1 ||
    { tail -n 40 "$LOGS/pack-baseline.log" >&2; die "dotnet pack of the baseline failed"; }
  [[ -f "$WORK/packages/EcrCache.Sdk.$BASELINE_VERSION.nupkg" ]] || die "EcrCache.Sdk.$BASELINE_VERSION.nupkg was not produced"
  meta baseline_rev "$BASELINE_REV"
  meta baseline_commit "${baseline_commit:0:12}"
  meta baseline_version "$BASELINE_VERSION"
fi
current_rev="$(git -C "$REPO" rev-parse --short=12 HEAD)"
[[ -z "$(git -C "$REPO" status --porcelain -- src)" ]] || current_rev="$current_rev+local changes in src/"
meta current_rev "$current_rev"
export NUGET_PACKAGES="$WORK/nuget"
mkdir -p "$NUGET_PACKAGES"
rm -rf "$NUGET_PACKAGES/ecrcache.sdk"

FIX="$WORK/fixtures-$SCALE"
log "bench: fixtures in $FIX (scale $SCALE)"
python3 "$BENCH_DIR/gen_fixtures.py" "$FIX" "$SCALE"
sync # no write-back of freshly generated files during the timings
MONO="$FIX/mono"
WIDE="$FIX/wide"
mono_files="$(sed -n 's/^mono_files=\([0-9]*\).*/\1/p' "$FIX/.generated")"
mono_bytes="$(sed -n 's/.*mono_bytes=\([0-9]*\).*/\1/p' "$FIX/.generated")"
wide_files="$(sed -n 's/^wide_files=\([0-9]*\).*/\1/p' "$FIX/.generated")"
wide_packages="$(find "$WIDE/packages" -mindepth 1 -maxdepth 1 -type d | wc -l)"

# ---- scaffolding: the SDK consumed as a package, as build/demo.sh does ----------------------------------------------
scaffold() { # scaffold DIR [VERSION]: global.json (msbuild-sdks), NuGet.config (local feed only), Directory.* stubs
  write_sdk_consumer_files "$1" "${2:-$sdk_version}" "$WORK/packages"
}

scaffold "$MONO"
# No external base image: the key then needs no registry lookup of its digest (there is no Docker Hub here).
printf 'FROM scratch\n' >"$MONO/Dockerfile"
cat >"$MONO/image.proj" <<'EOF'
<Project Sdk="EcrCache.Sdk">
  <ItemGroup>
    <CacheOn Include="packages/**/package.json" />
    <CacheOn Include="packages/**/*.js" />
    <CacheOn Include="yarn.lock" />
  </ItemGroup>
</Project>
EOF

# P3b: EnsureCachedImage on the same CacheOn items (provider local); a tiny image from an empty context folder.
NOOP="$WORK/projects/noop"
rm -rf "$NOOP"
mkdir -p "$NOOP"
printf 'FROM %s\nLABEL bench=noop-mono\n' "$ECRCACHE_TEST_BASE_IMAGE" >"$NOOP/Dockerfile"
cat >"$MONO/image-noop.proj" <<EOF
<Project Sdk="EcrCache.Sdk">
  <PropertyGroup>
    <EcrCacheRepository>bench/noop-mono</EcrCacheRepository>
    <EcrCacheDockerfile>$NOOP/Dockerfile</EcrCacheDockerfile>
    <EcrCacheContext>$NOOP</EcrCacheContext>
    <EcrCacheIntermediateOutputPath>\$(MSBuildProjectDirectory)/obj/ecrcache-noop/</EcrCacheIntermediateOutputPath>
  </PropertyGroup>
  <ItemGroup>
    <CacheOn Include="packages/**/package.json" />
    <CacheOn Include="packages/**/*.js" />
    <CacheOn Include="yarn.lock" />
  </ItemGroup>
</Project>
EOF

scaffold "$WIDE"
printf 'FROM scratch\n' >"$WIDE/Dockerfile"
cat >"$WIDE/image.proj" <<'EOF'
<Project Sdk="EcrCache.Sdk">
  <ItemGroup>
    <CacheOn Include="**/package.json" />
  </ItemGroup>
</Project>
EOF
cat >"$WIDE/image-exclude.proj" <<'EOF'
<Project Sdk="EcrCache.Sdk">
  <ItemGroup>
    <CacheOn Include="**/package.json" Exclude="**/node_modules/**" />
  </ItemGroup>
</Project>
EOF

# Image projects for P2-P4 (provider registry, the open registry from services.env).
image_project() { # image_project DIR REPOSITORY [SDK_VERSION]
  local dir="$1" repo="$2"
  rm -rf "$dir"
  scaffold "$dir" "${3:-}"
  cat >"$dir/Dockerfile" <<EOF
ARG BASE_IMAGE
FROM \${BASE_IMAGE}
ARG BENCH_SALT
WORKDIR /app
COPY package.json /app/
# A unique BENCH_SALT makes this step run for real (no layer-cache hit) and gives a new ${PAYLOAD_MB} MB layer to push.
RUN echo "salt \${BENCH_SALT}" > /app/salt && dd if=/dev/urandom of=/app/payload bs=1048576 count=$PAYLOAD_MB 2>/dev/null
EOF
  printf '{\n  "name": "bench-image",\n  "version": "1.0.0",\n  "dependencies": { "left-pad": "1.3.0" }\n}\n' >"$dir/package.json"
  cat >"$dir/image.proj" <<EOF
<Project Sdk="EcrCache.Sdk">
  <PropertyGroup>
    <EcrCacheProvider>registry</EcrCacheProvider>
    <EcrCacheRegistry>$REG</EcrCacheRegistry>
    <EcrCacheRepository>$repo</EcrCacheRepository>
    <BenchSalt Condition="'\$(BenchSalt)' == ''">fixed</BenchSalt>
  </PropertyGroup>
  <ItemGroup>
    <CacheOn Include="package.json" />
    <BuildArg Include="BASE_IMAGE" Value="$BASE_IMAGE" />
    <BuildArg Include="BENCH_SALT" Value="\$(BenchSalt)" />
  </ItemGroup>
</Project>
EOF
}
HIT="$WORK/projects/hit"
MISS="$WORK/projects/miss"
PULL="$WORK/projects/pull"
image_project "$HIT" bench/hit
image_project "$MISS" bench/miss
image_project "$PULL" bench/pull
if [[ -n "$BASELINE_REV" ]]; then
  HIT_BASE="$WORK/projects/hit-baseline" # the same project on the baseline SDK
  image_project "$HIT_BASE" bench/hit "$BASELINE_VERSION"
fi

# ---- helpers ---------------------------------------------------------------------------------------------------------
now_ns() { date +%s%N; }
ms_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# timed LOG CMD... : runs CMD (stdout+stderr to LOG), sets T_MS; dies with the log's tail if CMD fails.
timed() {
  local logf="$1" start
  shift
  start="$(now_ns)"
  if ! "$@" >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2
    die "failed: $* (log: $logf)"
  fi
  T_MS="$(ms_since "$start")"
}

# MSBuild with the performance summary; the same flags everywhere.
msb() { # msb PROJECT_DIR PROJECT TARGET [args...]
  local dir="$1" proj="$2" target="$3"
  shift 3
  (cd "$dir" && /usr/bin/time -f 'bench-maxrss-kb=%M' dotnet build "$proj" "-t:$target" -p:EcrCacheDockerPath="$DOCKER" \
    --disable-build-servers -nologo -v:m -clp:PerformanceSummary "$@")
}
# From an msb log: evaluation ms (all evaluations of the project), a target's ms, the engine's own line.
eval_ms() { awk '/Project Evaluation Performance Summary:/ { getline; print $1; exit }' "$1"; }
# The SDK's own time: the sum of its targets (the public step targets, which run the pipeline's tasks, and the private
# _EcrCache* ones). An SDK with a single task target (_EcrCacheEnsure) gives that target's time, so both shapes compare.
SDK_TARGETS_RE='^(_EcrCache.*|ComputeCachedImageKey|ResolveCachedImageStore|PullOrBuildCachedImage|ExportCachedImage|EnsureCachedImage|ExplainCachedImageKey)$'
ecrcache_ms() {
  awk -v SDK_TARGETS="$SDK_TARGETS_RE" '/Target Performance Summary:/ { s = 1; next } /Task Performance Summary:/ { s = 0 }
       s && $2 == "ms" && $3 ~ SDK_TARGETS { t += $1; n++ } END { if (n) print t }' "$1"
}
# record_steps PREFIX LOG: each of the SDK's targets' time as PREFIX.step.<target>, to see where the time goes.
record_steps() {
  local name ms
  while read -r name ms; do
    record "$1.step.$name" "$ms"
  done < <(awk -v SDK_TARGETS="$SDK_TARGETS_RE" '/Target Performance Summary:/ { s = 1; next } /Task Performance Summary:/ { s = 0 }
                s && $2 == "ms" && $3 ~ SDK_TARGETS { print $3, $1 }' "$2")
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b }'; }
engine_line() { grep -oE 'EcrCache: [^ ]+ \([a-z-]+\) in [0-9.]+ s' "$1" | tail -n 1; }
engine_ms() { engine_line "$1" | awk '{ printf "%.0f", $(NF - 1) * 1000 }'; }
engine_result() { engine_line "$1" | sed -E 's/.*\(([a-z-]+)\).*/\1/'; }
maxrss_mb() { sed -n 's/.*bench-maxrss-kb=\([0-9]*\).*/\1/p' "$1" | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }'; }
kb_get() { sed -n "s/^$2=//p" "$1" | head -n 1; } # kb_get LOG FIELD (KeyBench key=value output)
expect_result() { # expect_result LOG RESULT
  local got
  got="$(engine_result "$1")"
  [[ "$got" == "$2" ]] || { tail -n 30 "$1" >&2; die "expected result $2, got '${got:-none}' (log: $1)"; }
}

phase() { log "bench: $* ($(($(date +%s) - bench_start)) s elapsed)"; }

# Files written less than 2 s ago are "racy" (Keys/InputStamp.cs): no input stamp is saved while they are that young,
# and the scaffolding above has just written each project's Dockerfile.
sleep 2.1

# ---- P1: key computation on the mono tree --------------------------------------------------------------------------
P1_KEY=""
if want P1; then
  phase "P1 key computation (mono: $mono_files files, $((mono_bytes / 1000000)) MB)"
  LIST0="$WORK/mono.list0"
  (cd "$MONO" && { find packages -type f \( -name package.json -o -name '*.js' \); echo yarn.lock; } | LC_ALL=C sort | tr '\n' '\0') >"$LIST0"
  listed="$(tr -cd '\0' <"$LIST0" | wc -c)"
  [[ "$listed" == "$mono_files" ]] || die "the P1 file list has $listed files, expected $mono_files"
  (cd "$MONO" && xargs -0 -a "$LIST0" cat >/dev/null) # page cache
  for i in $(seq 0 "$RUNS"); do
    cd "$MONO"
    timed "$LOGS/p1-raw-serial.log" xargs -0 -a "$LIST0" sha256sum
    [[ $i -gt 0 ]] && record p1.raw_serial "$T_MS"
    timed "$LOGS/p1-raw-par.log" xargs -0 -a "$LIST0" -P"$NPROC" -n 256 sha256sum
    [[ $i -gt 0 ]] && record p1.raw_par "$T_MS"

    timed "$LOGS/p1-kb.log" /usr/bin/time -f 'bench-maxrss-kb=%M' "$KEYBENCH" --root "$MONO" --dockerfile "$MONO/Dockerfile" \
      --include 'packages/**/package.json' --include 'packages/**/*.js' --include yarn.lock --repeat 2
    [[ "$(kb_get "$LOGS/p1-kb.log" files)" == "$mono_files" ]] || die "KeyBench found $(kb_get "$LOGS/p1-kb.log" files) files"
    if [[ $i -gt 0 ]]; then
      record p1.kb_glob "$(kb_get "$LOGS/p1-kb.log" glob_ms)"
      record p1.kb_compute "$(kb_get "$LOGS/p1-kb.log" compute_ms)"
      record p1.kb_compute_warm "$(kb_get "$LOGS/p1-kb.log" compute_ms_1)"
      record p5.rss.mono "$(maxrss_mb "$LOGS/p1-kb.log")"
    fi
    kb_key="$(kb_get "$LOGS/p1-kb.log" key)"

    # P1 measures hashing: drop the input stamps, or an unchanged tree would not be hashed at all (P1s measures that).
    rm -f "$MONO/obj/ecrcache/inputs.json" "$MONO/obj/ecrcache-keybench/inputs.json"
    timed "$LOGS/p1-kb-engine.log" "$KEYBENCH" --engine "$MONO/image.proj" --docker "$DOCKER" --root "$MONO" \
      --dockerfile "$MONO/Dockerfile" --include 'packages/**/package.json' --include 'packages/**/*.js' --include yarn.lock
    if [[ $i -gt 0 ]]; then
      record p1.kb_parse "$(kb_get "$LOGS/p1-kb-engine.log" parse_ms)"
      record p1.kb_engine "$(kb_get "$LOGS/p1-kb-engine.log" engine_ms)"
    fi

    rm -f "$MONO/obj/ecrcache/inputs.json"
    timed "$LOGS/p1-build.log" msb "$MONO" image.proj ComputeCachedImageKey
    P1_KEY="$(sed -n 's/.*EcrCache key: \([0-9a-f]*\) .*/\1/p' "$LOGS/p1-build.log" | tail -n 1)"
    [[ "$P1_KEY" == "$kb_key" ]] || die "dotnet build key $P1_KEY differs from KeyBench's $kb_key"
    if [[ $i -gt 0 ]]; then
      record p1.build_wall "$T_MS"
      record p1.build_eval "$(eval_ms "$LOGS/p1-build.log")"
      record p1.build_target "$(ecrcache_ms "$LOGS/p1-build.log")"
      record p1.build_rss "$(maxrss_mb "$LOGS/p1-build.log")"
    fi
    # The same again with the input stamp the run above saved (the tree is older than the 2 s racy window).
    [[ -f "$MONO/obj/ecrcache/inputs.json" ]] || die "the cold run saved no input stamp (files changed in the last 2 s?)"
    timed "$LOGS/p1-stamp.log" msb "$MONO" image.proj ComputeCachedImageKey
    [[ "$(sed -n 's/.*EcrCache key: \([0-9a-f]*\) .*/\1/p' "$LOGS/p1-stamp.log" | tail -n 1)" == "$P1_KEY" ]] || die "the stamped key differs (log: $LOGS/p1-stamp.log)"
    if [[ $i -gt 0 ]]; then
      record p1.stamp_wall "$T_MS"
      record p1.stamp_target "$(ecrcache_ms "$LOGS/p1-stamp.log")"
    fi
  done
  meta note1 "P1: page cache warm (all files read once, and every measurement run once before the timed runs); KeyBench and 'dotnet build' computed the same key $P1_KEY"
fi

# ---- P1b: the glob walk on the wide tree -----------------------------------------------------------------------------
if want P1b; then
  phase "P1b glob walk (wide: $wide_files files, $wide_packages package.json)"
  (cd "$WIDE" && find . -type f -print0 | xargs -0 cat >/dev/null)
  for i in $(seq 0 "$RUNS"); do
    cd "$WIDE"
    timed "$LOGS/p1b-raw.log" bash -c 'find . -name package.json -print0 | xargs -0 sha256sum'
    [[ $i -gt 0 ]] && record p1b.raw "$T_MS"
    timed "$LOGS/p1b-raw-prune.log" bash -c 'find . -name node_modules -prune -o -name package.json -print0 | xargs -0 sha256sum'
    [[ $i -gt 0 ]] && record p1b.raw_prune "$T_MS"
    [[ "$(wc -l <"$LOGS/p1b-raw.log")" == "$wide_packages" ]] || die "find matched $(wc -l <"$LOGS/p1b-raw.log") package.json, expected $wide_packages"

    rm -f "$WIDE/obj/ecrcache/inputs.json" # the target hashes (P1b is about the glob walk, not the stamp)
    timed "$LOGS/p1b-build.log" msb "$WIDE" image.proj ComputeCachedImageKey
    if [[ $i -gt 0 ]]; then
      record p1b.build_wall "$T_MS"
      record p1b.build_eval "$(eval_ms "$LOGS/p1b-build.log")"
      record p1b.build_target "$(ecrcache_ms "$LOGS/p1b-build.log")"
    fi
    rm -f "$WIDE/obj/ecrcache/inputs.json"
    timed "$LOGS/p1b-norestore.log" msb "$WIDE" image.proj ComputeCachedImageKey --no-restore
    if [[ $i -gt 0 ]]; then
      record p1b.norestore_wall "$T_MS"
      record p1b.norestore_eval "$(eval_ms "$LOGS/p1b-norestore.log")"
    fi
    rm -f "$WIDE/obj/ecrcache/inputs.json"
    timed "$LOGS/p1b-exclude.log" msb "$WIDE" image-exclude.proj ComputeCachedImageKey
    if [[ $i -gt 0 ]]; then
      record p1b.excl_wall "$T_MS"
      record p1b.excl_eval "$(eval_ms "$LOGS/p1b-exclude.log")"
    fi
    timed "$LOGS/p1b-kb.log" "$KEYBENCH" --root "$WIDE" --dockerfile "$WIDE/Dockerfile" --include '**/package.json'
    [[ "$(kb_get "$LOGS/p1b-kb.log" files)" == "$wide_packages" ]] || die "KeyBench matched $(kb_get "$LOGS/p1b-kb.log" files) files in the wide tree"
    [[ $i -gt 0 ]] && record p1b.kb_glob "$(kb_get "$LOGS/p1b-kb.log" glob_ms)"
  done
fi

# ---- P5: memory --------------------------------------------------------------------------------------------------------
if want P5; then
  phase "P5 memory"
  WLIST="$WORK/wide.list"
  (cd "$WIDE" && find packages -type f | LC_ALL=C sort) >"$WLIST"
  p5_sizes=()
  p5_suffixes=(a b c)
  for n in 1000 10000 100000; do
    p5_sizes+=("$(awk -v n="$n" -v s="$SCALE" -v max="$wide_files" 'BEGIN { v = int(n * s + 0.5); if (v < 10) v = 10; if (v > max) v = max; print v }')")
  done
  meta p5_a "${p5_sizes[0]}"
  meta p5_b "${p5_sizes[1]}"
  meta p5_c "${p5_sizes[2]}"
  for i in $(seq 0 "$RUNS"); do
    for k in 0 1 2; do
      n="${p5_sizes[$k]}"
      suffix="${p5_suffixes[$k]}"
      timed "$LOGS/p5-$n.log" /usr/bin/time -v "$KEYBENCH" --root "$WIDE" --list "$WLIST" --limit "$n" --dockerfile "$WIDE/Dockerfile"
      [[ "$(kb_get "$LOGS/p5-$n.log" files)" == "$n" ]] || die "KeyBench hashed $(kb_get "$LOGS/p5-$n.log" files) files, expected $n"
      if [[ $i -gt 0 ]]; then
        rss_kb="$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$LOGS/p5-$n.log")"
        record "p5.rss.$suffix" "$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
        hwm="$(kb_get "$LOGS/p5-$n.log" compute_hwm_kb)"
        before="$(kb_get "$LOGS/p5-$n.log" rss_before_compute_kb)"
        if [[ "$hwm" != -1 ]]; then
          record "p5.growth.$suffix" "$(awk -v a="$hwm" -v b="$before" 'BEGIN { d = (a - b) / 1024; if (d < 0) d = 0; printf "%.1f", d }')"
        fi
        if [[ $k == 2 ]]; then
          record p5.compute.c "$(kb_get "$LOGS/p5-$n.log" compute_ms)"
          record p5.alloc.c "$(awk -v b="$(kb_get "$LOGS/p5-$n.log" alloc_bytes)" 'BEGIN { printf "%.1f", b / 1048576 }')"
          record p5.retained.c "$(awk -v b="$(kb_get "$LOGS/p5-$n.log" retained_bytes)" 'BEGIN { printf "%.1f", b / 1048576 }')"
        fi
      fi
    done
    # The same N files through raw sha256sum: the per-file cost of many small files.
    timed "$LOGS/p5-raw.log" bash -c "cd '$WIDE' && head -n '${p5_sizes[2]}' '$WLIST' | tr '\\n' '\\0' | xargs -0 -P'$NPROC' -n 256 sha256sum"
    [[ $i -gt 0 ]] && record p5.raw.c "$T_MS"
  done
fi

# ---- P2: hit path (image in the registry and in the local daemon) ------------------------------------------------------
# With BENCH_BASELINE_REV, P2 and P3 also run the same project on the baseline SDK ("before"), alternating with this
# checkout's ("after") run by run, the order swapped every run, so load or drift during the run hits both alike.
hit_ref=""
ensure_hit_image() { # ensure_hit_image DIR LOG: the first build pushes it (or finds it from an earlier bench run)
  timed "$2" msb "$1" image.proj EnsureCachedImage
  hit_ref="$(engine_line "$2" | awk '{ print $2 }')"
  [[ -n "$hit_ref" ]] || die "no image reference in $2"
  "$DOCKER" image inspect "$hit_ref" >/dev/null 2>&1 || "$DOCKER" pull "$hit_ref" >/dev/null
}
# sides I: the SDKs to run in timed run I, in order ("after" alone without a baseline).
sides() {
  if [[ -z "$BASELINE_REV" ]]; then echo after; elif (($1 % 2)); then echo after before; else echo before after; fi
}
side_dir() { if [[ "$1" == before ]]; then echo "$HIT_BASE"; else echo "$HIT"; fi; }
side_id() { if [[ "$1" == before ]]; then echo "$2.before"; else echo "$2"; fi; } # side_id SIDE PHASE: sample id prefix
# hit_run DIR LOG SETTLE: EnsureCachedImage, which must be a local hit; sets T_MS, RUN_TARGET and RUN_REQUESTS.
hit_run() {
  local before
  before="$(registry_requests)"
  timed "$2" msb "$1" image.proj EnsureCachedImage
  sleep "$3" # the registry writes its access log line after the response
  RUN_REQUESTS=$(($(registry_requests) - before))
  expect_result "$2" hit-local
  RUN_TARGET="$(ecrcache_ms "$2")"
  [[ -n "$RUN_TARGET" ]] || die "no EcrCache target in the performance summary of $2"
}
if want P2 || want P2b || want P3; then
  ensure_hit_image "$HIT" "$LOGS/p2-prepare.log"
  if [[ -n "$BASELINE_REV" ]] && { want P2 || want P3; }; then
    after_ref="$hit_ref"
    ensure_hit_image "$HIT_BASE" "$LOGS/p2-prepare-before.log"
    [[ "$hit_ref" == "$after_ref" ]] || meta note4 "the baseline SDK keys the hit project differently: $hit_ref (before) and $after_ref (after)"
    hit_ref="$after_ref"
  fi
  hit_repo_tag="${hit_ref#"$REG"/}"
  # The minimum a hit needs: one manifest HEAD (what EcrCache sends) ...
  HEAD_CMD="curl -sfI -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' 'http://$REG/v2/${hit_repo_tag%:*}/manifests/${hit_repo_tag##*:}'"
fi

if want P2; then
  phase "P2 hit path ($hit_ref)"
  for i in $(seq 0 "$RUNS"); do
    timed "$LOGS/p2-min.log" bash -c "$HEAD_CMD && '$DOCKER' image inspect '$hit_ref' >/dev/null"
    [[ $i -gt 0 ]] && record p2.min "$T_MS"
    declare -A wall=() target=()
    for side in $(sides "$i"); do
      dir="$(side_dir "$side")"
      id="$(side_id "$side" p2)"
      logf="$LOGS/p2-ours.log"
      [[ "$side" == before ]] && logf="$LOGS/p2-before.log"
      rm -rf "$dir/obj"
      hit_run "$dir" "$logf" 0.2
      wall[$side]="$T_MS"
      target[$side]="$RUN_TARGET"
      if [[ $i -gt 0 ]]; then
        record "$id.wall" "$T_MS"
        record "$id.target" "$RUN_TARGET"
        record "$id.startup" "$(awk -v w="$T_MS" -v t="$RUN_TARGET" 'BEGIN { printf "%.1f", w - t }')"
        record "$id.engine" "$(engine_ms "$logf")"
        record "$id.requests" "$RUN_REQUESTS"
        [[ "$side" == after ]] && record_steps p2 "$logf"
      fi
    done
    if [[ $i -gt 0 && -n "$BASELINE_REV" ]]; then
      record p2.ratio.wall "$(ratio "${wall[after]}" "${wall[before]}")"
      record p2.ratio.target "$(ratio "${target[after]}" "${target[before]}")"
    fi
    timed "$LOGS/p2-floor.log" msb "$HIT" image.proj _EcrCacheCheckDesignTime
    [[ $i -gt 0 ]] && record p2.floor "$T_MS"
  done
fi

if want P2b; then
  phase "P2b hit from the registry (pull)"
  # BuildKit's build cache keeps the layers of an image it built after 'docker rmi', so a pull of such an image
  # downloads nothing. This image is made with 'docker import' instead: after 'docker rmi' its layer is really gone.
  timed "$LOGS/p2b-key.log" msb "$PULL" image.proj ComputeCachedImageKey
  pull_tag="$(sed -n 's/.*EcrCache key: [0-9a-f]* (tag \([0-9a-f]*\)).*/\1/p' "$LOGS/p2b-key.log" | tail -n 1)"
  [[ -n "$pull_tag" ]] || die "no tag in $LOGS/p2b-key.log"
  pull_ref="$REG/bench/pull:$pull_tag"
  rootfs="$WORK/pull-rootfs"
  rm -rf "$rootfs"
  mkdir -p "$rootfs/data"
  python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(42).randbytes(int(sys.argv[1]) << 20))' "$PAYLOAD_MB" >"$rootfs/data/payload"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -c . | "$DOCKER" import - "$pull_ref" >/dev/null
  "$DOCKER" push "$pull_ref" >"$LOGS/p2b-push.log" 2>&1 || { tail -n 20 "$LOGS/p2b-push.log" >&2; die "pushing $pull_ref failed"; }
  pull_repo_tag="${pull_ref#"$REG"/}"
  pull_head="curl -sfI -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' 'http://$REG/v2/${pull_repo_tag%:*}/manifests/${pull_repo_tag##*:}'"
  drop_local() { # every local image of the repository (also untagged ones left by earlier runs: they share the layer)
    local ids
    mapfile -t ids < <("$DOCKER" images --format '{{.ID}}' "${pull_ref%:*}" | sort -u)
    ((${#ids[@]} == 0)) || "$DOCKER" rmi -f "${ids[@]}" >/dev/null
  }
  for i in $(seq 0 "$RUNS"); do
    drop_local
    before="$(registry_requests)"
    timed "$LOGS/p2b-min.log" bash -c "$pull_head && '$DOCKER' pull '$pull_ref'"
    min_ms="$T_MS"
    sleep 0.2
    min_requests=$(($(registry_requests) - before))
    grep -q 'Pull complete' "$LOGS/p2b-min.log" || die "the raw pull did not download the layer (log: $LOGS/p2b-min.log)"
    drop_local
    rm -rf "$PULL/obj"
    before="$(registry_requests)"
    timed "$LOGS/p2b-ours.log" msb "$PULL" image.proj EnsureCachedImage
    sleep 0.2
    ours_requests=$(($(registry_requests) - before))
    expect_result "$LOGS/p2b-ours.log" hit-pulled
    if [[ $i -gt 0 ]]; then
      record p2b.min "$min_ms"
      record p2b.wall "$T_MS"
      record p2b.target "$(ecrcache_ms "$LOGS/p2b-ours.log")"
      record p2b.requests_min "$min_requests"
      record p2b.requests "$ours_requests"
    fi
  done
  drop_local
fi

# ---- P3: no-op repeat ----------------------------------------------------------------------------------------------------
if want P3; then
  phase "P3 no-op repeat"
  "$DOCKER" image inspect "$hit_ref" >/dev/null 2>&1 || "$DOCKER" pull "$hit_ref" >/dev/null
  for side in $(sides 0); do # writes the stamp if an earlier phase did not
    timed "$LOGS/p3-stamp-$side.log" msb "$(side_dir "$side")" image.proj EnsureCachedImage
  done
  # P3w's denominator: a bare MSBuild project (no SDK, no NuGet SDK resolver) run with the same arguments.
  BARE="$WORK/projects/bare"
  mkdir -p "$BARE"
  printf '<Project>\n  <Target Name="EnsureCachedImage" />\n</Project>\n' >"$BARE/bare.proj"
  sdk_dir="$NUGET_PACKAGES/ecrcache.sdk/$sdk_version/Sdk"
  [[ -f "$sdk_dir/Sdk.props" ]] || die "the SDK is not in $NUGET_PACKAGES after the first build"
  sed -e "s|<Project Sdk=\"EcrCache.Sdk\">|<Project>\n  <Import Project=\"$sdk_dir/Sdk.props\" />|" \
    -e "s|^</Project>|  <Import Project=\"$sdk_dir/Sdk.targets\" />\n</Project>|" "$HIT/image.proj" >"$HIT/bypath.proj"
  for i in $(seq 0 "$RUNS"); do
    timed "$LOGS/p3-min.log" "$DOCKER" image inspect "$hit_ref"
    [[ $i -gt 0 ]] && record p3.min "$T_MS"
    timed "$LOGS/p3w-bare.log" msb "$BARE" bare.proj EnsureCachedImage
    [[ $i -gt 0 ]] && record p3w.bare "$T_MS"
    # The same no-op with the SDK imported by path (no NuGet SDK resolver): docs/performance.md, "Consuming the SDK".
    timed "$LOGS/p3w-path.log" msb "$HIT" bypath.proj EnsureCachedImage
    expect_result "$LOGS/p3w-path.log" hit-local
    [[ $i -gt 0 ]] && record p3w.path "$T_MS"
    declare -A wall=() target=()
    for side in $(sides "$i"); do
      id="$(side_id "$side" p3)"
      logf="$LOGS/p3-ours.log"
      [[ "$side" == before ]] && logf="$LOGS/p3-before.log"
      hit_run "$(side_dir "$side")" "$logf" 0.3
      wall[$side]="$T_MS"
      target[$side]="$RUN_TARGET"
      if [[ $i -gt 0 ]]; then
        record "$id.wall" "$T_MS"
        record "$id.target" "$RUN_TARGET"
        record "$id.engine" "$(engine_ms "$logf")"
        record "$id.requests" "$RUN_REQUESTS"
        [[ "$side" == after ]] && record_steps p3 "$logf"
      fi
    done
    if [[ $i -gt 0 && -n "$BASELINE_REV" ]]; then
      record p3.ratio.wall "$(ratio "${wall[after]}" "${wall[before]}")"
      record p3.ratio.target "$(ratio "${target[after]}" "${target[before]}")"
    fi
  done
fi

# ---- P3b: no-op repeat on the P1 tree -------------------------------------------------------------------------------------
if want P3b; then
  phase "P3b no-op repeat on the mono tree ($mono_files CacheOn files)"
  timed "$LOGS/p3b-prepare.log" msb "$MONO" image-noop.proj EnsureCachedImage # builds once, or finds it local
  noop_ref="$(engine_line "$LOGS/p3b-prepare.log" | awk '{ print $2 }')"
  [[ -n "$noop_ref" ]] || die "no image reference in $LOGS/p3b-prepare.log"
  for i in $(seq 0 "$RUNS"); do
    timed "$LOGS/p3b-min.log" "$DOCKER" image inspect "$noop_ref"
    [[ $i -gt 0 ]] && record p3b.min "$T_MS"
    timed "$LOGS/p3b-ours.log" msb "$MONO" image-noop.proj EnsureCachedImage
    expect_result "$LOGS/p3b-ours.log" hit-local
    if [[ $i -gt 0 ]]; then
      record p3b.wall "$T_MS"
      record p3b.eval "$(eval_ms "$LOGS/p3b-ours.log")"
      record p3b.target "$(ecrcache_ms "$LOGS/p3b-ours.log")"
      record p3b.engine "$(engine_ms "$LOGS/p3b-ours.log")"
    fi
    # The same with one evaluation instead of two (no implicit restore; a standalone image project restores nothing).
    timed "$LOGS/p3b-norestore.log" msb "$MONO" image-noop.proj EnsureCachedImage --no-restore
    expect_result "$LOGS/p3b-norestore.log" hit-local
    if [[ $i -gt 0 ]]; then
      record p3b.norestore_wall "$T_MS"
      record p3b.norestore_eval "$(eval_ms "$LOGS/p3b-norestore.log")"
    fi
  done
fi

# ---- P4: miss overhead ---------------------------------------------------------------------------------------------------
if want P4; then
  phase "P4 miss overhead"
  run_id="$(date +%s)-$$"
  miss_refs=()
  for i in $(seq 0 "$RUNS"); do
    salt="ours-$run_id-$i"
    before="$(registry_requests)"
    timed "$LOGS/p4-ours.log" msb "$MISS" image.proj EnsureCachedImage -p:BenchSalt="$salt" -p:EcrCachePushLatest=false
    ours_ms="$T_MS"
    sleep 0.2
    ours_requests=$(($(registry_requests) - before))
    expect_result "$LOGS/p4-ours.log" built
    miss_refs+=("$(engine_line "$LOGS/p4-ours.log" | awk '{ print $2 }')")
    salt="raw-$run_id-$i"
    ref="$REG/bench/miss:$salt"
    miss_refs+=("$ref")
    before="$(registry_requests)"
    timed "$LOGS/p4-raw.log" bash -c "cd '$MISS' && DOCKER_BUILDKIT=1 '$DOCKER' build --progress=plain --file Dockerfile --tag '$ref' \
      --build-arg BASE_IMAGE='$BASE_IMAGE' --build-arg BENCH_SALT='$salt' . && '$DOCKER' push '$ref'"
    raw_ms="$T_MS"
    sleep 0.2
    raw_requests=$(($(registry_requests) - before))
    # The same miss without coordination (EcrCacheLeaseTimeout=0): no lock, no lease, so no lease read-back to wait
    # for when the build is shorter than its 1.5 s settle delay (docs/reliability.md).
    salt="nolease-$run_id-$i"
    timed "$LOGS/p4-nolease.log" msb "$MISS" image.proj EnsureCachedImage -p:BenchSalt="$salt" -p:EcrCachePushLatest=false -p:EcrCacheLeaseTimeout=0
    expect_result "$LOGS/p4-nolease.log" built
    miss_refs+=("$(engine_line "$LOGS/p4-nolease.log" | awk '{ print $2 }')")
    if [[ $i -gt 0 ]]; then
      record p4.nolease_wall "$T_MS"
      record p4.nolease_target "$(ecrcache_ms "$LOGS/p4-nolease.log")"
    fi
    if [[ $i -gt 0 ]]; then
      record p4.raw "$raw_ms"
      record p4.wall "$ours_ms"
      record p4.target "$(ecrcache_ms "$LOGS/p4-ours.log")"
      record p4.requests_raw "$raw_requests"
      record p4.requests "$ours_requests"
    fi
  done
  "$DOCKER" rmi "${miss_refs[@]}" >/dev/null 2>&1 || true
fi

# ---- P6: two Docker Hub base images through a registry mirror ------------------------------------------------------------
# Base-image digests cost one manifest HEAD per base image (Docker Hub counts GETs as pulls, not HEADs). Docker Hub
# names (ecrcache-bench-a:1 is docker.io/library/ecrcache-bench-a:1) are looked up through EcrCacheRegistryMirrors; the
# open registry is that mirror, so its access log shows every manifest request the key computation makes.
if want P6; then
  phase "P6 base-image digests: two Docker Hub base images through the mirror http://$REG"
  for b in a b; do
    ref="$REG/library/ecrcache-bench-$b:1"
    printf 'FROM %s\nLABEL x=%s\n' "$BASE_IMAGE" "$b" | "$DOCKER" build -t "$ref" - >"$LOGS/p6-image-$b.log" 2>&1 ||
      { tail -n 20 "$LOGS/p6-image-$b.log" >&2; die "building $ref failed"; }
    "$DOCKER" push "$ref" >>"$LOGS/p6-image-$b.log" 2>&1 || { tail -n 20 "$LOGS/p6-image-$b.log" >&2; die "pushing $ref failed"; }
  done
  TWO="$WORK/projects/two-bases"
  rm -rf "$TWO"
  scaffold "$TWO"
  printf 'FROM ecrcache-bench-a:1 AS a\nFROM ecrcache-bench-b:1\n' >"$TWO/Dockerfile"
  printf '{ "name": "bench-two-bases" }\n' >"$TWO/package.json"
  cat >"$TWO/image.proj" <<EOF
<Project Sdk="EcrCache.Sdk">
  <PropertyGroup>
    <EcrCacheProvider>local</EcrCacheProvider>
    <EcrCacheRepository>bench/two-bases</EcrCacheRepository>
    <EcrCacheRegistryMirrors>http://$REG</EcrCacheRegistryMirrors>
  </PropertyGroup>
  <ItemGroup>
    <CacheOn Include="package.json" />
  </ItemGroup>
</Project>
EOF
  # manifest_requests METHOD: access-log lines of METHOD for the two base images' manifests (on the mirror).
  manifest_requests() { grep -cE "^127\.0\.0\.1 - - \[[^]]*\] \"$1 /v2/library/ecrcache-bench-(a|b)/manifests/1[? ]" "$REGLOG" || true; }
  # The detail-level line of a key computation that asked a registry (-v:d shows detail messages; absent otherwise).
  resolved_line() { grep -oE 'Resolved [0-9]+ base image digest\(s\) with [0-9]+ manifest HEAD\(s\) and [0-9]+ GET\(s\) in [0-9]+ ms' "$1" | tail -n 1; }
  resolved_ms() { resolved_line "$1" | awk '{ print $(NF - 1) }'; }
  p6_key() { sed -n 's/.*EcrCache key: \([0-9a-f]*\) .*/\1/p' "$1" | tail -n 1; }
  p6_run() { # p6_run LOG [args...]: sets P6_HEADS and P6_GETS (access-log delta)
    local logf="$1" h0 g0
    shift
    h0="$(manifest_requests HEAD)"
    g0="$(manifest_requests GET)"
    timed "$logf" msb "$TWO" image.proj ComputeCachedImageKey -v:d "$@"
    sleep 0.2
    P6_HEADS=$(($(manifest_requests HEAD) - h0))
    P6_GETS=$(($(manifest_requests GET) - g0))
  }
  p6_heads_total=0
  p6_gets_total=0
  p6_key_ref=""
  # Ephemeral agent: a fresh obj/ every time, so no digest cache and no input stamp.
  for i in $(seq 0 "$RUNS"); do
    rm -rf "$TWO/obj"
    p6_run "$LOGS/p6-fresh.log"
    line="$(resolved_line "$LOGS/p6-fresh.log")"
    [[ "$line" == "Resolved 2 base image digest(s) "* ]] || { tail -n 30 "$LOGS/p6-fresh.log" >&2; die "no 'Resolved 2 base image digest(s)' line (log: $LOGS/p6-fresh.log)"; }
    key="$(p6_key "$LOGS/p6-fresh.log")"
    [[ -n "$key" ]] || die "no key in $LOGS/p6-fresh.log"
    [[ -z "$p6_key_ref" || "$key" == "$p6_key_ref" ]] || die "the key changed between fresh runs ($p6_key_ref, then $key)"
    p6_key_ref="$key"
    if [[ $i -gt 0 ]]; then
      p6_heads_total=$((p6_heads_total + P6_HEADS))
      p6_gets_total=$((p6_gets_total + P6_GETS))
      record p6.fresh_gets "$P6_GETS"
      record p6.fresh_heads "$P6_HEADS"
      record p6.fresh_wall "$T_MS"
      record p6.fresh_target "$(ecrcache_ms "$LOGS/p6-fresh.log")"
      record p6.fresh_resolve "$(resolved_ms "$LOGS/p6-fresh.log")"
    fi
  done
  log "P6: manifest GETs per key computation, upstream unchanged: $(awk -v t="$p6_gets_total" -v n="$RUNS" 'BEGIN { print t / n }')"
  log "P6: manifest HEADs per key computation: $(awk -v t="$p6_heads_total" -v n="$RUNS" 'BEGIN { print t / n }')"
  # obj/ kept (digest cache and input stamp present), window 0: every key computation revalidates with one HEAD each.
  for i in $(seq 0 "$RUNS"); do
    p6_run "$LOGS/p6-revalidate.log" -p:EcrCacheBaseImageDigestsCacheMinutes=0
    [[ -n "$(resolved_line "$LOGS/p6-revalidate.log")" ]] || { tail -n 30 "$LOGS/p6-revalidate.log" >&2; die "no 'Resolved ...' line with the window 0 (log: $LOGS/p6-revalidate.log)"; }
    [[ "$(p6_key "$LOGS/p6-revalidate.log")" == "$p6_key_ref" ]] || die "the revalidated key differs (log: $LOGS/p6-revalidate.log)"
    if [[ $i -gt 0 ]]; then
      record p6.reval_resolve "$(resolved_ms "$LOGS/p6-revalidate.log")"
      record p6.reval_heads "$P6_HEADS"
      record p6.reval_gets "$P6_GETS"
      record p6.reval_wall "$T_MS"
      record p6.reval_target "$(ecrcache_ms "$LOGS/p6-revalidate.log")"
    fi
  done
  # obj/ kept, the default window (10 min; the entries were just renewed): no request, no "Resolved" line.
  for i in $(seq 0 "$RUNS"); do
    p6_run "$LOGS/p6-cached.log"
    [[ -z "$(resolved_line "$LOGS/p6-cached.log")" ]] || die "a key computation within the cache window asked the registry (log: $LOGS/p6-cached.log)"
    [[ "$(p6_key "$LOGS/p6-cached.log")" == "$p6_key_ref" ]] || die "the cached key differs (log: $LOGS/p6-cached.log)"
    if [[ $i -gt 0 ]]; then
      record p6.cached_requests "$((P6_HEADS + P6_GETS))"
      record p6.cached_wall "$T_MS"
      record p6.cached_target "$(ecrcache_ms "$LOGS/p6-cached.log")"
    fi
  done
  meta p6_mirror "http://$REG"
fi

# ---- report --------------------------------------------------------------------------------------------------------------
meta runs "$RUNS"
meta scale "$SCALE"
meta nproc "$NPROC"
meta date "$(date -u +%Y-%m-%dT%H:%MZ)"
meta mono_files "$mono_files"
meta mono_mb "$((mono_bytes / 1000000))"
meta wide_files "$wide_files"
meta wide_packages "$wide_packages"
meta payload_mb "$PAYLOAD_MB"
meta note2 "times in ms (wall clock of the whole command unless indented); MSBuild figures from -clp:PerformanceSummary ('EcrCache targets' = the sum of the SDK's targets); P2/P3 'engine' is the EcrCache line; the KeyBench .NET glob is not the product's (MSBuild evaluation expands CacheOn)"
meta note3 "EcrCache.Sdk $sdk_version; dotnet $(dotnet --version); docker client $("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null), daemon $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null); registry 127.0.0.1 (docker-registry); total bench time $(($(date +%s) - bench_start)) s"
{
  echo "nproc: $NPROC"
  grep -m1 'model name' /proc/cpuinfo | sed 's/^model name\s*:\s*/cpu: /'
  awk '/MemTotal/ { printf "memory: %.1f GiB\n", $2 / 1048576 }' /proc/meminfo
  echo "disk ($WORK): $(df -h --output=source,fstype,size "$WORK" | tail -n 1 | tr -s ' ')"
  echo "kernel: $(uname -r)"
  echo "dotnet: $(dotnet --version)"
  echo "docker: client $("$DOCKER" version --format '{{.Client.Version}}'), daemon $("$DOCKER" version --format '{{.Server.Version}}'), storage $("$DOCKER" info --format '{{.Driver}}')"
  echo "sha256sum: $(sha256sum --version | head -n 1)"
} >"$RESULTS/machine.txt"
log "bench: done in $(($(date +%s) - bench_start)) s; samples: $SAMPLES; logs: $LOGS"
echo
python3 "$BENCH_DIR/report.py" "$RESULTS"
