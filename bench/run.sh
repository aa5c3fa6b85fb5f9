#!/usr/bin/env bash
# Load benchmark of storage_api against nginx (fixed `return 200`), a Go net/http + client_golang
# implementation of the same API (when it builds offline) and a minimal epoll "floor" server, all in one
# run with the server on one core and wrk on the other; a 1 MiB GET against nginx's sendfile; memory with
# 1,000 connections that never read a 16 MiB answer; then start-up time, RSS, 1-vs-2 thread scaling and the
# micro-benchmarks. Loopback only; every step is bounded in time. See bench/README.md.
#
# Settings (environment): DURATION=5 (s per wrk run), REPEATS=5, CONNECTIONS=64, CONNECTIONS_1M=16 (for the
# 1 MiB GET), MEMORY_CONNECTIONS=1000, WARMUP=1 (s), STARTS=20, SERVER_CPU=0, CLIENT_CPU=1, BASE_PORT=18400,
# MICRO=1 (0 skips the micro-benchmarks), GO=1 (0 skips Go), BUILD_DIR (default
# ${TMPDIR:-/tmp}/storage_api-bench-build), RESULTS_DIR (default bench/results).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly DURATION="${DURATION:-5}"
readonly REPEATS="${REPEATS:-5}"
readonly CONNECTIONS="${CONNECTIONS:-64}"
readonly CONNECTIONS_1M="${CONNECTIONS_1M:-16}"
readonly MEMORY_CONNECTIONS="${MEMORY_CONNECTIONS:-1000}"
readonly WARMUP="${WARMUP:-1}"
readonly STARTS="${STARTS:-20}"
readonly SERVER_CPU="${SERVER_CPU:-0}"
readonly CLIENT_CPU="${CLIENT_CPU:-1}"
readonly BASE_PORT="${BASE_PORT:-18400}"
readonly MICRO="${MICRO:-1}"
readonly GO="${GO:-1}"
readonly BUILD_DIR="${BUILD_DIR:-${TMPDIR:-/tmp}/storage_api-bench-build}"
readonly RESULTS_DIR="${RESULTS_DIR:-$REPO/bench/results}"

readonly PORT_STORAGE=$((BASE_PORT + 0))
readonly PORT_NGINX=$((BASE_PORT + 1))
readonly PORT_FLOOR=$((BASE_PORT + 2))
readonly PORT_FLOOR_CLOSE=$((BASE_PORT + 3))
readonly PORT_GO=$((BASE_PORT + 4))
readonly PORT_THREADS1=$((BASE_PORT + 5))
readonly PORT_THREADS2=$((BASE_PORT + 6))
readonly PORT_STARTUP=$((BASE_PORT + 7))
readonly PORT_MEMORY=$((BASE_PORT + 8))
readonly PORT_MEMORY_ADMIN=$((BASE_PORT + 9))
readonly PORT_NGINX_64K=$((BASE_PORT + 10))
readonly OBJECT_1M=$((1 << 20))  # the 1 MiB GET: a stored value for storage_api and Go, a file for nginx
readonly OBJECT_16M=$((16 << 20))

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storage_api-bench.XXXXXX")"
readonly WORK
readonly RUNS="$WORK/runs.tsv"
declare -A PID=()
declare -A MEMORY=()  # the memory-under-load figures, for the report
GO_REASON=""
ETAG16=""  # the 16-byte bucket's ETag, for the conditional GET

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
  local name
  for name in "${!PID[@]}"; do
    kill "${PID[$name]}" 2>/dev/null || true
  done
  for name in "${!PID[@]}"; do
    wait "${PID[$name]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check_tools() {
  local missing=() tool
  for tool in cmake c++ wrk nginx taskset curl timeout awk; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]} > 0)); then
    log "missing: ${missing[*]}"
    log "install them with: apt-get install -y wrk nginx curl cmake g++ libbenchmark-dev coreutils util-linux"
    log "(optional, for the Go comparison: apt-get install -y golang-go golang-github-prometheus-client-golang-dev)"
    exit 1
  fi
  (($(nproc) >= 2)) || log "warning: fewer than 2 CPUs; server and client will share one"
}

build() {
  log "building Release (static) in $BUILD_DIR"
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTORAGE_API_STATIC=ON -DSTORAGE_API_BENCH=ON \
    -DSTORAGE_API_TESTS=OFF >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log" >&2; die "cmake failed"; }
  local -a targets=(storage_api floor_server startup_probe unread_clients)
  [[ "$MICRO" == 1 ]] && targets+=(storage_api_micro_bench)
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}" >"$WORK/build.log" 2>&1 ||
    { tail -n 40 "$WORK/build.log" >&2; die "build failed"; }
}

# Go in GOPATH mode against Debian's packaged sources: no module download, no network.
build_go() {
  local gopath=/usr/share/gocode
  if [[ "$GO" != 1 ]]; then
    GO_REASON="skipped (GO=$GO)"
  elif ! command -v go >/dev/null 2>&1; then
    GO_REASON="skipped: no go toolchain (apt-get install -y golang-go)"
  elif [[ ! -d "$gopath/src/github.com/prometheus/client_golang/prometheus" ]]; then
    GO_REASON="skipped: no client_golang sources (apt-get install -y golang-github-prometheus-client-golang-dev)"
  elif ! (cd "$REPO/bench/go_server" &&
    env GO111MODULE=off GOPATH="$gopath" GOCACHE="$BUILD_DIR/go-cache" GOFLAGS= GOPROXY=off \
      go build -o "$BUILD_DIR/go_server" .) >"$WORK/go-build.log" 2>&1; then
    GO_REASON="skipped: offline go build failed: $(tail -n 1 "$WORK/go-build.log")"
  fi
  if [[ -n "$GO_REASON" ]]; then log "Go server $GO_REASON"; fi
}

# Besides the fixed answer, /file1m is a static 1 MiB file (www/file1m, written by the caller) sent with
# sendfile; with a second port, a second server sends it over sockets with storage_api's 64 KiB SO_SNDBUF.
write_nginx_conf() {  # dir port [port-with-64KiB-sndbuf]
  mkdir -p "$1/www"
  local small_sndbuf=""
  [[ -n "${3:-}" ]] && small_sndbuf="server {
    listen 127.0.0.1:$3 sndbuf=64k;
    location = /file1m { root $1/www; sendfile on; }
  }"
  cat >"$1/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/octet-stream;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  server {
    listen 127.0.0.1:$2;
    location / { return 200 "0123456789abcdef"; }
    location = /file1m { root $1/www; sendfile on; }
  }
  $small_sndbuf
}
EOF
}

