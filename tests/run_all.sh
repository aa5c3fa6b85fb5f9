#!/usr/bin/env bash
# Builds storage_api and runs every test: the GoogleTest suites in a -Werror release build, again under
# AddressSanitizer+UndefinedBehaviorSanitizer and under ThreadSanitizer, the fuzz smoke run, and the
# deployment checks (Prometheus config and rules, dashboard against a real Prometheus, Kubernetes manifests,
# distroless-style run, container image and compose, and the sharded compose cluster, when a Docker engine
# can be started).
#
#   tests/run_all.sh            everything
#   tests/run_all.sh --quick    the release build and its tests only
#
# Environment: JOBS (default: nproc), STORAGE_API_SOAK_SECONDS (fault-test soak length, default 15),
# FUZZ_SECONDS (per fuzz target, default 20), SKIP_CONTAINERS=1 (skip the image, compose and
# cluster checks).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${JOBS:-$(nproc)}
quick=0
[[ ${1:-} == --quick ]] && quick=1

passed=0
failed=0
declare -a failures=()

banner() { printf '\n==== %s ====\n' "$*"; }

# Configures, builds and runs ctest in build/<name>; adds ctest's counts to the totals.
suite() {
  local name=$1
  shift
  local dir="$root/build/$name"
  banner "build $name"
  cmake -S "$root" -B "$dir" -DSTORAGE_API_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  banner "test $name"
  local log="$dir/ctest.log"
  set +e
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 600 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local summary total bad
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [[ -z $summary ]]; then
    failures+=("$name: ctest printed no summary")
    failed=$((failed + 1))
    return
  fi
  bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
  passed=$((passed + total - bad))
  failed=$((failed + bad))
  if [[ $rc -ne 0 || $bad -ne 0 ]]; then failures+=("$name: $bad of $total failed"); fi
}

# Runs one check script; counts it as one test.
check() {
  local name=$1
  shift
  banner "check $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

suite release -DCMAKE_BUILD_TYPE=Release -DSTORAGE_API_STATIC=ON

if [[ $quick -eq 0 ]]; then
  suite asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTORAGE_API_SANITIZE=address,undefined
  suite tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTORAGE_API_SANITIZE=thread

  release_binary="$root/build/release/storage_api"
  check shellcheck shellcheck "$root/generate_traffic.sh" "$root/tests/run_all.sh" "$root/.ci/run" \
    "$root"/tests/deploy/*.sh "$root"/fuzz/*.sh "$root"/bench/*.sh
  [[ -x $root/fuzz/run.sh ]] && check fuzz-smoke "$root/fuzz/run.sh" "$root/build/fuzz"
  check prometheus-config "$root/tests/deploy/check_prometheus_config.sh"
  check dashboard "$root/tests/deploy/check_dashboard.sh" "$release_binary"
  check manifests "$root/tests/deploy/check_manifests.sh"
  check distroless-run "$root/tests/deploy/check_distroless_run.sh" "$release_binary"
  # The binary the image ships: the same static-pie, built as the Dockerfile builds it (LTO, section
  # garbage collection), which is what the 1.75 MiB budget is for.
  banner "build ship (as the Dockerfile builds it)"
  ship_dir="$root/build/ship"
  cmake -S "$root" -B "$ship_dir" -DCMAKE_BUILD_TYPE=Release -DSTORAGE_API_STATIC=ON -DSTORAGE_API_TESTS=OFF \
    -DSTORAGE_API_WERROR=ON -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON \
    -DCMAKE_CXX_FLAGS="-ffunction-sections -fdata-sections" -DCMAKE_EXE_LINKER_FLAGS="-Wl,--gc-sections" >/dev/null
  cmake --build "$ship_dir" -j "$jobs" --target storage_api
  check hardening "$root/tests/deploy/check_hardening.sh" "$ship_dir/storage_api"
  check memory-attack "$root/tests/deploy/check_memory_attack.sh" "$release_binary"
  if [[ ${SKIP_CONTAINERS:-0} == 1 ]]; then
    banner "SKIPPED: container image, compose and cluster checks (SKIP_CONTAINERS=1)"
  else
    check image-and-compose "$root/tests/deploy/check_image.sh"
    check cluster "$root/tests/deploy/check_cluster.sh"
  fi
fi

banner "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
