#!/usr/bin/env bash
# The README's demo: installs what is missing, builds a 3-host lab (hosts in a line, h1 and h3 cannot reach
# each other on the underlay) with one container each, launches meshnet on every host and attaches the
# containers (each named in meshnet's DNS), shows that h1 learned h3 through h2, pings from h1's container to
# h3's by name, and removes everything. Needs root; touches only namespaces named mndemo-*.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
prefix=mndemo-
./meshnet lab down --prefix "$prefix" >/dev/null
trap './meshnet lab down --prefix "$prefix"' EXIT
./meshnet lab up --prefix "$prefix" --hosts 3 --containers 1 --topology line
echo "Waiting for the mesh to converge..."
sleep 3
for h in h1 h3; do
  echo; echo "== meshnet status on $h"; ./meshnet lab exec --prefix "$prefix" "$h" -- ./meshnet status
done
echo; echo "== meshnet status peers on h1 (h1 knows h3 only through h2's gossip)"
./meshnet lab exec --prefix "$prefix" h1 -- ./meshnet status peers
echo; echo "== container h1c1 pings container h3c1 by name (meshnet's DNS), across two hops"
./meshnet lab exec --prefix "$prefix" h1c1 -- ping -c 3 h3c1