nginx_command() {  # dir
  printf '%s\n' nginx -p "$1/" -c "$1/nginx.conf" -e "$1/error.log"
}

# Median exec-to-first-answer of STARTS starts; prints startup_probe's line ("... median <us> min <us> ...").
probe_startup() {  # ready-path env VAR=value... -- command...
  local path="$1" probe="$BUILD_DIR/bench/startup_probe"
  shift 2
  local -a vars=()
  while [[ "$1" != -- ]]; do vars+=("$1"); shift; done
  shift
  env "${vars[@]}" taskset -c "$CLIENT_CPU" "$probe" --runs "$STARTS" --cpu "$SERVER_CPU" --path "$path" \
    "$PORT_STARTUP" -- "$@" 2>>"$WORK/startup.log" || echo "startup_us median nan min nan max nan cpu_us median nan runs 0"
}

wait_ready() {  # port path
  local i
  for ((i = 0; i < 200; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1$2" || true)" == 200 ]] && return 0
    sleep 0.025
  done
  return 1
}

# Starts a server in the background; env/taskset exec into it, so $! is the server's own pid.
start_server() {  # name port ready-path cpu-list command...
  local name="$1" port="$2" path="$3" cpus="$4"
  shift 4
  if [[ -n "$cpus" ]]; then
    taskset -c "$cpus" "$@" >"$WORK/$name.log" 2>&1 &
  else
    "$@" >"$WORK/$name.log" 2>&1 &
  fi
  PID[$name]=$!
  wait_ready "$port" "$path" || { tail -n 20 "$WORK/$name.log" >&2; die "$name did not answer on port $port"; }
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# utime + stime of the whole process (all threads), in clock ticks.
cpu_ticks() {
  local stat fields
  stat="$(<"/proc/$1/stat")"
  read -ra fields <<<"${stat##*) }"  # fields[0] is field 3 (state), so utime (14) is fields[11]
  echo $((fields[11] + fields[12]))
}

# wrk output -> "rps p50_us p99_us requests errors"
parse_wrk() {
  awk '
    function us(x) {
      if (x ~ /us$/) return x + 0
      if (x ~ /ms$/) return x * 1000
      if (x ~ /m$/) return x * 60e6
      if (x ~ /s$/) return x * 1e6
      return x + 0
    }
    /Requests\/sec:/ { rps = $2 }
    / requests in / { requests = $1 }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
    END { printf "%s\t%s\t%s\t%s\t%d\n", rps, p50, p99, requests, errors }
  ' "$1"
}

# CPU ticks of this shell's waited-for children (cutime + cstime): around one foreground wrk, wrk's own CPU.
child_ticks() {
  local stat fields
  stat="$(<"/proc/$$/stat")"
  read -ra fields <<<"${stat##*) }"
  echo $((fields[13] + fields[14]))
}

# A 1 MiB answer keeps one core busy for hundreds of µs, so a few connections keep the server saturated; more
# would only queue (latency grows with them) and hold more socket memory.
connections_for() {  # scenario
  if [[ $1 == get1m ]]; then echo "$CONNECTIONS_1M"; else echo "$CONNECTIONS"; fi
}

# One wrk run against a server; appends
# "scenario server repeat rps p50_us p99_us server_cpu_us/req requests errors client_cpu_us/req".
measure() {  # scenario server repeat pid url wrk-cpus wrk-threads [wrk args...]
  local scenario="$1" server="$2" repeat="$3" pid="$4" url="$5" cpus="$6" threads="$7"
  shift 7
  local out="$WORK/wrk-$scenario-$server-$repeat.txt" before after client_before client_after
  local rps p50 p99 requests errors cpu_us client_cpu_us hz
  local -a pin=()
  [[ -n "$cpus" ]] && pin=(taskset -c "$cpus")
  hz="$(getconf CLK_TCK)"
  client_before="$(child_ticks)"
  before="$(cpu_ticks "$pid")"
  "${pin[@]}" timeout $((DURATION + 20)) wrk -t"$threads" -c"$(connections_for "$scenario")" -d"${DURATION}s" \
    --timeout 2s --latency "$@" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed: $scenario $server"; }
  after="$(cpu_ticks "$pid")"
  client_after="$(child_ticks)"
  IFS=$'\t' read -r rps p50 p99 requests errors < <(parse_wrk "$out")
  [[ -n "$requests" && "$requests" -gt 0 ]] || { cat "$out" >&2; die "no requests completed: $scenario $server"; }
  cpu_us="$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')"
  client_cpu_us="$(awk -v t=$((client_after - client_before)) -v hz="$hz" -v n="$requests" \
    'BEGIN { printf "%.3f", t / hz * 1e6 / n }')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$server" "$repeat" "$rps" "$p50" "$p99" \
    "$cpu_us" "$requests" "$errors" "$client_cpu_us" >>"$RUNS"
  log "$(printf '%-8s %-12s #%s %10s req/s  p99 %8s us  CPU/req server %7s us, wrk %7s us  errors %s' \
    "$scenario" "$server" "$repeat" "$rps" "$p99" "$cpu_us" "$client_cpu_us" "$errors")"
}

# Requests that give /metrics the label set a production instance shows after a while: every route, the
# usual refusals, probes and scrapes; so the scrape scenario renders a realistic page, not a near-empty one.
varied_traffic() {  # port
  local base="http://127.0.0.1:$1" long
  long="$(printf '%09000d' 0)"
  local -a requests=(
    "$base/api/buckets/bench16" "$base/api/buckets/missing" "$base/api/buckets/" "$base/api/buckets/$long"
    "-I $base/api/buckets/bench16" "-I $base/api/buckets/missing"
    "-X PUT --data-binary x $base/api/buckets/scratch" "-X DELETE $base/api/buckets/scratch"
    "-X DELETE $base/api/buckets/missing" "-X POST --data-binary x $base/api/buckets/bench16"
    "-X PATCH --data-binary x $base/api/buckets/bench16" "-X OPTIONS $base/api/buckets/bench16"
    "$base/healthz" "$base/readyz" "$base/metrics" "$base/nowhere" "-I $base/nowhere"
    "-X POST --data-binary x $base/nowhere" "-X BREW $base/nowhere" "-H X-Big:${long}${long} $base/healthz"
  )
  local request
  for request in "${requests[@]}"; do
    # shellcheck disable=SC2086  # each entry is a list of curl arguments without spaces inside them
    curl -s -o /dev/null --max-time 2 $request || true
  done
}

# Where each server answers each scenario: "pid url" (nothing when the server does not take part).
target() {  # scenario server
  local bucket=/api/buckets/bench16 put=/api/buckets/put1k big=/api/buckets/bench1m
  case "$2:$1" in
    storage_api:get | storage_api:get304 | storage_api:close) echo "${PID[storage_api]} http://127.0.0.1:$PORT_STORAGE$bucket" ;;
    storage_api:get1m) echo "${PID[storage_api]} http://127.0.0.1:$PORT_STORAGE$big" ;;
    go:get1m) echo "${PID[go]} http://127.0.0.1:$PORT_GO$big" ;;
    nginx:get1m) echo "${PID[nginx]} http://127.0.0.1:$PORT_NGINX/file1m" ;;
    nginx_64k:get1m) echo "${PID[nginx]} http://127.0.0.1:$PORT_NGINX_64K/file1m" ;;
    storage_api:put) echo "${PID[storage_api]} http://127.0.0.1:$PORT_STORAGE$put" ;;
    storage_api:metrics) echo "${PID[storage_api]} http://127.0.0.1:$PORT_STORAGE/metrics" ;;
    go:get | go:close) echo "${PID[go]} http://127.0.0.1:$PORT_GO$bucket" ;;
    go:put) echo "${PID[go]} http://127.0.0.1:$PORT_GO$put" ;;
    go:metrics) echo "${PID[go]} http://127.0.0.1:$PORT_GO/metrics" ;;
    nginx:get | nginx:close) echo "${PID[nginx]} http://127.0.0.1:$PORT_NGINX/" ;;
    nginx:put) echo "${PID[nginx]} http://127.0.0.1:$PORT_NGINX$put" ;;
    floor:get) echo "${PID[floor]} http://127.0.0.1:$PORT_FLOOR/" ;;
    floor:put) echo "${PID[floor]} http://127.0.0.1:$PORT_FLOOR$put" ;;
    floor:close) echo "${PID[floor_close]} http://127.0.0.1:$PORT_FLOOR_CLOSE/" ;;
  esac
}

