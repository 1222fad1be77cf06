#!/usr/bin/env bash
# Installs headless Chromium for the dashboard's lab test (tests/api/dashboard_lab_test.ts). Only the test
# script runs it, so the demo's set-up stays light. Idempotent: does nothing when chromium is there.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
echo "install: apt-get install chromium (for the dashboard test)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
