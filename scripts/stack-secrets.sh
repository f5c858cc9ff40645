#!/usr/bin/env bash
# The Compose stack's credentials, made once and kept (scripts/stack.sh up runs this).
#
#   .env      (mode 0600, never committed) holds the admin token and one Redis
#             password per role; made on the first run, kept afterwards.
#   .secrets/ (mode 0700, never committed) holds what the containers read, as
#             Compose secrets mounted at /run/secrets/<name>:
#               admin_token           the balancer's admin API token
#               redis_balancer_url    redis://balancer:...@redis:6379
#               redis_controller_url  redis://controller:...@redis:6379
#               redis_observer_url    redis://observer:...@redis:6379 (read-only: tools, tests)
#               redis_users_acl       Redis ACL file: password hashes only
#               acme_key              seals ACME private keys before they go to Redis
#                                     (used once SWITCHYARD_ACME_DOMAINS is set; docs/edge.md)
#
# Nothing here prints a secret. The role matrix is in docs/security.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=switchyard:
ENV_FILE=.env
DIR=.secrets

umask 077
touch "$ENV_FILE"
chmod 600 "$ENV_FILE"

env_value() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -1; }

new_secret() { head -c 30 /dev/urandom | base64 | tr -d '/+=\n'; }

ensure_key() {
  local key=$1
  [[ -n $(env_value "$key") ]] && return 0
  printf '%s=%s\n' "$key" "$(new_secret)" >>"$ENV_FILE"
  made+=("$key")
}

made=()
ensure_key SWITCHYARD_ADMIN_TOKEN
ensure_key REDIS_BALANCER_PASSWORD
ensure_key REDIS_CONTROLLER_PASSWORD
ensure_key REDIS_OBSERVER_PASSWORD
ensure_key SWITCHYARD_ACME_KEY

mkdir -p "$DIR"
chmod 700 "$DIR"

put() {
  local name=$1 value=$2
  printf '%s\n' "$value" >"$DIR/$name.tmp"
  # Readable by the containers' own users (node, redis); the 0700 directory keeps other host users out.
  chmod 644 "$DIR/$name.tmp"
  mv -f "$DIR/$name.tmp" "$DIR/$name"
}

hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

balancer_pw=$(env_value REDIS_BALANCER_PASSWORD)
controller_pw=$(env_value REDIS_CONTROLLER_PASSWORD)
observer_pw=$(env_value REDIS_OBSERVER_PASSWORD)

put admin_token "$(env_value SWITCHYARD_ADMIN_TOKEN)"
put acme_key "$(env_value SWITCHYARD_ACME_KEY)"
put redis_balancer_url "redis://balancer:$balancer_pw@redis:6379"
put redis_controller_url "redis://controller:$controller_pw@redis:6379"
put redis_observer_url "redis://observer:$observer_pw@redis:6379"

# Keys of the registry (docs/registry.md) and the controller's writer lease.
registry="~${PREFIX}backends ~${PREFIX}backend:* ~${PREFIX}version ~${PREFIX}version:at"
lease="~${PREFIX}controller-lease:*"
# The load each balancer reports for the autoscaler (common/registry/redis-load-board.ts).
load="~${PREFIX}load:* ~${PREFIX}loads"
# Rate-limit buckets, strikes and bans shared by the balancers (--edge-store redis; common/registry/redis-edge-store.ts).
edge="~${PREFIX}rl:* ~${PREFIX}strikes:* ~${PREFIX}bans"
# Automatic certificates: account, certificates (keys sealed), HTTP-01 challenges, the renewer's lease.
acme="~${PREFIX}acme:*"
channel="&${PREFIX}changes &${PREFIX}events &${PREFIX}bans &${PREFIX}acme"
# What every client of ours sends: ioredis's ready check (INFO) and connection name, PING.
base='-@all +ping +info +client|setname +quit'
# The registry scripts: EVALSHA (EVAL when not cached) and the commands they run.
registry_read='+get +evalsha +eval +smembers +sismember +exists +hget +hgetall +hlen +subscribe +unsubscribe'
registry_write='+hset +del +sadd +srem +incr +set +publish'
put redis_users_acl "$(
  cat <<ACL
user default on nopass resetkeys resetchannels -@all +ping
user balancer on #$(hash "$balancer_pw") resetkeys resetchannels $registry $load $edge $acme $channel $base $registry_read $registry_write +pexpire +zadd +zremrangebyscore +time +hmget +zrange +zrangebyscore +zrem
user controller on #$(hash "$controller_pw") resetkeys resetchannels $registry $lease $load $channel $base $registry_read $registry_write +pexpire +pttl +zrangebyscore +time
user observer on #$(hash "$observer_pw") resetkeys resetchannels %R~${PREFIX}* $channel $base +get +smembers +sismember +exists +hget +hgetall +hlen +type +scan +ttl +pttl +subscribe +unsubscribe
ACL
)"

if ((${#made[@]})); then
  echo "switchyard: made new credentials (${made[*]}) in $PWD/$ENV_FILE (mode 0600); the containers read them from $PWD/$DIR/" >&2
fi
