#!/usr/bin/env bash
# The memory attack (tests/deploy/memory_attack.py) against the real binary under a real memory limit: a
# memory cgroup of its own (v2, or v1 where that is what the machine has), so the service derives its
# budget from the limit exactly as in a container. Passes when the attack's checks hold and the cgroup saw
# no OOM kill. Skipped, loudly, where no memory cgroup can be created (not root, no writable hierarchy).
#
#   tests/deploy/check_memory_attack.sh [PATH_TO_storage_api_OR_BUILD_DIR]
#
# Environment: ATTACK_MEMORY_LIMIT (default 256M), ATTACK_SECONDS (default 20).
# shellcheck disable=SC2317  # cleanup runs through trap
set -euo pipefail
export CHECK_NAME=memory-attack
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools python3 curl
resolve_binary "${1:-}"

limit_spec=${ATTACK_MEMORY_LIMIT:-256M}
limit_bytes=$(numfmt --from=iec "$limit_spec")
seconds=${ATTACK_SECONDS:-20}
work=$(mktemp -d)
cgroup=""
cgroup_version=""
server_pid=""

cleanup() {
  if [[ -n $server_pid ]]; then stop_process "$server_pid" 5 || true; fi
  if [[ -n $cgroup && -d $cgroup ]]; then rmdir "$cgroup" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh memory cgroup below this process's own, with the limit set.
make_cgroup() {
  local own
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
    own=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
    local parent=/sys/fs/cgroup${own%/}
    # cgroup v2 only lets a cgroup without processes delegate controllers: use a sibling under the parent.
    [[ -w $parent ]] || return 1
    grep -qw memory "$parent/cgroup.subtree_control" 2>/dev/null || echo +memory >"$parent/cgroup.subtree_control" 2>/dev/null || return 1
    cgroup=$parent/storage_api_attack.$$
    mkdir "$cgroup" 2>/dev/null || return 1
    echo "$limit_bytes" >"$cgroup/memory.max" || return 1
    echo 0 >"$cgroup/memory.swap.max" 2>/dev/null || true
    cgroup_version=2
    return 0
  fi
  if [[ -d /sys/fs/cgroup/memory ]]; then
    own=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
    local parent=/sys/fs/cgroup/memory${own%/}
    [[ -w $parent ]] || return 1
    cgroup=$parent/storage_api_attack.$$
    mkdir "$cgroup" 2>/dev/null || return 1
    echo "$limit_bytes" >"$cgroup/memory.limit_in_bytes" || return 1
    echo "$limit_bytes" >"$cgroup/memory.memsw.limit_in_bytes" 2>/dev/null || true
    cgroup_version=1
    return 0
  fi
  return 1
}

oom_kills() {
  if [[ $cgroup_version == 2 ]]; then
    awk '$1 == "oom_kill" { print $2 }' "$cgroup/memory.events"
  else
    awk '$1 == "oom_kill" { print $2 }' "$cgroup/memory.oom_control"
  fi
}

peak_bytes() {
  if [[ $cgroup_version == 2 ]]; then
    cat "$cgroup/memory.peak" 2>/dev/null || cat "$cgroup/memory.current"
  else
    cat "$cgroup/memory.max_usage_in_bytes"
  fi
}

if ! make_cgroup; then
  log "SKIPPED: no writable memory cgroup here (run as root on a machine with cgroup v1 or v2 memory control)"
  finish
fi
log "cgroup v$cgroup_version at $cgroup, limit $limit_spec"

admin_port=$(free_port)
log_file=$work/server.log
# The process joins the cgroup before exec, so every byte of the server is charged to it from the start.
# All the attackers come from 127.0.0.1: the per-client cap is off so the memory budgets themselves are
# what gets attacked.
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$cgroup" \
  env HOST=127.0.0.1 PORT=0 ADMIN_PORT="$admin_port" THREADS=2 MAX_CONNECTIONS_PER_CLIENT=0 BODY_TIMEOUT_MS=5000 \
  "$BINARY" 2>"$log_file" &
server_pid=$!
if ! poll 10 grep -q '"event":"listening"' "$log_file"; then
  cat "$log_file" >&2
  die "storage_api did not start in the cgroup"
fi
data_port=$(grep '"event":"listening"' "$log_file" | head -n 1 | grep -o '"port":[0-9]*' | head -n 1 | cut -d: -f2)
max_body=$(grep '"event":"listening"' "$log_file" | head -n 1 | grep -o '"max_body_bytes":[0-9]*' | head -n 1 | cut -d: -f2)
check "the budget follows the cgroup limit" grep -q "\"limit\":$limit_bytes" "$log_file"
log "data port $data_port, admin port $admin_port, largest body $max_body"

if python3 "$REPO_ROOT/tests/deploy/memory_attack.py" --data "127.0.0.1:$data_port" --admin "127.0.0.1:$admin_port" \
  --seconds "$seconds" --announce "$max_body" --big-bytes $((limit_bytes / 10)) --pid "$server_pid" >"$work/attack.json"; then
  pass "the attack's checks hold (statuses, stored objects intact, admin port answering throughout)"
else
  fail "the attack's checks: $(cat "$work/attack.json")"
fi
log "attack summary: $(tr -d ' \n' <"$work/attack.json" | head -c 2000)"
check "the server is still the same process" kill -0 "$server_pid"
kills=$(oom_kills)
check "no OOM kill in the cgroup (oom_kill ${kills:-?})" test "${kills:-1}" = 0
peak=$(peak_bytes)
log "peak memory of the cgroup: $((peak / 1048576)) MiB of $((limit_bytes / 1048576)) MiB"
check "SIGTERM still drains and exits 0" stop_process "$server_pid" 15
server_pid=""
finish
