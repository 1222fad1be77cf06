#!/usr/bin/env bash
# Builds dist/meshnet without `deno compile`: the pinned Deno runtime (tools/deno) and the program bundled by
# `deno bundle` (npm packages inlined), as a gzip'd tar behind the sh header stub.sh, in one executable file.
# Runs offline. Usage: scripts/dist/self_extracting.sh OUTPUT
#
# The payload: deno; meshnet.js (main.ts, the whole CLI); cni_run.js + cni.js (the CNI plugin alone, the
# fast path of meshnet-cni); worker.js + worker.ts (the sleeve Worker, which the CLI bundle loads as
# ./worker.ts beside itself); dns_worker_main.js + .ts (the DNS Worker, loaded the same way); build.json
# (what `meshnet version` reports: the commit and its date, so rebuilding the same tree gives the same bytes
# and the same cache directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: self_extracting.sh OUTPUT}
deno=tools/deno/node_modules/deno/deno
[ -x "$deno" ] || deno=tools/deno/node_modules/@deno/linux-x64-glibc/deno
version=$(sed -nE 's/^export const VERSION = "(.*)";$/\1/p' src/version.ts)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

bundle() { bash scripts/deno.sh bundle --quiet --platform deno --config deno.json "$@"; }
bundle -o "$stage/meshnet.js" main.ts
bundle -o "$stage/cni_run.js" src/cni/main.ts
bundle -o "$stage/worker.js" src/overlay/sleeve/worker.ts
echo 'import "./worker.js";' >"$stage/worker.ts"
bundle -o "$stage/dns_worker_main.js" src/dns/dns_worker_main.ts
echo 'import "./dns_worker_main.js";' >"$stage/dns_worker_main.ts"
echo 'import { runCni } from "./cni_run.js";
Deno.exit(await runCni());' >"$stage/cni.js"
cp "$deno" "$stage/deno"
deno_version=$("$deno" --version | head -1 | cut -d' ' -f2)
printf '{"build":"self-extracting","deno":"%s","commit":"%s","built":"%s"}\n' "$deno_version" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$(git log -1 --format=%cI 2>/dev/null || echo unknown)" >"$stage/build.json"

payload="$stage/payload.tar.gz"
tar -C "$stage" --owner=0 --group=0 --sort=name --mtime=@0 -cf - deno meshnet.js cni_run.js cni.js worker.js worker.ts \
  dns_worker_main.js dns_worker_main.ts build.json | gzip -5 -n >"$payload"
sha=$(sha256sum "$payload" | cut -d' ' -f1)
. scripts/runtime_flags.sh
flags="--quiet --no-prompt --no-config --no-lock --cached-only --no-remote --no-npm $MESHNET_RUNTIME_FLAGS"
# The header's length depends on the offset written into it: fill it in until it is stable.
offset=0
for _ in 1 2 3; do
  sed -e "s/@PAYLOAD_SHA256@/$sha/" -e "s/@PAYLOAD_OFFSET@/$offset/" -e "s/@VERSION@/$version/" \
    -e "s/@DENO_FLAGS@/$flags/" scripts/dist/stub.sh >"$stage/header"
  next=$(($(wc -c <"$stage/header") + 1))
  [ "$next" = "$offset" ] && break
  offset=$next
done
mkdir -p "$(dirname "$out")"
cat "$stage/header" "$payload" >"$out.tmp"
chmod 755 "$out.tmp"
mv -f "$out.tmp" "$out"
