#!/usr/bin/env bash
# The Grafana dashboard against real data: starts storage_api (the given binary, with its durable log in
# a fresh DATA_DIR so that the Durability row has series) and Debian's Prometheus on loopback, Prometheus
# scraping the service every second and evaluating the alert rules, sends traffic with
# generate_traffic.sh, waits until Prometheus has scraped the series before and after it (see below) and
# has seen every request, then runs check_dashboard.py (datasource wiring, every PromQL expression
# evaluated through the HTTP API, the required panels returning data) and checks that every alert rule
# evaluates without error on the real series.
#
# Usage: tests/deploy/check_dashboard.sh PATH_TO_storage_api_OR_BUILD_DIR   (or STORAGE_API_BIN=...)
# Needs prometheus (Debian package prometheus), curl and python3.
# shellcheck disable=SC2317  # functions run through trap, check and poll
set -euo pipefail
export CHECK_NAME=check_dashboard
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools prometheus curl python3
resolve_binary "${1:-}"

work=$(mktemp -d "${TMPDIR:-/tmp}/check_dashboard.XXXXXX")
SERVICE_PID=""
prometheus_pid=""
cleanup() {
  if [[ -n $prometheus_pid ]]; then stop_process "$prometheus_pid" 10 || true; fi
  if [[ -n $SERVICE_PID ]]; then stop_process "$SERVICE_PID" 15 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

log "storage_api: $BINARY (DATA_DIR $work/storage-data)"
start_service "$BINARY" "$work/storage_api.log" DATA_DIR="$work/storage-data"
base=http://127.0.0.1:$SERVICE_PORT
log "storage_api listens on $base"
check "storage_api replayed its (new, empty) DATA_DIR before listening (a \"recovered\" log line)" \
  grep -q '"event":"recovered"' "$work/storage_api.log"

prometheus_port=$(free_port)
prom=http://127.0.0.1:$prometheus_port
# The rule files of the compose Prometheus (prometheus.yml), alerts and SLO recording rules: the SLO
# row of the dashboard reads the recorded series.
rule_files=$(sed -nE '/^rule_files:/,/^[^ #]/s|^ +- +([^ #]+) *$|  - '"$REPO_ROOT"'/\1|p' "$REPO_ROOT/prometheus.yml")
[[ -n $rule_files ]] || die "no rule_files found in prometheus.yml"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
$rule_files
scrape_configs:
  - job_name: storage_api
    static_configs:
      - targets: ["127.0.0.1:$SERVICE_PORT"]
EOF
log "prometheus $(prometheus --version 2>&1 | head -n 1 | awk '{print $3}') on $prom"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
prometheus_pid=$!

prom_query() {  # prints the first value of an instant query, or nothing
  curl -fsS --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
target_up() { [[ $(prom_query "up{job=\"storage_api\"}") == 1 ]]; }
prometheus_ready() { curl -fsS -o /dev/null --max-time 2 "$prom/-/ready" 2>/dev/null; }
if ! poll 30 prometheus_ready; then
  cat "$work/prometheus.log"
  die "Prometheus did not become ready within 30 s"
fi
check "Prometheus scrapes storage_api (up == 1)" poll 30 target_up

# rate() needs two samples of a series around an increase. A histogram series appears with its first
# observation, so traffic that starts and ends between two scrapes (a fast machine, a 1 s interval)
# leaves each new series with one value only, and rate() returns nothing or 0. So a warm-up pass creates
# every series the panels show, the measured traffic starts only once Prometheus has scraped them, and
# the checks run once Prometheus has scraped twice after it ended. Every wait is on the sample
# timestamps Prometheus reports, with a deadline (a slow machine waits longer, never a fixed time).
scrapes_after() {  # prints how many successful scrapes of the target started after unix time $1
  curl -fsS --max-time 5 "$prom/api/v1/query" --data-urlencode 'query=up{job="storage_api"}[5m]' 2>/dev/null |
    python3 -c '
import json, sys
since = float(sys.argv[1])
result = json.load(sys.stdin)["data"]["result"]
print(sum(1 for series in result for ts, value in series["values"] if float(ts) > since and value == "1"))' "$1" ||
    echo 0
}
scraped_after() { (($(scrapes_after "$1") >= $2)); }
run_traffic() {  # label, then generate_traffic.sh arguments; adds the requests sent to $sent
  local label=$1 count
  shift
  log "traffic ($label): generate_traffic.sh $*"
  "$REPO_ROOT/generate_traffic.sh" --base-url "$base" "$@" >"$work/traffic-$label.out" 2>&1 ||
    { cat "$work/traffic-$label.out"; die "generate_traffic.sh failed ($label)"; }
  sed 's/^/    /' "$work/traffic-$label.out"
  count=$(sed -nE 's/^generate_traffic.sh: ([0-9]+) requests in .*/\1/p' "$work/traffic-$label.out")
  [[ $count =~ ^[0-9]+$ ]] || die "no request count in the traffic summary ($label)"
  sent=$((sent + count))
}

sent=0
traffic_started=$(date +%s.%N)
run_traffic warm-up --ids 20 --iterations 1 --parallel 4 --error-share 20
warm_up_ended=$(date +%s.%N)
check "Prometheus scraped the series of the warm-up before the measured traffic" poll 60 scraped_after "$warm_up_ended" 1
run_traffic measured --ids 300 --iterations 2 --parallel 4 --error-share 20
traffic_ended=$(date +%s.%N)
check "Prometheus scraped the target twice after the traffic ended" poll 60 scraped_after "$traffic_ended" 2

seen_by_prometheus() {
  local seen
  seen=$(prom_query 'sum(http_request_duration_seconds_count{job="storage_api", path="/api/buckets/{id}"})')
  [[ -n $seen && ${seen%.*} -ge $sent ]]
}
check "Prometheus has scraped all $sent bucket requests" poll 30 seen_by_prometheus
seen=$(prom_query 'sum(http_request_duration_seconds_count{job="storage_api", path="/api/buckets/{id}"})')
check "the bucket request count in Prometheus ($seen) is exactly the number sent ($sent)" test "${seen%.*}" = "$sent"

log "dashboard: grafana/dashboards/storage_api.json"
python3 "$REPO_ROOT/tests/deploy/check_dashboard.py" "$REPO_ROOT/grafana/dashboards/storage_api.json" \
  "$REPO_ROOT/grafana/provisioning/datasources/prometheus.yml" "$prom" storage_api "127.0.0.1:$SERVICE_PORT" \
  "$traffic_started" >"$work/dashboard.out" 2>&1 || true
grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$work/dashboard.out" || true
py_passed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' "$work/dashboard.out")
py_failed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' "$work/dashboard.out")
[[ -n $py_passed ]] || fail "check_dashboard.py did not finish"
CHECKS_PASSED=$((CHECKS_PASSED + ${py_passed:-0}))
CHECKS_FAILED=$((CHECKS_FAILED + ${py_failed:-0}))

# The cluster dashboard's queries need the cluster's series (a shard label, the routers' exporter):
# tests/deploy/check_cluster.sh requires data from each of them; here each must at least be valid PromQL.
check "every query of grafana/dashboards/storage_api_cluster.json is valid PromQL (data: check_cluster.sh)" \
  python3 "$REPO_ROOT/tests/deploy/cluster_probe.py" dashboard --prometheus "$prom" --allow-empty \
  --dashboard "$REPO_ROOT/grafana/dashboards/storage_api_cluster.json"

log "alert rules on the real series"
rules_healthy() {
  curl -fsS --max-time 5 "$prom/api/v1/rules" | python3 -c '
import json, sys
rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") != "ok"]
print(f"    {len(rules)} rules, unhealthy: {bad}")
sys.exit(0 if rules and not bad else 1)'
}
check "every alert rule evaluates without error" poll 15 rules_healthy
firing=$(curl -fsS --max-time 5 "$prom/api/v1/alerts" |
  python3 -c 'import json,sys; print(" ".join(a["labels"]["alertname"] for a in json.load(sys.stdin)["data"]["alerts"]))')
check "no alert is pending or firing for a healthy service (${firing:-none})" test -z "$firing"

check "storage_api stops cleanly on SIGTERM (exit 0)" stop_process "$SERVICE_PID" 15
SERVICE_PID=""
finish
