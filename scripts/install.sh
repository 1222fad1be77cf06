#!/usr/bin/env bash
# Installs everything meshnet's tests, demo and benchmarks need on a fresh Debian machine (root, npm and apt only).
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v ping >/dev/null || need+=(iputils-ping)
command -v arping >/dev/null || need+=(arping)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v dig >/dev/null || need+=(dnsutils)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v curl >/dev/null || need+=(curl)
ldconfig -p | grep 'libsodium\.so\.23' >/dev/null || need+=(libsodium23)
if [ ${#need[@]} -gt 0 ]; then
  echo "install: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The Deno runtime lives in its own package.json: Deno reads the project's, and listing deno there breaks it.
[ -x tools/deno/node_modules/deno/deno ] || [ -x tools/deno/node_modules/@deno/linux-x64-glibc/deno ] ||
  npm ci --prefix tools/deno --no-audit --no-fund --loglevel=error
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error
