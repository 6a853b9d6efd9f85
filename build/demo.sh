#!/usr/bin/env bash
# EcrCache demo: builds the EcrCache.Sdk NuGet package and runs the sample
# project testassets/Demo/Demo.proj twice with the `local` provider:
#   run 1 - cache miss: the image is built with docker
#   run 2 - cache hit:  the image is found, nothing is built
# printing the duration of each run and the resulting image reference.
#
#   bash build/demo.sh [extra msbuild args...]      (as root, or sudo)
#
# Removing the demo image before run 1 makes it a cache miss, but docker's
# BuildKit layer cache may still make that build fast. Set
# ECRCACHE_DEMO_PRUNE_BUILD_CACHE=1 to prune the daemon's build cache first.
# ECRCACHE_DEMO_IMAGE_REPO overrides the image repository (build-cache/demo).
#
# How the SDK is resolved: Demo.proj says <Project Sdk="EcrCache.Sdk"> without
# a version. The demo copies testassets/Demo to artifacts/demo-work/ and writes
# there a global.json ({"msbuild-sdks": {"EcrCache.Sdk": "<packed version>"}})
# and a NuGet.config whose sources are artifacts/packages + nuget.org. A
# private NUGET_PACKAGES (artifacts/nuget-demo) is used so a re-packed
# package with the same version is never served stale from the global cache.
set -euo pipefail

# shellcheck source=build/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO="$ECRCACHE_REPO_ROOT"
SDK_PROJECT="src/EcrCache.Sdk/EcrCache.Sdk.csproj"
DEMO_SRC="$REPO/testassets/Demo"
DEMO_PROJ_NAME="Demo.proj"
DEMO_IMAGE_REPO="${ECRCACHE_DEMO_IMAGE_REPO:-build-cache/demo}"
PACKAGES_DIR="$REPO/artifacts/packages"
WORK="$REPO/artifacts/demo-work"
DEMO_NUGET_PACKAGES="$REPO/artifacts/nuget-demo"
DOCKER="$ECRCACHE_DOCKER"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MSBUILDDISABLENODEREUSE=1

cd "$REPO"

# ---- prerequisites + services -------------------------------------------------
log "step 1/5: system prerequisites"
bash "$REPO/build/install-prereqs.sh"

log "step 2/5: local services (dockerd, registries, base image)"
env_file="$(bash "$REPO/build/start-services.sh" | tail -n 1)"
[[ -f "$env_file" ]] || die "start-services.sh did not produce an env file"
# shellcheck disable=SC1090
source "$env_file"
log "base image: $ECRCACHE_TEST_BASE_IMAGE"

# ---- SDK package ----------------------------------------------------------------
[[ -f "$REPO/$SDK_PROJECT" ]] || die "$SDK_PROJECT not found"
[[ -f "$DEMO_SRC/$DEMO_PROJ_NAME" ]] || die "testassets/Demo/$DEMO_PROJ_NAME not found"

log "step 3/5: packing the SDK ($SDK_PROJECT -> artifacts/packages)"
sdk_version="$(dotnet msbuild "$SDK_PROJECT" -getProperty:PackageVersion -p:Configuration=Release |
  tr -d '\r' | awk 'NF { last = $0 } END { print last }' | tr -d '[:space:]')"
