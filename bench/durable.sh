#!/usr/bin/env bash
# The durable log against Redis' append-only file, in one run on the same disk: 1 KiB writes from C clients
# with one request each in flight, storage_api (DATA_DIR, FSYNC=always|everysec, one event loop) against
# redis-server (appendonly yes, appendfsync always|everysec), each on one core with its load generator on
# the other (wrk with bench/put_1k.lua; redis-benchmark -t set -d 1024). Then the replay at start-up
# (MB/s of log read, against Redis loading its AOF), and the 16-byte GET's server CPU with and without
# DATA_DIR, and against nginx's fixed 16-byte answer. Then, with BIG=1 (default), BIG_BYTES (1 GiB) of 64 KiB objects: the replay of that much log
# and of a snapshot that size, each against a plain sequential read (cat) of the same files, and the p99
# of 16-byte GETs while the snapshot is written against the p99 after it. Reports ratios measured in the
# same run; loopback only, every step bounded in time or count.
#
# Settings: DURATION=5 (s per wrk run), REPEATS=3, CLIENTS=64, REDIS_REQUESTS_ALWAYS=20000,
# REDIS_REQUESTS_EVERYSEC=200000, SERVER_CPU=0, CLIENT_CPU=1, BASE_PORT=18600, DISK_DIR (default
# ${TMPDIR:-/tmp}; must be a real disk for fsync to mean anything), BUILD_DIR (default
# ${TMPDIR:-/tmp}/storage_api-bench-build), RESULTS_DIR (default bench/results).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly DURATION="${DURATION:-5}"
readonly REPEATS="${REPEATS:-3}"
readonly CLIENTS="${CLIENTS:-64}"
readonly BIG="${BIG:-1}"
readonly BIG_BYTES="${BIG_BYTES:-$((1 << 30))}"
readonly REDIS_REQUESTS_ALWAYS="${REDIS_REQUESTS_ALWAYS:-20000}"
readonly REDIS_REQUESTS_EVERYSEC="${REDIS_REQUESTS_EVERYSEC:-200000}"
readonly SERVER_CPU="${SERVER_CPU:-0}"
readonly CLIENT_CPU="${CLIENT_CPU:-1}"
readonly BASE_PORT="${BASE_PORT:-18600}"
readonly BUILD_DIR="${BUILD_DIR:-${TMPDIR:-/tmp}/storage_api-bench-build}"
readonly RESULTS_DIR="${RESULTS_DIR:-$REPO/bench/results}"
WORK="$(mktemp -d "${DISK_DIR:-${TMPDIR:-/tmp}}/storage_api-durable-bench.XXXXXX")"
readonly WORK
readonly RUNS="$WORK/runs.tsv"
readonly PORT_STORAGE=$((BASE_PORT + 0)) PORT_REDIS=$((BASE_PORT + 1)) PORT_NGINX=$((BASE_PORT + 2))
SERVER_PID=""

log() { printf '[durable-bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in wrk redis-server redis-benchmark redis-cli nginx curl taskset cmake; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install wrk redis-server nginx curl util-linux cmake)"
done
cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTORAGE_API_BENCH=ON >/dev/null
cmake --build "$BUILD_DIR" --parallel 2 --target storage_api object_loader >/dev/null
readonly BINARY="$BUILD_DIR/storage_api" LOADER="$BUILD_DIR/bench/object_loader"
HZ="$(getconf CLK_TCK)"
readonly HZ

cpu_ticks() {
  local stat fields
  stat="$(<"/proc/$1/stat")"
  read -ra fields <<<"${stat##*) }"
  echo $((fields[11] + fields[12]))
}
per_request_us() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { printf "%.2f", (n > 0) ? t / hz * 1e6 / n : 0 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column() { awk -F'\t' -v s="$1" -v w="$2" -v c="$3" '$1 == s && $2 == w { print $c }' "$RUNS" | median; }
# The ratio storage_api / Redis of column $2 within each repeat (the two ran back to back, so a disk whose
# latency drifts over the run moves both), one per line; `paired ... | median` is the figure reported.
paired() {
  awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $2 == "storage_api" { a[++n] = $c } $1 == s && $2 == "redis" { b[++m] = $c }
    END { for (i = 1; i <= n && i <= m; i++) if (b[i] > 0) printf "%.2f\n", a[i] / b[i] }' "$RUNS"
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "nan"; else printf "%.2f", a / b }'; }

wait_http() {  # port
  local i
  for ((i = 0; i < 400; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/healthz" || true)" == 200 ]] && return 0
    sleep 0.025
  done
  return 1
}
stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
start_storage() {  # data-dir fsync [VAR=value...] (empty data-dir: memory only)
  local -a env=(HOST=127.0.0.1 PORT="$PORT_STORAGE" THREADS=1 LOG_LEVEL=info)
  [[ -n "$1" ]] && env+=(DATA_DIR="$1" FSYNC="$2")
  env+=("${@:3}")
  env "${env[@]}" taskset -c "$SERVER_CPU" "$BINARY" 2>"$WORK/storage.log" &
  SERVER_PID=$!
  wait_http "$PORT_STORAGE" || { tail -n 5 "$WORK/storage.log" >&2; die "storage_api did not start"; }
}
start_redis() {  # dir fsync
  mkdir -p "$1"
  taskset -c "$SERVER_CPU" redis-server --port "$PORT_REDIS" --bind 127.0.0.1 --save "" --appendonly yes \
    --appendfsync "$2" --dir "$1" --daemonize no --logfile "$WORK/redis.log" &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 400; i++)); do
    redis-cli -p "$PORT_REDIS" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.025
  done
  die "redis-server did not start"
}

