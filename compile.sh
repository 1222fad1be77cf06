#!/usr/bin/env bash
# Builds dist/meshnet, the single binary, with `deno compile` and the same permissions as the ./meshnet launcher.
# `deno compile` needs the denort runtime: it downloads it, or takes it from DENORT_BIN. Nothing else in the
# project depends on this script; where neither is available it stops with a clear message.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh >/dev/null
if [ -z "${DENORT_BIN:-}" ] && ! getent hosts dl.deno.land >/dev/null 2>&1; then
  echo "compile.sh: deno compile needs the denort runtime: set DENORT_BIN to a denort 2.9.6 binary, or run with network access" >&2
  exit 1
fi
mkdir -p dist
exec bash scripts/deno.sh compile --output dist/meshnet --config deno.json \
  --unstable-net --unstable-worker-options \
  --allow-ffi --allow-net --allow-read --allow-write --allow-run --allow-env --allow-sys \
  main.ts
