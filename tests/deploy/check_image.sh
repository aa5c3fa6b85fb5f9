#!/usr/bin/env bash
# The container image and docker compose, for real:
#   1. builds the image with the legacy builder and (where the client offers it) with BuildKit;
#   2. checks it: user 65532, no shell, size under 4 MiB, HEALTHCHECK, EXPOSE, OCI labels, file list, an
#      empty /data owned by 65532 with mode 0700, no DATA_DIR in its environment;
#   3. runs it read-only with every capability dropped and no volume (memory only), waits for "healthy",
#      talks to it (PUT, GET, DELETE, /metrics) and stops it with SIGTERM (exit 0); then with a named
#      volume at /data and DATA_DIR=/data: a PUT survives `docker restart`, the volume's files are the
#      service's (65532), the "recovered" log line counts the object, and a second container on the same
#      volume is refused (exit 2, the log's lock);
#   4. docker compose up storage_api + prometheus (no Grafana image exists without a registry) under a
#      unique project name and free ports: the compose security settings of both (read-only, no
#      capabilities, no-new-privileges, memory and pids limits, health checks turning healthy), the data
#      port serving the buckets and the admin port /metrics and /readyz (and not the reverse), the memory
#      budget following the 512m limit, Prometheus scraping the admin port and loading every rule,
#      generate_traffic.sh against the published port moving the counters in Prometheus by exactly the
#      requests sent; then storage_api is killed (SIGKILL, as the OOM killer does), Docker restarts it,
#      StorageApiRestarted fires while StorageApiTargetDown does not, and the store comes back from its
#      log in the storage-data volume (the object, every bucket counted before the kill, files owned by
#      65532); the traffic profile runs; a recreated storage_api container still serves the object; down -v
#      removes the volume.
#
# Uses ../shared/tools/container-lab.sh (beside the checkout) when no engine answers. If no engine can
# be started, prints a SKIPPED banner and exits 0: the only check that may skip.
# Environment: BUILDER (build-stage image; default: container-lab/debian-build:bookworm when present,
# else the Dockerfile's debian:bookworm-slim), PROMETHEUS_IMAGE (default: the pinned image when present,
# else the container lab's stand-in), CHECK_IMAGE_COMPOSE_OVERRIDE (an extra compose file merged over
# docker-compose.yml, e.g. to try a stand-in image; its services must keep the same names).
# shellcheck disable=SC2317  # functions run through trap, check and poll
set -euo pipefail
export CHECK_NAME=check_image
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools curl python3

work=$(mktemp -d "${TMPDIR:-/tmp}/check_image.XXXXXX")
run_id=$$
tag=storage-api:check-$run_id
buildkit_tag=storage-api:check-buildkit-$run_id
container=storage-api-check-$run_id
volume=storage-api-check-$run_id-data
project=storageapicheck$run_id
compose_started=0
compose_env=()
created_images=()


compose_files=(-f "$REPO_ROOT/docker-compose.yml")
if [[ -n ${CHECK_IMAGE_COMPOSE_OVERRIDE:-} ]]; then compose_files+=(-f "$CHECK_IMAGE_COMPOSE_OVERRIDE"); fi
compose() { "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" "$@"; }

