#!/usr/bin/env bash
# Installs the system packages the EcrCache build, tests and demo need on a
# Debian machine: Docker (Debian docker.io: client with BuildKit + dockerd),
# the distribution v2 registry, a static busybox (for the local base image),
# curl and python3, Mono with mono-devel (runs the packed net472 task assembly, the one Visual Studio loads, in the
# tests); and PowerShell 7 (pwsh) as a .NET tool in $ECRCACHE_TOOLS_DIR.
# Does NOT install the .NET SDK; only checks for it.
#
# Fast path: if every required binary is already present, apt is not touched.
set -euo pipefail

# shellcheck source=build/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# "binary-path package" pairs.
required=(
  "$ECRCACHE_DOCKER docker.io"
  "$ECRCACHE_DOCKERD docker.io"
  "$ECRCACHE_REGISTRY_BIN docker-registry"
  "/usr/bin/curl curl"
  "/usr/bin/python3 python3"
  "/usr/bin/setsid util-linux"
  "/usr/bin/flock util-linux"
  "/usr/bin/tar tar"
  "/usr/sbin/ip iproute2"
  "/usr/bin/mono mono-runtime"
  "/usr/bin/al mono-devel"
)

missing_pkgs=()
add_pkg() {
  local p
  for p in "${missing_pkgs[@]+"${missing_pkgs[@]}"}"; do
    [[ "$p" == "$1" ]] && return 0
  done
  missing_pkgs+=("$1")
}

for entry in "${required[@]}"; do
  bin="${entry%% *}"
  pkg="${entry##* }"
  if [[ ! -x "$bin" ]]; then
    log "missing $bin (package $pkg)"
    add_pkg "$pkg"
  fi
done

# The base image needs a *statically linked* busybox (the image has no libc).
# The dynamic "busybox" package also installs /bin/busybox, so check linkage.
busybox_is_static() {
  [[ -x "$ECRCACHE_BUSYBOX" ]] || return 1
  # ldd prints "not a dynamic executable" (and fails) for static binaries.
  ! ldd "$ECRCACHE_BUSYBOX" >/dev/null 2>&1
}
if ! busybox_is_static; then
  log "missing a static $ECRCACHE_BUSYBOX (package busybox-static)"
  add_pkg busybox-static
fi

# bcrypt for the registry htpasswd file: htpasswd (apache2-utils) or Python's
# crypt module (present in Debian 12's python3.11, removed in Python 3.13).
bcrypt_available() {
  command -v htpasswd >/dev/null 2>&1 && return 0
  local py
  for py in python3 /usr/bin/python3; do
    # shellcheck disable=SC2016 # "$2" is the bcrypt prefix, not a variable.
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -W ignore -c 'import crypt; assert crypt.crypt("x", crypt.mksalt(crypt.METHOD_BLOWFISH)).startswith("$2")' >/dev/null 2>&1; then
      return 0
    fi
  done
  return 1
}
if ! bcrypt_available; then
  log "no bcrypt tool (htpasswd or python3 crypt) found (package apache2-utils)"
  add_pkg apache2-utils
fi

if [[ ${#missing_pkgs[@]} -eq 0 ]]; then
  log "system prerequisites already present; skipping apt"
else
  require_root "installing ${missing_pkgs[*]}"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${missing_pkgs[*]}"
  log "installing: ${missing_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q ca-certificates "${missing_pkgs[@]}"
  # Re-verify.
  for entry in "${required[@]}"; do
    bin="${entry%% *}"
    [[ -x "$bin" ]] || die "$bin still missing after apt-get install"
  done
  busybox_is_static || die "$ECRCACHE_BUSYBOX is not a static binary (is the dynamic 'busybox' package installed instead of busybox-static?)"
  bcrypt_available || die "no bcrypt tool available after install"
  log "system prerequisites installed"
fi

# .NET SDK: required, but not installed by us.
if ! command -v dotnet >/dev/null 2>&1; then
  die "the .NET SDK ('dotnet') is not on PATH. Install the .NET SDK (10.0 or later) from https://dotnet.microsoft.com/download and re-run."
fi
if ! dotnet_version="$(dotnet --version 2>/dev/null)"; then
  die "'dotnet --version' failed: no usable .NET SDK found. Install the .NET SDK (10.0 or later)."
fi
log "dotnet SDK $dotnet_version"

# PowerShell 7 (pwsh), for the tests that dot-source image.env.ps1 as a Windows agent's PowerShell hook
# does. A .NET tool from NuGet (there is no Debian package); only when missing. Run from / so that no
# NuGet.config or global.json of the current folder steers the install.
if [[ -x "$ECRCACHE_PWSH" ]]; then
  log "pwsh present ($ECRCACHE_PWSH)"
else
  log "installing PowerShell $ECRCACHE_PWSH_VERSION into $ECRCACHE_TOOLS_DIR (dotnet tool install)"
  mkdir -p "$ECRCACHE_TOOLS_DIR" || die "cannot create $ECRCACHE_TOOLS_DIR (run as root, or set ECRCACHE_TOOLS_DIR)"
  (cd / && dotnet tool install --tool-path "$ECRCACHE_TOOLS_DIR" PowerShell --version "$ECRCACHE_PWSH_VERSION" >&2) ||
    die "installing PowerShell $ECRCACHE_PWSH_VERSION with 'dotnet tool install' failed"
  [[ -x "$ECRCACHE_PWSH" ]] || die "$ECRCACHE_PWSH still missing after dotnet tool install"
  log "pwsh installed ($ECRCACHE_PWSH)"
fi
