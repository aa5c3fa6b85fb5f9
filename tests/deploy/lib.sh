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
