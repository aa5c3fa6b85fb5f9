#!/usr/bin/env bash
# The sharded cluster's router, measured with the shipped HAProxy configuration (manifests/cluster/
# haproxy.cfg, its shard addresses and ports rewritten to loopback) in containers on the host network
# (no Docker port proxy in the path), loopback only, every step bounded in time:
#   1. remap: the shard of 10,000 ids through a router whose ring has N = 1..5 servers (the per-shard
#      proxies point at a closed port: the 503s still name the shard), and the fraction of ids whose
#      shard changes from N to N+1; the same for HAProxy's map-based (modulo) hashing, for comparison;
#   2. router cost, in the same run: keep-alive GET and PUT of 1 KiB through the router against the shard
#      directly (wrk, CLIENTS connections, on the other core than the servers): requests/s, p99, and
#      CPU per request of router plus shard (the containers' cpuacct);
#   3. cluster throughput with 1, 2 and 3 shards: GETs of random ids among IDS preloaded, through the
#      router, everything on this machine's cores (wrk included).
# Shards are memory-only here (no DATA_DIR): the router's cost is the question, not the disk's.
#
# Settings: DURATION=5 (s per wrk run), CLIENTS=16, IDS=3000, BASE_PORT=18700, PARTS="remap cost
# throughput", STORAGE_API_IMAGE (default: storage-api:1.0.0 if present, else built from the
# Dockerfile), ROUTER_IMAGE (default: haproxy:3.0.10 if present, else the container lab's stand-in).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly DURATION="${DURATION:-5}"
readonly CLIENTS="${CLIENTS:-16}"
readonly IDS="${IDS:-3000}"
readonly BASE_PORT="${BASE_PORT:-18700}"
readonly PARTS="${PARTS:-remap cost throughput}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/storage_api-cluster-bench.XXXXXX")"
readonly WORK
readonly RUN_ID=$$
CONTAINERS=()

