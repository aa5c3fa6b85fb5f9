#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for a bounded time: the CI smoke run, and a quick local check.
#
#   fuzz/run.sh [BUILD_DIR]        default BUILD_DIR: ${TMPDIR:-/tmp}/storage_api-fuzz
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_TARGETS   space-separated subset of targets (default: all five)
#   FUZZ_JOBS      parallel build jobs (default 2)
#   CXX_FUZZ       clang++ to build with (default clang++)
#
# Each target starts from a temporary copy of its seed corpus (new inputs never land in the repository) and
# runs with its dictionary (fuzz/<target>.dict, else fuzz/http.dict), a 5 s per-input timeout, a 2 GiB RSS
# limit and leak detection. Any crash, leak, timeout or out-of-memory fails the run; the saved input's path
# is printed, see fuzz/README.md to reproduce.
set -euo pipefail

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$repo_dir/fuzz"
build_dir="${1:-${TMPDIR:-/tmp}/storage_api-fuzz}"
seconds="${FUZZ_SECONDS:-20}"
targets="${FUZZ_TARGETS:-fuzz_request_parser fuzz_chunked_decoder fuzz_router fuzz_connection fuzz_range fuzz_log_scan fuzz_scrape_headers}"
jobs="${FUZZ_JOBS:-2}"
compiler="${CXX_FUZZ:-clang++}"

if ! command -v "$compiler" >/dev/null 2>&1; then
  echo "fuzz: $compiler not found (Debian: apt-get install -y clang libclang-rt-14-dev)" >&2
  exit 2
fi

echo "fuzz: building into $build_dir"
mkdir -p "$build_dir"
configure_log="$build_dir/fuzz-configure.log"
cmake -S "$repo_dir" -B "$build_dir" -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTORAGE_API_FUZZ=ON -DSTORAGE_API_TESTS=OFF >"$configure_log" 2>&1 || { cat "$configure_log" >&2; exit 2; }
# shellcheck disable=SC2086 # targets is a list
cmake --build "$build_dir" --target $targets -j "$jobs"

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/storage_api-fuzz-run.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT
artifact_root="$build_dir/fuzz-artifacts"

if command -v llvm-symbolizer >/dev/null 2>&1; then
  export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}"
fi
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
for target in $targets; do
  binary="$build_dir/fuzz/$target"
  corpus="$work_dir/corpus-$target"
  artifacts="$artifact_root/$target"
  log="$work_dir/$target.log"
  started="$work_dir/$target.started"
  touch "$started"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "$fuzz_dir/corpus/$target" ]]; then
    cp -R "$fuzz_dir/corpus/$target/." "$corpus/"
  fi

  dict="$fuzz_dir/http.dict"
  if [[ -f "$fuzz_dir/$target.dict" ]]; then
    dict="$fuzz_dir/$target.dict"
  fi

  echo "fuzz: $target for ${seconds}s"
  status=0
  "$binary" "$corpus" \
    -dict="$dict" \
    -max_total_time="$seconds" \
    -timeout=5 \
    -rss_limit_mb=2048 \
    -detect_leaks=1 \
    -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?

  # libFuzzer's last status line: "#runs DONE cov: N ft: N corp: N/size ... exec/s: N rss: N".
  summary="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  found="$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
    -newer "$started" -print)"
  if [[ $status -ne 0 || -n "$found" ]]; then
    failed=1
    echo "fuzz: $target FAILED (exit $status)" >&2
    tail -n 60 "$log" >&2
    if [[ -n "$found" ]]; then
      echo "fuzz: input saved at:" >&2
      echo "$found" >&2
      echo "fuzz: reproduce with: $binary <input>" >&2
    fi
  else
    echo "fuzz: $target ok: ${summary:-no summary line}"
  fi
done

if [[ $failed -ne 0 ]]; then
  echo "fuzz: FAILED" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash, leak or timeout"
