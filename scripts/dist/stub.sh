#!/bin/sh
# meshnet, self-extracting: this POSIX sh header, then a gzip'd tar (the pinned Deno runtime and the bundled
# program). The first run unpacks the tar into a cache directory named by its SHA-256, checked before use;
# every later run just execs Deno there. Unpacking goes to a temporary directory that is renamed into place,
# so concurrent first runs (a CNI runtime starts one per pod, in parallel) are safe: one rename wins, the
# others throw their copy away. Run as meshnet-cni (a copy or a symlink) it is the CNI plugin.
# The cache: $MESHNET_RUNTIME_DIR, else /var/cache/meshnet when writable (root), else
# ${XDG_CACHE_HOME:-~/.cache}/meshnet.
# Built by scripts/dist/self_extracting.sh; @MARKERS@ are filled in there.
set -eu
sha=@PAYLOAD_SHA256@
offset=@PAYLOAD_OFFSET@
# Every run pays for this header, so it forks nothing once the runtime is unpacked (no id, no readlink).
self=$0
case $self in */*) ;; *) self=$(command -v -- "$self") ;; esac
case $self in /*) ;; *) self=$PWD/$self ;; esac
name=${self##*/}
if [ -n "${MESHNET_RUNTIME_DIR:-}" ]; then
  root=$MESHNET_RUNTIME_DIR
elif [ -w /var/cache ] || [ -w /var/cache/meshnet ]; then
  root=/var/cache/meshnet
else
  root=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/meshnet
fi
dir=$root/@VERSION@-$sha
if [ ! -d "$dir" ]; then
  fail() { echo "meshnet: cannot unpack the runtime from $self into $dir: $1" >&2; rm -rf -- "${tmp:-}"; exit 1; }
  mkdir -p -- "$root" || fail "cannot create $root (set MESHNET_RUNTIME_DIR to a writable directory)"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX") || fail "cannot create a temporary directory in $root"
  tail -c +"$offset" -- "$self" >"$tmp/payload" || fail "cannot read the payload"
  got=$(sha256sum "$tmp/payload") || fail "sha256sum failed"
  [ "${got%% *}" = "$sha" ] || fail "the payload's SHA-256 is ${got%% *}, not $sha: the file is damaged, copy it again"
  gzip -dc <"$tmp/payload" | tar -xf - -C "$tmp" || fail "gzip/tar failed (disk full?)"
  rm -f -- "$tmp/payload"
  mv -T -- "$tmp" "$dir" 2>/dev/null || { rm -rf -- "$tmp"; [ -d "$dir" ] || fail "rename failed"; }
fi
case $name in meshnet-cni*) set -- cni "$@" ;; esac
main=meshnet.js
[ "$*" != cni ] || main=cni.js # the plugin alone: no CLI parser, no Node compatibility layer to load
export DENO_DIR="$dir/cache" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 DENO_NO_PACKAGE_JSON=1 MESHNET_SELF="$self"
exec "$dir/deno" run @DENO_FLAGS@ "$dir/$main" "$@"
