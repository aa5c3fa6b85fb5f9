#!/usr/bin/env bash
# generate_traffic.sh: load for storage_api so that its dashboard has something to show.
#
# Default (the original behaviour): for every id in 1..1000, PUT a small body, GET it back and DELETE it,
# with 8 workers in parallel, against http://localhost:5000, once. Options (or the environment variables
# in brackets) change the target, repeat the run for a number of iterations or a duration, change the
# parallelism, and mix in a share of requests that the service must refuse (404, 400, 413), so that the
# status-code graphs show more than one line. Every request is bounded by curl's --max-time, and a
# duration ends the run. A summary of the statuses is printed at the end. Where the service wants bearer
# tokens (WRITE_TOKEN_FILE, READ_TOKEN_FILE), --token-file or TOKEN sends one with every request; it goes
# to curl through its config on stdin, never on a command line.
#
# Exit status: 0 when every request got an HTTP answer that is not a 5xx, 1 otherwise, 2 for bad usage
# or an unreachable service.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: generate_traffic.sh [options]

  -u, --base-url URL       service base URL                     [BASE_URL]       http://localhost:5000
  -n, --iterations N       passes over the id range (0: only --duration bounds the run)
                                                                [ITERATIONS]     1
  -d, --duration SECONDS   stop starting new work after this many seconds (0: no limit)
                                                                [DURATION]       0
  -p, --parallel N         concurrent workers                   [PARALLEL]       8
  -i, --ids N              ids 1..N                             [IDS]            1000
  -e, --error-share PCT    percent of all requests (0-90) that provoke 404 (GET of an unknown id),
                           400 (DELETE of an unknown id) and 413 (PUT over the body limit), in turn
                                                                [ERROR_SHARE]    0
  -m, --max-body-bytes N   the service's MAX_BODY_BYTES; 413 requests announce one byte more
                           (plain bytes or Ki/Mi/Gi)            [MAX_BODY_BYTES] 64Mi
  -w, --wait SECONDS       how long to wait for /healthz to answer before giving up
                                                                [WAIT]           10
  -t, --timeout SECONDS    per-request limit (curl --max-time)  [REQUEST_TIMEOUT] 10
  -k, --token-file FILE    send "Authorization: Bearer <token>", the first token of FILE (the service's
                           format: one per line, # comments)  [TOKEN_FILE]     none
      --token TOKEN        the same with the token itself; visible to other users in ps, so prefer
                           TOKEN=... or --token-file         [TOKEN]          none
  -q, --quiet              print only the summary
  -h, --help               this text
EOF
}

die_usage() { echo "generate_traffic.sh: $*" >&2; echo "Try --help." >&2; exit 2; }

base_url=${BASE_URL:-http://localhost:5000}
iterations=${ITERATIONS:-1}
duration=${DURATION:-0}
parallel=${PARALLEL:-8}
ids=${IDS:-1000}
error_share=${ERROR_SHARE:-0}
max_body=${MAX_BODY_BYTES:-64Mi}
wait_seconds=${WAIT:-10}
request_timeout=${REQUEST_TIMEOUT:-10}
token=${TOKEN:-}
token_file=${TOKEN_FILE:-}
quiet=0

while (($#)); do
  case $1 in
    -u|--base-url) base_url=${2:?}; shift 2 ;;
    -n|--iterations) iterations=${2:?}; shift 2 ;;
    -d|--duration) duration=${2:?}; shift 2 ;;
    -p|--parallel) parallel=${2:?}; shift 2 ;;
    -i|--ids) ids=${2:?}; shift 2 ;;
    -e|--error-share) error_share=${2:?}; shift 2 ;;
    -m|--max-body-bytes) max_body=${2:?}; shift 2 ;;
    -w|--wait) wait_seconds=${2:?}; shift 2 ;;
    -t|--timeout) request_timeout=${2:?}; shift 2 ;;
    -k|--token-file) token_file=${2:?}; shift 2 ;;
    --token) token=${2:?}; shift 2 ;;
    -q|--quiet) quiet=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    *) die_usage "unknown argument: $1" ;;
  esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for pair in "iterations:$iterations" "duration:$duration" "parallel:$parallel" "ids:$ids" \
            "error-share:$error_share" "wait:$wait_seconds" "timeout:$request_timeout"; do
  is_uint "${pair#*:}" || die_usage "--${pair%%:*} must be a non-negative integer, got '${pair#*:}'"
