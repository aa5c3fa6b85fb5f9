#!/usr/bin/env bash
# The sharded cluster for real (manifests/cluster/docker-compose.yml): 3 shards, 2 HAProxy routers and
# Prometheus (no Grafana image exists without a registry), under a unique project name and free ports:
#   1. spread and placement: 3,000 ids PUT through router-a read back byte-identical through both
#      routers, which name the same shard for every id (X-Storage-Shard); each id is on exactly that one
#      shard when the shards are asked directly, and the spread is within 25 % of even;
#   2. monitoring: Prometheus has every shard and both routers up, with the shard and instance labels,
#      has loaded every rule, each shard's request counter is exactly the requests it was sent, and
#      every query of the cluster dashboard returns data;
#   3. a shard stopped: through both routers its ids answer 502/503 (never 404) and every other id is
#      served; overwrites of its ids and new ids that hash to it are refused, and no other shard holds
#      them; a router restarted while the shard is down maps identically; StorageApiShardDown and
#      StorageApiRouterBackendDown turn pending;
#   4. the shard started again: its "recovered" line counts exactly its ids, which come back
#      byte-identical through both routers.
# `docker compose down -v` at the end (trap).
#
# Uses ../shared/tools/container-lab.sh (beside the checkout) when no engine answers. If no engine can
# be started, prints a SKIPPED banner and exits 0.
# Environment: BUILDER (as check_image.sh), ROUTER_IMAGE and PROMETHEUS_IMAGE (default: the pinned image
# when present, else the container lab's stand-in), CLUSTER_IDS (default 3000).
# shellcheck disable=SC2317  # functions run through trap, check and poll
set -euo pipefail
export CHECK_NAME=check_cluster
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools curl python3

work=$(mktemp -d "${TMPDIR:-/tmp}/check_cluster.XXXXXX")
run_id=$$
project=storageapicluster$run_id
tag=storage-api:cluster-check-$run_id
compose_file=$REPO_ROOT/manifests/cluster/docker-compose.yml
probe=$REPO_ROOT/tests/deploy/cluster_probe.py
ids=${CLUSTER_IDS:-3000}
compose_started=0
image_built=0
shards=(storage-api-0 storage-api-1 storage-api-2)

