#!/usr/bin/env bash
# The Docker Compose stack behind the Makefile's Docker targets. Works with
# Compose v1 (`docker-compose`, Debian's) and v2 (`docker compose`).
#
#   scripts/stack.sh up              build if needed, start, wait until the balancer serves
#   scripts/stack.sh down            stop and remove the stack (and its Redis volume)
#   scripts/stack.sh scale N         run N backends
#   scripts/stack.sh stop|kill|start|pause|unpause N    act on backend replica N
#   scripts/stack.sh fault N JSON|clear   set or clear faults of backend replica N (its control port, by docker exec)
#   scripts/stack.sh logs [service]  follow the logs
#   scripts/stack.sh ps              list the containers
#   scripts/stack.sh images          print the base images `up` would use (builds host ones offline)
#   scripts/stack.sh build           build $SWITCHYARD_IMAGE (as `up` does) and print the Redis image to use
#   scripts/stack.sh compose ARGS    run compose with the stack's project and settings
#
# Environment: PROJECT (Compose project, default switchyard), BACKENDS (3),
# OFFLINE=1 (skip the registry, build base images from this host's node and
# redis-server), NODE_IMAGE / REDIS_IMAGE (explicit base images),
# SWITCHYARD_PUBLISH_PORT (9090), SWITCHYARD_PUBLISH_TLS_PORT (9443),
# SWITCHYARD_PUBLISH_ADMIN_PORT (9091), SWITCHYARD_TLS_NAMES (more names for
# the HTTPS certificate, scripts/stack-tls.sh),
# SWITCHYARD_NETWORK (switchyard), UP_TIMEOUT (seconds to wait, 180),
# SWITCHYARD_COMPOSE ('docker compose' or 'docker-compose': which Compose; by
# default v2 when installed, else v1).
set -euo pipefail
cd "$(dirname "$0")/.."

DEFAULT_NODE_IMAGE=node:26-bookworm-slim
DEFAULT_REDIS_IMAGE=redis:7-alpine
export SWITCHYARD_IMAGE=${SWITCHYARD_IMAGE:-switchyard:local}
PROJECT=${PROJECT:-${COMPOSE_PROJECT_NAME:-switchyard}}
PORT=${SWITCHYARD_PUBLISH_PORT:-9090}
TLS_PORT=${SWITCHYARD_PUBLISH_TLS_PORT:-9443}
ADMIN_PORT=${SWITCHYARD_PUBLISH_ADMIN_PORT:-9091}

say() { echo "switchyard: $*" >&2; }
die() { say "$*"; exit 1; }

need_docker() {
  command -v docker >/dev/null || die "docker is not installed (Debian: apt-get install docker.io docker-compose)"
  docker info >/dev/null 2>&1 || die "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}; start dockerd"
}

# --- Compose flavour ---------------------------------------------------------
# SWITCHYARD_COMPOSE picks one ('docker compose' or v2, 'docker-compose' or v1)
# and fails when it is missing; unset, v2 is preferred when both are installed.
COMPOSE=()
v1_env() {
  # Compose v1 builds through docker-py or the CLI; without buildx only the classic builder works.
  if [[ $(docker-compose version --short 2>/dev/null) == 1.* ]]; then export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0; fi
}
detect_compose() {
  ((${#COMPOSE[@]})) && return
  case "${SWITCHYARD_COMPOSE:-}" in
    'docker compose' | v2)
      docker compose version >/dev/null 2>&1 || die "SWITCHYARD_COMPOSE=${SWITCHYARD_COMPOSE} but 'docker compose' (Compose v2) is not installed (make compose-v2 installs it)"
      COMPOSE=(docker compose) ;;
    docker-compose | v1)
      command -v docker-compose >/dev/null || die "SWITCHYARD_COMPOSE=${SWITCHYARD_COMPOSE} but 'docker-compose' (Compose v1) is not installed (Debian: apt-get install docker-compose)"
      COMPOSE=(docker-compose)
      v1_env ;;
    '')
      if docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
      elif command -v docker-compose >/dev/null; then
        COMPOSE=(docker-compose)
        v1_env
      else
        die "neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed (Debian: apt-get install docker-compose; make compose-v2 adds v2)"
      fi ;;
    *) die "SWITCHYARD_COMPOSE=${SWITCHYARD_COMPOSE} is not a Compose: use 'docker compose' (v2) or 'docker-compose' (v1)" ;;
  esac
}

