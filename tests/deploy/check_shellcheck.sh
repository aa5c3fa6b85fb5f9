#!/usr/bin/env bash
# Lints generate_traffic.sh and every script under tests/deploy with shellcheck (sourced files followed).
set -euo pipefail
export CHECK_NAME=check_shellcheck
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools shellcheck

log "$(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
cd "$REPO_ROOT"
for script in generate_traffic.sh tests/deploy/*.sh; do
  check "shellcheck $script" shellcheck --external-sources --source-path=SCRIPTDIR "$script"
done
check "generate_traffic.sh is executable" test -x generate_traffic.sh
for script in tests/deploy/check_*.sh; do
  check "$script is executable" test -x "$script"
done
finish