compose_files=(-f "$compose_file")
compose() { "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" "$@"; }
cleanup() {
  set +e
  if ((compose_started)); then
    compose logs --no-color >"$work/compose.log" 2>&1
    if ((CHECKS_FAILED > 0)); then tail -n 60 "$work/compose.log"; fi
    compose down -v --remove-orphans >/dev/null 2>&1
  fi
  if ((image_built)); then docker rmi "$tag" >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------------- engine
require_container_engine "The sharded cluster checks" "$work"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
# The pinned image of the compose file if present, else the container lab's stand-in.
pinned() { sed -nE "s/^ *image: \\$\\{$1:-([^}]+)\\}.*/\\1/p" "$compose_file" | head -n 1; }
router_image=${ROUTER_IMAGE:-$(pinned ROUTER_IMAGE)}
if ! image_exists "$router_image" && image_exists container-lab/haproxy:debian; then router_image=container-lab/haproxy:debian; fi
prometheus_image=${PROMETHEUS_IMAGE:-$(pinned PROMETHEUS_IMAGE)}
if ! image_exists "$prometheus_image" && image_exists container-lab/prometheus:debian; then
  prometheus_image=container-lab/prometheus:debian
fi
image_exists "$router_image" || die "no router image: $router_image (set ROUTER_IMAGE)"
image_exists "$prometheus_image" || die "no Prometheus image: $prometheus_image (set PROMETHEUS_IMAGE)"
log "router $router_image ($(docker run --rm --entrypoint haproxy "$router_image" -v 2>/dev/null | head -n 1)), Prometheus $prometheus_image"

builder=${BUILDER:-}
if [[ -z $builder ]] && image_exists container-lab/debian-build:bookworm; then builder=container-lab/debian-build:bookworm; fi
build_args=()
if [[ -n $builder ]]; then build_args=(--build-arg "BUILDER=$builder"); fi
log "docker build -t $tag (the shards' image)"
image_built=1
if ! DOCKER_BUILDKIT=0 timeout 1200 docker build "${build_args[@]}" -t "$tag" "$REPO_ROOT" >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log"
  die "the image does not build"
fi

# ------------------------------------------------------------------------------------------- up
# Nine distinct free ports at once (free_port called nine times may hand out one twice).
read -r router_a_port router_b_port prometheus_port p0 p1 p2 a0 a1 a2 < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(9)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
declare -A shard_port=([storage-api-0]=$p0 [storage-api-1]=$p1 [storage-api-2]=$p2)
export STORAGE_API_IMAGE=$tag ROUTER_IMAGE=$router_image PROMETHEUS_IMAGE=$prometheus_image
export ROUTER_PORT=$router_a_port ROUTER_B_PORT=$router_b_port PROMETHEUS_PORT=$prometheus_port
export SHARD_0_PORT=$p0 SHARD_1_PORT=$p1 SHARD_2_PORT=$p2 SHARD_0_ADMIN_PORT=$a0 SHARD_1_ADMIN_PORT=$a1 SHARD_2_ADMIN_PORT=$a2
router_a=http://127.0.0.1:$router_a_port
router_b=http://127.0.0.1:$router_b_port
prom=http://127.0.0.1:$prometheus_port
shard_args=()
for shard in "${shards[@]}"; do shard_args+=(--shard "$shard=http://127.0.0.1:${shard_port[$shard]}"); done

prometheus_version=$(docker run --rm "$prometheus_image" --version 2>&1 | head -n 1 || true)
if [[ $(prometheus_major <<<"$prometheus_version") -lt 3 ]]; then
  # The container lab's stand-in (Debian's 2.42): the shipped command and config less their 3.x-only
  # parts (lib.sh says why); check_prometheus_config.sh holds the 3.x settings.
  removed=$(prometheus2x_override "$compose_file" prometheus "$REPO_ROOT/manifests/cluster/prometheus.yml" \
    /etc/prometheus/manifests/cluster/prometheus.yml "$work")
  check "Prometheus 2.x ($prometheus_version): the cluster's prometheus.yml loses exactly its one 3.x-only line ($removed)" \
    test "$removed" = 1
  compose_files+=(-f "$work/compose-prometheus-2x.yml")
fi
log "docker compose -p $project -f manifests/cluster/docker-compose.yml up (router-a on $router_a_port, router-b on $router_b_port)"
compose_started=1
if ! compose up -d "${shards[@]}" router-a router-b prometheus >"$work/up.log" 2>&1; then
  cat "$work/up.log"
  die "docker compose up failed"
fi
health() { docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q "$1")" 2>/dev/null; }
is_healthy() { [[ $(health "$1") == healthy ]]; }
for shard in "${shards[@]}"; do check "$shard turns healthy" poll 90 is_healthy "$shard"; done
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
# An unknown id answers 404 once the router reaches its shard (any shard: the id is arbitrary).
routes() { [[ $(http_status "$1/api/buckets/not-stored-$2") == 404 ]]; }
routes_all() { local i; for i in 0 1 2 3 4 5 6 7; do routes "$1" "$i" || return 1; done; }
check "router-a routes (404 for ids never stored, whichever shard they hash to)" poll 30 routes_all "$router_a"
check "router-b routes (the same)" poll 30 routes_all "$router_b"
check "the routers route only /api/buckets/ (GET /metrics -> 404)" test "$(http_status "$router_a/metrics")" = 404
# Each shard knows its name (SHARD_NAME): a request named for another shard is 421, and the router's
# proxies name the shard they mean, replacing whatever a client sent.
check "storage-api-0 answers 421 to a request named for storage-api-1" \
  test "$(http_status -H 'X-Storage-Shard: storage-api-1' "http://127.0.0.1:${shard_port[storage-api-0]}/api/buckets/x")" = 421
routes_despite_header() {
  local i
  for i in 0 1 2 3 4 5 6 7; do
    [[ $(http_status -H 'X-Storage-Shard: storage-api-9' "$1/api/buckets/not-stored-$i") == 404 ]] || return 1
  done
}
check "router-a replaces a client's X-Storage-Shard with its shard's name (404, not 421)" routes_despite_header "$router_a"

# ------------------------------------------------------------------------------------------- spread
declare -A admin_port=([storage-api-0]=$a0 [storage-api-1]=$a1 [storage-api-2]=$a2)
bucket_requests_of() {  # the bucket route's request count, read from a shard's own /metrics
  curl -fsS --max-time 5 "http://127.0.0.1:${admin_port[$1]}/metrics" | python3 -c '
import re, sys
print(int(sum(float(m.group(1)) for m in re.finditer(r"^http_request_duration_seconds_count\{[^}]*path=\"/api/buckets/\{id\}\"[^}]*\} (\S+)$", sys.stdin.read(), re.M))))'
}
declare -A baseline
for shard in "${shards[@]}"; do baseline[$shard]=$(bucket_requests_of "$shard"); done
log "requests the shards counted before: $(for s in "${shards[@]}"; do printf '%s=%s ' "$s" "${baseline[$s]}"; done)"
state=$work/ids.json
log "$ids ids: PUT through router-a, read through both routers, looked up on every shard"
check "PUT $ids ids through router-a" python3 "$probe" put --router "$router_a" --ids "$ids" --state "$state"
check "every id reads back byte-identical through router-a, from its shard" \
  python3 "$probe" read --router "$router_a" --state "$state"
check "router-b maps every id to the same shard (X-Storage-Shard), byte-identical" \
  python3 "$probe" read --router "$router_b" --state "$state"
check "each id is on exactly one shard, the one the routers name (asked directly)" \
  python3 "$probe" placement --state "$state" "${shard_args[@]}"
check "the spread over 3 shards is within 25 % of even" \
  python3 "$probe" spread --state "$state" --shards 3 --tolerance 0.25

# ------------------------------------------------------------------------------------------- monitoring
prom_query() {  # "labels<TAB>value" lines of an instant query
  curl -fsS --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1" 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    print(",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())) + "\t" + r["value"][1])'
}
prom_value() { prom_query "$1" | head -n 1 | cut -f 2; }
all_up() {
  [[ $(prom_value 'count(up{job="storage_api"} == 1)') == 3 && $(prom_value 'count(up{job="storage_api_router"} == 1)') == 2 ]]
}
check "Prometheus reports the 3 shards and the 2 routers up" poll 60 all_up
prom_query 'up{job=~"storage_api|storage_api_router"}' | sed 's/^/    /; s/\t/ = /'
labelled() {
  local shard
  for shard in "${shards[@]}"; do
    [[ $(prom_value "up{job=\"storage_api\", shard=\"$shard\", instance=\"$shard\"}") == 1 ]] || return 1
  done
}
check "every shard target carries shard and instance labels (its name)" labelled
# Every alerting and recording rule of the rule files the cluster's prometheus.yml names (relative to it).
rules_in_files=$(sed -nE '/^rule_files:/,/^[^ #]/s/^ +- +([^ #]+) *$/\1/p' "$REPO_ROOT/manifests/cluster/prometheus.yml" |
  while read -r path; do cat "$REPO_ROOT/manifests/cluster/$path"; done | grep -cE '^ *- (alert|record): ')
