#!/usr/bin/env bash
# The test command of the README: installs what is missing, then lint, format check, type check and every test.
# Needs root (the lab tests make network namespaces). Ends with one line "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/install_chromium.sh
d=scripts/deno.sh
echo "== lint";   bash $d lint --quiet
echo "== format"; bash $d fmt --check --quiet
echo "== types";  bash $d task --quiet check
echo "== tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
bash $d task --quiet test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(echo "$summary" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
failed=$(echo "$summary" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
