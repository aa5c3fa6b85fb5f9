#!/usr/bin/env bash
# Runs the release binary as distroless would, without Docker: uid/gid 65532 in an empty root directory
# that holds nothing but the binary (no /bin, no /etc, no /proc, no /tmp), and checks that it serves:
# health and readiness, a PUT/GET/DELETE round trip, /metrics, --healthcheck from inside the same root,
# JSON logs, and a clean exit on SIGTERM.
#
# Usage: tests/deploy/check_distroless_run.sh PATH_TO_storage_api_OR_BUILD_DIR   (or STORAGE_API_BIN=...)
# Needs root (chroot), curl and readelf (binutils). The binary must be the static build
# (-DSTORAGE_API_STATIC=ON).
# shellcheck disable=SC2317  # functions run through trap, check and poll
set -euo pipefail
export CHECK_NAME=check_distroless_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools chroot curl readelf python3
resolve_binary "${1:-}"
((EUID == 0)) || die "needs root for chroot(2); run it as root (CI does)"

work=$(mktemp -d "${TMPDIR:-/tmp}/check_distroless_run.XXXXXX")
root=$work/root
SERVICE_PID=""
# PIDs of processes whose root directory is the jail.
jailed_pids() {
  local link
  for link in /proc/[0-9]*/root; do
    [[ $(readlink "$link" 2>/dev/null) == "$root" ]] && basename "$(dirname "$link")"
  done
  return 0
}
cleanup() {
  if [[ -n $SERVICE_PID ]]; then stop_process "$SERVICE_PID" 15 || true; fi
  local pid
  for pid in $(jailed_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

log "binary: $BINARY ($(stat -c %s "$BINARY") bytes)"
check "the binary is statically linked (no program interpreter)" \
  eval "! readelf -l '$BINARY' | grep -q 'program interpreter'"
check "the binary has no dynamic section" eval "! readelf -d '$BINARY' 2>/dev/null | grep -q 'NEEDED'"

mkdir -m 0755 "$root"
install -m 0755 "$BINARY" "$root/storage_api"
check "the root directory holds only the binary" test "$(ls -A "$root")" = storage_api

# env -i: distroless sets no environment beyond what the image declares. env and chroot exec, so the
# background PID is the service's own.
chroot_bin=$(command -v chroot)
jail() { env -i HOST=127.0.0.1 "$@"; }
env -i HOST=127.0.0.1 PORT=0 "$chroot_bin" --userspec=65532:65532 "$root" /storage_api 2>"$work/storage_api.log" &
SERVICE_PID=$!
started_or_gone() { grep -q '"event":"listening"' "$work/storage_api.log" || ! kill -0 "$SERVICE_PID" 2>/dev/null; }
poll 10 started_or_gone || true
if ! grep -q '"event":"listening"' "$work/storage_api.log"; then
  cat "$work/storage_api.log"
  die "storage_api did not start inside the empty root"
fi
port=$(grep '"event":"listening"' "$work/storage_api.log" | head -n 1 | grep -o '"port":[0-9]*' | head -n 1 | cut -d: -f2)
base=http://127.0.0.1:$port
log "serving on $base from $root"

status_field() { awk -v k="$1:" '$1 == k { print $2, $3, $4, $5 }' "/proc/$SERVICE_PID/status"; }
check "runs as uid 65532 (real, effective, saved, fs)" test "$(status_field Uid)" = "65532 65532 65532 65532"
check "runs as gid 65532 (real, effective, saved, fs)" test "$(status_field Gid)" = "65532 65532 65532 65532"
check "no supplementary groups" test -z "$(awk '$1 == "Groups:" { $1 = ""; print }' "/proc/$SERVICE_PID/status" | tr -d ' ')"
check "its root directory is the empty one" test "$(readlink "/proc/$SERVICE_PID/root")" = "$root"
check "no capabilities (CapEff 0)" test "$(awk '$1 == "CapEff:" { print $2 }' "/proc/$SERVICE_PID/status")" = 0000000000000000

http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "GET /healthz -> 200" test "$(http_status "$base/healthz")" = 200
check "GET /readyz -> 200" test "$(http_status "$base/readyz")" = 200
check "PUT /api/buckets/distroless -> 200" \
  test "$(http_status -X PUT --data-binary 'stored in an empty root' "$base/api/buckets/distroless")" = 200
check "GET /api/buckets/distroless returns the body" \
  test "$(curl -fsS --max-time 5 "$base/api/buckets/distroless")" = 'stored in an empty root'
check "DELETE /api/buckets/distroless -> 200" test "$(http_status -X DELETE "$base/api/buckets/distroless")" = 200
check "GET /api/buckets/distroless after DELETE -> 404" test "$(http_status "$base/api/buckets/distroless")" = 404

curl -fsS --max-time 5 -D "$work/metrics.headers" -o "$work/metrics" "$base/metrics" || true
check "GET /metrics -> text/plain; version=0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$work/metrics.headers"
check "/metrics has the request histogram" grep -q '^http_request_duration_seconds_count{method="PUT",path="/api/buckets/{id}",status="200"} 1$' "$work/metrics"
check "/metrics has storage_api_build_info" grep -q '^storage_api_build_info{version="[^"]*"} 1$' "$work/metrics"
# Without /proc the process_* metrics have nothing to read; distroless under Docker does mount /proc.
log "process metrics without /proc: $(grep -c '^process_' "$work/metrics" || true) samples" \
    "($(grep -E '^process_(resident_memory_bytes|open_fds) ' "$work/metrics" | tr '\n' ' '))"

check "--healthcheck inside the same root exits 0 while serving" \
  jail PORT="$port" "$chroot_bin" --userspec=65532:65532 "$root" /storage_api --healthcheck
dead_port=$(free_port)
check "--healthcheck exits 1 when nothing answers" \
  eval "! env -i HOST=127.0.0.1 PORT=$dead_port '$chroot_bin' --userspec=65532:65532 '$root' /storage_api --healthcheck 2>/dev/null"

check "SIGTERM: exits 0 after draining" stop_process "$SERVICE_PID" 15
SERVICE_PID=""
check "every log line is one JSON object" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
sys.exit(0 if lines and all(isinstance(json.loads(l), dict) for l in lines) else 1)' "$work/storage_api.log"
check "nothing was written into the root directory" test "$(ls -A "$root")" = storage_api
check "no process is left running in the root directory" test -z "$(jailed_pids)"
finish
