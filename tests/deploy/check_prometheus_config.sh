#!/usr/bin/env bash
# promtool on the Prometheus files of docker compose: prometheus.yml (its rule_files paths are relative to
# the file, so they resolve in the checkout as in the container), every rule file it names, and each rule
# file's unit tests (grafana/X.yml is tested by grafana/X.test.yml).
# Needs promtool (Debian package prometheus) and python3.
set -euo pipefail
export CHECK_NAME=check_prometheus_config
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools promtool python3

cd "$REPO_ROOT"
log "promtool: $(promtool --version 2>&1 | head -n 1)"
check "promtool check config prometheus.yml" promtool check config prometheus.yml
# The sharded cluster's Prometheus (compose) names its rule files relative to itself, as in the checkout.
check "promtool check config manifests/cluster/prometheus.yml" promtool check config manifests/cluster/prometheus.yml
rule_files_of() {  # config file: its rule_files, as paths from the repository root
  local dir
  dir=$(dirname "$1")
  sed -nE '/^rule_files:/,/^[^ #]/s/^ +- +([^ #]+) *$/\1/p' "$1" | while read -r path; do
    realpath --relative-to=. -m "$dir/$path"
  done
}
mapfile -t rule_files < <({ rule_files_of prometheus.yml; rule_files_of manifests/cluster/prometheus.yml; } | sort -u)
((${#rule_files[@]} > 0)) || fail "no rule_files found in prometheus.yml"
for rules in "${rule_files[@]}"; do
  tests=${rules%.yml}.test.yml
  check "promtool check rules $rules" promtool check rules "$rules"
  check "$rules has unit tests ($tests)" test -f "$tests"
  [[ -f $tests ]] || continue
  check "promtool test rules $tests" promtool test rules "$tests"

  # Every alert of the rule file is exercised by its unit tests, both ways: an input that makes it fire,
  # and one on which it stays silent (an alert that fires on everything passes the first kind alone).
  mapfile -t alerts < <(sed -nE 's/^ *- alert: *([A-Za-z0-9_]+) *$/\1/p' "$rules" | sort -u)
  for alert in "${alerts[@]}"; do
    for kind in fires silent; do
      if [[ $kind == fires ]]; then what="makes it fire"; else what="keeps it silent"; fi
      check "alert $alert: a unit test $what" \
        python3 - "$alert" "$kind" "$tests" <<'PY'
import re, sys
alert, kind, path = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
# An alert_rule_test entry naming the alert followed by a non-empty exp_alerts list, or by an empty one.
expected = r"\s*\n\s*- exp_labels" if kind == "fires" else r"\s*\[\]"
pattern = r"alertname:\s*" + re.escape(alert) + r"\s*\n\s*exp_alerts:" + expected
sys.exit(0 if re.search(pattern, text) else 1)
PY
    done
  done
done
finish
