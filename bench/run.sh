#!/usr/bin/env bash
# Load benchmark of storage_api against nginx (fixed `return 200`), a Go net/http + client_golang
# implementation of the same API (when it builds offline) and a minimal epoll "floor" server, all in one
# run with the server on one core and wrk on the other; then start-up time, RSS, 1-vs-2 thread scaling and
# the micro-benchmarks. Loopback only; every step is bounded in time. See bench/README.md.
#
# Settings (environment): DURATION=5 (s per wrk run), REPEATS=5, CONNECTIONS=64, WARMUP=1 (s), STARTS=20,
# SERVER_CPU=0, CLIENT_CPU=1, BASE_PORT=18400, MICRO=1 (0 skips the micro-benchmarks), GO=1 (0 skips Go),
# BUILD_DIR (default ${TMPDIR:-/tmp}/storage_api-bench-build), RESULTS_DIR (default bench/results).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly DURATION="${DURATION:-5}"
readonly REPEATS="${REPEATS:-5}"
readonly CONNECTIONS="${CONNECTIONS:-64}"
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

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storage_api-bench.XXXXXX")"
readonly WORK
readonly RUNS="$WORK/runs.tsv"
declare -A PID=()
GO_REASON=""

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
  cmake --build "$BUILD_DIR" -j "$(nproc)" \
    --target storage_api storage_api_micro_bench floor_server startup_probe >"$WORK/build.log" 2>&1 ||
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

write_nginx_conf() {  # dir port
  mkdir -p "$1"
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
  }
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
  "${pin[@]}" timeout $((DURATION + 20)) wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 2s \
    --latency "$@" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed: $scenario $server"; }
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
  local bucket=/api/buckets/bench16 put=/api/buckets/put1k
  case "$2:$1" in
    storage_api:get | storage_api:close) echo "${PID[storage_api]} http://127.0.0.1:$PORT_STORAGE$bucket" ;;
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
  esac
}

# ---------------------------------------------------------------------------------------------------------
# Reporting helpers over runs.tsv

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
                                      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

column_median() {  # scenario server column
  awk -F'\t' -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v { print $c }' "$RUNS" | median
}

column_min() {  # scenario server column
  awk -F'\t' -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v { print $c }' "$RUNS" | sort -g | head -n 1
}

# Median over repeats of (CPU/request of server) / (CPU/request of reference) within the same repeat.
paired_ratio() {  # scenario server reference
  awk -F'\t' -v s="$1" -v v="$2" -v r="$3" '
    $1 == s && $2 == v { a[$3] = $7 }
    $1 == s && $2 == r { b[$3] = $7 }
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

# The markdown report, from runs.tsv and main's startup/rss_idle/rss_load/metrics_bytes/servers.
write_report() {  # load-before load-after
  local scenario server
  echo "# storage_api load benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Command: \`DURATION=$DURATION REPEATS=$REPEATS CONNECTIONS=$CONNECTIONS STARTS=$STARTS bench/run.sh\` on" \
    "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)," \
    "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3)."
  echo "Servers pinned on CPU $SERVER_CPU, wrk (1 thread, $CONNECTIONS connections) on CPU $CLIENT_CPU;" \
    "medians of $REPEATS runs of ${DURATION}s; ratios are medians of per-repeat ratios (same time window)."
  echo "Load average before / after: $1 / $2."
  echo
  echo "| scenario | server | req/s | p50 µs | p99 µs | server CPU µs/req | CPU × nginx | CPU × floor | wrk CPU µs/req | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for scenario in get put metrics close; do
    for server in "${servers[@]}"; do
      [[ -n "$(target "$scenario" "$server")" ]] || continue
      local vs_nginx="—" vs_floor="—" errors
      if [[ $scenario != metrics ]]; then
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
  echo "get = keep-alive GET of a 16-byte bucket (nginx, floor: GET of a fixed 16-byte answer); put = keep-alive" \
    "PUT of 1 KiB; metrics = GET /metrics after the traffic above plus one request of each usual kind (every" \
    "route, the common refusals); close = GET with \`Connection: close\`, a new TCP connection per request." \
    "errors = non-2xx answers + socket errors over all runs. wrk CPU is the client's, for scale."
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
  echo "Start-up: from fork, through exec, to the first 200 answer on a fresh connection (pinned like the load" \
    "runs); start-up CPU is what the server's threads had used by then (schedstat), which other load cannot inflate."
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
  scrape="$(column_median metrics storage_api 7)"
  scrape_go="$(column_median metrics go 7)"
  idle_mib="$(div "${rss_idle[storage_api]}" 1024)"
  read -r _ _ start_ms _ _ _ _ _ _ start_cpu _ <<<"${startup[storage_api]}"
  echo "| target (storage_api) | measured | in the same run | verdict |"
  echo "|---|---:|---|---|"
  echo "| server CPU per keep-alive GET ≤ nginx | $(fmt '%.2f' "$get_nginx")× | | $(verdict 'x <= 1.0' "$get_nginx") |"
  echo "| server CPU per keep-alive GET ≤ 1.15× floor | $(fmt '%.2f' "$get_floor")× | | $(verdict 'x <= 1.15' "$get_floor") |"
  echo "| server CPU per 1 KiB PUT ≤ nginx | $(fmt '%.2f' "$put_nginx")× | | $(verdict 'x <= 1.0' "$put_nginx") |"
  echo "| server CPU per 1 KiB PUT ≤ 1.15× floor | $(fmt '%.2f' "$put_floor")× | | $(verdict 'x <= 1.15' "$put_floor") |"
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
  write_nginx_conf "$WORK/nginx" "$PORT_NGINX"
  local -a nginx_load
  mapfile -t nginx_load < <(nginx_command "$WORK/nginx")
  start_server storage_api "$PORT_STORAGE" /healthz "$SERVER_CPU" \
    env PORT="$PORT_STORAGE" HOST=127.0.0.1 THREADS=1 LOG_LEVEL=warn "$bin"
  start_server nginx "$PORT_NGINX" / "$SERVER_CPU" "${nginx_load[@]}"
  start_server floor "$PORT_FLOOR" / "$SERVER_CPU" "$floor" "$PORT_FLOOR"
  start_server floor_close "$PORT_FLOOR_CLOSE" / "$SERVER_CPU" "$floor" "$PORT_FLOOR_CLOSE" close
  ((have_go)) && start_server go "$PORT_GO" /healthz "$SERVER_CPU" env PORT="$PORT_GO" GOMAXPROCS=1 "$BUILD_DIR/go_server"

  declare -A rss_idle=() rss_load=()
  local server
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

  varied_traffic "$PORT_STORAGE"
  ((have_go)) && varied_traffic "$PORT_GO"

  : >"$RUNS"
  local scenario repeat pid url
  local -a extra
  log "warm-up: ${WARMUP}s per server"
  for server in "${servers[@]}"; do
    read -r pid url < <(target get "$server")
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
  done

  # Repeats outermost, servers innermost: every server is measured in each window of machine noise, and
  # ratios are taken within a repeat.
  for ((repeat = 1; repeat <= REPEATS; repeat++)); do
    for scenario in get put metrics close; do
      mapfile -t extra < <(wrk_args "$scenario")
      for server in "${servers[@]}"; do
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
