#!/usr/bin/env bash
# Runs the pinned Deno (tools/deno) with the given arguments, from the repository root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
deno="$here/tools/deno/node_modules/deno/deno"
[ -x "$deno" ] || deno="$here/tools/deno/node_modules/@deno/linux-x64-glibc/deno"
cd "$here"
export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1
exec "$deno" "$@"
