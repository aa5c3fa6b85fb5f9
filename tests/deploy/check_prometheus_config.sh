#!/usr/bin/env bash
# promtool on the Prometheus files of docker compose: prometheus.yml (its rule_files path is relative to
# the file, so it resolves in the checkout as in the container), the alert rules, and their unit tests.
# Needs promtool (Debian package prometheus).
set -euo pipefail
export CHECK_NAME=check_prometheus_config
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools promtool

cd "$REPO_ROOT"
log "promtool: $(promtool --version 2>&1 | head -n 1)"
check "promtool check config prometheus.yml" promtool check config prometheus.yml
check "promtool check rules grafana/prometheus-alerts.yml" promtool check rules grafana/prometheus-alerts.yml
check "promtool test rules grafana/prometheus-alerts.test.yml" promtool test rules grafana/prometheus-alerts.test.yml
# The sharded cluster's Prometheus (compose) and its own rules (StorageApiShardDown, ...).
check "promtool check config manifests/cluster/prometheus.yml" promtool check config manifests/cluster/prometheus.yml
check "promtool check rules grafana/prometheus-cluster-alerts.yml" promtool check rules grafana/prometheus-cluster-alerts.yml
check "promtool test rules grafana/prometheus-cluster-alerts.test.yml" \
  promtool test rules grafana/prometheus-cluster-alerts.test.yml

# Every alert of each rule file is exercised by its unit tests, both ways: an input that makes it fire,
# and one on which it stays silent (an alert that fires on everything passes the first kind alone).
for rules in grafana/prometheus-alerts.yml grafana/prometheus-cluster-alerts.yml; do
  tests=${rules%.yml}.test.yml
  mapfile -t alerts < <(sed -nE 's/^ *- alert: *([A-Za-z0-9_]+) *$/\1/p' "$rules")
  ((${#alerts[@]} > 0)) || fail "no alerts found in $rules"
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