wrk_args() {  # scenario
  case "$1" in
    put) printf '%s\n' -s "$REPO/bench/put_1k.lua" ;;
    close) printf '%s\n' -H "Connection: close" ;;
    get304) printf '%s\n' -H "If-None-Match: $ETAG16" ;;
  esac
}

# One sample of a metric (exact name with labels) from a /metrics page; empty when absent or unreachable.
metric() {  # port name
  { curl -s --max-time 2 "http://127.0.0.1:$1/metrics" || true; } | awk -v n="$2" '$1 == n && !found { print $2; found = 1 }'
}

status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }  # pid field (VmRSS, RssAnon...)

sockstat_tcp() {  # field of the TCP line: inuse, orphan, tw, alloc, mem (pages)
  awk -v k="$1" '$1 == "TCP:" { for (i = 2; i < NF; i += 2) if ($i == k) print $(i + 1) }' /proc/net/sockstat
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Memory under load: MEMORY_CONNECTIONS connections from one address each send GET of a 16 MiB value and
# never read. Every answer is a slice of the one stored value, so the process should hold little more than
# the value itself; the kernel holds each socket's send queue (reported from /proc/net/sockstat). Fills
# MEMORY[] for the report. The wait is for a condition (every GET answered, every connection still open),
# bounded at 30 s; the clients hold at most 60 s, the write timeout is 120 s.
memory_under_load() {  # storage_api-binary
  local bin="$1" name=mem16m object="$WORK/object16m"
  local answered='http_request_duration_seconds_count{method="GET",path="/api/buckets/{id}",status="200"}'
  head -c "$OBJECT_16M" /dev/urandom >"$object"
  log "memory: $MEMORY_CONNECTIONS connections, each with an unread 16 MiB GET pending"
  # Room for every connection from the one client address; the connection budget sized to match
  # (state + 4 x 64 KiB socket buffers is about 266 KiB a connection, 320 KiB leaves headroom).
  start_server memory "$PORT_MEMORY_ADMIN" /healthz "$SERVER_CPU" \
    env PORT="$PORT_MEMORY" ADMIN_PORT="$PORT_MEMORY_ADMIN" HOST=127.0.0.1 THREADS=1 LOG_LEVEL=warn \
    MAX_CONNECTIONS_PER_CLIENT=0 MAX_CONNECTIONS=$((MEMORY_CONNECTIONS + 24)) \
    MAX_CONNECTION_MEMORY_BYTES=$(((MEMORY_CONNECTIONS + 24) * 320 * 1024)) WRITE_TIMEOUT_MS=120s "$bin"
  local pid="${PID[memory]}"
  MEMORY[rss_idle]="$(status_kib "$pid" VmRSS)"
  curl -sf -X PUT --data-binary @"$object" "http://127.0.0.1:$PORT_MEMORY/api/buckets/$name" >/dev/null ||
    die "memory: storing the 16 MiB value failed"
  curl -sf --max-time 10 "http://127.0.0.1:$PORT_MEMORY/api/buckets/$name" | cmp -s - "$object" ||
    die "memory: the 16 MiB value does not read back"
  MEMORY[stored]="$(metric "$PORT_MEMORY_ADMIN" storage_api_stored_bytes)"
  MEMORY[rss_stored]="$(status_kib "$pid" VmRSS)"
  MEMORY[tcp_mem_before]="$(sockstat_tcp mem)"
  MEMORY[tcp_inuse_before]="$(sockstat_tcp inuse)"
  local base
  base="$(metric "$PORT_MEMORY_ADMIN" "$answered")"
  base="${base:-0}"

  local started count=0 open=0 deadline
  started="$(now_ms)"
  taskset -c "$CLIENT_CPU" "$BUILD_DIR/bench/unread_clients" --connections "$MEMORY_CONNECTIONS" --rcvbuf 4096 \
    --hold 60 "$PORT_MEMORY" "/api/buckets/$name" >"$WORK/unread.txt" 2>&1 &
  PID[unread]=$!
  deadline=$((started + 30000))
  while :; do
    count="$(metric "$PORT_MEMORY_ADMIN" "$answered")"
    open="$(metric "$PORT_MEMORY_ADMIN" http_connections_open)"
    ((${count:-0} - base >= MEMORY_CONNECTIONS && ${open:-0} >= MEMORY_CONNECTIONS)) && break
    kill -0 "${PID[unread]}" 2>/dev/null || { cat "$WORK/unread.txt" >&2; die "memory: the clients exited early"; }
    (($(now_ms) < deadline)) || die "memory: after 30 s $((${count:-0} - base)) GETs answered, $open connections open"
    sleep 0.05
  done
  MEMORY[wait_ms]=$(($(now_ms) - started))
  MEMORY[open]="$open"
  MEMORY[rss]="$(status_kib "$pid" VmRSS)"
  MEMORY[anon]="$(status_kib "$pid" RssAnon)"
  MEMORY[file]="$(status_kib "$pid" RssFile)"
  MEMORY[hwm]="$(status_kib "$pid" VmHWM)"
  MEMORY[tcp_mem]="$(sockstat_tcp mem)"
  MEMORY[tcp_inuse]="$(sockstat_tcp inuse)"
  MEMORY[charged]="$(metric "$PORT_MEMORY_ADMIN" 'storage_api_memory_used_bytes{area="connections"}')"
  MEMORY[stored_pending]="$(metric "$PORT_MEMORY_ADMIN" storage_api_stored_bytes)"

  kill "${PID[unread]}"
  wait "${PID[unread]}" || die "memory: the clients failed: $(cat "$WORK/unread.txt")"
  unset 'PID[unread]'
  MEMORY[client]="$(sed -n 's/^held //p' "$WORK/unread.txt")"
  started="$(now_ms)"
  deadline=$((started + 10000))
  until [[ "$(metric "$PORT_MEMORY_ADMIN" http_connections_open)" == 0 ]]; do
    (($(now_ms) < deadline)) || die "memory: connections still open 10 s after the clients left"
    sleep 0.05
  done
  MEMORY[close_ms]=$(($(now_ms) - started))
  MEMORY[rss_after]="$(status_kib "$pid" VmRSS)"
  MEMORY[tcp_mem_after]="$(sockstat_tcp mem)"
  kill "$pid"
  wait "$pid" || true
  unset 'PID[memory]'
  rm -f "$object"
}

# ---------------------------------------------------------------------------------------------------------
# Reporting helpers over runs.tsv

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
                                      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

column_median() {  # scenario server column ("total": server + wrk CPU per request)
  awk -F'\t' -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v { print (c == "total" ? $7 + $10 : $c) }' "$RUNS" |
    median
}

column_min() {  # scenario server column
  awk -F'\t' -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v { print $c }' "$RUNS" | sort -g | head -n 1
}

# Median over repeats of one server's CPU/request in one scenario over another scenario, same repeat.
scenario_ratio() {  # scenario reference-scenario server
  awk -F'\t' -v s="$1" -v r="$2" -v v="$3" '
    $1 == s && $2 == v { a[$3] = $7 }
    $1 == r && $2 == v { b[$3] = $7 }
    END { for (k in a) if ((k in b) && b[k] > 0) print a[k] / b[k] }' "$RUNS" | median
}

# Median over repeats of (CPU/request of server) / (CPU/request of reference) within the same repeat.
# With "total", of server + wrk CPU per request.
paired_ratio() {  # scenario server reference [total]
  awk -F'\t' -v s="$1" -v v="$2" -v r="$3" -v t="${4:-}" '
    $1 == s && $2 == v { a[$3] = t == "total" ? $7 + $10 : $7 }
    $1 == s && $2 == r { b[$3] = t == "total" ? $7 + $10 : $7 }
    END { for (k in a) if ((k in b) && b[k] > 0) print a[k] / b[k] }' "$RUNS" | median
}

fmt() {  # printf-format value ("nan" or empty prints "—")
  # shellcheck disable=SC2059  # the format is always a literal at the call site
  if [[ "$2" == nan || -z "$2" ]]; then echo "—"; else LC_ALL=C printf "$1" "$2"; fi
}

verdict() {  # awk-condition value
  if [[ "$2" == nan || -z "$2" ]]; then echo "not measured"; return; fi
  if awk -v x="$2" "BEGIN { exit !($1) }"; then echo "**met**"; else echo "**missed**"; fi
}

div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) print "nan"; else print a / b }'; }