rules_loaded() {
  curl -fsS --max-time 5 "$prom/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
sys.exit(0 if sum(len(g["rules"]) for g in groups) == int(sys.argv[1]) else 1)' "$rules_in_files"
}
check "Prometheus loaded the $rules_in_files rules (single-node, SLO and cluster)" poll 30 rules_loaded
router_backends_up() {
  [[ $(prom_value 'count(haproxy_backend_active_servers{job="storage_api_router", proxy=~"storage-api-[0-9]+"} == 1)') == 6 ]]
}
check "both routers report every shard backend up (haproxy_backend_active_servers)" poll 30 router_backends_up
# Each shard was sent, since the baseline: its ids' PUTs, one GET through each router, and one direct
# GET per id of all.
declare -A expected
while read -r shard count; do expected[$shard]=$((baseline[$shard] + 3 * count + ids)); done < <(python3 "$probe" counts --state "$state")
counted() {
  local shard now
  for shard in "${shards[@]}"; do
    now=$(prom_value "sum(http_request_duration_seconds_count{job=\"storage_api\", shard=\"$shard\", path=\"/api/buckets/{id}\"})")
    [[ ${now%.*} == "${expected[$shard]}" ]] || return 1
  done
}
check "each shard's request counter in Prometheus is exactly what it was sent ($(for s in "${shards[@]}"; do printf '%s ' "${expected[$s]}"; done | sed 's/ $//'))" \
  poll 30 counted