log() { printf '[cluster-bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in docker wrk curl python3 taskset; do command -v "$tool" >/dev/null || die "$tool is missing"; done
docker info >/dev/null 2>&1 || die "no container engine (bash ../shared/tools/container-lab.sh starts one here)"
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
api_image=${STORAGE_API_IMAGE:-storage-api:1.0.0}
if ! image_exists "$api_image"; then
  api_image=storage-api:bench-cluster
  builder=()
  if image_exists container-lab/debian-build:bookworm; then builder=(--build-arg BUILDER=container-lab/debian-build:bookworm); fi
  log "docker build -t $api_image"
  DOCKER_BUILDKIT=0 docker build "${builder[@]}" -t "$api_image" "$REPO" >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log"; die "build failed"; }
fi
router_image=${ROUTER_IMAGE:-haproxy:3.0.10}
image_exists "$router_image" || router_image=container-lab/haproxy:debian
image_exists "$router_image" || die "no HAProxy image"
log "router $router_image: $(docker run --rm --entrypoint haproxy "$router_image" -v 2>/dev/null | head -n 1)"

# haproxy.cfg with a ring of the first N shards at 127.0.0.1:PORT_i (no DNS on the host network), the
# client frontend on ROUTER_PORT and the exporter on METRICS_PORT; HASH (consistent or map-based).
make_cfg() {  # N ROUTER_PORT METRICS_PORT HASH THREADS PORT_0 [PORT_1 ...] > file
  python3 - "$REPO/manifests/cluster/haproxy.cfg" "$@" <<'PY'
import re, sys
src, n, router, metrics, hashtype, threads, *ports = sys.argv[1:]
n = int(n)
out, skip = [], False
for line in open(src).read().split("\n"):
    m = re.match(r"^(resolvers|listen|backend|frontend|defaults|global)\s*(\S*)", line)
    if m:
        skip = m.group(1) == "resolvers" or (m.group(1) == "listen" and int(m.group(2).rsplit("-", 1)[1]) >= n)
    if skip:
        continue
    s = re.match(r"^\s+server storage-api-(\d+) ", line)
    if s and int(s.group(1)) >= n:
        continue
    line = line.replace("bind :5000", f"bind 127.0.0.1:{router}").replace("bind :8404", f"bind 127.0.0.1:{metrics}")
    line = line.replace("hash-type consistent", f"hash-type {hashtype}")
    # One thread per core the router may use (threads beyond the cores spin on each other's locks).
    line = line.replace("nbthread 2", f"nbthread {threads}")
    line = line.replace("resolvers cluster resolve-prefer ipv4 init-addr none ", "")
    line = re.sub(r"storage-api-(\d+)\.\$\{SHARD_DOMAIN\}:5000", lambda g: f"127.0.0.1:{ports[int(g.group(1))]}", line)
    out.append(line)
# More shards than haproxy.cfg has: added as NOTES.md says an operator adds one (the next id, its proxy).
have = sum(1 for l in out if re.match(r"^\s+server storage-api-\d+ abns@", l))
last = max(i for i, l in enumerate(out) if re.match(r"^\s+server storage-api-\d+ abns@", l))
for i in range(have, n):
    out.insert(last + 1 + i - have, f"    server storage-api-{i} abns@storage-api-{i} id {i + 1} weight 256")
    out += ["", f"listen storage-api-{i}", f"    bind abns@storage-api-{i}", f"    server storage-api-{i} 127.0.0.1:{ports[i]}"]
print("\n".join(out))
PY
}

start_router() {  # NAME CFG_FILE CPUSET
  docker run -d --name "$1" --network host --cpuset-cpus "$3" --log-driver none --read-only --cap-drop ALL \
    -v "$2:/usr/local/etc/haproxy/haproxy.cfg:ro" "$router_image" >/dev/null
  CONTAINERS+=("$1")
}
start_shard() {  # NAME PORT ADMIN_PORT CPUSET
  docker run -d --name "$1" --network host --cpuset-cpus "$4" --log-driver none --read-only --cap-drop ALL \
    -e HOST=127.0.0.1 -e PORT="$2" -e ADMIN_PORT="$3" -e LOG_LEVEL=warn --memory 512m "$api_image" >/dev/null
  CONTAINERS+=("$1")
}
stop_all() {
  local c
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  CONTAINERS=()
}
wait_http() {  # URL EXPECTED_STATUS
  local i
  for i in $(seq 1 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1") == "$2" ]] && return 0
    sleep 0.1
  done
  die "$1 did not answer $2"
}
cpu_ns() {  # container -> cpuacct usage in ns (cgroup v1) or usage_usec * 1000 (v2)
  local id
  id=$(docker inspect -f '{{.Id}}' "$1")
  if [[ -f /sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage ]]; then
    cat "/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage"
  else
    echo $(($(sed -n 's/^usage_usec //p' "/sys/fs/cgroup/system.slice/docker-$id.scope/cpu.stat") * 1000))
  fi
}

# ------------------------------------------------------------------------------------------- remap
remap() {
  local n hash cfg
  for hash in consistent map-based; do
    for n in 1 2 3 4 5; do
      cfg="$WORK/remap-$hash-$n.cfg"
      # Every shard proxy points at a closed port: the router answers 503 at once, naming the shard.
      make_cfg "$n" $((BASE_PORT + 1)) $((BASE_PORT + 2)) "$hash" 2 1 1 1 1 1 >"$cfg"
      start_router "bench-remap-$RUN_ID" "$cfg" 0-1
      wait_http "http://127.0.0.1:$((BASE_PORT + 1))/api/buckets/x" 503
      python3 - "http://127.0.0.1:$((BASE_PORT + 1))" 10000 >"$WORK/map-$hash-$n.txt" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
for i in range(int(sys.argv[2])):
    c.request("GET", f"/api/buckets/remap-{i}")
    r = c.getresponse(); r.read()
    print(f"remap-{i} {r.getheader('X-Storage-Shard')}")
PY
      stop_all
    done
    python3 - "$WORK" "$hash" <<'PY'
import collections, sys
work, hashtype = sys.argv[1:]
maps = {n: dict(l.split() for l in open(f"{work}/map-{hashtype}-{n}.txt")) for n in range(1, 6)}
for n in range(1, 5):
    a, b = maps[n], maps[n + 1]
    moved = sum(1 for k in a if a[k] != b[k])
    to_new = sum(1 for k in a if a[k] != b[k] and b[k] == f"storage-api-{n}")
    spread = collections.Counter(b.values())
    print(f"remap {hashtype:10s} N={n}->{n + 1}: {moved / len(a):6.1%} of {len(a)} ids move "
          f"({to_new} of them to the new shard; 1/(N+1) = {1 / (n + 1):.1%}); spread at N={n + 1}: "
          + " ".join(f"{v}" for _, v in sorted(spread.items())))
PY
  done
}

# ------------------------------------------------------------------------------------------- cost
wrk_run() {  # LABEL URL [wrk args...]: one wrk run on core 1; prints "LABEL rps p99_ms cpu_us_per_req"
  local label=$1 url=$2 out before after requests cpu
  shift 2
  local -a watched=("${WATCHED[@]}")
  before=0; for c in "${watched[@]}"; do before=$((before + $(cpu_ns "$c"))); done
  out=$(taskset -c 1 wrk -t1 -c"$CLIENTS" -d"${DURATION}s" --latency "$@" "$url")
  after=0; for c in "${watched[@]}"; do after=$((after + $(cpu_ns "$c"))); done
  requests=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' <<<"$out")
  cpu=$(python3 -c "print(f'{($after - $before) / 1000 / max(1, $requests):.1f}')")
  python3 - "$label" "$out" "$cpu" <<'PY'
import re, sys
label, out, cpu = sys.argv[1:]
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
p99 = re.search(r"99%\s+([0-9.]+)(us|ms|s)\b", out)
ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{label:28s} {rps:9.0f} req/s   p99 {ms:6.2f} ms   {cpu:>6s} us CPU/request (servers)"
      + (f"   NON-2xx: {errors.group(1)}" if errors else ""))
PY
}

cost() {
  local shard_port=$((BASE_PORT + 10)) router_port=$((BASE_PORT + 11)) cfg="$WORK/cost.cfg"
  make_cfg 1 "$router_port" $((BASE_PORT + 12)) consistent 1 "$shard_port" >"$cfg"
  start_shard "bench-shard0-$RUN_ID" "$shard_port" $((BASE_PORT + 13)) 0
  start_router "bench-router-$RUN_ID" "$cfg" 0
  wait_http "http://127.0.0.1:$shard_port/api/buckets/none" 404
  wait_http "http://127.0.0.1:$router_port/api/buckets/none" 404
  head -c 1024 /dev/urandom >"$WORK/1k"
  curl -fsS -X PUT --data-binary @"$WORK/1k" "http://127.0.0.1:$shard_port/api/buckets/bench-1k" >/dev/null
  log "router cost: servers on core 0, wrk on core 1, $CLIENTS keep-alive connections, ${DURATION}s each"
  WATCHED=("bench-shard0-$RUN_ID")
  wrk_run "GET 1 KiB, shard directly" "http://127.0.0.1:$shard_port/api/buckets/bench-1k"
  WATCHED=("bench-shard0-$RUN_ID" "bench-router-$RUN_ID")
  wrk_run "GET 1 KiB, through router" "http://127.0.0.1:$router_port/api/buckets/bench-1k"
  WATCHED=("bench-shard0-$RUN_ID")
  wrk_run "PUT 1 KiB, shard directly" "http://127.0.0.1:$shard_port/api/buckets/bench-put" -s "$REPO/bench/put_1k.lua"
  WATCHED=("bench-shard0-$RUN_ID" "bench-router-$RUN_ID")
  wrk_run "PUT 1 KiB, through router" "http://127.0.0.1:$router_port/api/buckets/bench-put" -s "$REPO/bench/put_1k.lua"
  WATCHED=("bench-router-$RUN_ID")
  wrk_run "(router alone, GET)" "http://127.0.0.1:$router_port/api/buckets/bench-1k"
  stop_all
}

# ------------------------------------------------------------------------------------------- throughput
throughput() {
  local k i router_port=$((BASE_PORT + 20)) cfg
  cat >"$WORK/random.lua" <<EOF
-- GET of a random id among the $IDS preloaded.
math.randomseed(os.time())
request = function() return wrk.format("GET", "/api/buckets/t-" .. math.random(0, $((IDS - 1)))) end
EOF
  log "cluster throughput: GET 1 KiB of random ids through the router, everything sharing this machine's $(nproc) cores"
  for k in 1 2 3; do
    local ports=()
    for ((i = 0; i < k; i++)); do
      ports+=($((BASE_PORT + 30 + i)))
      start_shard "bench-t$i-$RUN_ID" $((BASE_PORT + 30 + i)) $((BASE_PORT + 40 + i)) 0-1
    done
    cfg="$WORK/throughput-$k.cfg"
    make_cfg "$k" "$router_port" $((BASE_PORT + 21)) consistent 2 "${ports[@]}" >"$cfg"
    start_router "bench-trouter-$RUN_ID" "$cfg" 0-1
    for ((i = 0; i < k; i++)); do wait_http "http://127.0.0.1:${ports[$i]}/api/buckets/none" 404; done
    wait_http "http://127.0.0.1:$router_port/api/buckets/none" 404
    python3 - "http://127.0.0.1:$router_port" "$IDS" "$WORK/1k" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1]); body = open(sys.argv[3], "rb").read()
c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
for i in range(int(sys.argv[2])):
    c.request("PUT", f"/api/buckets/t-{i}", body); r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
    WATCHED=("bench-trouter-$RUN_ID")
    for ((i = 0; i < k; i++)); do WATCHED+=("bench-t$i-$RUN_ID"); done
    out=$(wrk -t2 -c$((CLIENTS * 2)) -d"${DURATION}s" --latency -s "$WORK/random.lua" "http://127.0.0.1:$router_port")
    python3 - "$k" "$out" <<'PY'
import re, sys
k, out = sys.argv[1:]
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
p99 = re.search(r"99%\s+([0-9.]+)(us|ms|s)\b", out)
ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
print(f"throughput with {k} shard(s): {rps:9.0f} req/s   p99 {ms:6.2f} ms")
PY
    stop_all
  done
}

for part in $PARTS; do "$part"; done
