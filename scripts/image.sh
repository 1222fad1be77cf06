#!/usr/bin/env bash
# Builds the OCI image meshnet:VERSION offline with Podman, with no registry pull: a root file system
# assembled here and `podman import`ed. It holds what deploy/kubernetes/meshnet.yaml runs:
#   /usr/local/bin/meshnet   the single file (dist/meshnet; compile.sh builds it when missing)
#   /var/cache/meshnet/…     its runtime, unpacked at build time, so a container starts without unpacking
#   /bin/busybox + applets   the shell and tools of the manifest's commands (sh, cp, mv, cat, …)
#   glibc, libgcc_s          what the Deno runtime links, from this machine (ldd), with an ld.so.cache
#   libsodium.so.23          the data plane's crypto (without it meshnet falls back to tweetnacl, 13× slower)
#   libgcrypt.so.20          when this machine has it: libgcrypt's AES-256-GCM, the fastest here
#   libcrypto.so.3           when this machine has it: OpenSSL's AES-256-GCM, faster than libsodium's
#   /usr/sbin/nft + its libs the host's masquerade and subnet isolation (the `inet meshnet` table)
# The router runs no ip: netlink is its own (ffi/), and the kernel loads vxlan itself.
# Usage: scripts/image.sh [FILE]. IMAGE names the image (default meshnet:VERSION); PODMAN is the podman
# command (default podman), e.g. with --root for a throwaway store.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-dist/meshnet}
[ -n "${1:-}" ] || [ -x "$file" ] || bash compile.sh
version=$(sed -nE 's/^export const VERSION = "(.*)";$/\1/p' src/version.ts)
image=${IMAGE:-meshnet:$version}
read -r -a podman <<<"${PODMAN:-podman}"
busybox=$(command -v busybox) || { echo "image.sh: busybox is missing: apt-get install busybox-static" >&2; exit 1; }
sodium=$(ldconfig -p | sed -nE 's/^\s*libsodium\.so\.23 .* => (.*)$/\1/p' | head -1)
[ -n "$sodium" ] || { echo "image.sh: libsodium.so.23 is missing: apt-get install libsodium23" >&2; exit 1; }
crypto=$(ldconfig -p | sed -nE 's/^\s*libcrypto\.so\.3 .* => (.*)$/\1/p' | head -1)
gcrypt=$(ldconfig -p | sed -nE 's/^\s*libgcrypt\.so\.20 .* => (.*)$/\1/p' | head -1)
nft=$(command -v nft) || { echo "image.sh: nft is missing: apt-get install nftables" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,etc,lib64,lib/x86_64-linux-gnu,usr/sbin,usr/local/bin,var/lib/meshnet,var/cache/meshnet,run,tmp}
chmod 1777 "$root/tmp"
ln -s ../run "$root/var/run"
install -m 755 "$file" "$root/usr/local/bin/meshnet"
install -m 755 "$busybox" "$root/bin/busybox"
install -m 755 "$nft" "$root/usr/sbin/nft"
for applet in $("$busybox" --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done

# Unpack the runtime the way the file does on first run, into the image's cache directory.
MESHNET_RUNTIME_DIR="$root/var/cache/meshnet" "$file" version >/dev/null
rm -rf "$root"/var/cache/meshnet/*/cache
deno=$(ls -d "$root"/var/cache/meshnet/*/deno)
for lib in $( (ldd "$deno"; ldd "$sodium"; ldd "$nft"; for l in $crypto $gcrypt; do ldd "$l"; done) | grep -oE '/[^ ]+\.so[^ ]*' | sort -u) "$sodium" $crypto $gcrypt; do
  case $lib in
    */ld-linux-x86-64.so.2) cp -L "$lib" "$root/lib64/ld-linux-x86-64.so.2" ;;
    *) cp -L "$lib" "$root/lib/x86_64-linux-gnu/" ;;
  esac
done
echo /lib/x86_64-linux-gnu >"$root/etc/ld.so.conf"
ldconfig -r "$root"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

tar -C "$root" --owner=0 --group=0 -cf - . | "${podman[@]}" import --quiet \
  --change 'CMD ["/usr/local/bin/meshnet", "version"]' \
  --change "LABEL org.opencontainers.image.version=$version" - "$image" >/dev/null
echo "image.sh: $image ($(du -sh "$root" | cut -f1) unpacked)"
