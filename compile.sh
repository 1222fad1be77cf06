#!/usr/bin/env bash
# Builds dist/meshnet, the single executable file, offline. With DENORT_BIN (a denort binary of the pinned
# Deno version) it is `deno compile`, with the same permissions as the ./meshnet launcher (MESHNET_COMPILE=deno
# makes deno compile download denort instead). Otherwise it is a self-extracting file: the pinned Deno runtime
# and the bundled program behind a sh header (scripts/dist/self_extracting.sh). Both are one file that runs
# with no Deno, npm or checkout on the machine; `meshnet version` says which way it was built.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh >/dev/null
mkdir -p dist
if [ -z "${DENORT_BIN:-}" ] && [ "${MESHNET_COMPILE:-}" != deno ]; then
  bash scripts/dist/self_extracting.sh dist/meshnet
  echo "compile.sh: dist/meshnet ($(du -h dist/meshnet | cut -f1), self-extracting)"
  exit 0
fi
. scripts/runtime_flags.sh
# shellcheck disable=SC2086 # the flags are words
exec bash scripts/deno.sh compile --output dist/meshnet --config deno.json \
  --include src/overlay/sleeve/worker.ts --include src/dns/dns_worker_main.ts $MESHNET_RUNTIME_FLAGS main.ts