# "scenario server rps cpu_us/req" rows.
put_storage() {  # scenario repeat
  local before after out="$WORK/wrk-$1-$2.txt" rps requests
  before="$(cpu_ticks "$SERVER_PID")"
  taskset -c "$CLIENT_CPU" timeout $((DURATION + 20)) wrk -t1 -c"$CLIENTS" -d"${DURATION}s" --timeout 5s \
    -s "$REPO/bench/put_1k.lua" "http://127.0.0.1:$PORT_STORAGE/api/buckets/durable" >"$out" 2>&1 || die "wrk failed"
  after="$(cpu_ticks "$SERVER_PID")"
  rps="$(awk '/Requests\/sec:/ { print $2 }' "$out")"
  requests="$(awk '/ requests in / { print $1 }' "$out")"
  grep -q "Non-2xx" "$out" && die "storage_api answered errors: $(grep Non-2xx "$out")"
  printf '%s\tstorage_api\t%s\t%s\n' "$1" "$rps" "$(per_request_us $((after - before)) "$requests")" >>"$RUNS"
  log "$(printf '%-14s storage_api #%s %10s req/s' "$1" "$2" "$rps")"
}
put_redis() {  # scenario repeat requests
  local before after out="$WORK/redis-$1-$2.txt" rps
  before="$(cpu_ticks "$SERVER_PID")"
  taskset -c "$CLIENT_CPU" timeout 300 redis-benchmark -p "$PORT_REDIS" -t set -d 1024 -c "$CLIENTS" -n "$3" -P 1 \
    -r 1 -q >"$out" 2>&1 || die "redis-benchmark failed"
  after="$(cpu_ticks "$SERVER_PID")"
  rps="$(tr '\r' '\n' <"$out" | awk '/^SET:/ { print $2 }' | tail -n 1)"
  printf '%s\tredis\t%s\t%s\n' "$1" "$rps" "$(per_request_us $((after - before)) "$3")" >>"$RUNS"
  log "$(printf '%-14s redis       #%s %10s req/s' "$1" "$2" "$rps")"
}
# The reference for the GET: nginx answering a fixed 16-byte body, as bench/run.sh configures it.
start_nginx() {
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/octet-stream;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$PORT_NGINX;
    location / { return 200 "0123456789abcdef"; }
  }
}
CONF
  taskset -c "$SERVER_CPU" nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 400; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT_NGINX/" && return 0
    sleep 0.025
  done
  die "nginx did not start"
}
get_storage() {  # scenario repeat [url]
  local before after out="$WORK/get-$1-$2.txt" requests
  local url="${3:-http://127.0.0.1:$PORT_STORAGE/api/buckets/small}"
  before="$(cpu_ticks "$SERVER_PID")"
  taskset -c "$CLIENT_CPU" timeout $((DURATION + 20)) wrk -t1 -c64 -d"${DURATION}s" "$url" >"$out" 2>&1 ||
    die "wrk failed"
  after="$(cpu_ticks "$SERVER_PID")"
  requests="$(awk '/ requests in / { print $1 }' "$out")"
  printf '%s\tstorage_api\t%s\t%s\n' "$1" "$(awk '/Requests\/sec:/ { print $2 }' "$out")" \
    "$(per_request_us $((after - before)) "$requests")" >>"$RUNS"
}

