#!/usr/bin/env bash
# The README's demo: installs what is missing, builds a 3-host lab (hosts in a line, h1 and h3 cannot reach
# each other on the underlay), launches meshnet on every host, shows that h1 learned h3 through h2, and removes
# everything again. Needs root; touches only namespaces named mndemo-*.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
prefix=mndemo-
./meshnet lab down --prefix "$prefix" >/dev/null
trap './meshnet lab down --prefix "$prefix"' EXIT
./meshnet lab up --prefix "$prefix" --hosts 3 --topology line --meshnet
echo "Waiting for the mesh to converge..."
sleep 3
for h in h1 h3; do
  echo; echo "== meshnet status on $h"; ./meshnet lab exec --prefix "$prefix" "$h" -- ./meshnet status
done
echo; echo "== meshnet status peers on h1 (h1 knows h3 only through h2's gossip)"
./meshnet lab exec --prefix "$prefix" h1 -- ./meshnet status peers