cleanup() {
  set +e
  docker rm -f "$container" "$container-attack" "$container-tokens" "$container-durable" "$container-second" >/dev/null 2>&1
  docker volume rm "$volume" >/dev/null 2>&1
  if ((compose_started)); then
    env "${compose_env[@]}" "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" \
      --profile traffic down -v --remove-orphans >/dev/null 2>&1
  fi
  # Removes the tags and their runtime-stage layers; the build-stage cache stays for the next run.
  for image in "${created_images[@]}"; do docker rmi "$image" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------------- engine
require_container_engine "The image, container and compose checks" "$work"
log "engine: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
builder=${BUILDER:-}
lab_builder="container-lab/debian-build:bookworm"
if [[ -z $builder ]] && image_exists "$lab_builder"; then builder=$lab_builder; fi
build_args=()
if [[ -n $builder ]]; then build_args=(--build-arg "BUILDER=$builder"); fi
if [[ -n $builder ]]; then
  log "build stage: $builder"
else
  log "build stage: the Dockerfile default debian:bookworm-slim (apt-get installs the toolchain)"
fi

# ------------------------------------------------------------------------------------------- builds
log "legacy builder: docker build -t $tag"
created_images+=("$tag")
if ! DOCKER_BUILDKIT=0 timeout 1200 docker build "${build_args[@]}" \
    --build-arg "REVISION=check-$run_id" -t "$tag" "$REPO_ROOT" >"$work/build-legacy.log" 2>&1; then
  tail -n 40 "$work/build-legacy.log"
  die "the legacy builder failed to build the image"
fi
pass "the image builds with the legacy builder"

# BuildKit: Debian's 20.10 client has it built in; a newer client needs the buildx plugin.
buildkit=()
if [[ -x /usr/bin/docker ]] && DOCKER_BUILDKIT=1 /usr/bin/docker build --help 2>/dev/null | grep -q -- '--secret'; then
  buildkit=(env DOCKER_BUILDKIT=1 /usr/bin/docker build)
elif docker buildx version >/dev/null 2>&1; then
  buildkit=(docker buildx build --load)
fi
if ((${#buildkit[@]} > 0)); then
  log "BuildKit: ${buildkit[*]} -t $buildkit_tag"
  created_images+=("$buildkit_tag")
  if timeout 1200 "${buildkit[@]}" "${build_args[@]}" -t "$buildkit_tag" "$REPO_ROOT" >"$work/build-buildkit.log" 2>&1; then
    pass "the image builds with BuildKit"
    check "BuildKit image: user 65532:65532" test "$(docker image inspect -f '{{.Config.User}}' "$buildkit_tag")" = 65532:65532
    check "BuildKit image: the binary runs (--help)" eval "docker run --rm '$buildkit_tag' --help >/dev/null"
    bk_size=$(docker image inspect -f '{{.Size}}' "$buildkit_tag")
    check "BuildKit image: $bk_size bytes, under 4 MiB" test "$bk_size" -lt $((4 * 1024 * 1024))
  else
    tail -n 40 "$work/build-buildkit.log"
    fail "the image builds with BuildKit"
  fi
else
  log "BuildKit: no client with BuildKit here (neither Debian's /usr/bin/docker nor buildx); legacy builder only"
fi

# ------------------------------------------------------------------------------------------- image
inspect() { docker image inspect -f "$1" "$tag"; }
check "user is 65532:65532" test "$(inspect '{{.Config.User}}')" = 65532:65532
check "entrypoint is /storage_api" test "$(inspect '{{json .Config.Entrypoint}}')" = '["/storage_api"]'
check "HEALTHCHECK runs storage_api --healthcheck" \
  test "$(inspect '{{json .Config.Healthcheck.Test}}')" = '["CMD","/storage_api","--healthcheck"]'
# shellcheck disable=SC2016  # a Go template, not shell
check "EXPOSE 5000/tcp" test "$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')" = "5000/tcp "
for label in title description version revision created base.name; do
  check "OCI label org.opencontainers.image.$label" \
    test -n "$(inspect "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")"
done
size=$(inspect '{{.Size}}')
log "image size: $size bytes ($(python3 -c "print(f'{$size / 1048576:.2f}')") MiB)"
check "image size $size bytes is under 4 MiB" test "$size" -lt $((4 * 1024 * 1024))

created=$(docker create "$tag")
docker export "$created" | tar -tvf - >"$work/files.txt"
docker rm "$created" >/dev/null
no_shell_files() { ! awk '{ print $NF }' "$work/files.txt" | grep -Eq '(^|/)(sh|bash|dash|ash|busybox)$'; }
check "the filesystem has no shell (sh, bash, dash, ash, busybox)" no_shell_files
check "the binary is /storage_api, owned by root and not writable by others" \
  grep -Eq '^-rwxr-xr-x root/root .* storage_api$|^-rwxr-xr-x 0/0 .* storage_api$' "$work/files.txt"
check "/data is an empty directory of 65532:65532, mode 0700 (a named volume there inherits it)" \
  eval "grep -Eq '^drwx------ (nonroot/nonroot|65532/65532) .* data/\$' '$work/files.txt' && ! grep -Eq ' data/.' '$work/files.txt'"
check "the image does not set DATA_DIR (without a volume it runs memory-only)" \
  eval "! docker image inspect -f '{{json .Config.Env}}' '$tag' | grep -q DATA_DIR="
if run_err=$(docker run --rm --entrypoint /bin/sh "$tag" -c 'echo shell' 2>&1); then
  fail "docker run --entrypoint /bin/sh fails (it ran: $run_err)"
else
  pass "docker run --entrypoint /bin/sh fails ($(grep -o 'stat /bin/sh[^"]*' <<<"$run_err" | head -n 1 || true))"
fi

# ------------------------------------------------------------------------------------------- container
log "docker run --read-only --cap-drop ALL --security-opt no-new-privileges $tag"
docker run -d --name "$container" -p 127.0.0.1::5000 --read-only --cap-drop ALL \
  --security-opt no-new-privileges:true "$tag" >/dev/null
port=$(docker port "$container" 5000/tcp | head -n 1 | sed 's/.*://')
base=http://127.0.0.1:$port
health() { docker inspect -f '{{.State.Health.Status}}' "$1"; }
is_healthy() { [[ $(health "$1") == healthy ]]; }
check "the HEALTHCHECK turns healthy" poll 60 is_healthy "$container"
check "the process runs as uid 65532" test "$(docker top "$container" -o pid,uid | awk 'NR > 1 { print $2 }')" = 65532
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "GET /healthz -> 200" test "$(http_status "$base/healthz")" = 200
check "PUT /api/buckets/image -> 200" test "$(http_status -X PUT --data-binary 'in a container' "$base/api/buckets/image")" = 200
check "GET /api/buckets/image returns the body" test "$(curl -fsS --max-time 5 "$base/api/buckets/image")" = 'in a container'
check "DELETE /api/buckets/image -> 200" test "$(http_status -X DELETE "$base/api/buckets/image")" = 200
check "DELETE /api/buckets/image again -> 400" test "$(http_status -X DELETE "$base/api/buckets/image")" = 400
curl -fsS --max-time 5 "$base/metrics" >"$work/metrics" || true
check "/metrics counts the PUT" grep -q '^http_request_duration_seconds_count{method="PUT",path="/api/buckets/{id}",status="200"} 1$' "$work/metrics"
check "/metrics has process metrics (from /proc in the container)" grep -q '^process_resident_memory_bytes [0-9]' "$work/metrics"
docker stop -t 15 "$container" >/dev/null
check "docker stop (SIGTERM): exit code 0" test "$(docker inspect -f '{{.State.ExitCode}}' "$container")" = 0
docker logs "$container" >"$work/container.log" 2>&1
check "logs are JSON lines with the listening event" grep -q '"event":"listening"' "$work/container.log"
docker rm "$container" >/dev/null

# ------------------------------------------------------------------------------------------- durable log
# A named volume at /data starts as a copy of the image's /data (65532:65532, 0700), so the service can
# write its log there with the root filesystem read-only. Checked from outside with the build-stage image
# (it has a shell; the runtime image has none), which the builds above have just used.
helper_image=${builder:-debian:bookworm-slim}
volume_files() {  # prints "<uid>:<gid>:<mode of /data> <files> <files not owned by 65532>" of volume $1
  docker run --rm --network none --read-only -v "$1:/data:ro" "$helper_image" \
    sh -c 'stat -c %u:%g:%a /data; find /data -mindepth 1 | wc -l; find /data -mindepth 1 ! -uid 65532 | wc -l' |
    tr '\n' ' '
}
volume_owned() {  # "<uid>:<gid>:<mode> <files> <not owned>" as volume_files prints it: 65532's, with files
  local owner files foreign
  read -r owner files foreign <<<"$1"
  [[ $owner == 65532:65532:700 && $files -gt 0 && $foreign == 0 ]]
}
recovered_reports() {  # log line, then field=value pairs of the "recovered" event it must carry
  local line=$1 pair
  shift
  for pair in "$@"; do grep -Eq "\"${pair%%=*}\":${pair#*=}[,}]" <<<"$line" || return 1; done
}
body_is() {  # url, expected body
  [[ $(curl -fsS --max-time 5 "$1" 2>/dev/null) == "$2" ]]
}
durable="$container-durable"
log "docker run with the named volume $volume at /data and DATA_DIR=/data"
docker volume create "$volume" >/dev/null
docker run -d --name "$durable" -p 127.0.0.1::5000 --read-only --cap-drop ALL --security-opt no-new-privileges:true \
  -v "$volume:/data" -e DATA_DIR=/data "$tag" >/dev/null
# Ephemeral host ports may change across a restart: read it each time.
durable_url() { printf 'http://127.0.0.1:%s/api/buckets/durable' "$(docker port "$durable" 5000/tcp | head -n 1 | sed 's/.*://')"; }
check "durable: the container turns healthy with DATA_DIR=/data" poll 60 is_healthy "$durable"
check "durable: PUT /api/buckets/durable -> 200" test "$(http_status -X PUT --data-binary 'kept on disk' "$(durable_url)")" = 200
second="$container-second"
docker run -d --name "$second" --read-only --cap-drop ALL --security-opt no-new-privileges:true \
  -v "$volume:/data" -e DATA_DIR=/data "$tag" >/dev/null
second_status=$(timeout 60 docker wait "$second" 2>/dev/null || echo "still running after 60 s")
check "durable: a second container on the same volume is refused (exit 2, the log is locked): $second_status" \
  test "$second_status" = 2
docker rm -f "$second" >/dev/null
docker restart -t 15 "$durable" >/dev/null
check "durable: healthy again after docker restart" poll 60 is_healthy "$durable"
check "durable: GET after the restart returns the body" poll 30 body_is "$(durable_url)" 'kept on disk'
docker logs "$durable" >"$work/durable.log" 2>&1
recovered=$(grep '"event":"recovered"' "$work/durable.log" | tail -n 1 || true)
log "durable: ${recovered:-no recovered line}"
check "durable: the restart's recovered line counts the object (puts 1, objects 1)" \
  recovered_reports "$recovered" puts=1 objects=1
docker stop -t 15 "$durable" >/dev/null
check "durable: docker stop (SIGTERM): exit code 0" test "$(docker inspect -f '{{.State.ExitCode}}' "$durable")" = 0
owned=$(volume_files "$volume" || true)
check "durable: the volume is 65532:65532 mode 0700 and every file in it the service's ($owned)" volume_owned "$owned"
docker rm "$durable" >/dev/null
docker volume rm "$volume" >/dev/null

# ------------------------------------------------------------------------------------------- memory attack
# The attack of tests/deploy/memory_attack.py against the image under a real memory limit: the budget must
# follow the limit and the container must come through without an OOM kill, its data intact. Every
# attacker arrives from the bridge gateway's one address, so the per-client cap is lifted for this run:
# the memory budgets themselves are what is attacked.
attack_limit=256
attack="$container-attack"
docker run -d --name "$attack" --memory "${attack_limit}m" --memory-swap "${attack_limit}m" \
  -e ADMIN_PORT=5001 -e MAX_CONNECTIONS_PER_CLIENT=0 -e BODY_TIMEOUT_MS=5000 \
  -p 127.0.0.1::5000 -p 127.0.0.1::5001 --read-only --cap-drop ALL --security-opt no-new-privileges:true \
  "$tag" >/dev/null
attack_data=$(docker port "$attack" 5000/tcp | head -n 1 | sed 's/.*://')
attack_admin=$(docker port "$attack" 5001/tcp | head -n 1 | sed 's/.*://')
check "memory attack: the limited container turns healthy (health check on the admin port)" poll 60 is_healthy "$attack"
listening=$(docker logs "$attack" 2>&1 | grep '"event":"listening"' | head -n 1)
check "memory attack: the budget follows the ${attack_limit}MiB limit" \
  grep -q "\"memory_budget\":{\"limit\":$((attack_limit << 20))" <<<"$listening"
attack_max_body=$(grep -o '"max_body_bytes":[0-9]*' <<<"$listening" | head -n 1 | cut -d: -f2)
if python3 "$REPO_ROOT/tests/deploy/memory_attack.py" --data "127.0.0.1:$attack_data" --admin "127.0.0.1:$attack_admin" \
  --seconds 15 --announce "${attack_max_body:-1048576}" --big-bytes $(((attack_limit << 20) / 10)) >"$work/attack.json"; then
  pass "memory attack: statuses, stored objects intact, admin port answering throughout"
else
  fail "memory attack: $(tr -d '\n' <"$work/attack.json")"
fi
log "memory attack: $(tr -d ' \n' <"$work/attack.json" | head -c 1500)"
check "memory attack: no OOM kill" test "$(docker inspect -f '{{.State.OOMKilled}}' "$attack")" = false
check "memory attack: still running, never restarted" \
  test "$(docker inspect -f '{{.State.Running}} {{.RestartCount}}' "$attack")" = "true 0"
docker stop -t 15 "$attack" >/dev/null
check "memory attack: docker stop afterwards exits 0" test "$(docker inspect -f '{{.State.ExitCode}}' "$attack")" = 0
docker rm "$attack" >/dev/null

# ------------------------------------------------------------------------------------------- tokens
# WRITE_TOKEN_FILE from a read-only bind mount, as docker-compose.tokens.yml mounts its file secret, and a
# rotation by SIGHUP without a restart. The file is rewritten in place: a bind mount follows the inode.
tokens="$container-tokens"
token_dir="$work/secrets"
mkdir -m 700 "$token_dir"
(umask 022 && printf 'first-%s\n' "$run_id" >"$token_dir/write_token")
docker run -d --name "$tokens" -p 127.0.0.1::5000 --read-only --cap-drop ALL --security-opt no-new-privileges:true \
  -v "$token_dir/write_token:/run/secrets/write_token:ro" -e WRITE_TOKEN_FILE=/run/secrets/write_token \
  "$tag" >/dev/null
tokens_base=http://127.0.0.1:$(docker port "$tokens" 5000/tcp | head -n 1 | sed 's/.*://')
check "tokens: the container turns healthy with WRITE_TOKEN_FILE" poll 60 is_healthy "$tokens"
bearer() { printf 'Authorization: Bearer %s-%s' "$1" "$run_id"; }
check "tokens: PUT without a token -> 401" test "$(http_status -X PUT --data-binary v "$tokens_base/api/buckets/t")" = 401
check "tokens: PUT with the token -> 200" \
  test "$(http_status -X PUT -H "$(bearer first)" --data-binary v "$tokens_base/api/buckets/t")" = 200
check "tokens: GET needs no token (no READ_TOKEN_FILE) -> 200" test "$(http_status "$tokens_base/api/buckets/t")" = 200
printf 'second-%s\n' "$run_id" >"$token_dir/write_token"
docker kill -s HUP "$tokens" >/dev/null
second_accepted() { [[ $(http_status -X PUT -H "$(bearer second)" --data-binary w "$tokens_base/api/buckets/t") == 200 ]]; }
check "tokens: after SIGHUP the new token is accepted" poll 30 second_accepted
check "tokens: and the old one refused -> 401" \
  test "$(http_status -X PUT -H "$(bearer first)" --data-binary x "$tokens_base/api/buckets/t")" = 401
check "tokens: the process was not restarted" test "$(docker inspect -f '{{.RestartCount}}' "$tokens")" = 0
docker logs "$tokens" >"$work/tokens.log" 2>&1
check "tokens: the reload is logged (tokens_reloaded)" grep -q '"event":"tokens_reloaded"' "$work/tokens.log"
check "tokens: no token appears in the log" eval "! grep -q -- '-$run_id' '$work/tokens.log'"
docker rm -f "$tokens" >/dev/null

# ------------------------------------------------------------------------------------------- compose
storage_port=$(free_port)
prometheus_port=$(free_port)
prometheus_image=${PROMETHEUS_IMAGE:-}
if [[ -z $prometheus_image ]]; then
  pinned=$(sed -nE 's/.*\$\{PROMETHEUS_IMAGE:-([^}]+)\}.*/\1/p' "$REPO_ROOT/docker-compose.yml")
  if image_exists "$pinned"; then
    prometheus_image=$pinned
  elif image_exists container-lab/prometheus:debian; then
    prometheus_image="container-lab/prometheus:debian"
    log "Prometheus: $pinned is not here (no registry); using the container lab's stand-in"
  else
    prometheus_image=$pinned
  fi
fi
admin_port=$(free_port)
compose_env=(STORAGE_API_IMAGE="storage-api:compose-$run_id" TRAFFIC_IMAGE="storage-api-traffic:compose-$run_id"
  PROMETHEUS_IMAGE="$prometheus_image" BIND_ADDRESS=127.0.0.1 STORAGE_API_PORT="$storage_port"
  STORAGE_API_ADMIN_PORT="$admin_port" PROMETHEUS_PORT="$prometheus_port" GRAFANA_PORT="$(free_port)")
if [[ -n $builder ]]; then compose_env+=(BUILDER="$builder"); fi
export "${compose_env[@]}"
prometheus_version=$(docker run --rm "$prometheus_image" --version 2>&1 | head -n 1 || true)
prometheus_major=$(prometheus_major <<<"$prometheus_version")
log "compose Prometheus: ${prometheus_version:-unknown version}"
if [[ ${prometheus_major:-0} -lt 3 ]]; then
  # The container lab's stand-in (Debian's 2.42) runs the shipped command and config less their 3.x-only
  # parts (lib.sh says why). The native path is tested against 2.42 by
  # tests/integration/prometheus_scrape_test.cpp, the 3.x settings by check_prometheus_config.sh.
  removed=$(prometheus2x_override "$REPO_ROOT/docker-compose.yml" prometheus "$REPO_ROOT/prometheus.yml" \
    /etc/prometheus/prometheus.yml "$work")
  check "compose on Prometheus 2.x: prometheus.yml loses exactly its one 3.x-only line ($removed)" test "$removed" = 1
  compose_files+=(-f "$work/compose-prometheus-2x.yml")
  check "compose on Prometheus 2.x: the override keeps exemplar-storage" \
    grep -q -- '--enable-feature=exemplar-storage"' "$work/compose-prometheus-2x.yml"
fi
created_images+=("storage-api:compose-$run_id" "storage-api-traffic:compose-$run_id")

log "compose ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?')): project $project," \
    "storage_api on 127.0.0.1:$storage_port (admin $admin_port), prometheus ($prometheus_image) on 127.0.0.1:$prometheus_port"
check "docker-compose.yml is valid (compose config)" compose --profile traffic config -q
compose_started=1
if ! timeout 1200 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" up -d --build \
    storage_api prometheus >"$work/compose-up.log" 2>&1; then
  tail -n 40 "$work/compose-up.log"
  die "compose up storage_api prometheus failed"
fi
pass "compose up -d --build storage_api prometheus"
api_container=$(compose ps -q storage_api)
prom_container=$(compose ps -q prometheus)
check "compose storage_api turns healthy (storage_api --healthcheck, on the admin port)" poll 60 is_healthy "$api_container"
check "compose prometheus turns healthy (promtool query)" poll 90 is_healthy "$prom_container"
hostconfig() { docker inspect -f "{{.HostConfig.$2}}" "$1"; }
for service in storage_api prometheus; do
  id=$(compose ps -q "$service")
  check "compose $service: read-only root filesystem" test "$(hostconfig "$id" ReadonlyRootfs)" = true
  check "compose $service: all capabilities dropped" test "$(hostconfig "$id" CapDrop)" = "[ALL]"
  check "compose $service: no-new-privileges" test "$(hostconfig "$id" SecurityOpt)" = "[no-new-privileges:true]"
  check "compose $service: memory limit ($(hostconfig "$id" Memory) bytes)" test "$(hostconfig "$id" Memory)" -gt 0
  check "compose $service: pids limit ($(hostconfig "$id" PidsLimit))" test "$(hostconfig "$id" PidsLimit)" -gt 0
done
check "compose storage_api: memory limit is 512 MiB" test "$(hostconfig "$api_container" Memory)" = $((512 * 1024 * 1024))

data=http://127.0.0.1:$storage_port
admin=http://127.0.0.1:$admin_port
check "data port: PUT /api/buckets/compose -> 200" test "$(http_status -X PUT --data-binary 'via compose' "$data/api/buckets/compose")" = 200
check "data port: GET /api/buckets/compose returns the body" test "$(curl -fsS --max-time 5 "$data/api/buckets/compose")" = 'via compose'
check "admin port: GET /readyz -> 200" test "$(http_status "$admin/readyz")" = 200
check "admin port: GET /healthz -> 200" test "$(http_status "$admin/healthz")" = 200
curl -fsS --max-time 5 "$admin/metrics" >"$work/compose-metrics" || true
check "admin port: /metrics counts the PUT on the data port" \
  grep -q '^http_request_duration_seconds_count{method="PUT",path="/api/buckets/{id}",status="200"} 1$' "$work/compose-metrics"
check "data port: GET /metrics -> 404 (metrics only on the admin port)" test "$(http_status "$data/metrics")" = 404
check "admin port: GET /api/buckets/compose -> 404 (no data on the admin port)" test "$(http_status "$admin/api/buckets/compose")" = 404
budget_total=$(sed -nE 's/^storage_api_memory_budget_bytes\{area="total"\} ([0-9.e+]+)$/\1/p' "$work/compose-metrics")
check "the memory budget follows the 512 MiB limit (total ${budget_total:-absent} bytes)" \
  python3 -c 'import sys; v = float(sys.argv[1] or 0); sys.exit(0 if 0 < v <= 512 * 1048576 else 1)' "${budget_total:-}"

prom=http://127.0.0.1:$prometheus_port
prom_query() {
  curl -fsS --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
target_up() { [[ $(prom_query 'up{job="storage_api"}') == 1 ]]; }
check "Prometheus reports the storage_api target up" poll 90 target_up
scrape_url=$(curl -fsS --max-time 5 "$prom/api/v1/targets" | python3 -c '
import json, sys
print(" ".join(t["scrapeUrl"] for t in json.load(sys.stdin)["data"]["activeTargets"] if t["labels"]["job"] == "storage_api"))')
check "Prometheus scrapes the admin port ($scrape_url)" test "$scrape_url" = "http://storage_api:5001/metrics"
# Every alerting and recording rule of the rule files prometheus.yml names.
mapfile -t rule_files < <(sed -nE '/^rule_files:/,/^[^ #]/s/^ +- +([^ #]+) *$/\1/p' "$REPO_ROOT/prometheus.yml")
rules_in_file=$(cd "$REPO_ROOT" && cat "${rule_files[@]}" | grep -cE '^ *- (alert|record): ')
rules_loaded() {
  curl -fsS --max-time 5 "$prom/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
sys.exit(0 if sum(len(g["rules"]) for g in groups) == int(sys.argv[1]) else 1)' "$rules_in_file"
}
check "Prometheus loaded the $rules_in_file rules of ${rule_files[*]}" poll 30 rules_loaded
bucket_requests='sum(http_request_duration_seconds_count{job="storage_api", path="/api/buckets/{id}"})'
counted() {  # the bucket request count reaches $1
  local now
  now=$(prom_query "$bucket_requests")
  [[ -n $now ]] && ((${now%.*} >= $1))
}
check "Prometheus has scraped the PUT of the smoke test" poll 30 counted 2
before=$(prom_query "$bucket_requests")
before=${before:-0}

log "traffic: generate_traffic.sh against the published data port"
"$REPO_ROOT/generate_traffic.sh" --base-url "$data" --ids 200 --parallel 4 \
  --error-share 20 >"$work/traffic.out" 2>&1 || { cat "$work/traffic.out"; fail "generate_traffic.sh"; }
sed 's/^/    /' "$work/traffic.out"
sent=$(sed -nE 's/^generate_traffic.sh: ([0-9]+) requests in .*/\1/p' "$work/traffic.out")
check "the request counters in Prometheus moved by the $sent requests sent" poll 30 counted $((${before%.*} + sent))
now=$(prom_query "$bucket_requests")
check "exactly: $before + $sent = ${now%.*}" test "$((${before%.*} + sent))" = "${now%.*}"
statuses=$(prom_query 'count(count by (status) (http_request_duration_seconds_count{job="storage_api", path="/api/buckets/{id}"}))')
check "Prometheus sees 200, 400, 404 and 413 for the bucket route ($statuses statuses)" test "${statuses:-0}" -ge 4
# Exemplars (exemplar-storage): a latency bucket's trace_id is the request id of an access log line.
exemplar_ids() {
  local end
  end=$(date +%s)
  curl -fsS --max-time 5 "$prom/api/v1/query_exemplars" \
    --data-urlencode 'query={__name__=~"http_request_duration_seconds(_bucket)?", job="storage_api", path="/api/buckets/{id}"}' \
    --data-urlencode "start=$((end - 900))" --data-urlencode "end=$end" 2>/dev/null | python3 -c '
import json, sys
print(" ".join(sorted({e["labels"]["trace_id"] for s in json.load(sys.stdin)["data"] for e in s["exemplars"]})))'
}
has_exemplars() { [[ -n $(exemplar_ids) ]]; }
check "the compose Prometheus stores exemplars of http_request_duration_seconds" poll 30 has_exemplars
docker logs "$api_container" >"$work/compose-api.log" 2>&1 || true
read -r -a trace_ids <<<"$(exemplar_ids)"
logged=0
for id in "${trace_ids[@]}"; do
  if grep -qF "\"request_id\":\"$id\"" "$work/compose-api.log"; then logged=$((logged + 1)); fi
done
check "every exemplar's trace_id (${#trace_ids[@]}) is the request id of an access log line ($logged found)" \
  test "${#trace_ids[@]}" -gt 0 -a "$logged" = "${#trace_ids[@]}"

# An OOM kill is a SIGKILL from outside: Docker restarts the container (restart: unless-stopped) within
# a second, too soon for StorageApiTargetDown (1 m), and StorageApiRestarted must see it. Under
# FSYNC=always every answered write is on disk, so the new process recovers every bucket the old one held.
started_before=$(prom_query 'process_start_time_seconds{job="storage_api"}')
buckets_metric() { curl -fsS --max-time 5 "$admin/metrics" 2>/dev/null | sed -nE 's/^storage_api_buckets ([0-9]+)$/\1/p'; }
buckets_before=$(buckets_metric)
log "storage_api holds ${buckets_before:-?} buckets before the SIGKILL"
restarts_before=$(docker inspect -f '{{.RestartCount}}' "$api_container")
log "SIGKILL to storage_api (pid $(docker inspect -f '{{.State.Pid}}' "$api_container") on the host)"
kill -KILL "$(docker inspect -f '{{.State.Pid}}' "$api_container")"
restarted() { (($(docker inspect -f '{{.RestartCount}}' "$api_container") > restarts_before)); }
check "Docker restarts the killed storage_api (restart: unless-stopped)" poll 30 restarted
check "the restarted storage_api turns healthy" poll 60 is_healthy "$api_container"
new_start() {
  local now
  now=$(prom_query 'process_start_time_seconds{job="storage_api"}')
  [[ -n $now && $now != "$started_before" ]]
}
check "Prometheus scrapes the new process (process_start_time_seconds changed)" poll 60 new_start
alert_state() {  # prints the state of alert $1 (firing, pending) or nothing
  curl -fsS --max-time 5 "$prom/api/v1/alerts" | python3 -c '
import json, sys
print(" ".join(a["state"] for a in json.load(sys.stdin)["data"]["alerts"] if a["labels"]["alertname"] == sys.argv[1]))' "$1"
}
restart_alert_firing() { [[ $(alert_state StorageApiRestarted) == firing ]]; }
check "StorageApiRestarted fires" poll 30 restart_alert_firing
check "StorageApiTargetDown does not fire for the restart ($(alert_state StorageApiTargetDown))" \
  test "$(alert_state StorageApiTargetDown)" != firing
check "the object survives the SIGKILL (GET /api/buckets/compose returns its body)" \
  poll 30 body_is "$data/api/buckets/compose" 'via compose'
docker logs "$api_container" >"$work/compose-api.log" 2>&1
recovered=$(grep '"event":"recovered"' "$work/compose-api.log" | tail -n 1 || true)
log "compose: ${recovered:-no recovered line}"
check "the restart's recovered line counts the buckets held before the SIGKILL (${buckets_before:-?})" \
  recovered_reports "$recovered" "objects=${buckets_before:-none}"
check "storage_api_buckets after the restart is ${buckets_before:-?} again" test "$(buckets_metric)" = "${buckets_before:-none}"
compose_volume=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}' "$api_container")
check "compose storage_api: /data is a named volume of the project ($compose_volume)" \
  test "$compose_volume" = "${project}_storage-data"
owned=$(volume_files "$compose_volume" || true)
check "compose storage_api: the volume is 65532:65532 mode 0700 and every file in it the service's ($owned)" \
  volume_owned "$owned"

log "compose traffic profile: run --rm traffic (one pass over 50 ids, in the compose network)"
if timeout 900 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" --profile traffic build traffic \
    >"$work/traffic-build.log" 2>&1; then
  if timeout 300 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" --profile traffic run --rm \
      -e ITERATIONS=1 -e DURATION=0 -e IDS=50 traffic >"$work/traffic-profile.out" 2>&1; then
    pass "the traffic service reaches storage_api:5000 and finishes"
  else
    fail "the traffic service reaches storage_api:5000 and finishes"
  fi
  grep -E 'requests in|^ +[0-9]+ ' "$work/traffic-profile.out" | sed 's/^/    /' || true
else
  tail -n 30 "$work/traffic-build.log"
  fail "the traffic image builds"
fi

# The data is in the volume, not in the container: a new container finds it.
log "compose: storage_api recreated (rm -s -f, then up -d)"
if compose rm -s -f storage_api >"$work/compose-recreate.log" 2>&1 &&
    compose up -d storage_api >>"$work/compose-recreate.log" 2>&1; then
  recreated=$(compose ps -q storage_api)
  another_container() { [[ -n $1 && $1 != "$2" ]]; }
  check "a new storage_api container was created" another_container "$recreated" "$api_container"
  check "the recreated storage_api turns healthy" poll 60 is_healthy "$recreated"
  check "the recreated storage_api serves the object from the volume" poll 30 body_is "$data/api/buckets/compose" 'via compose'
else
  tail -n 20 "$work/compose-recreate.log"
  fail "compose rm -s -f storage_api && compose up -d storage_api"
fi

if compose --profile traffic down -v --remove-orphans \
    >"$work/compose-down.log" 2>&1; then
  compose_started=0
  pass "compose down -v"
else
  tail -n 20 "$work/compose-down.log"
  fail "compose down -v"
fi
check "no container of the project is left" test -z "$(docker ps -aq --filter "label=com.docker.compose.project=$project")"
check "no volume of the project is left" test -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$project")"
finish
