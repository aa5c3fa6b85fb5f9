#!/usr/bin/env bash
# promtool on the Prometheus files of docker compose: prometheus.yml (its rule_files paths are relative to
# the file, so they resolve in the checkout as in the container), every rule file it names, and each rule
# file's unit tests (grafana/X.yml is tested by grafana/X.test.yml).
# Needs promtool (Debian package prometheus) and python3.
# shellcheck disable=SC2317  # functions run through check
set -euo pipefail
export CHECK_NAME=check_prometheus_config
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools promtool python3

cd "$REPO_ROOT"
work=$(mktemp -d "${TMPDIR:-/tmp}/check_prometheus_config.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "promtool: $(promtool --version 2>&1 | head -n 1)"

# Native histograms in each compose Prometheus (single node, cluster): the pinned version, its flag and
# the config's setting hold only together. From v3.9 the flag does nothing (scrape_native_histograms: true
# replaces it, and v3.0-v3.7 reject that key), so a pin outside v3.0-v3.8 must change the other two too.
# A 2.x promtool (Debian's) checks the rest of the config without its 3.x-only lines, beside the same
# rule files (a copy at the same path under $work, where grafana/ links to the checkout's).
ln -s "$REPO_ROOT/grafana" "$work/grafana"
promtool_major=$(promtool --version 2>&1 | prometheus_major)
classic_kept() {  # config: its storage_api job sets always_scrape_classic_histograms: true
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
job = re.search(r"^  - job_name: storage_api\n((?:    .*\n|\s*\n)*)", text, re.M)
sys.exit(0 if job and re.search(r"^    always_scrape_classic_histograms: true\s*$", job.group(1), re.M) else 1)
PY
}
rejected_for_the_key() {  # config: a 2.x promtool refuses it, naming the 3.x key
  local out
  if out=$(promtool check config "$1" 2>&1); then return 1; fi
  grep -q 'field always_scrape_classic_histograms not found' <<<"$out"
}
check_compose_prometheus() {  # config compose_file
  local config=$1 compose_file=$2 pinned removed
  pinned=$(sed -nE 's/.*\$\{PROMETHEUS_IMAGE:-([^}]+)\}.*/\1/p' "$compose_file")
  check "$compose_file pins prom/prometheus v3.0-v3.8 ($pinned), where the native-histograms flag works" \
    python3 -c 'import re, sys; sys.exit(0 if re.fullmatch(r"prom/prometheus:v3\.[0-8]\.\d+", sys.argv[1]) else 1)' "$pinned"
  check "$compose_file runs Prometheus with --enable-feature=native-histograms,exemplar-storage" \
    grep -qE '^ +- --enable-feature=native-histograms,exemplar-storage$' "$compose_file"
  check "$config keeps the classic buckets beside the native ones (storage_api job)" classic_kept "$config"
  if ((promtool_major >= 3)); then
    check "promtool check config $config" promtool check config "$config"
    return
  fi
  mkdir -p "$work/$(dirname "$config")"
  removed=$(strip_prometheus3_keys "$config" "$work/$config")
  check "$config: the one 3.x-only line (${PROMETHEUS3_ONLY_KEYS[*]}) is all a 2.x promtool skips ($removed)" \
    test "$removed" = 1
  check "promtool check config $config (this promtool is 2.x: without its 3.x-only settings)" \
    promtool check config "$work/$config"
  check "promtool 2.x rejects the shipped $config over that key alone" rejected_for_the_key "$config"
}
check_compose_prometheus prometheus.yml docker-compose.yml
# The sharded cluster's Prometheus (compose) names its rule files relative to itself, as in the checkout.
check_compose_prometheus manifests/cluster/prometheus.yml manifests/cluster/docker-compose.yml
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