[[ "$sdk_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]] ||
  die "could not determine the SDK PackageVersion (got '$sdk_version')"
log "EcrCache.Sdk version: $sdk_version"
rm -rf "$PACKAGES_DIR"
mkdir -p "$PACKAGES_DIR"
dotnet pack "$SDK_PROJECT" -c Release -o "$PACKAGES_DIR" --disable-build-servers
nupkg="$PACKAGES_DIR/EcrCache.Sdk.$sdk_version.nupkg"
[[ -f "$nupkg" ]] || die "expected package $nupkg was not produced"
log "package: ${nupkg#"$REPO/"}"

# ---- demo work dir ----------------------------------------------------------------
log "step 4/5: preparing demo work dir ${WORK#"$REPO/"}"
rm -rf "$WORK"
mkdir -p "$WORK"
cp -a "$DEMO_SRC/." "$WORK/"
rm -rf "${WORK:?}/obj" "${WORK:?}/bin"
demo_proj="$WORK/$DEMO_PROJ_NAME"

# The SDK version comes from global.json, so drop a literal version if present.
if grep -q 'Sdk="EcrCache\.Sdk/' "$demo_proj"; then
  warn "$DEMO_PROJ_NAME pins a literal EcrCache.Sdk version; rewriting to Sdk=\"EcrCache.Sdk\" in the work copy"
  sed -i 's#Sdk="EcrCache\.Sdk/[^"]*"#Sdk="EcrCache.Sdk"#' "$demo_proj"
fi

# global.json (msbuild-sdks), NuGet.config (local feed + nuget.org) and Directory.* stubs.
write_sdk_consumer_files "$WORK" "$sdk_version" "$PACKAGES_DIR" "https://api.nuget.org/v3/index.json"

export NUGET_PACKAGES="$DEMO_NUGET_PACKAGES"
mkdir -p "$NUGET_PACKAGES"
rm -rf "$NUGET_PACKAGES/ecrcache.sdk"
log "global.json: $(tr -d '\n ' <"$WORK/global.json")"
log "NuGet sources: $PACKAGES_DIR, nuget.org; NUGET_PACKAGES=$NUGET_PACKAGES"

# Make the first run a real miss: remove local images of the demo repository.
mapfile -t old_images < <("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' |
  grep "^${DEMO_IMAGE_REPO}:" | grep -v ':<none>$' || true)
if ((${#old_images[@]} > 0)); then
  log "removing ${#old_images[@]} existing local image(s) of $DEMO_IMAGE_REPO: ${old_images[*]}"
  "$DOCKER" rmi -f "${old_images[@]}" >/dev/null
else
  log "no existing local images of $DEMO_IMAGE_REPO"
fi

# Optional: also drop BuildKit's layer cache so run 1 is a cold build (off by
# default because it prunes the build cache of the whole docker daemon).
if [[ "${ECRCACHE_DEMO_PRUNE_BUILD_CACHE:-0}" == 1 ]]; then
  log "ECRCACHE_DEMO_PRUNE_BUILD_CACHE=1: pruning the docker build cache"
  DOCKER_BUILDKIT=1 "$DOCKER" builder prune -af >/dev/null
fi

# ---- the two runs --------------------------------------------------------------------
image_env="$WORK/obj/ecrcache/image.env"

# run_demo LABEL -> sets RUN_SECONDS, RUN_IMAGE
run_demo() {
  local label="$1" start end
  rm -f "$image_env"
  log "---- $label ----"
  log "dotnet build $DEMO_PROJ_NAME -t:EnsureCachedImage -p:EcrCacheDockerPath=$DOCKER -p:BaseImage=$ECRCACHE_TEST_BASE_IMAGE ${*:2}"
  start="$(now_seconds)"
  (
    cd "$WORK"
    dotnet build "$DEMO_PROJ_NAME" -t:EnsureCachedImage \
      -p:EcrCacheDockerPath="$DOCKER" \
      -p:BaseImage="$ECRCACHE_TEST_BASE_IMAGE" \
      --disable-build-servers "${@:2}"
  ) || die "$label failed"
  end="$(now_seconds)"
  RUN_SECONDS="$(elapsed "$start" "$end")"
  [[ -f "$image_env" ]] || die "$label did not write ${image_env#"$REPO/"}"
  # shellcheck disable=SC1090
  RUN_IMAGE="$(source "$image_env" && printf '%s' "${BUILDKITE_PLUGIN_DOCKER_IMAGE:-}")"
  [[ -n "$RUN_IMAGE" ]] || die "BUILDKITE_PLUGIN_DOCKER_IMAGE not set in $image_env"
  log "$label finished in ${RUN_SECONDS}s; image: $RUN_IMAGE"
}

log "step 5/5: running the demo twice"
run_demo "run 1 (expect cache MISS: image is built)" "$@"
miss_seconds="$RUN_SECONDS"
miss_image="$RUN_IMAGE"
run_demo "run 2 (expect cache HIT: nothing is built)" "$@"
hit_seconds="$RUN_SECONDS"
hit_image="$RUN_IMAGE"

if [[ "$miss_image" != "$hit_image" ]]; then
  warn "the two runs produced different image references"
fi
if "$DOCKER" image inspect "$hit_image" >/dev/null 2>&1; then
  log "image $hit_image is present in the local docker daemon"
else
  warn "image $hit_image is not present in the local docker daemon"
fi

echo
echo "EcrCache demo summary"
printf '  run 1 (miss): %8ss  %s\n' "$miss_seconds" "$miss_image"
printf '  run 2 (hit):  %8ss  %s\n' "$hit_seconds" "$hit_image"
echo "  image env file: ${image_env#"$REPO/"}"
