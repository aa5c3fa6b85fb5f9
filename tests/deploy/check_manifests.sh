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