done
((parallel >= 1)) || die_usage "--parallel must be at least 1"
((ids >= 1)) || die_usage "--ids must be at least 1"
((error_share <= 90)) || die_usage "--error-share must be at most 90"
((request_timeout >= 1)) || die_usage "--timeout must be at least 1"
((iterations > 0 || duration > 0)) || die_usage "--iterations 0 needs a --duration"

# Sizes as the service accepts them: plain bytes or a binary suffix.
to_bytes() {
  local value=$1 number unit
  [[ $value =~ ^([0-9]+)([KMG]?)(i?B?)?$ ]] || return 1
  number=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
  case $unit in
    K) echo $((number << 10)) ;;
    M) echo $((number << 20)) ;;
    G) echo $((number << 30)) ;;
    *) echo "$number" ;;
  esac
}
max_body_bytes=$(to_bytes "$max_body") || die_usage "--max-body-bytes: not a size: '$max_body'"

# The first token of a token file: blank lines and # comment lines skipped, surrounding whitespace trimmed.
first_token() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    line=${line#"${line%%[![:space:]]*}"}
    line=${line%"${line##*[![:space:]]}"}
    [[ -z $line || $line == '#'* ]] && continue
    printf '%s' "$line"
    return 0
  done <"$1"
  return 1
}
if [[ -n $token_file ]]; then
  [[ -r $token_file ]] || die_usage "--token-file: cannot read '$token_file'"
  token=$(first_token "$token_file") || die_usage "--token-file: no token in '$token_file'"
fi
# An RFC 6750 b64token, which also keeps it from breaking out of the quoted curl config line below. The
# messages never show the token.
if [[ -n $token && ! $token =~ ^[A-Za-z0-9._~+/-]+=*$ ]]; then
  die_usage "the token has characters a bearer token cannot have (letters, digits, -._~+/ and trailing =)"
fi
base_url=${base_url%/}

command -v curl >/dev/null || { echo "generate_traffic.sh: curl is required but not installed" >&2; exit 2; }

say() { ((quiet)) || echo "$@"; }

# The service must answer before any load is sent: /healthz is 200, or 404 where the service serves its
# health endpoints on a separate admin port (ADMIN_PORT) and this port only the buckets.
health_status() { curl -sS -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 "$base_url/healthz" 2>/dev/null; }
deadline=$((SECONDS + wait_seconds))
until [[ $(health_status) =~ ^(200|404)$ ]]; do
  if ((SECONDS >= deadline)); then
    echo "generate_traffic.sh: $base_url/healthz does not answer (waited ${wait_seconds}s)" >&2
    exit 2
  fi
  sleep 0.5
done

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/generate_traffic.XXXXXX")
worker_pids=()
cleanup() {
  local pid
  for pid in "${worker_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The 413 body: a sparse file one byte over the limit. curl announces its length and waits for
# "100 Continue"; the service answers 413 at once, so the file is never read.
oversize_file=$work_dir/oversize.bin
truncate -s $((max_body_bytes + 1)) "$oversize_file"

stop_at=0
((duration > 0)) && stop_at=$((SECONDS + duration))
batch_ids=50  # ids per curl process: 150+ requests over one keep-alive connection

# Appends one request to $config (a curl config read from stdin); its "METHOD STATUS" line goes to
# stdout. Entries after the first start with "next", which resets the per-request options.
add_request() {  # method url [extra config line]
  [[ -n $config ]] && config+=$'next\n'
  config+="url = \"$2\""$'\n'"request = \"$1\""$'\n'
  config+="output = \"/dev/null\""$'\n'"write-out = \"$1 %{http_code}\\n\""$'\n'
  if [[ -n $token ]]; then config+="header = \"Authorization: Bearer $token\""$'\n'; fi
  if [[ -n ${3:-} ]]; then config+="$3"$'\n'; fi
}

add_error_request() {  # kind id
  case $(($1 % 3)) in
    0) add_request GET "$base_url/api/buckets/missing-$2" ;;
    1) add_request DELETE "$base_url/api/buckets/missing-$2" ;;
    2) add_request PUT "$base_url/api/buckets/oversize-$2" "upload-file = \"$oversize_file\"" ;;
  esac
}