check "every query of grafana/dashboards/storage_api_cluster.json returns data from this Prometheus" \
  python3 "$probe" dashboard --prometheus "$prom" --dashboard "$REPO_ROOT/grafana/dashboards/storage_api_cluster.json"

# ------------------------------------------------------------------------------------------- a shard down
down=storage-api-1
log "docker compose stop $down"
compose stop "$down" >/dev/null 2>&1
first_down_id=$(python3 -c 'import json,sys; print(next(k for k, v in json.load(open(sys.argv[1]))["ids"].items() if v["shard"] == sys.argv[2]))' \
  "$state" "$down")
refused() { [[ $(http_status "$1/api/buckets/$first_down_id") =~ ^50[23]$ ]]; }
check "router-a answers 502/503 for an id of $down" poll 30 refused "$router_a"
check "through router-a: $down's ids answer 502/503 (never 404), every other id is served" \
  python3 "$probe" read --router "$router_a" --state "$state" --down "$down"
check "through router-b: the same" python3 "$probe" read --router "$router_b" --state "$state" --down "$down"
check "writes for $down's ids are refused, and no other shard takes them" \
  python3 "$probe" refuse --router "$router_a" --state "$state" --down "$down" "${shard_args[@]}"
log "docker compose restart router-b (it starts while $down does not resolve)"
compose restart router-b >/dev/null 2>&1
check "router-b, restarted, answers again" poll 30 refused "$router_b"
check "router-b, restarted while $down is down, maps every id as before" \
  python3 "$probe" read --router "$router_b" --state "$state" --down "$down"
alert_firing() {
  curl -fsS --max-time 5 "$prom/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
sys.exit(0 if any(a["labels"]["alertname"] == sys.argv[1] and a["labels"].get(sys.argv[2]) == sys.argv[3] and a["state"] in sys.argv[4:]
                  for a in alerts) else 1)' "$@"
}
check "StorageApiShardDown is pending or firing for $down" poll 30 alert_firing StorageApiShardDown shard "$down" pending firing
check "StorageApiRouterBackendDown is pending or firing for $down" \
  poll 30 alert_firing StorageApiRouterBackendDown proxy "$down" pending firing

# ------------------------------------------------------------------------------------------- back
log "docker compose start $down"
compose start "$down" >/dev/null 2>&1
check "$down turns healthy again (its log replayed)" poll 90 is_healthy "$down"
down_ids=$(python3 "$probe" counts --state "$state" | awk -v s="$down" '$1 == s { print $2 }')
recovered=$(compose logs --no-color "$down" 2>/dev/null | grep -o '{"ts".*"event":"recovered".*}' | tail -n 1 || true)
log "$down: ${recovered:-no recovered line}"
check "$down recovered its $down_ids objects from its log (the \"recovered\" line after the restart)" \
  grep -Eq "\"objects\":${down_ids}[,}]" <<<"$recovered"
served() { [[ $(http_status "$1/api/buckets/$first_down_id") == 200 ]]; }
check "router-a serves $down's ids again" poll 30 served "$router_a"
check "router-b serves $down's ids again" poll 30 served "$router_b"
check "after the restart every id reads back byte-identical through router-a (the refused writes left no trace)" \
  python3 "$probe" read --router "$router_a" --state "$state"
check "and through router-b" python3 "$probe" read --router "$router_b" --state "$state"
check "each id is still on exactly one shard" python3 "$probe" placement --state "$state" "${shard_args[@]}"
check "Prometheus reports the 3 shards and the 2 routers up again" poll 60 all_up

compose down -v --remove-orphans >/dev/null 2>&1 && compose_started=0
volumes_left=$(docker volume ls -q --filter "name=^${project}_" | wc -l)
check "docker compose down -v removed every volume of the project" test "$volumes_left" = 0
finish
