#!/usr/bin/env bash
# The container image and docker compose, for real:
#   1. builds the image with the legacy builder and (where the client offers it) with BuildKit;
#   2. checks it: user 65532, no shell, size under 4 MiB, HEALTHCHECK, EXPOSE, OCI labels, file list;
#   3. runs it read-only with every capability dropped, waits for "healthy", talks to it (PUT, GET,
#      DELETE, /metrics) and stops it with SIGTERM (exit 0);
#   4. docker compose up storage_api + prometheus (no Grafana image exists without a registry) under a
#      unique project name and free ports: the compose security settings, Prometheus reports the target
#      up and loads the rules, generate_traffic.sh against the published port moves the counters in
#      Prometheus by exactly the requests sent, the traffic profile runs, then down -v.
#
# Uses ../shared/tools/container-lab.sh (beside the checkout) when no engine answers. If no engine can
# be started, prints a SKIPPED banner and exits 0: the only check that may skip.
# Environment: BUILDER (build-stage image; default: container-lab/debian-build:bookworm when present,
# else the Dockerfile's debian:bookworm-slim), PROMETHEUS_IMAGE (default: the pinned image when present,
# else the container lab's stand-in).
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
project=storageapicheck$run_id
compose_started=0
compose_env=()
created_images=()

engine_ready() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }
skip() {
  cat <<EOF

################################################################################
##                                                                            ##
##   SKIPPED: container engine unavailable                                    ##
##   $(printf '%-72s' "$1")##
##   The image, container and compose checks did NOT run on this machine.     ##
##                                                                            ##
################################################################################

EOF
  echo "check_image: 0 passed, 0 failed, 1 skipped"
  exit 0
}

compose() { "${compose_cmd[@]}" -p "$project" -f "$REPO_ROOT/docker-compose.yml" "$@"; }

cleanup() {
  set +e
  docker rm -f "$container" >/dev/null 2>&1
  if ((compose_started)); then
    env "${compose_env[@]}" "${compose_cmd[@]}" -p "$project" -f "$REPO_ROOT/docker-compose.yml" \
      --profile traffic down -v --remove-orphans >/dev/null 2>&1
  fi
  # Removes the tags and their runtime-stage layers; the build-stage cache stays for the next run.
  for image in "${created_images[@]}"; do docker rmi "$image" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------------- engine
if ! engine_ready; then
  lab=$REPO_ROOT/../shared/tools/container-lab.sh
  [[ -f $lab ]] || skip "docker info fails, and there is no ../shared/tools/container-lab.sh."
  log "no engine answers: starting one with ../shared/tools/container-lab.sh (log $work/lab.log)"
  timeout 900 bash "$lab" >"$work/lab.log" 2>&1 || tail -n 20 "$work/lab.log"
  engine_ready || skip "docker info fails, and container-lab.sh could not start an engine."
fi
log "engine: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"

if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  die "neither 'docker compose' nor docker-compose is installed"
fi

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
compose_env=(STORAGE_API_IMAGE="storage-api:compose-$run_id" TRAFFIC_IMAGE="storage-api-traffic:compose-$run_id"
  PROMETHEUS_IMAGE="$prometheus_image" BIND_ADDRESS=127.0.0.1 STORAGE_API_PORT="$storage_port"
  PROMETHEUS_PORT="$prometheus_port" GRAFANA_PORT="$(free_port)")
if [[ -n $builder ]]; then compose_env+=(BUILDER="$builder"); fi
export "${compose_env[@]}"
created_images+=("storage-api:compose-$run_id" "storage-api-traffic:compose-$run_id")

log "compose ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?')): project $project," \
    "storage_api on 127.0.0.1:$storage_port, prometheus ($prometheus_image) on 127.0.0.1:$prometheus_port"
check "docker-compose.yml is valid (compose config)" compose --profile traffic config -q
compose_started=1
if ! timeout 1200 "${compose_cmd[@]}" -p "$project" -f "$REPO_ROOT/docker-compose.yml" up -d --build \
    storage_api prometheus >"$work/compose-up.log" 2>&1; then
  tail -n 40 "$work/compose-up.log"
  die "compose up storage_api prometheus failed"
fi
pass "compose up -d --build storage_api prometheus"
api_container=$(compose ps -q storage_api)
check "compose storage_api turns healthy" poll 60 is_healthy "$api_container"
hostconfig() { docker inspect -f "{{.HostConfig.$1}}" "$api_container"; }
check "compose storage_api: read-only root filesystem" test "$(hostconfig ReadonlyRootfs)" = true
check "compose storage_api: all capabilities dropped" test "$(hostconfig CapDrop)" = "[ALL]"
check "compose storage_api: no-new-privileges" test "$(hostconfig SecurityOpt)" = "[no-new-privileges:true]"
check "compose storage_api: memory limit ($(hostconfig Memory) bytes) above the 256Mi storage cap" \
  test "$(hostconfig Memory)" -gt $((256 * 1024 * 1024))

prom=http://127.0.0.1:$prometheus_port
prom_query() {
  curl -fsS --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
target_up() { [[ $(prom_query 'up{job="storage_api"}') == 1 ]]; }
check "Prometheus reports the storage_api target up" poll 90 target_up
rules_loaded() {
  curl -fsS --max-time 5 "$prom/api/v1/rules" |
    python3 -c 'import json,sys; g=json.load(sys.stdin)["data"]["groups"]; sys.exit(0 if sum(len(x["rules"]) for x in g) >= 5 else 1)'
}
check "Prometheus loaded the alert rules" poll 30 rules_loaded
bucket_requests='sum(http_request_duration_seconds_count{job="storage_api", path="/api/buckets/{id}"})'
before=$(prom_query "$bucket_requests")
before=${before:-0}

log "traffic: generate_traffic.sh against the published port"
"$REPO_ROOT/generate_traffic.sh" --base-url "http://127.0.0.1:$storage_port" --ids 200 --parallel 4 \
  --error-share 20 >"$work/traffic.out" 2>&1 || { cat "$work/traffic.out"; fail "generate_traffic.sh"; }
sed 's/^/    /' "$work/traffic.out"
sent=$(sed -nE 's/^generate_traffic.sh: ([0-9]+) requests in .*/\1/p' "$work/traffic.out")
counted_all() {
  local now
  now=$(prom_query "$bucket_requests")
  [[ -n $now ]] && (( ${now%.*} - ${before%.*} >= sent ))
}
check "the request counters in Prometheus moved by the $sent requests sent" poll 30 counted_all
now=$(prom_query "$bucket_requests")
check "exactly: $before + $sent = ${now%.*}" test "$((${before%.*} + sent))" = "${now%.*}"
statuses=$(prom_query 'count(count by (status) (http_request_duration_seconds_count{job="storage_api", path="/api/buckets/{id}"}))')
check "Prometheus sees 200, 400, 404 and 413 for the bucket route ($statuses statuses)" test "${statuses:-0}" -ge 4

log "compose traffic profile: run --rm traffic (one pass over 50 ids, in the compose network)"
if timeout 900 "${compose_cmd[@]}" -p "$project" -f "$REPO_ROOT/docker-compose.yml" --profile traffic build traffic \
    >"$work/traffic-build.log" 2>&1; then
  if timeout 300 "${compose_cmd[@]}" -p "$project" -f "$REPO_ROOT/docker-compose.yml" --profile traffic run --rm \
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

if "${compose_cmd[@]}" -p "$project" -f "$REPO_ROOT/docker-compose.yml" --profile traffic down -v --remove-orphans \
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