# A worker owns ids w+1, w+1+P, ... so that PUT, GET and DELETE of one id stay in order and no two
# workers touch the same id. Errors are spread evenly: each normal request earns error_share credits,
# and every (100 - error_share) credits buy one error request.
run_worker() {
  local worker=$1 out=$2 iteration=0 id credit=0 error_kind=$1 in_batch
  local config
  while ((iterations == 0 || iteration < iterations)) && ((stop_at == 0 || SECONDS < stop_at)); do
    iteration=$((iteration + 1))
    id=$((worker + 1))
    while ((id <= ids)) && ((stop_at == 0 || SECONDS < stop_at)); do
      config=""
      in_batch=0
      while ((id <= ids && in_batch < batch_ids)); do
        add_request PUT "$base_url/api/buckets/$id" \
          "data-binary = \"storage_api traffic: id $id, pass $iteration\""
        add_request GET "$base_url/api/buckets/$id"
        add_request DELETE "$base_url/api/buckets/$id"
        credit=$((credit + 3 * error_share))
        while ((error_share > 0 && credit >= 100 - error_share)); do
          credit=$((credit - (100 - error_share)))
          add_error_request "$error_kind" "$id"
          error_kind=$((error_kind + 1))
        done
        id=$((id + parallel))
        in_batch=$((in_batch + 1))
      done
      # A failed transfer still writes its line (status 000), so curl's exit status adds nothing. With a
      # duration, the whole batch ends at the deadline plus one request's time, however slow the service.
      local batch_limit=0
      ((stop_at == 0)) || batch_limit=$((stop_at - SECONDS + request_timeout))
      timeout --kill-after=2 "$batch_limit" \
        curl --silent --show-error --connect-timeout 3 --max-time "$request_timeout" --config - \
        <<<"$config" >>"$out" 2>>"$work_dir/curl-errors.log" || true
    done
  done
}

say "generate_traffic.sh: $base_url, ids 1..$ids, $parallel workers," \
    "iterations $( ((iterations == 0)) && echo unlimited || echo "$iterations")," \
    "duration $( ((duration == 0)) && echo unlimited || echo "${duration}s")," \
    "error share ${error_share}%$([[ -n $token ]] && echo ", with a bearer token")"

start=$SECONDS
for ((w = 0; w < parallel; w++)); do
  run_worker "$w" "$work_dir/worker-$w.out" &
  worker_pids+=("$!")
done
for pid in "${worker_pids[@]}"; do wait "$pid"; done
worker_pids=()
elapsed=$((SECONDS - start))

cat "$work_dir"/worker-*.out >"$work_dir/all.out" 2>/dev/null || true
total=$(wc -l <"$work_dir/all.out")
transport_failures=$(grep -c ' 000$' "$work_dir/all.out" || true)
server_errors=$(grep -cE ' 5[0-9][0-9]$' "$work_dir/all.out" || true)
unauthorized=$(grep -c ' 401$' "$work_dir/all.out" || true)

echo "generate_traffic.sh: $total requests in ${elapsed}s" \
     "($(( total / (elapsed > 0 ? elapsed : 1) )) req/s)"
echo "  count  method  status"
sort "$work_dir/all.out" | uniq -c | sort -k2,2 -k3,3n |
  awk '{ printf "  %5d  %-6s  %s%s\n", $1, $2, $3, ($3 == "000" ? " (no answer)" : "") }'
if [[ -s $work_dir/curl-errors.log ]]; then
  echo "  curl errors (first 5):"
  sort "$work_dir/curl-errors.log" | uniq -c | sort -rn | head -n 5 | sed 's/^/    /'
fi
if ((unauthorized > 0)); then
  echo "  401: the service wants a bearer token for these requests$([[ -n $token ]] && echo " (the one sent was refused)" || echo " (--token-file or TOKEN)")"
fi
if ((transport_failures > 0 || server_errors > 0)); then
  echo "generate_traffic.sh: FAILED: $transport_failures requests without an answer," \
       "$server_errors answers with 5xx" >&2
  exit 1
fi