mib() { div "$1" 1024; }  # KiB -> MiB
pages_mib() { awk -v p="$1" -v s="$(getconf PAGESIZE)" 'BEGIN { if (p == "") print "nan"; else print p * s / 1048576 }'; }

# The memory-under-load section, from MEMORY[].
write_memory_report() {
  local per_conn_kib
  per_conn_kib="$(awk -v a="${MEMORY[tcp_mem]}" -v b="${MEMORY[tcp_mem_before]}" -v n="$MEMORY_CONNECTIONS" \
    -v s="$(getconf PAGESIZE)" 'BEGIN { print (a - b) * s / 1024 / n }')"
  echo "| memory: $MEMORY_CONNECTIONS connections, each with an unread 16 MiB GET pending | value |"
  echo "|---|---:|"
  echo "| stored (\`storage_api_stored_bytes\`) | $(fmt '%.2f' "$(div "${MEMORY[stored_pending]}" 1048576)") MiB |"
  echo "| VmRSS idle / with the value stored / all GETs pending / after the clients left |" \
    "$(fmt '%.1f' "$(mib "${MEMORY[rss_idle]}")") / $(fmt '%.1f' "$(mib "${MEMORY[rss_stored]}")") /" \
    "**$(fmt '%.1f' "$(mib "${MEMORY[rss]}")")** / $(fmt '%.1f' "$(mib "${MEMORY[rss_after]}")") MiB |"
  echo "| RssAnon / RssFile with all GETs pending (vs 16 MiB stored) |" \
    "$(fmt '%.1f' "$(mib "${MEMORY[anon]}")") / $(fmt '%.1f' "$(mib "${MEMORY[file]}")") MiB |"
  echo "| VmHWM (peak over the run: the PUT, a check GET, the pending GETs) | $(fmt '%.1f' "$(mib "${MEMORY[hwm]}")") MiB |"
  echo "| connection budget charged (\`storage_api_memory_used_bytes{area=\"connections\"}\`) |" \
    "$(fmt '%.1f' "$(div "${MEMORY[charged]}" 1048576)") MiB |"
  echo "| kernel TCP memory, \`/proc/net/sockstat\` \`mem\` (pages of $(getconf PAGESIZE) B), before / during / after |" \
    "${MEMORY[tcp_mem_before]} / **${MEMORY[tcp_mem]}** / ${MEMORY[tcp_mem_after]} pages" \
    "($(fmt '%.1f' "$(pages_mib "${MEMORY[tcp_mem_before]}")") / $(fmt '%.1f' "$(pages_mib "${MEMORY[tcp_mem]}")") /" \
    "$(fmt '%.1f' "$(pages_mib "${MEMORY[tcp_mem_after]}")") MiB; $(fmt '%.0f' "$per_conn_kib") KiB per connection) |"
  echo "| TCP sockets in use (sockstat \`inuse\`) before / during | ${MEMORY[tcp_inuse_before]} / ${MEMORY[tcp_inuse]} |"
  echo "| server: connections open; clients at the end | ${MEMORY[open]}; ${MEMORY[client]:-—} |"
  echo "| first connect to every GET answered; clients gone to all connections closed | ${MEMORY[wait_ms]} ms; ${MEMORY[close_ms]} ms |"
  echo
  echo "One storage_api (THREADS=1, pinned like the load runs; MAX_CONNECTIONS_PER_CLIENT=0," \
    "MAX_CONNECTIONS=$((MEMORY_CONNECTIONS + 24)), connection budget $(((MEMORY_CONNECTIONS + 24) * 320 / 1024)) MiB," \
    "SOCKET_BUFFER_BYTES 64 KiB, WRITE_TIMEOUT_MS=120s) holds one 16 MiB value; \`bench/unread_clients\` opens" \
    "$MEMORY_CONNECTIONS connections from 127.0.0.1 (SO_RCVBUF 4 KiB), sends \`GET\` of that value on each and" \
    "never reads. Measured once /metrics shows every GET answered (the duration histogram's count) and every" \
    "connection open. A server that copied each answer would need $MEMORY_CONNECTIONS × 16 MiB; each answer here" \
    "is a slice of the one stored value. The kernel's side is outside RSS: each server socket's send queue is" \
    "full (up to twice SO_SNDBUF) and each client's receive queue holds its small window; sockstat counts the" \
    "whole machine, so before/during shows the difference."
}

