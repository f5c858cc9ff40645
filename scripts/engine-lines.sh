#!/usr/bin/env bash
# Lines under balancer/forward/ that belong to one forwarding engine, at a commit (default: the
# work tree), after formatting with the repository's Prettier settings so that commits from
# before Prettier count the same way.
# A file is engine-specific when it sits in an engine's folder (raw/, undici/) or its name starts
# with an engine's name and ends in -forwarder.ts or -pools.ts (the layout before the folders).
# Everything else under balancer/forward/ is shared by every engine (the request core among it).
# Usage: bash scripts/engine-lines.sh [commit]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ $# -gt 0 ]]; then
  git archive "$1" balancer/forward | tar -x -C "$tmp"
else
  mkdir -p "$tmp/balancer" && cp -r balancer/forward "$tmp/balancer/"
fi
(cd "$tmp" && "$root/node_modules/.bin/prettier" --config "$root/.prettierrc.json" --write 'balancer/forward/**/*.ts' >/dev/null)
cd "$tmp"
find balancer/forward -name '*.ts' -print0 | xargs -0 wc -l | grep -v ' total$' | sort -k2 | awk '
  {
    f = $2; n = $1
    if (f ~ /^balancer\/forward\/(raw|undici)\//) { split(f, p, "/"); key = p[3] "/" }
    else if (f ~ /^balancer\/forward\/(undici|http-proxy)-(forwarder|pools)[.]ts$/) { key = f; sub(/^balancer\/forward\//, "", key) }
    else { shared += n; next }
    engine[key] += n; total += n
  }
  END {
    for (k in engine) printf "%6d  %s\n", engine[k], k
    printf "%6d  engine-specific in all\n%6d  shared by every engine\n", total, shared
  }'