: >"$RUNS"
for ((r = 1; r <= REPEATS; r++)); do
  for policy in always everysec; do
    rm -rf "$WORK/sa-$policy" "$WORK/redis-$policy"
    # Odd repeats run storage_api first, even ones Redis first: neither always inherits the other's
    # writeback on the shared disk.
    for server in $( ((r % 2)) && echo "storage_api redis" || echo "redis storage_api"); do
      if [[ $server == storage_api ]]; then
        start_storage "$WORK/sa-$policy" "$policy"
        put_storage "put-$policy" "$r"
      else
        start_redis "$WORK/redis-$policy" "$policy"
        if [[ $policy == always ]]; then put_redis "put-$policy" "$r" "$REDIS_REQUESTS_ALWAYS"
        else put_redis "put-$policy" "$r" "$REDIS_REQUESTS_EVERYSEC"; fi
      fi
      stop_server
    done
  done
  # The GET of a 16-byte object: the log must cost reads nothing.
  for mode in memory durable; do
    if [[ $mode == durable ]]; then start_storage "$WORK/sa-get" always; else start_storage "" ""; fi
    curl -s -o /dev/null -X PUT --data-binary 0123456789abcdef "http://127.0.0.1:$PORT_STORAGE/api/buckets/small"
    get_storage "get-$mode" "$r"
    stop_server
  done
  start_nginx
  get_storage get-nginx "$r" "http://127.0.0.1:$PORT_NGINX/"
  stop_server
done

# Replay: the everysec run's log (the largest), against Redis loading the AOF it wrote in the same run.
start_storage "$WORK/sa-everysec" always
recovered="$(grep '"event":"recovered"' "$WORK/storage.log" | tail -n 1)"
stop_server
replay_bytes="$(grep -o '"bytes_read":[0-9]*' <<<"$recovered" | cut -d: -f2)"
replay_seconds="$(grep -o '"seconds":[0-9.e-]*' <<<"$recovered" | cut -d: -f2)"
replay_records=$(($(grep -o '"puts":[0-9]*' <<<"$recovered" | cut -d: -f2) + $(grep -o '"deletes":[0-9]*' <<<"$recovered" | cut -d: -f2)))
aof_bytes="$(du -sb "$WORK/redis-everysec" | cut -f1)"
start_redis "$WORK/redis-everysec" everysec
redis_seconds="$(grep -o 'DB loaded from append only file: [0-9.]* seconds' "$WORK/redis.log" | tail -n 1 | awk '{ print $(NF - 1) }')"
stop_server
sa_mbps="$(awk -v b="$replay_bytes" -v s="$replay_seconds" 'BEGIN { printf "%.0f", b / s / 1e6 }')"
redis_mbps="$(awk -v b="$aof_bytes" -v s="$redis_seconds" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "nan" }')"

