#!/usr/bin/env bash
# The same stack on Docker Swarm, behind `make swarm-up` / `make swarm-down` (docs/swarm.md).
#
#   scripts/swarm.sh up      single-node swarm if none, build the image, deploy the stack, wait until served
#   scripts/swarm.sh down    remove the stack; leave the swarm only if `up` created it
#
# The stack file is written from docker-compose.yml at each `up` (scripts/swarm-stack.ts,
# into .swarm-stack.yml), so Compose and Swarm share one description.
#
# Environment: STACK (stack name, default switchyard), BACKENDS (3), BALANCERS (1),
# SWITCHYARD_PUBLISH_PORT (9090), SWITCHYARD_PUBLISH_TLS_PORT (9443, HTTPS with the
# local CA of scripts/stack-tls.sh), SWARM_PUBLISH (host: the port is bound on the node and
# services are found by DNS; ingress: the routing mesh and virtual IPs, which need IPVS
# in the kernel), AUTOSCALE=1 (the controller scales services labelled switchyard.autoscale.*;
# SWITCHYARD_AUTOSCALE_INTERVAL and SWITCHYARD_AUTOSCALE_DOWN_WINDOW tune it),
# UP_TIMEOUT (seconds to wait, 180), and the image settings of
# scripts/stack.sh (OFFLINE, NODE_IMAGE, REDIS_IMAGE).
set -euo pipefail
cd "$(dirname "$0")/.."

STACK=${STACK:-switchyard}
PORT=${SWITCHYARD_PUBLISH_PORT:-9090}
export SWITCHYARD_IMAGE=${SWITCHYARD_IMAGE:-switchyard:local}
# Swarm names the overlay networks after the stack; the controller reads backends on this one.
export SWITCHYARD_NETWORK=${SWITCHYARD_NETWORK:-${STACK}_backends}
export SWITCHYARD_PROJECT=$STACK
CREATED_MARK=.swarm-created

say() { echo "switchyard: $*" >&2; }
die() { say "$*"; exit 1; }

need_docker() {
  command -v docker >/dev/null || die "docker is not installed (Debian: apt-get install docker.io)"
  docker info >/dev/null 2>&1 || die "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}; start dockerd"
}

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

ensure_swarm() {
  case $(swarm_state) in
    active)
      [[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] || die "this node is a swarm worker: run make swarm-up on a manager"
      ;;
    inactive)
      say "no swarm here: initialising a single-node swarm (make swarm-down leaves it again)"
      docker swarm init --advertise-addr "${SWARM_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null
      touch "$CREATED_MARK"
      ;;
    *) die "the engine's swarm state is '$(swarm_state)'; fix it (docker swarm leave --force, or join) and try again" ;;
  esac
}

# X-Backend values of `n` requests to the published port, one per line (empty when not served).
served_by() {
  local n=$1 i
  for ((i = 0; i < n; i++)); do
    timeout 2 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 0
      printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
      IFS= read -r status <&3
      [[ $status =~ ^HTTP/1\.[01]\ 200 ]] || exit 0
      while IFS= read -r line <&3; do
        line=${line%$'"'"'\r'"'"'}
        [[ -z $line ]] && break
        [[ ${line,,} == x-backend:* ]] && echo "${line#*: }"
      done' "$PORT" 2>/dev/null || true
  done
}

wait_serving() {
  local want=$1 deadline=$((SECONDS + ${UP_TIMEOUT:-180})) n=0
  say "waiting until $want backends answer behind http://localhost:$PORT"
  while ((SECONDS < deadline)); do
    n=$(served_by $((want * 4)) | sort -u | grep -c . || true)
    if ((n >= want)); then
      say "up: stack $STACK, $n backends behind http://localhost:$PORT (docker service ls; docker service scale ${STACK}_backend=5)"
      return 0
    fi
    sleep 1
  done
  docker stack ps "$STACK" --no-trunc >&2 || true
  docker service logs --tail 30 "${STACK}_controller" >&2 || true
  die "the balancer did not serve $want backends within ${UP_TIMEOUT:-180}s (seen: $n)"
}

cmd_up() {
  need_docker
  ensure_swarm
  bash scripts/stack-secrets.sh
  bash scripts/stack-tls.sh
  # The image and the Redis base image, as `make up` makes them (offline from this host's binaries).
  local out
  out=$(bash scripts/stack.sh build)
  export REDIS_IMAGE=${out##*REDIS_IMAGE=}
  export DOCKER_GID=${DOCKER_GID:-$(stat -c %g /var/run/docker.sock)}
  local backends=${BACKENDS:-3}
  local autoscale=()
  [[ ${AUTOSCALE:-0} == 1 ]] && autoscale=(--autoscale)
  node --import tsx scripts/swarm-stack.ts --backends "$backends" --balancers "${BALANCERS:-1}" --publish "${SWARM_PUBLISH:-host}" "${autoscale[@]}" >.swarm-stack.yml
  say "deploying stack $STACK ($backends backends)"
  docker stack deploy --resolve-image never --prune -c .swarm-stack.yml "$STACK" >/dev/null
  wait_serving "$backends"
}

cmd_down() {
  need_docker
  if [[ $(swarm_state) == active ]]; then
    docker stack rm "$STACK" >/dev/null 2>&1 || true
    # The stack's networks go once its tasks are gone; wait, so an `up` right after finds none.
    local deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)) && [[ -n $(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK") ]]; do sleep 1; done
  fi
  if [[ -f $CREATED_MARK ]]; then
    say "leaving the single-node swarm make swarm-up created"
    docker swarm leave --force >/dev/null 2>&1 || true
    rm -f "$CREATED_MARK"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  *) die "usage: scripts/swarm.sh up|down" ;;
esac
