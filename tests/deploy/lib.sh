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

# The settings of our Prometheus configs that only Prometheus 3.x knows. Debian's 2.42 (its promtool, and
# the container lab's stand-in for the pinned prom/prometheus image) rejects the file over them.
PROMETHEUS3_ONLY_KEYS=(always_scrape_classic_histograms)
# strip_prometheus3_keys IN OUT: writes IN without the lines setting those keys; prints how many it removed.
strip_prometheus3_keys() {
  python3 - "$1" "$2" "${PROMETHEUS3_ONLY_KEYS[@]}" <<'PY'
import re, sys
source, target, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
setting = re.compile(r"^\s*(" + "|".join(map(re.escape, keys)) + r")\s*:")
lines = open(source).read().splitlines(keepends=True)
kept = [line for line in lines if not setting.match(line)]
open(target, "w").write("".join(kept))
print(len(lines) - len(kept))
PY
}
# The major version in a `prometheus --version` or `promtool --version` output on stdin (empty if none).
prometheus_major() { sed -nE '1s/.*version ([0-9]+)\..*/\1/p'; }
# prometheus2x_override COMPOSE_FILE SERVICE SHIPPED_CONFIG CONFIG_TARGET DIR: for a compose Prometheus
# that is 2.x (the container lab's stand-in, Debian's 2.42), writes DIR/prometheus-2x.yml (SHIPPED_CONFIG
# without its 3.x-only settings) and DIR/compose-prometheus-2x.yml, an override of SERVICE that mounts it
# at CONFIG_TARGET and runs SERVICE's command of COMPOSE_FILE (read with PyYAML: python3-yaml) without
# the native-histograms feature: 2.42 keeps only the native form of a family exposed in both (2.45+ can keep
# both), and the checks count requests through the classic series. Prints how many lines it removed.
prometheus2x_override() {
  local compose_file=$1 service=$2 shipped=$3 target=$4 dir=$5 removed
  removed=$(strip_prometheus3_keys "$shipped" "$dir/prometheus-2x.yml")
  chmod a+r "$dir/prometheus-2x.yml"
  python3 - "$compose_file" "$service" "$dir/prometheus-2x.yml" "$target" >"$dir/compose-prometheus-2x.yml" <<'PY'
import json, sys
import yaml
compose_file, service, config, target = sys.argv[1:5]
flag = "--enable-feature="
command = []
for arg in yaml.safe_load(open(compose_file))["services"][service]["command"]:
    if arg.startswith(flag):
        features = [f for f in arg[len(flag):].split(",") if f != "native-histograms"]
        if features:
            command.append(flag + ",".join(features))
    else:
        command.append(arg)
# JSON is YAML: an override merged over the compose file (volumes merge by their target).
print(json.dumps({"services": {service: {
    "command": command,
    "volumes": [{"type": "bind", "source": config, "target": target, "read_only": True}]}}}))
PY
  echo "$removed"
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