# BIG_BYTES of 64 KiB objects: the log's replay, then a snapshot's (written at the next start, while GETs
# are measured), each against cat of the same files; the page cache is warm for both.
big_report=""
if [[ $BIG == 1 ]]; then
  big="$WORK/sa-big" objects=$((BIG_BYTES / 65536))
  big_env=(MAX_MEMORY_BYTES=$((BIG_BYTES * 3)) MAX_STORAGE_BYTES=$((BIG_BYTES * 2)) SNAPSHOT_RATIO=0)
  start_storage "$big" everysec "${big_env[@]}"
  timeout 300 "$LOADER" --count "$objects" --value-bytes 65536 --connections 4 --depth 4 --prefix big \
    "$PORT_STORAGE" >&2 || die "object_loader failed"
  stop_server
  read_seconds() {  # files... -> seconds cat takes
    local start end
    start=$(date +%s%N)
    cat "$@" >/dev/null
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }'
  }
  cat "$big"/segment-*.log >/dev/null  # warm, as the replay will find it
  log_cat="$(read_seconds "$big"/segment-*.log)"
  log_bytes="$(cat "$big"/segment-*.log | wc -c)"
  # The replay of the log; then a snapshot starts at once (the snapshotter checks as it starts), and the
  # GETs run while it is written.
  start_storage "$big" everysec "${big_env[@]/SNAPSHOT_RATIO=0/SNAPSHOT_RATIO=0.5}"
  log_line="$(grep '"event":"recovered"' "$WORK/storage.log" | tail -n 1)"
  curl -s -o /dev/null -X PUT --data-binary 0123456789abcdef "http://127.0.0.1:$PORT_STORAGE/api/buckets/small"
  taskset -c "$CLIENT_CPU" wrk -t1 -c16 -d3s --latency "http://127.0.0.1:$PORT_STORAGE/api/buckets/small" \
    >"$WORK/get-during.txt" 2>&1
  for ((i = 0; i < 1200; i++)); do grep -q '"event":"snapshot"' "$WORK/storage.log" && break; sleep 0.05; done
  snapshot_line="$(grep '"event":"snapshot"' "$WORK/storage.log" | head -n 1)"
  [[ -n "$snapshot_line" ]] || die "no snapshot was written"
  taskset -c "$CLIENT_CPU" wrk -t1 -c16 -d3s --latency "http://127.0.0.1:$PORT_STORAGE/api/buckets/small" \
    >"$WORK/get-after.txt" 2>&1
  stop_server
  snap_cat="$(read_seconds "$big"/snapshot-*.snap "$big"/segment-*.log)"
  snap_bytes="$(cat "$big"/snapshot-*.snap "$big"/segment-*.log | wc -c)"
  start_storage "$big" everysec "${big_env[@]}"
  snap_line="$(grep '"event":"recovered"' "$WORK/storage.log" | tail -n 1)"
  stop_server
  field() { grep -o "\"$1\":[0-9.e+-]*" <<<"$2" | head -n 1 | cut -d: -f2; }
  p99() { awk '$1 == "99%" { print $2 }' "$1"; }
  log_s="$(field seconds "$log_line")" snap_s="$(field seconds "$snap_line")"
  big_report="$(
    echo "| replay of | bytes | storage_api s | MB/s | cat s | MB/s | replay / cat |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for row in "log:$log_bytes:$log_s:$log_cat" "snapshot + log:$snap_bytes:$snap_s:$snap_cat"; do
      IFS=: read -r what bytes secs cat_secs <<<"$row"
      mbps="$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / s / 1e6 }')"
      cat_mbps="$(awk -v b="$bytes" -v s="$cat_secs" 'BEGIN { printf "%.0f", b / s / 1e6 }')"
      echo "| $what | $bytes | $secs | $mbps | $cat_secs | $cat_mbps | $(div "$mbps" "$cat_mbps")× |"
    done
    echo
    echo "Snapshot at start-up: $(field objects "$snapshot_line") objects, $(field bytes "$snapshot_line") bytes in"
    echo "$(field seconds "$snapshot_line") s, longest shard lock $(field longest_lock_ms "$snapshot_line") ms. 16-byte GET p99 (16"
    echo "connections, 3 s) while it was written: $(p99 "$WORK/get-during.txt"); after it: $(p99 "$WORK/get-after.txt")."
  )"
fi

mkdir -p "$RESULTS_DIR"
report="$RESULTS_DIR/durable-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# Durable log benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $REPEATS repeats, medians, $CLIENTS clients, 1 KiB values)"
  echo
  echo "| scenario | storage_api req/s | Redis req/s | throughput ratio (paired) | per repeat | storage_api CPU/req | Redis CPU/req | CPU ratio (paired) |"
  echo "|---|---:|---:|---:|---|---:|---:|---:|"
  for policy in always everysec; do
    s_rps="$(column "put-$policy" storage_api 3)" r_rps="$(column "put-$policy" redis 3)"
    s_cpu="$(column "put-$policy" storage_api 4)" r_cpu="$(column "put-$policy" redis 4)"
    echo "| PUT, FSYNC=$policy vs appendfsync $policy | $s_rps | $r_rps |" \
      "$(paired "put-$policy" 3 | median)× | $(paired "put-$policy" 3 | paste -sd ' ') |" \
      "$s_cpu µs | $r_cpu µs | $(paired "put-$policy" 4 | median)× |"
  done
  echo
  echo "Ratios are medians of the per-repeat ratios: each repeat runs storage_api and then Redis on the same disk."
  echo
  echo "| 16-byte GET | req/s | server CPU/req |"
  echo "|---|---:|---:|"
  for mode in memory durable nginx; do echo "| $mode | $(column "get-$mode" storage_api 3) | $(column "get-$mode" storage_api 4) µs |"; done
  echo
  echo "GET CPU with DATA_DIR / without: $(div "$(column get-durable storage_api 4)" "$(column get-memory storage_api 4)")×;"
  echo "with DATA_DIR / nginx: $(div "$(column get-durable storage_api 4)" "$(column get-nginx storage_api 4)")×"
  echo
  echo "Replay: storage_api read $replay_bytes bytes ($replay_records records) in $replay_seconds s = $sa_mbps MB/s;"
  echo "Redis loaded its $aof_bytes-byte AOF in $redis_seconds s = $redis_mbps MB/s; ratio $(div "$sa_mbps" "$redis_mbps")×."
  if [[ -n "$big_report" ]]; then
    echo
    echo "$big_report"
  fi
} >"$report"
cat "$report"
log "report: $report"
