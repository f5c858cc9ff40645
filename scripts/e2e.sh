#!/usr/bin/env bash
# End-to-end suite: the Docker Compose stack against a real Docker engine
# (tests/e2e). Runs in a clean copy of the project with its own Compose
# project, ports and network, so a developer's `make up` is left alone.
#
# In CI (CI=true) a missing Docker engine or Compose is a failure. On a
# developer machine without them the suite is not run, and this says so loudly.
#
# One Compose runs the suite, the same on every run: Compose v1
# (`docker-compose`, Debian bookworm's) when installed, else v2
# (`docker compose`); SWITCHYARD_E2E_COMPOSE='docker compose' or
# 'docker-compose' chooses. The Compose v2 walk-through
# (tests/e2e/10-compose-v2-walkthrough.test.ts) runs on v2 alone, in a project
# of its own (SWITCHYARD_E2E_V2_PROJECT, ports SWITCHYARD_E2E_V2_PORT and
# SWITCHYARD_E2E_V2_ADMIN_PORT: the suite's + 10); without v2 it fails in CI and
# is reported as not run elsewhere (make compose-v2 installs v2).
set -euo pipefail
cd "$(dirname "$0")/.."

banner() {
  local line='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
  printf '\n%s\n!!! %s\n%s\n\n' "$line" "$*" "$line" >&2
}

missing=''
if ! command -v docker >/dev/null; then
  missing='the docker command is not installed'
elif ! docker info >/dev/null 2>&1; then
  missing="no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}"
elif [[ -n ${SWITCHYARD_E2E_COMPOSE:-} ]]; then
  case $SWITCHYARD_E2E_COMPOSE in
    'docker compose') docker compose version >/dev/null 2>&1 || missing="SWITCHYARD_E2E_COMPOSE='docker compose' but Compose v2 is not installed (make compose-v2)" ;;
    docker-compose) command -v docker-compose >/dev/null || missing="SWITCHYARD_E2E_COMPOSE=docker-compose but Compose v1 is not installed" ;;
    *) echo "e2e: SWITCHYARD_E2E_COMPOSE must be 'docker compose' or 'docker-compose', not '$SWITCHYARD_E2E_COMPOSE'" >&2; exit 2 ;;
  esac
elif command -v docker-compose >/dev/null; then
  SWITCHYARD_E2E_COMPOSE=docker-compose
elif docker compose version >/dev/null 2>&1; then
  SWITCHYARD_E2E_COMPOSE='docker compose'
else
  missing='neither docker compose (v2) nor docker-compose (v1) is installed'
fi
if [[ -n $missing ]]; then
  if [[ ${CI:-} == true ]]; then
    banner "e2e FAILED: $missing. In CI the end-to-end suite must run (.ci/run installs and starts Docker)."
    exit 1
  fi
  banner "E2E SUITE NOT RUN: $missing. Install docker.io and docker-compose and start dockerd, then run 'make e2e'."
  exit 0
fi

export SWITCHYARD_E2E_PROJECT=${SWITCHYARD_E2E_PROJECT:-swye2e}
export SWITCHYARD_E2E_PORT=${SWITCHYARD_E2E_PORT:-19090}
export SWITCHYARD_E2E_ADMIN_PORT=${SWITCHYARD_E2E_ADMIN_PORT:-19091}
export SWITCHYARD_E2E_TLS_PORT=${SWITCHYARD_E2E_TLS_PORT:-19443}
export SWITCHYARD_E2E_NETWORK=${SWITCHYARD_E2E_NETWORK:-$SWITCHYARD_E2E_PROJECT-net}
export SWITCHYARD_E2E_IMAGE=${SWITCHYARD_E2E_IMAGE:-switchyard:$SWITCHYARD_E2E_PROJECT}
export SWITCHYARD_E2E_DIR=${SWITCHYARD_E2E_DIR:-${TMPDIR:-/tmp}/switchyard-e2e-$SWITCHYARD_E2E_PROJECT}
# The suite's make targets run stack.sh, which takes the Compose from here.
export SWITCHYARD_COMPOSE=$SWITCHYARD_E2E_COMPOSE
export SWITCHYARD_E2E_V2_PROJECT=${SWITCHYARD_E2E_V2_PROJECT:-${SWITCHYARD_E2E_PROJECT}v2}
export SWITCHYARD_E2E_V2_PORT=${SWITCHYARD_E2E_V2_PORT:-$((SWITCHYARD_E2E_PORT + 10))}
export SWITCHYARD_E2E_V2_ADMIN_PORT=${SWITCHYARD_E2E_V2_ADMIN_PORT:-$((SWITCHYARD_E2E_ADMIN_PORT + 10))}
export SWITCHYARD_E2E_V2_TLS_PORT=${SWITCHYARD_E2E_V2_TLS_PORT:-$((SWITCHYARD_E2E_TLS_PORT + 10))}
export SWITCHYARD_E2E_V2_DIR=${SWITCHYARD_E2E_V2_DIR:-$SWITCHYARD_E2E_DIR-v2}
echo "e2e: the suite runs on $SWITCHYARD_COMPOSE ($($SWITCHYARD_COMPOSE version --short 2>/dev/null)); the Compose v2 walk-through on: $(docker compose version --short 2>/dev/null || echo 'none installed')" >&2

