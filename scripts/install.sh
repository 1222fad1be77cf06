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
command -v dnsmasq >/dev/null || need+=(dnsmasq)
command -v python3 >/dev/null || need+=(python3)
ldconfig -p | grep 'libsodium\.so\.23' >/dev/null || need+=(libsodium23)
# libgcrypt, else OpenSSL's libcrypto, seals the sleeve's AES-256-GCM (libsodium's is the fallback); the tests
# expect both.
ldconfig -p | grep 'libcrypto\.so\.3' >/dev/null || need+=(libssl3)
ldconfig -p | grep 'libgcrypt\.so\.20' >/dev/null || need+=(libgcrypt20)
# The runtime tests run real containers: Podman with runc (crun cannot set rlimits here), a busybox rootfs,
# and the reference CNI plugins (installed with their recommends, as Podman needs them).
runtimes=()
command -v podman >/dev/null || runtimes+=(podman)
command -v runc >/dev/null || runtimes+=(runc)
command -v busybox >/dev/null || runtimes+=(busybox-static)
[ -x /usr/lib/cni/host-local ] || runtimes+=(containernetworking-plugins)
if [ ${#need[@]} -gt 0 ] || [ ${#runtimes[@]} -gt 0 ]; then
  echo "install: apt-get install ${need[*]} ${runtimes[*]}"
  apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  [ ${#need[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ ${#runtimes[@]} -eq 0 ] || apt-get install -y -qq "${runtimes[@]}" >/dev/null
fi

# The Deno runtime lives in its own package.json: Deno reads the project's, and listing deno there breaks it.
# `npm ci` refuses this lock file: the deno package names a build for every platform as optional, and some
# (darwin-arm64 at 2.9.6) are not in the registry, so the lock holds only ours. `npm install --no-save` honours
# the lock's pinned versions without rewriting it.
[ -x tools/deno/node_modules/deno/deno ] || [ -x tools/deno/node_modules/@deno/linux-x64-glibc/deno ] ||
  npm install --prefix tools/deno --no-save --no-audit --no-fund --loglevel=error
# A git worktree may link node_modules to another checkout's: npm ci would empty that one for everybody.
[ -L node_modules ] || [ node_modules/.package-lock.json -nt package-lock.json ] ||
  npm ci --no-audit --no-fund --loglevel=error
