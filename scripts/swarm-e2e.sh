#!/usr/bin/env bash
# The Swarm stage (tests/swarm): the stack deployed on a single-node swarm by
# scripts/swarm.sh, scaled and updated under load. Its own stage with its own
# time limit (SWITCHYARD_SWARM_MAX_SECONDS, 300 s), run from a clean copy of the
# project, its own stack name, port and image. A swarm it had to create is left
# again at the end. In CI a missing Docker engine is a failure; elsewhere the
# stage says loudly that it did not run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  if [[ ${CI:-} == true ]]; then
    echo "swarm e2e FAILED: no Docker engine answers. In CI this stage must run (.ci/run starts Docker)." >&2
    exit 1
  fi
  echo "!!! SWARM SUITE NOT RUN: no Docker engine answers; start dockerd, then run 'make swarm-e2e'." >&2
  exit 0
fi

export SWITCHYARD_SWARM_STACK=${SWITCHYARD_SWARM_STACK:-swyswarm}
export SWITCHYARD_SWARM_PORT=${SWITCHYARD_SWARM_PORT:-19290}
export SWITCHYARD_SWARM_IMAGE=${SWITCHYARD_SWARM_IMAGE:-switchyard:$SWITCHYARD_SWARM_STACK}
export SWITCHYARD_SWARM_DIR=${SWITCHYARD_SWARM_DIR:-${TMPDIR:-/tmp}/switchyard-swarm-$SWITCHYARD_SWARM_STACK}

started=$SECONDS
bash scripts/clean-copy.sh "$SWITCHYARD_SWARM_DIR"
# scripts/swarm.sh writes the stack file with the project's own tools.
ln -s "$PWD/node_modules" "$SWITCHYARD_SWARM_DIR/node_modules"
teardown() {
  STACK=$SWITCHYARD_SWARM_STACK bash "$SWITCHYARD_SWARM_DIR/scripts/swarm.sh" down >/dev/null 2>&1 || true
  # The tag the image-change update rolled to.
  docker rmi "$SWITCHYARD_SWARM_IMAGE-next" >/dev/null 2>&1 || true
  rm -rf "$SWITCHYARD_SWARM_DIR"
}
trap teardown EXIT

files=()
if (($#)); then files=("$@"); else mapfile -t files < <(find tests/swarm -maxdepth 1 -name '*.test.ts' | sort); fi
status=0
node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=300000 "${files[@]}" || status=$?
took=$((SECONDS - started))
echo "swarm e2e: finished in $took s (exit $status)" >&2
limit=${SWITCHYARD_SWARM_MAX_SECONDS:-300}
if ((status == 0 && took >= limit)); then
  echo "swarm e2e FAILED: the stage took $took s, over its limit of $limit s" >&2
  [[ ${CI:-} == true ]] && status=1
fi
exit "$status"