remove_stacks() {
  [[ -f $SWITCHYARD_E2E_DIR/scripts/stack.sh ]] && PROJECT=$SWITCHYARD_E2E_PROJECT SWITCHYARD_NETWORK=$SWITCHYARD_E2E_NETWORK SWITCHYARD_IMAGE=$SWITCHYARD_E2E_IMAGE \
    bash "$SWITCHYARD_E2E_DIR/scripts/stack.sh" down >/dev/null 2>&1 || true
  docker ps -aq --filter "label=switchyard.e2e=$SWITCHYARD_E2E_PROJECT" | xargs -r docker rm -f >/dev/null 2>&1 || true
  # The walk-through takes its stack down itself; this is for a run cut short.
  if [[ -f $SWITCHYARD_E2E_V2_DIR/.env ]]; then
    PROJECT=$SWITCHYARD_E2E_V2_PROJECT SWITCHYARD_NETWORK=$SWITCHYARD_E2E_V2_PROJECT-net SWITCHYARD_IMAGE=switchyard:$SWITCHYARD_E2E_V2_PROJECT \
      SWITCHYARD_COMPOSE='' bash "$SWITCHYARD_E2E_V2_DIR/scripts/stack.sh" down >/dev/null 2>&1 || true
  fi
  rm -rf "$SWITCHYARD_E2E_V2_DIR"
}

teardown() {
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    echo "e2e: E2E_KEEP=1, leaving project $SWITCHYARD_E2E_PROJECT running in $SWITCHYARD_E2E_DIR" >&2
    return
  fi
  remove_stacks
}

# Every port the stacks publish must be free before they start: a port held by
# anything else (a balancer started by hand, another stack) fails every test
# with one Compose error. A stack an earlier run kept (E2E_KEEP=1) goes first.
ports_free() {
  local name port held=''
  for name in SWITCHYARD_E2E_PORT SWITCHYARD_E2E_ADMIN_PORT SWITCHYARD_E2E_TLS_PORT \
    SWITCHYARD_E2E_V2_PORT SWITCHYARD_E2E_V2_ADMIN_PORT SWITCHYARD_E2E_V2_TLS_PORT; do
    port=${!name}
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      held+="  $name=$port is in use: $(ss -ltnpH "sport = :$port" 2>/dev/null | awk '{print $NF}' | head -1)"$'\n'
    fi
  done
  [[ -z $held ]] && return 0
  banner "e2e FAILED: the suite's ports are taken on 127.0.0.1. Stop what holds them, or choose other ports with these variables:"
  printf '%s' "$held" >&2
  return 1
}

started=$SECONDS
remove_stacks
ports_free || exit 1
bash scripts/clean-copy.sh "$SWITCHYARD_E2E_DIR"
trap teardown EXIT

files=()
if (($#)); then files=("$@"); else mapfile -t files < <(find tests/e2e -maxdepth 1 -name '*.test.ts' | sort); fi
status=0
node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=300000 "${files[@]}" || status=$?
took=$((SECONDS - started))
echo "e2e: finished in $took s (exit $status)" >&2
# Issue 3: a cold run (fresh machine, no images yet) must take under 10 minutes in CI.
limit=${SWITCHYARD_E2E_MAX_SECONDS:-600}
if ((status == 0 && took >= limit)); then
  echo "e2e FAILED: the suite took $took s, over its limit of $limit s" >&2
  [[ ${CI:-} == true ]] && status=1
fi
exit "$status"