# The markdown report, from runs.tsv and main's startup/rss_idle/rss_load/metrics_bytes/servers.
write_report() {  # load-before load-after
  local scenario server
  echo "# storage_api load benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Command: \`DURATION=$DURATION REPEATS=$REPEATS CONNECTIONS=$CONNECTIONS CONNECTIONS_1M=$CONNECTIONS_1M" \
    "MEMORY_CONNECTIONS=$MEMORY_CONNECTIONS STARTS=$STARTS bench/run.sh\` on" \
    "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)," \
    "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3)."
  echo "Servers pinned on CPU $SERVER_CPU, wrk (1 thread, $CONNECTIONS connections) on CPU $CLIENT_CPU;" \
    "medians of $REPEATS runs of ${DURATION}s; ratios are medians of per-repeat ratios (same time window)."
  echo "Load average before / after: $1 / $2."
  echo
  echo "| scenario | server | req/s | p50 µs | p99 µs | server CPU µs/req | CPU × nginx | CPU × floor | wrk CPU µs/req | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for scenario in get get304 put metrics close; do
    for server in "${servers[@]}"; do
      [[ -n "$(target "$scenario" "$server")" ]] || continue
      local vs_nginx="—" vs_floor="—" errors
      if [[ $scenario != metrics && $scenario != get304 ]]; then
        vs_nginx="$(fmt '%.2f' "$(paired_ratio "$scenario" "$server" nginx)")"
        vs_floor="$(fmt '%.2f' "$(paired_ratio "$scenario" "$server" floor)")"
      fi
      errors="$(awk -F'\t' -v s="$scenario" -v v="$server" '$1 == s && $2 == v { n += $9 } END { print n + 0 }' "$RUNS")"
      echo "| $scenario | $server | $(fmt '%.0f' "$(column_median "$scenario" "$server" 4)")" \
        "| $(fmt '%.0f' "$(column_median "$scenario" "$server" 5)") | $(fmt '%.0f' "$(column_median "$scenario" "$server" 6)")" \
        "| $(fmt '%.2f' "$(column_median "$scenario" "$server" 7)") | $vs_nginx | $vs_floor" \
        "| $(fmt '%.2f' "$(column_median "$scenario" "$server" 10)") | $errors |"
    done
  done
  echo
  echo "get = keep-alive GET of a 16-byte bucket (nginx, floor: GET of a fixed 16-byte answer); get304 = the same" \
    "GET with the bucket's ETag in If-None-Match, answered 304; put = keep-alive" \
    "PUT of 1 KiB; metrics = GET /metrics after the traffic above plus one request of each usual kind (every" \
    "route, the common refusals); close = GET with \`Connection: close\`, a new TCP connection per request." \
    "errors = non-2xx answers + socket errors over all runs. wrk CPU is the client's, for scale."
  echo
  echo "| 1 MiB GET, $CONNECTIONS_1M connections | server | req/s (= MiB/s of bodies) | p50 µs | p99 µs | server CPU µs/req | CPU × nginx | wrk CPU µs/req | server + wrk µs/req | (server + wrk) × nginx | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for server in "${servers_1m[@]}"; do
    local rps errors
    rps="$(column_median get1m "$server" 4)"
    errors="$(awk -F'\t' -v v="$server" '$1 == "get1m" && $2 == v { n += $9 } END { print n + 0 }' "$RUNS")"
    echo "| get1m | $server | $(fmt '%.0f' "$rps")" \
      "| $(fmt '%.0f' "$(column_median get1m "$server" 5)") | $(fmt '%.0f' "$(column_median get1m "$server" 6)")" \
      "| $(fmt '%.2f' "$(column_median get1m "$server" 7)") | $(fmt '%.2f' "$(paired_ratio get1m "$server" nginx)")" \
      "| $(fmt '%.2f' "$(column_median get1m "$server" 10)") | $(fmt '%.2f' "$(column_median get1m "$server" total)")" \
      "| $(fmt '%.2f' "$(paired_ratio get1m "$server" nginx total)") | $errors |"
  done
  echo
  echo "get1m = keep-alive GET of a 1 MiB object: storage_api and Go answer from the stored value (PUT before" \
    "measuring; storage_api sends the head with sendmsg and the value with sendfile from its memory file), nginx sends a 1 MiB" \
    "static file with \`sendfile on\` (page cache to socket, no copy through user space). $CONNECTIONS_1M" \
    "connections: each answer costs the server hundreds of µs, so a few connections keep it busy; more would" \
    "only add queueing (p99 grows with the connection count) and socket memory. nginx_64k is the same nginx" \
    "on a second port whose sockets have storage_api's 64 KiB SO_SNDBUF (\`listen ... sndbuf=64k\`; nginx's own" \
    "sockets autotune up to tcp_wmem's maximum). On loopback the kernel's transmit work is charged to whichever" \
    "side triggers it: a sender with a large send buffer queues the whole answer in one call, and the segments" \
    "beyond the window are sent while the client's ACKs are processed, in the client's context; so compare" \
    "server + wrk CPU as well as server CPU."
  echo
  echo "| server | RSS idle MiB | RSS after load MiB | start-up, wall ms: median (min–max of $STARTS) | start-up × floor | start-up CPU ms | /metrics bytes |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  local floor_start
  read -r _ _ floor_start _ <<<"${startup[floor]}"
  for server in "${servers[@]}"; do
    local s_med s_min s_max s_cpu
    read -r _ _ s_med _ s_min _ s_max _ _ s_cpu _ <<<"${startup[$server]}"
    echo "| $server | $(fmt '%.2f' "$(div "${rss_idle[$server]}" 1024)") | $(fmt '%.2f' "$(div "${rss_load[$server]}" 1024)")" \
      "| $(fmt '%.2f' "$(div "$s_med" 1000)") ($(fmt '%.2f' "$(div "$s_min" 1000)")–$(fmt '%.2f' "$(div "$s_max" 1000)"))" \
      "| $(fmt '%.2f' "$(div "$s_med" "$floor_start")") | $(fmt '%.2f' "$(div "$s_cpu" 1000)") | ${metrics_bytes[$server]:-—} |"
  done
  echo
  echo "RSS after load includes, for storage_api and Go, the 1 MiB value stored for the 1 MiB GET."
  echo "Start-up: from fork, through exec, to the first 200 answer on a fresh connection (pinned like the load" \
    "runs); start-up CPU is what the server's threads had used by then (schedstat), which other load cannot inflate."
  echo
  write_memory_report
  echo
  local rps1 rps2
  rps1="$(column_median scale threads1 4)"
  rps2="$(column_median scale threads2 4)"
  echo "| scaling (unpinned, wrk -t2 -c$CONNECTIONS, GET 16 B) | req/s | p99 µs | server CPU µs/req | server cores busy | wrk CPU µs/req |"
  echo "|---|---:|---:|---:|---:|---:|"
  for server in threads1 threads2; do
    local rps cpu
    rps="$(column_median scale "$server" 4)"
    cpu="$(column_median scale "$server" 7)"
    echo "| THREADS=${server#threads} | $(fmt '%.0f' "$rps") | $(fmt '%.0f' "$(column_median scale "$server" 6)")" \
      "| $(fmt '%.2f' "$cpu") | $(fmt '%.2f' "$(awk -v r="$rps" -v c="$cpu" 'BEGIN { print r * c / 1e6 }')")" \
      "| $(fmt '%.2f' "$(column_median scale "$server" 10)") |"
  done
  echo
  echo "THREADS=2 serves $(fmt '%.2f' "$(div "$rps2" "$rps1")")× the requests of THREADS=1 at" \
    "$(fmt '%.2f' "$(paired_ratio scale threads2 threads1)")× the server CPU per request. wrk spends about as" \
    "much CPU per request as the server (each side of a loopback exchange runs the kernel's TCP path), so on" \
    "$(nproc) cores a second event loop can only have the CPU time the client and the machine's other load" \
    "leave it: the cores, not the server, are the limit. CPU per request that stays about the same from 1 to 2" \
    "loops shows they do not contend (per-loop listeners with SO_REUSEPORT, per-loop metric shards, a sharded" \
    "store); \"server cores busy\" shows how much CPU the server was actually given."
  echo
  local get_nginx get_floor put_nginx put_floor scrape scrape_go idle_mib start_ms start_cpu
  get_nginx="$(paired_ratio get storage_api nginx)"
  get_floor="$(paired_ratio get storage_api floor)"
  put_nginx="$(paired_ratio put storage_api nginx)"
  put_floor="$(paired_ratio put storage_api floor)"
  local get1m_nginx mem_limit_kib
  get1m_nginx="$(paired_ratio get1m storage_api nginx)"
  mem_limit_kib="$(awk -v s="${MEMORY[stored_pending]}" 'BEGIN { print s / 1024 + 65536 }')"
  scrape="$(column_median metrics storage_api 7)"
  scrape_go="$(column_median metrics go 7)"
  idle_mib="$(div "${rss_idle[storage_api]}" 1024)"
  read -r _ _ start_ms _ _ _ _ _ _ start_cpu _ <<<"${startup[storage_api]}"
  echo "| target (storage_api) | measured | in the same run | verdict |"
  echo "|---|---:|---|---|"
  echo "| server CPU per keep-alive GET ≤ 0.95× nginx | $(fmt '%.2f' "$get_nginx")× | | $(verdict 'x <= 0.95' "$get_nginx") |"
  echo "| server CPU per keep-alive GET ≤ 1.15× floor | $(fmt '%.2f' "$get_floor")× | | $(verdict 'x <= 1.15' "$get_floor") |"
  echo "| server CPU per conditional GET answered 304 ≤ 1.0× a 16-byte GET | $(fmt '%.2f' "$(scenario_ratio get304 get storage_api)")×" \
    "| $(fmt '%.2f' "$(column_median get304 storage_api 7)") µs vs $(fmt '%.2f' "$(column_median get storage_api 7)") µs" \
    "| $(verdict 'x <= 1.0' "$(scenario_ratio get304 get storage_api)") |"
  echo "| server CPU per 1 KiB PUT ≤ 0.95× nginx | $(fmt '%.2f' "$put_nginx")× | | $(verdict 'x <= 0.95' "$put_nginx") |"
  echo "| server CPU per 1 KiB PUT ≤ 1.15× floor | $(fmt '%.2f' "$put_floor")× | | $(verdict 'x <= 1.15' "$put_floor") |"
  # On loopback a sender's CPU depends on its send buffer (see the 1 MiB table's note), so the target is
  # judged like for like: against nginx's sendfile with the same SO_SNDBUF, and as server + client CPU
  # against nginx with its own autotuned buffers. The server's CPU alone against the latter is shown too.
  local get1m_64k get1m_total
  get1m_64k="$(paired_ratio get1m storage_api nginx_64k)"
  get1m_total="$(paired_ratio get1m storage_api nginx total)"
  echo "| server CPU per 1 MiB GET ≤ nginx with sendfile, same 64 KiB SO_SNDBUF | $(fmt '%.2f' "$get1m_64k")× |" \
    "$(fmt '%.1f' "$(column_median get1m storage_api 7)") µs vs $(fmt '%.1f' "$(column_median get1m nginx_64k 7)") µs;" \
    "p99 $(fmt '%.0f' "$(column_median get1m storage_api 6)") µs vs $(fmt '%.0f' "$(column_median get1m nginx_64k 6)") µs" \
    "| $(verdict 'x <= 1.0' "$get1m_64k") |"
  echo "| server + client CPU per 1 MiB GET ≤ nginx with sendfile, its own buffers | $(fmt '%.2f' "$get1m_total")× |" \
    "server CPU alone $(fmt '%.2f' "$get1m_nginx")× ($(fmt '%.1f' "$(column_median get1m storage_api 7)") µs vs" \
    "$(fmt '%.1f' "$(column_median get1m nginx 7)") µs), the client's $(fmt '%.1f' "$(column_median get1m storage_api 10)") µs vs" \
    "$(fmt '%.1f' "$(column_median get1m nginx 10)") µs | $(verdict 'x <= 1.0' "$get1m_total") |"
  echo "| RSS with $MEMORY_CONNECTIONS unread 16 MiB GETs ≤ stored + 64 MiB | $(fmt '%.1f' "$(div "${MEMORY[rss]}" 1024)") MiB" \
    "| stored $(fmt '%.2f' "$(div "${MEMORY[stored_pending]}" 1048576)") MiB, so at most $(fmt '%.1f' "$(div "$mem_limit_kib" 1024)") MiB" \
    "| $(verdict "x <= $mem_limit_kib" "${MEMORY[rss]}") |"
  for scenario in get put; do
    local p99
    p99="$(column_median "$scenario" storage_api 6)"
    echo "| p99 < 1 ms at $CONNECTIONS connections ($scenario) | $(fmt '%.0f' "$p99") µs" \
      "| nginx $(fmt '%.0f' "$(column_median "$scenario" nginx 6)") µs, floor $(fmt '%.0f' "$(column_median "$scenario" floor 6)") µs;" \
      "quietest repeat: $(fmt '%.0f' "$(column_min "$scenario" storage_api 6)") µs (nginx $(fmt '%.0f' "$(column_min "$scenario" nginx 6)")," \
      "floor $(fmt '%.0f' "$(column_min "$scenario" floor 6)"))" \
      "| $(verdict 'x < 1000' "$p99") |"
  done
  echo "| /metrics scrape < 100 µs of CPU (render + TCP) | $(fmt '%.1f' "$scrape") µs | Go $(fmt '%.1f' "$scrape_go") µs" \
    "| $(verdict 'x < 100' "$scrape") |"
  echo "| idle RSS < 2 MiB | $(fmt '%.2f' "$idle_mib") MiB | | $(verdict 'x < 2' "$idle_mib") |"
  echo "| start-up to first answer < 5 ms | $(fmt '%.2f' "$(div "$start_ms" 1000)") ms" \
    "| floor $(fmt '%.2f' "$(div "$floor_start" 1000)") ms; CPU to first answer $(fmt '%.2f' "$(div "$start_cpu" 1000)") ms" \
    "| $(verdict 'x < 5' "$(div "$start_ms" 1000)") |"
  if [[ -n "$GO_REASON" ]]; then
    echo
    echo "Go server: $GO_REASON."
  fi
  echo
  echo "<details><summary>every run: scenario, server, repeat, req/s, p50 µs, p99 µs, server CPU µs/req, requests, errors, wrk CPU µs/req</summary>"
  echo
  echo '```'
  cat "$RUNS"
  echo '```'
  echo "</details>"
}

