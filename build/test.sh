#!/usr/bin/env bash
# THE test command for EcrCache.
#
#   sudo bash build/test.sh        (or, as root: bash build/test.sh)
#
# 1. installs system prerequisites (docker.io, docker-registry, busybox-static)
# 2. starts/reuses dockerd, two local registries and the busybox base image
# 3. dotnet build (Release), dotnet pack of the SDK into artifacts/packages
# 4. dotnet test with TRX results in artifacts/test-results
# 5. prints, as the very last line:  "N passed, N failed[, N skipped]"
#
# Exit status is non-zero if the build failed, any test failed, no TRX file
# was produced, or no test passed.
#
# Debug helper: bash build/test.sh --summarize DIR   (summarise existing TRX files)
set -euo pipefail

# shellcheck source=build/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO="$ECRCACHE_REPO_ROOT"
RESULTS_DIR="$REPO/artifacts/test-results"
PACKAGES_DIR="$REPO/artifacts/packages"
SDK_PROJECT="src/EcrCache.Sdk/EcrCache.Sdk.csproj"

# summarize_trx DIR -> prints "PASSED FAILED SKIPPED" on stdout (details on
# stderr); returns 2 if DIR has no .trx files.
summarize_trx() {
  python3 - "$1" <<'PY'
import glob
import os
import sys
import xml.etree.ElementTree as ET

results_dir = sys.argv[1]
files = sorted(glob.glob(os.path.join(results_dir, "**", "*.trx"), recursive=True))
if not files:
    print(f"[ecrcache] no .trx files found under {results_dir}", file=sys.stderr)
    sys.exit(2)

PASSED = {"passed", "passedbutrunaborted", "warning"}
FAILED = {"failed", "error", "timeout", "aborted"}
# Everything else (NotExecuted, Inconclusive, NotRunnable, Pending, ...) is skipped.

def local(tag):
    return tag.rsplit("}", 1)[-1]

passed = failed = skipped = 0
failed_names = []
for path in files:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        print(f"[ecrcache] cannot parse {path}: {e}", file=sys.stderr)
        failed += 1
        failed_names.append(f"<unparsable {os.path.basename(path)}>")
        continue
    fp = fs = fk = 0
    saw_results = False
    for el in root.iter():
        if local(el.tag) != "UnitTestResult":
            continue
        saw_results = True
        outcome = (el.get("outcome") or "").lower()
        if outcome in PASSED:
            fp += 1
        elif outcome in FAILED:
            fs += 1
            failed_names.append(el.get("testName") or "?")
        else:
            fk += 1
    if not saw_results:
        # Fall back to the <Counters> summary element.
        for el in root.iter():
            if local(el.tag) == "Counters":
                def n(attr):
                    try:
                        return int(el.get(attr) or 0)
                    except ValueError:
                        return 0
                fp = n("passed") + n("passedButRunAborted")
                fs = n("failed") + n("error") + n("timeout") + n("aborted")
                fk = n("notExecuted") + n("inconclusive") + n("notRunnable")
                break
    print(f"[ecrcache]   {os.path.relpath(path, results_dir)}: "
          f"{fp} passed, {fs} failed, {fk} skipped", file=sys.stderr)
    passed += fp
    failed += fs
    skipped += fk

if failed_names:
    print("[ecrcache] failed tests:", file=sys.stderr)
    for name in failed_names[:100]:
        print(f"[ecrcache]   FAILED {name}", file=sys.stderr)
    if len(failed_names) > 100:
        print(f"[ecrcache]   ... and {len(failed_names) - 100} more", file=sys.stderr)

print(passed, failed, skipped)
PY
}

format_summary() {
  # format_summary PASSED FAILED SKIPPED
  if (($3 > 0)); then
    printf '%s passed, %s failed, %s skipped\n' "$1" "$2" "$3"
  else
    printf '%s passed, %s failed\n' "$1" "$2"
  fi
}

# Prints the CI-facing failure line last and exits.
fail_before_tests() {
  log "ERROR: $*"
  log "no tests were run"
  printf '0 passed, 1 failed\n'
  exit 1
}

if [[ "${1:-}" == "--summarize" ]]; then
  [[ -n "${2:-}" ]] || die "usage: $0 --summarize DIR"
  if ! counts="$(summarize_trx "$2")"; then
    printf '0 passed, 1 failed\n'
    exit 1
  fi
  read -r p f s <<<"$counts"
  format_summary "$p" "$f" "$s"
  ((f == 0 && p > 0))
  exit
