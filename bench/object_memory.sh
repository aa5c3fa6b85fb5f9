#!/usr/bin/env bash
# Memory per stored object, storage_api against Redis, in one run on this machine: each server is started
# on a loopback port, its resident set read (VmRSS), COUNT objects of VALUE_BYTES-byte values stored, its
# resident set read again; the growth divided by COUNT is its bytes per object, and the report gives the
# ratio storage_api / Redis. storage_api is filled over HTTP by bench/object_loader.cpp (pipelined PUTs with
# a Content-Type, so every object has its ETag, modification time and content type); Redis by
# DEBUG POPULATE COUNT PREFIX VALUE_BYTES, which makes the same ids (PREFIX:<i>, 12 to 17 bytes with the
# default 10-byte prefix) and values of the same size. Loopback only; every step has a time limit; the
# script stops what it started (by pid) on exit.
#
# Settings (environment): COUNT=472000, VALUE_BYTES=100, PREFIX=bench-objs, THREADS=2 (storage_api's event
# loops), BASE_PORT=18460 (three consecutive ports), BIN (a storage_api binary; default: build this tree),
# BASELINE_BIN (another storage_api binary, e.g. an older build, measured in the same run), LOADER (an
# object_loader binary; default: build it), BUILD_DIR (default ${TMPDIR:-/tmp}/storage_api-bench-build),
# REDIS (default redis-server).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly COUNT="${COUNT:-472000}"
readonly VALUE_BYTES="${VALUE_BYTES:-100}"
readonly PREFIX="${PREFIX:-bench-objs}"
readonly THREADS="${THREADS:-2}"
readonly BASE_PORT="${BASE_PORT:-18460}"
readonly BUILD_DIR="${BUILD_DIR:-${TMPDIR:-/tmp}/storage_api-bench-build}"
readonly REDIS="${REDIS:-redis-server}"
BIN="${BIN:-}"
LOADER="${LOADER:-}"
readonly BASELINE_BIN="${BASELINE_BIN:-}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storage_api-objects.XXXXXX")"
readonly WORK
declare -A PID=()

log() { printf '[objects] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck disable=SC2317  # cleanup runs through trap
cleanup() {
  local name
  for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null || true; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in cmake curl timeout awk redis-cli "$REDIS"; do
  command -v "$tool" >/dev/null 2>&1 || die "missing $tool (apt-get install -y cmake g++ curl redis-server)"
done

if [[ -z "$BIN" || -z "$LOADER" ]]; then
  log "building Release (static) in $BUILD_DIR"
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTORAGE_API_STATIC=ON -DSTORAGE_API_BENCH=ON \
    -DSTORAGE_API_TESTS=OFF >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log" >&2; die "cmake failed"; }
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target storage_api object_loader >"$WORK/build.log" 2>&1 ||
    { tail -n 40 "$WORK/build.log" >&2; die "build failed"; }
  BIN="${BIN:-$BUILD_DIR/storage_api}"
  LOADER="${LOADER:-$BUILD_DIR/bench/object_loader}"
fi

stop() {  # name
  kill "${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
  unset "PID[$1]"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

wait_http() {  # port
  local i
  for ((i = 0; i < 200; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/healthz" || true)" == 200 ]] && return 0
    sleep 0.025
  done
  return 1
}

metric() {  # port name
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v name="$2" '$1 == name { print $2 }'
}

# Prints "<bytes per object> <rss before KiB> <rss after KiB> <seconds>" for one storage_api binary.
measure_storage_api() {  # name binary port
  local name="$1" bin="$2" port="$3" before after stored start end
  env PORT="$port" HOST=127.0.0.1 THREADS="$THREADS" LOG_LEVEL=warn MAX_STORAGE_BYTES=2Gi "$bin" \
    >"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  wait_http "$port" || { tail -n 20 "$WORK/$name.log" >&2; die "$name did not answer on port $port"; }
  before="$(rss_kib "${PID[$name]}")"
  start="$(date +%s.%N)"
  timeout 300 "$LOADER" --count "$COUNT" --prefix "$PREFIX" --value-bytes "$VALUE_BYTES" "$port" >&2 ||
    die "loading $name failed"
  end="$(date +%s.%N)"
  stored="$(metric "$port" storage_api_buckets)"
  [[ "${stored%.*}" == "$COUNT" ]] || die "$name holds ${stored:-?} buckets, not $COUNT"
  after="$(rss_kib "${PID[$name]}")"
  log "$name: stored_bytes $(metric "$port" storage_api_stored_bytes)"
  stop "$name"
  awk -v b="$before" -v a="$after" -v n="$COUNT" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.1f %d %d %.1f\n", (a - b) * 1024 / n, b, a, e - s }'
}

measure_redis() {  # port
  local port="$1" before after keys start end
  "$REDIS" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command local \
    --daemonize no --logfile "$WORK/redis.log" >/dev/null 2>&1 &
  PID[redis]=$!
  local i
  for ((i = 0; i < 200; i++)); do
    [[ "$(timeout 2 redis-cli -p "$port" ping 2>/dev/null || true)" == PONG ]] && break
    sleep 0.025
  done
  ((i < 200)) || die "redis did not answer on port $port"
  before="$(rss_kib "${PID[redis]}")"
  start="$(date +%s.%N)"
  timeout 300 redis-cli -p "$port" debug populate "$COUNT" "$PREFIX" "$VALUE_BYTES" >/dev/null || die "DEBUG POPULATE failed"
  end="$(date +%s.%N)"
  keys="$(timeout 5 redis-cli -p "$port" dbsize)"
  [[ "$keys" == "$COUNT" ]] || die "redis holds ${keys:-?} keys, not $COUNT"
  after="$(rss_kib "${PID[redis]}")"
  log "redis: $(timeout 5 redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" || $1 == "mem_allocator" { printf "%s %s ", $1, $2 }')"
  stop redis
  awk -v b="$before" -v a="$after" -v n="$COUNT" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.1f %d %d %.1f\n", (a - b) * 1024 / n, b, a, e - s }'
}

log "$COUNT objects of $VALUE_BYTES bytes, ids $PREFIX:<i>; storage_api with THREADS=$THREADS"
read -r ours ours_before ours_after ours_s <<<"$(measure_storage_api storage_api "$BIN" "$BASE_PORT")"
read -r redis redis_before redis_after redis_s <<<"$(measure_redis $((BASE_PORT + 1)))"
if [[ -n "$BASELINE_BIN" ]]; then
  read -r base base_before base_after base_s <<<"$(measure_storage_api baseline "$BASELINE_BIN" $((BASE_PORT + 2)))"
fi

printf '\n| server | RSS before (KiB) | RSS after (KiB) | load (s) | bytes per object |\n|---|---|---|---|---|\n'
printf '| storage_api | %s | %s | %s | %s |\n' "$ours_before" "$ours_after" "$ours_s" "$ours"
printf '| redis (%s) | %s | %s | %s | %s |\n' "$("$REDIS" --version | awk '{ print $3 }')" \
  "$redis_before" "$redis_after" "$redis_s" "$redis"
[[ -n "$BASELINE_BIN" ]] && printf '| baseline (%s) | %s | %s | %s | %s |\n' "$BASELINE_BIN" \
  "$base_before" "$base_after" "$base_s" "$base"
awk -v o="$ours" -v r="$redis" 'BEGIN { printf "\nstorage_api / redis: %.2f\n", o / r }'
[[ -n "$BASELINE_BIN" ]] && awk -v b="$base" -v r="$redis" 'BEGIN { printf "baseline / redis: %.2f\n", b / r }'
exit 0
