# shellcheck shell=bash
# shellcheck disable=SC2034  # BINARY, SERVICE_PID and SERVICE_PORT are for the sourcing scripts
# Shared by the tests/deploy/check_*.sh scripts (sourced, not run). Counts checks, prints one line per
# check, and ends with the "N passed, N failed" line.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export REPO_ROOT
CHECKS_PASSED=0
CHECKS_FAILED=0

log() { printf '[%s +%ss] %s\n' "${CHECK_NAME:-check}" "$SECONDS" "$*"; }
pass() { CHECKS_PASSED=$((CHECKS_PASSED + 1)); printf 'ok   %s\n' "$*"; }
fail() { CHECKS_FAILED=$((CHECKS_FAILED + 1)); printf 'FAIL %s\n' "$*"; }
# check "description" command...: runs the command, counts and prints the outcome.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
die() { printf 'FAIL %s\n' "$*" >&2; CHECKS_FAILED=$((CHECKS_FAILED + 1)); finish; }
finish() {
  printf '%s: %d passed, %d failed\n' "${CHECK_NAME:-check}" "$CHECKS_PASSED" "$CHECKS_FAILED"
  if ((CHECKS_FAILED > 0)); then exit 1; fi
  exit 0
}
require_tools() {
  local tool missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (see the CI install step)"
}

# Sets BINARY to the storage_api binary: the first argument, $STORAGE_API_BIN, or storage_api inside a
# build directory given either way.
resolve_binary() {
  local candidate=${1:-${STORAGE_API_BIN:-}}
  [[ -n $candidate ]] || die "usage: $0 PATH_TO_storage_api_OR_BUILD_DIR (or STORAGE_API_BIN=...)"
  if [[ -d $candidate ]]; then candidate=$candidate/storage_api; fi
  [[ -f $candidate && -x $candidate ]] || die "not an executable: $candidate"
  BINARY=$(cd "$(dirname "$candidate")" && pwd)/$(basename "$candidate")
}

# poll SECONDS command...: retries the command every 0.2 s until it succeeds or time runs out.
poll() {
  local limit=$1 deadline
  shift
  deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts storage_api on an ephemeral loopback port with stderr to LOG; sets SERVICE_PID and SERVICE_PORT.
# Extra arguments are VAR=value settings passed through env.
start_service() {
  local binary=$1 log_file=$2
  shift 2
  env HOST=127.0.0.1 PORT=0 "$@" "$binary" 2>"$log_file" &
  SERVICE_PID=$!
  if ! poll 10 grep -q '"event":"listening"' "$log_file"; then
    cat "$log_file" >&2
    die "storage_api did not log its listening line within 10 s"
  fi
  # The first "port" of the line is the bound one; the effective configuration that follows repeats 0.
  SERVICE_PORT=$(grep '"event":"listening"' "$log_file" | head -n 1 | grep -o '"port":[0-9]*' | head -n 1 | cut -d: -f2)
  [[ $SERVICE_PORT =~ ^[0-9]+$ && $SERVICE_PORT != 0 ]] || die "no port in the listening line: $(cat "$log_file")"
}

# Stops a process started by this script: SIGTERM, then SIGKILL after GRACE seconds. Returns its status.
stop_process() {
  local pid=$1 grace=${2:-15} status=0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || status=$?; return "$status"; }
  kill -TERM "$pid" 2>/dev/null || true
  if ! poll "$grace" eval "! kill -0 $pid 2>/dev/null"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

# ---- container engine (check_image.sh, check_cluster.sh)
engine_ready() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }
# Prints the SKIPPED banner naming `what` did not run, with the reason, and exits 0: a machine without a
# container engine is the only reason a check may skip.
skip_without_engine() {  # reason what
  cat <<EOF

################################################################################
##                                                                            ##
##   SKIPPED: container engine unavailable                                    ##
##   $(printf '%-72s' "$1")##
##   $(printf '%-72s' "$2 did NOT run on this machine.")##
##                                                                            ##
################################################################################

EOF
  echo "${CHECK_NAME:-check}: 0 passed, 0 failed, 1 skipped"
  exit 0
}
# Makes sure an engine answers, starting one with ../shared/tools/container-lab.sh (beside the checkout)
# when none does; skips (as above) when none can be had. Sets compose_cmd to the compose command found.
require_container_engine() {  # what log_dir
  if ! engine_ready; then
    local lab=$REPO_ROOT/../shared/tools/container-lab.sh
    [[ -f $lab ]] || skip_without_engine "docker info fails, and there is no ../shared/tools/container-lab.sh." "$1"
    log "no engine answers: starting one with ../shared/tools/container-lab.sh (log $2/lab.log)"
    timeout 900 bash "$lab" >"$2/lab.log" 2>&1 || tail -n 20 "$2/lab.log"
    engine_ready || skip_without_engine "docker info fails, and container-lab.sh could not start an engine." "$1"
  fi
  if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
  elif command -v docker-compose >/dev/null; then
    compose_cmd=(docker-compose)
  else
    die "neither 'docker compose' nor docker-compose is installed"
  fi
}
