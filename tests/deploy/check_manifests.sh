#!/usr/bin/env bash
# Validates manifests/ offline: every object against the Kubernetes OpenAPI schemas (npm package
# kubernetes-models, pinned by package-lock.json) plus the project's deployment rules (check_manifests.mjs),
# then the Prometheus config and rules carried by the manifests with promtool.
# Needs node and npm (npm ci installs the pinned packages once, into tests/deploy/node_modules) and promtool.
set -euo pipefail
export CHECK_NAME=check_manifests
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools node npm promtool

deploy_dir=$REPO_ROOT/tests/deploy
work=$(mktemp -d "${TMPDIR:-/tmp}/check_manifests.XXXXXX")
trap 'rm -rf "$work"' EXIT

# npm ci only when the installed tree is missing or older than the lockfile.
if [[ ! -f $deploy_dir/node_modules/.package-lock.json ||
      $deploy_dir/package-lock.json -nt $deploy_dir/node_modules/.package-lock.json ]]; then
  log "npm ci (pinned by package-lock.json)"
  (cd "$deploy_dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

log "kubernetes-models $(node -p "require('$deploy_dir/node_modules/kubernetes-models/package.json').version"):" \
    "schema validation and deployment rules"
set +e
node "$deploy_dir/check_manifests.mjs" --repo "$REPO_ROOT" --extract "$work/prometheus" >"$work/node.out" 2>&1
node_status=$?
set -e
grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$work/node.out" || true
node_passed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' "$work/node.out")
node_failed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' "$work/node.out")
CHECKS_PASSED=$((CHECKS_PASSED + ${node_passed:-0}))
CHECKS_FAILED=$((CHECKS_FAILED + ${node_failed:-0}))
if [[ $node_status != 0 && ${node_failed:-0} == 0 ]]; then fail "check_manifests.mjs exited $node_status"; fi

# As check_prometheus_config.sh does for compose: the flag works in v3.0-v3.8 only (NOTES.md).
k8s_prometheus=$(sed -nE 's/^ +image: (prom\/prometheus:[^ ]+) *$/\1/p' "$REPO_ROOT/manifests/prometheus.yaml")
check "manifests/prometheus.yaml pins prom/prometheus v3.0-v3.8 ($k8s_prometheus), where the native-histograms flag works" \
  python3 -c 'import re, sys; sys.exit(0 if re.fullmatch(r"prom/prometheus:v3\.[0-8]\.\d+", sys.argv[1]) else 1)' "$k8s_prometheus"
check "manifests/prometheus.yaml runs Prometheus with --enable-feature=native-histograms,exemplar-storage" \
  grep -qE '^ +- --enable-feature=native-histograms,exemplar-storage$' "$REPO_ROOT/manifests/prometheus.yaml"
check "manifests/prometheus.yaml keeps the classic buckets of the storage_api job" \
  grep -qE '^ +always_scrape_classic_histograms: true$' "$REPO_ROOT/manifests/prometheus.yaml"
if [[ -f $work/prometheus/prometheus.yml && $(promtool --version 2>&1 | prometheus_major) -lt 3 ]]; then
  # A 2.x promtool (Debian's) checks the rest: the configs without their 3.x-only lines.
  for config in prometheus.yml prometheus-static-sd.yml; do
    [[ -f $work/prometheus/$config ]] || continue
    removed=$(strip_prometheus3_keys "$work/prometheus/$config" "$work/prometheus/$config.2x")
    mv "$work/prometheus/$config.2x" "$work/prometheus/$config"
    check "$config of manifests/: the one 3.x-only line is all a 2.x promtool skips ($removed)" test "$removed" = 1
  done
fi
if [[ -f $work/prometheus/prometheus.yml ]]; then
  log "promtool on the Prometheus config and rules of manifests/"
  if promtool check config "$work/prometheus/prometheus.yml" >"$work/promtool.out" 2>&1; then
    pass "promtool check config (manifests/prometheus.yaml)"
  elif grep -q 'field kubernetes_sd_configs not found' "$work/promtool.out"; then
    # Debian builds Prometheus and promtool without Kubernetes discovery; the official image has it.
    log "this promtool has no kubernetes_sd_configs (Debian's build): checking the config with static targets in its place"
    check "promtool check config (manifests/prometheus.yaml, kubernetes_sd_configs as static targets)" \
      promtool check config "$work/prometheus/prometheus-static-sd.yml"
  else
    cat "$work/promtool.out"
    fail "promtool check config (manifests/prometheus.yaml)"
  fi
  for rules in "$work"/prometheus/rules/*; do
    check "promtool check rules $(basename "$rules") (manifests/)" promtool check rules "$rules"
  done
else
  fail "the Prometheus config could not be extracted from manifests/"
fi
finish
