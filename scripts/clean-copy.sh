#!/usr/bin/env bash
# Copies the project as a fresh clone would have it (tracked files plus new,
# not ignored ones; no node_modules, dist, .env or other local state) into DEST.
# With --committed (or SWITCHYARD_E2E_COMMITTED=1): exactly the last commit,
# leaving out uncommitted work in a shared tree.
# Usage: scripts/clean-copy.sh [--committed] DEST
set -euo pipefail
committed=${SWITCHYARD_E2E_COMMITTED:-0}
if [[ ${1:-} == --committed ]]; then committed=1; shift; fi
dest=${1:?usage: $0 [--committed] DEST}
cd "$(dirname "$0")/.."
rm -rf "$dest"
mkdir -p "$dest"
if [[ $committed == 1 ]]; then
  git archive HEAD | tar -x -C "$dest"
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -f $f ]] && printf '%s\0' "$f"
  done | xargs -0 -r cp --parents -t "$dest"
else
  tar -c --exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./.env --exclude=./tests/output . | tar -x -C "$dest"
fi