# ---------------------------------------------------------------------------------------------------------

main() {
  check_tools
  build
  build_go
  local bin="$BUILD_DIR/storage_api" floor="$BUILD_DIR/bench/floor_server"
  local have_go=0
  [[ -z "$GO_REASON" ]] && have_go=1
  local servers=(storage_api nginx floor)
  ((have_go)) && servers=(storage_api nginx go floor)
  # The 1 MiB GET: nginx_64k is the same nginx on a port whose sockets have storage_api's 64 KiB SO_SNDBUF.
  local servers_1m=(storage_api nginx nginx_64k)
  ((have_go)) && servers_1m+=(go)
  local load_before
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
  log "work dir $WORK; $REPEATS x ${DURATION}s per scenario and server, $CONNECTIONS connections"

  # Start-up to first answer, each server exec'd on SERVER_CPU, probed from CLIENT_CPU.
  declare -A startup=()
  write_nginx_conf "$WORK/nginx-startup" "$PORT_STARTUP"
  local -a nginx_startup
  mapfile -t nginx_startup < <(nginx_command "$WORK/nginx-startup")
  log "start-up: $STARTS starts per server"
  startup[storage_api]="$(probe_startup /healthz env PORT="$PORT_STARTUP" HOST=127.0.0.1 THREADS=1 LOG_LEVEL=warn \
    -- "$bin")"
  startup[nginx]="$(probe_startup / env -- "${nginx_startup[@]}")"
  startup[floor]="$(probe_startup / env -- "$floor" "$PORT_STARTUP")"
  ((have_go)) && startup[go]="$(probe_startup /healthz env PORT="$PORT_STARTUP" GOMAXPROCS=1 -- "$BUILD_DIR/go_server")"

  # The servers under load, all on SERVER_CPU; idle ones cost nothing while another is measured.
  write_nginx_conf "$WORK/nginx" "$PORT_NGINX" "$PORT_NGINX_64K"
  local file1m="$WORK/nginx/www/file1m"
  head -c "$OBJECT_1M" /dev/urandom >"$file1m"
  local -a nginx_load
  mapfile -t nginx_load < <(nginx_command "$WORK/nginx")
  start_server storage_api "$PORT_STORAGE" /healthz "$SERVER_CPU" \
    env PORT="$PORT_STORAGE" HOST=127.0.0.1 THREADS=1 LOG_LEVEL=warn "$bin"
  start_server nginx "$PORT_NGINX" / "$SERVER_CPU" "${nginx_load[@]}"
  start_server floor "$PORT_FLOOR" / "$SERVER_CPU" "$floor" "$PORT_FLOOR"
  start_server floor_close "$PORT_FLOOR_CLOSE" / "$SERVER_CPU" "$floor" "$PORT_FLOOR_CLOSE" close
  ((have_go)) && start_server go "$PORT_GO" /healthz "$SERVER_CPU" env PORT="$PORT_GO" GOMAXPROCS=1 "$BUILD_DIR/go_server"

  declare -A rss_idle=() rss_load=()
  local server scenario repeat pid url
  for server in "${servers[@]}"; do rss_idle[$server]="$(rss_kib "${PID[$server]}")"; done

  # The 16-byte bucket the GET scenarios read.
  for server in storage_api go; do
    [[ -v "PID[$server]" ]] || continue
    local port=$PORT_STORAGE
    [[ $server == go ]] && port=$PORT_GO
    curl -sf -X PUT --data-binary 0123456789abcdef "http://127.0.0.1:$port/api/buckets/bench16" >/dev/null ||
      die "$server: seeding the bucket failed"
    [[ "$(curl -sf "http://127.0.0.1:$port/api/buckets/bench16")" == 0123456789abcdef ]] ||
      die "$server: the bucket does not read back"
  done
  ETAG16="$(curl -sfI "http://127.0.0.1:$PORT_STORAGE/api/buckets/bench16" | awk -F': ' 'tolower($1) == "etag" { sub(/\r$/, "", $2); print $2 }')"
  [[ -n "$ETAG16" ]] || die "storage_api: the bucket has no ETag"
  [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG16" "http://127.0.0.1:$PORT_STORAGE/api/buckets/bench16")" == 304 ]] ||
    die "storage_api: a conditional GET with the bucket's ETag is not answered 304"

  # The 1 MiB value, the same bytes nginx serves from its file.
  for server in storage_api go; do
    [[ -v "PID[$server]" ]] || continue
    local port=$PORT_STORAGE
    [[ $server == go ]] && port=$PORT_GO
    curl -sf -X PUT --data-binary @"$file1m" "http://127.0.0.1:$port/api/buckets/bench1m" >/dev/null ||
      die "$server: storing the 1 MiB value failed"
  done
  for server in "${servers_1m[@]}"; do
    read -r pid url < <(target get1m "$server")
    curl -sf --max-time 5 "$url" | cmp -s - "$file1m" || die "$server: GET $url does not return the 1 MiB object"
  done

  varied_traffic "$PORT_STORAGE"
  ((have_go)) && varied_traffic "$PORT_GO"

  : >"$RUNS"
  local -a extra
  log "warm-up: ${WARMUP}s per server"
  for server in "${servers[@]}"; do
    read -r pid url < <(target get "$server")
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
  done
  for server in "${servers_1m[@]}"; do
    read -r pid url < <(target get1m "$server")
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS_1M" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
  done

  # Repeats outermost, servers innermost: every server is measured in each window of machine noise, and
  # ratios are taken within a repeat.
  for ((repeat = 1; repeat <= REPEATS; repeat++)); do
    for scenario in get get304 put metrics close get1m; do
      mapfile -t extra < <(wrk_args "$scenario")
      local -a who=("${servers[@]}")
      [[ $scenario == get1m ]] && who=("${servers_1m[@]}")
      for server in "${who[@]}"; do
        [[ -n "$(target "$scenario" "$server")" ]] || continue
        read -r pid url < <(target "$scenario" "$server")
        measure "$scenario" "$server" "$repeat" "$pid" "$url" "$CLIENT_CPU" 1 "${extra[@]}"
      done
    done
  done
  for server in "${servers[@]}"; do rss_load[$server]="$(rss_kib "${PID[$server]}")"; done
  declare -A metrics_bytes=()
  metrics_bytes[storage_api]="$(curl -s "http://127.0.0.1:$PORT_STORAGE/metrics" | wc -c)"
  ((have_go)) && metrics_bytes[go]="$(curl -s "http://127.0.0.1:$PORT_GO/metrics" | wc -c)"

  # Scaling: 1 vs 2 event loops, nothing pinned, wrk with two threads.
  log "scaling: THREADS=1 vs THREADS=2, unpinned"
  start_server threads1 "$PORT_THREADS1" /healthz "" env PORT="$PORT_THREADS1" HOST=127.0.0.1 THREADS=1 LOG_LEVEL=warn "$bin"
  start_server threads2 "$PORT_THREADS2" /healthz "" env PORT="$PORT_THREADS2" HOST=127.0.0.1 THREADS=2 LOG_LEVEL=warn "$bin"
  for server in threads1 threads2; do
    local port=$PORT_THREADS1
    [[ $server == threads2 ]] && port=$PORT_THREADS2
    curl -sf -X PUT --data-binary 0123456789abcdef "http://127.0.0.1:$port/api/buckets/bench16" >/dev/null
  done
  for ((repeat = 1; repeat <= REPEATS; repeat++)); do
    measure scale threads1 "$repeat" "${PID[threads1]}" "http://127.0.0.1:$PORT_THREADS1/api/buckets/bench16" "" 2
    measure scale threads2 "$repeat" "${PID[threads2]}" "http://127.0.0.1:$PORT_THREADS2/api/buckets/bench16" "" 2
  done

  memory_under_load "$bin"
  local load_after
  load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

  # ------------------------------------------------------------------------------------------------------
  mkdir -p "$RESULTS_DIR"
  local report
  report="$RESULTS_DIR/bench-$(date -u +%Y%m%dT%H%M%SZ).md"
  write_report "$load_before" "$load_after" >"$report"

  if [[ "$MICRO" == 1 ]]; then
    log "micro-benchmarks (5 repetitions, interleaved)"
    timeout 900 "$BUILD_DIR/bench/storage_api_micro_bench" --benchmark_repetitions=5 \
      --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true \
      >"$WORK/micro.txt" 2>&1 || { cat "$WORK/micro.txt" >&2; die "micro-benchmarks failed"; }
    {
      echo
      echo "## Micro-benchmarks"
      echo
      echo '```'
      sed '/^## Ratios/,$d' "$WORK/micro.txt"
      echo '```'
      sed -n '/^## Ratios/,$p' "$WORK/micro.txt" | sed '1s/^## /### /'
    } >>"$report"
  fi

  cat "$report"
  log "written to $report"
}

main "$@"