compose() {
  detect_compose
  "${COMPOSE[@]}" -p "$PROJECT" "$@"
}

# Settings compose reads from .env, so plain `docker-compose ...` commands see the same stack.
load_env() {
  local key
  for key in NODE_IMAGE REDIS_IMAGE DOCKER_GID; do
    if [[ -z ${!key:-} && -f .env ]]; then
      local v
      v=$(sed -n "s/^$key=//p" .env | tail -1)
      [[ -n $v ]] && export "$key=$v"
    fi
  done
  # Compose wants it for every command (the file names no default): detect it.
  [[ -n ${DOCKER_GID:-} ]] || DOCKER_GID=$(docker_gid)
  export DOCKER_GID
  return 0
}

set_env_key() {
  local key=$1 value=$2
  touch .env
  if grep -q "^$key=" .env; then
    sed -i "s|^$key=.*|$key=$value|" .env
  else
    echo "$key=$value" >>.env
  fi
}

# --- Images --------------------------------------------------------------------
image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# Echoes the image to use for one base: the requested or official one, pulled
# if needed; offline, or when the official one cannot be pulled, a base image
# made from this host's own binary.
pick_image() {
  local what=$1 requested=$2 default=$3
  local want=${requested:-$default}
  if [[ ${OFFLINE:-0} == 1 ]]; then
    say "OFFLINE=1: making the $what base image from this host's binaries"
    scripts/base-images.sh "$what"
    return
  fi
  if image_present "$want"; then echo "$want"; return; fi
  if [[ $want == switchyard-base/* ]]; then scripts/base-images.sh "$what"; return; fi
  say "pulling $want"
  if timeout "${PULL_TIMEOUT:-120}" docker pull -q "$want" >/dev/null 2>&1; then echo "$want"; return; fi
  [[ -z $requested || $requested == "$default" ]] || die "cannot pull $requested (set by NODE_IMAGE/REDIS_IMAGE); unset it to fall back to a host-made image"
  say "cannot pull $want: no image registry reachable. Building the $what base image from local binaries (Node.js from the npm registry, this host's redis-server) instead (OFFLINE=1 skips the attempt)."
  scripts/base-images.sh "$what"
}

resolve_images() {
  export NODE_IMAGE REDIS_IMAGE
  NODE_IMAGE=$(pick_image node "${NODE_IMAGE:-}" "$DEFAULT_NODE_IMAGE")
  REDIS_IMAGE=$(pick_image redis "${REDIS_IMAGE:-}" "$DEFAULT_REDIS_IMAGE")
}

# The group owning the engine's socket, given to the Docker API proxy alone.
# Never assumed: without the socket there is nothing to give.
docker_gid() {
  local sock=/var/run/docker.sock
  [[ -S $sock ]] || die "no Docker socket at $sock: the stack's docker-api proxy mounts it (set DOCKER_GID by hand if your engine's socket is elsewhere)"
  stat -c %g "$sock"
}

build_image() {
  # npm inside the build may go through a TLS-intercepting proxy the host trusts.
  local ca
  for ca in "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
    if [[ -n $ca && -s $ca ]]; then cp "$ca" docker/ca/ca-certificates.crt; break; fi
  done
  local builder=()
  docker buildx version >/dev/null 2>&1 || builder=(env DOCKER_BUILDKIT=0)
  say "building $SWITCHYARD_IMAGE on $NODE_IMAGE"
  "${builder[@]}" docker build -q --force-rm --build-arg "NODE_IMAGE=$NODE_IMAGE" -t "$SWITCHYARD_IMAGE" . >/dev/null
}

# --- HTTP without curl (a fresh Debian has bash but not always curl) -----------
# The admin API wants the stack's token (scripts/stack-secrets.sh keeps it).
admin_token() { cat .secrets/admin_token 2>/dev/null || true; }

http_get() {
  local url=$1 token
  token=$(admin_token)
  if command -v curl >/dev/null; then
    # The header from stdin: a token never shows in the process list.
    curl -fsS --max-time 2 -H @- "$url" <<<"authorization: Bearer $token"
    return
  fi
  local rest=${url#http://} hostport path host port
  hostport=${rest%%/*}
  path=/${rest#*/}
  [[ $rest == */* ]] || path=/
  host=${hostport%%:*}
  port=${hostport##*:}
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n" "$2" "$0" "$3" >&3
    IFS= read -r status <&3
    [[ $status =~ ^HTTP/1\.[01]\ 2 ]] || exit 1
    while IFS= read -r line <&3; do [[ $line == $'"'"'\r'"'"' ]] && break; done
    cat <&3' "$host" "$port" "$path" "$token"
}

routable_count() {
  local body
  body=$(http_get "http://127.0.0.1:$ADMIN_PORT/backends" 2>/dev/null) || body=''
  { grep -o '"routable":true' <<<"$body" || true; } | wc -l
}

# Docker's userland proxy (docker-proxy) carries localhost:$PORT when the engine
# runs with its default "userland-proxy": true; it costs about as much CPU per
# request as the balancer itself (docs/performance.md, make bench-compose).
userland_proxy_note() {
  [[ -r /proc/self/comm ]] || return 0
  local comm
  for comm in /proc/[0-9]*/comm; do
    if [[ $(cat "$comm" 2>/dev/null) == docker-proxy ]]; then
      say "note: Docker's userland proxy (docker-proxy) is in the path of localhost:$PORT; for load tests set \"userland-proxy\": false in /etc/docker/daemon.json and restart dockerd (docs/performance.md)"
      return 0
    fi
  done
}

wait_serving() {
  local want=$1 deadline=$((SECONDS + ${UP_TIMEOUT:-180})) n=0
  say "waiting for $want routable backends behind http://localhost:$PORT"
  while ((SECONDS < deadline)); do
    n=$(routable_count)
    if ((n >= want)) && http_get "http://127.0.0.1:$PORT/" >/dev/null 2>&1; then
      say "up: $n backends behind http://localhost:$PORT (admin API http://127.0.0.1:$ADMIN_PORT/backends)"
      say "HTTPS and HTTP/2 with the stack's own CA: curl --cacert $PWD/.tls/ca.pem https://localhost:$TLS_PORT/"
      say "the admin token is SWITCHYARD_ADMIN_TOKEN in $PWD/.env (also $PWD/.secrets/admin_token): curl -H \"authorization: Bearer \$(cat .secrets/admin_token)\" http://127.0.0.1:$ADMIN_PORT/backends"
      userland_proxy_note
      return 0
    fi
    sleep 0.5
  done
  compose ps >&2 || true
  compose logs --tail=30 controller balancer >&2 || true
  die "the balancer did not serve $want backends within ${UP_TIMEOUT:-180}s (routable: $n)"
}

# --- Replicas ------------------------------------------------------------------
replica() {
  local n=$1 ids name
  [[ $n =~ ^[0-9]+$ ]] || die "give the replica number: make $2 N=3"
  ids=$(docker ps -a --format '{{.ID}} {{.Names}}' \
    --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=backend" \
    --filter "label=com.docker.compose.container-number=$n")
  [[ -n $ids ]] || die "no backend replica $n in project $PROJECT (make ps)"
  if [[ $(wc -l <<<"$ids") -gt 1 ]]; then
    # Two containers with one number (a leftover of Compose v1 recreating one): the one with the replica's own name.
    for name in "${PROJECT}_backend_$n" "${PROJECT}-backend-$n"; do
      if grep -q " $name\$" <<<"$ids"; then
        grep " $name\$" <<<"$ids" | cut -d' ' -f1
        return
      fi
    done
    die "several backend containers are replica $n in project $PROJECT: $(tr '\n' ' ' <<<"$ids")"
  fi
  cut -d' ' -f1 <<<"$ids"
}

# --- Commands ------------------------------------------------------------------
cmd_up() {
  need_docker
  load_env
  resolve_images
  export DOCKER_GID=${DOCKER_GID:-$(docker_gid)}
  bash scripts/stack-secrets.sh
  bash scripts/stack-tls.sh
  set_env_key NODE_IMAGE "$NODE_IMAGE"
  set_env_key REDIS_IMAGE "$REDIS_IMAGE"
  set_env_key DOCKER_GID "$DOCKER_GID"
  grep -q '^COMPOSE_PROJECT_NAME=' .env || set_env_key COMPOSE_PROJECT_NAME "$PROJECT"
  build_image
  local backends=${BACKENDS:-3}
  detect_compose
  say "starting project $PROJECT with ${COMPOSE[*]} $("${COMPOSE[@]}" version --short 2>/dev/null || true)"
  compose up -d --no-build --remove-orphans --scale "backend=$backends"
  wait_serving "$backends"
}

cmd_down() {
  need_docker
  load_env
  compose down -v --remove-orphans --timeout 15
}

cmd_scale() {
  local n=${1:-}
  [[ $n =~ ^[0-9]+$ ]] || die "give the number of backends: make scale N=5"
  need_docker
  load_env
  compose up -d --no-build --no-recreate --scale "backend=$n" backend
}

# runc freezes a container by asking the kernel's freezer and polling until
# every task reports frozen; on a loaded host a task can be caught mid-syscall
# and runc gives up ("unable to freeze") and thaws it again, leaving the
# container running. That is a refusal, not a state: try again a few times.
pause_container() {
  local id=$1 try out
  for try in 1 2 3 4 5; do
    if out=$(docker pause "$id" 2>&1 >/dev/null); then return 0; fi
    [[ $out == *"unable to freeze"* ]] || { echo "$out" >&2; return 1; }
    echo "pause: attempt $try: $out" >&2
    sleep 0.5
  done
  die "pause: the freezer refused 5 times"
}

cmd_replica() {
  local action=$1 id
  need_docker
  id=$(replica "${2:-}" "$action")
  if [[ $action == pause ]]; then
    pause_container "$id"
  else
    docker "$action" "$id" >/dev/null
  fi
  say "$action: $(docker inspect -f '{{.Name}}' "$id" | sed 's|^/||')"
}

# The backend's fault API listens on the container's own loopback (port
# 18081): reached with docker exec, never through the proxy or the network.
cmd_fault() {
  local n=${1:-} spec=${2:-} id method=POST
  [[ -n $spec ]] || die "give the faults as JSON, or clear: make fault N=3 FAULT='{\"latencyMs\":200}'"
  need_docker
  id=$(replica "$n" fault)
  if [[ $spec == clear ]]; then method=DELETE spec=''; fi
  docker exec "$id" node -e '
    const [method, body] = process.argv.slice(1);
    fetch("http://127.0.0.1:18081/fault", { method, body: body || undefined, headers: body ? { "content-type": "application/json" } : {} })
      .then(async (r) => { console.log(await r.text()); process.exit(r.ok ? 0 : 1); }, (e) => { console.error(e.message); process.exit(1); });
  ' "$method" "$spec"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  scale) cmd_scale "${2:-}" ;;
  stop | kill | start | pause | unpause) cmd_replica "$1" "${2:-}" ;;
  fault) cmd_fault "${2:-}" "${3:-}" ;;
  logs) shift; need_docker; load_env; compose logs -f --tail=100 "$@" ;;
  ps) need_docker; load_env; compose ps ;;
  images) need_docker; resolve_images; echo "NODE_IMAGE=$NODE_IMAGE"; echo "REDIS_IMAGE=$REDIS_IMAGE" ;;
  build) need_docker; load_env; resolve_images; build_image; echo "REDIS_IMAGE=$REDIS_IMAGE" ;;
  compose) shift; need_docker; load_env; compose "$@" ;;
  *) die "usage: $0 up|down|scale N|stop N|kill N|start N|pause N|unpause N|fault N JSON|clear|logs|ps|images|compose ARGS" ;;
esac