fi
[[ $# -eq 0 ]] || die "usage: $0  (no arguments)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# No long-lived MSBuild worker nodes: they would outlive this script and can
# keep a CI job's output pipe open.
export MSBUILDDISABLENODEREUSE=1

cd "$REPO"
log "repository: $REPO"

# ---- 1. prerequisites + services ------------------------------------------
bash "$REPO/build/install-prereqs.sh" || fail_before_tests "build/install-prereqs.sh failed"

if ! services_out="$(bash "$REPO/build/start-services.sh")"; then
  fail_before_tests "build/start-services.sh failed"
fi
env_file="$(tail -n 1 <<<"$services_out")"
[[ -f "$env_file" ]] || fail_before_tests "start-services.sh did not produce an env file (got '$env_file')"
log "sourcing $env_file"
# shellcheck disable=SC1090
source "$env_file"
export ECRCACHE_TEST_PACKAGES="$PACKAGES_DIR"
log "test environment:"
for v in ECRCACHE_TEST_DOCKER ECRCACHE_TEST_REGISTRY ECRCACHE_TEST_AUTH_REGISTRY \
  ECRCACHE_TEST_AUTH_USER ECRCACHE_TEST_BASE_IMAGE ECRCACHE_TEST_REGISTRY_LOG \
  ECRCACHE_TEST_AUTH_REGISTRY_LOG ECRCACHE_TEST_PACKAGES; do
  log "  $v=${!v}"
done
log "  ECRCACHE_TEST_AUTH_PASSWORD=<hidden>"

# ---- 2. build + pack ---------------------------------------------------------
solution=""
for candidate in EcrCache.sln EcrCache.slnx; do
  if [[ -f "$REPO/$candidate" ]]; then
    solution="$candidate"
    break
  fi
done
[[ -n "$solution" ]] || fail_before_tests "no EcrCache.sln (or EcrCache.slnx) in $REPO"

log "dotnet build $solution -c Release"
dotnet build "$solution" -c Release --disable-build-servers ||
  fail_before_tests "dotnet build $solution failed"

log "dotnet pack $SDK_PROJECT -> $PACKAGES_DIR"
rm -rf "$PACKAGES_DIR"
mkdir -p "$PACKAGES_DIR"
dotnet pack "$SDK_PROJECT" -c Release -o "$PACKAGES_DIR" --disable-build-servers ||
  fail_before_tests "dotnet pack $SDK_PROJECT failed"
compgen -G "$PACKAGES_DIR/*.nupkg" >/dev/null ||
  fail_before_tests "dotnet pack produced no .nupkg in $PACKAGES_DIR"
log "packages: $(cd "$PACKAGES_DIR" && echo ./*.nupkg)"

# ---- 3. test -----------------------------------------------------------------
rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"
log "dotnet test $solution (results: $RESULTS_DIR)"
test_rc=0
dotnet test "$solution" -c Release --no-build --disable-build-servers \
  --logger "trx;LogFilePrefix=results" \
  --results-directory "$RESULTS_DIR" || test_rc=$?
log "dotnet test exited with code $test_rc"

# Stop compiler/MSBuild servers possibly started by tests (same pipe concern).
dotnet build-server shutdown >/dev/null 2>&1 || true

# ---- 4. summary --------------------------------------------------------------
log "test results:"
passed=0 failed=0 skipped=0 summary_ok=true
if counts="$(summarize_trx "$RESULTS_DIR")"; then
  read -r passed failed skipped <<<"$counts"
else
  summary_ok=false
fi

rc=0
if ! $summary_ok; then
  log "ERROR: no test results (.trx) were produced"
  failed=$((failed + 1))
  rc=1
fi
if ((test_rc != 0 && failed == 0)); then
  log "ERROR: dotnet test failed (exit $test_rc) without a failing test result (test host crash? build error?); counting it as 1 failure"
  failed=1
fi
if ((failed > 0)); then
  rc=1
fi
if ((passed == 0)); then
  log "ERROR: no test passed"
  rc=1
  ((failed > 0)) || failed=1
fi

format_summary "$passed" "$failed" "$skipped"
exit "$rc"
