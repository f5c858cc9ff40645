#!/usr/bin/env bash
# Builds base images without an image registry, for machines that cannot
# pull one: a root filesystem holding only the program, the shared libraries
# ldd lists for it, CA certificates and a passwd entry, turned into an image
# with `docker import`. Takes seconds.
#
#   scripts/base-images.sh node    prints the image name (builds it if missing):
#                                  Node.js 26 and npm as scripts/node-runtime.sh
#                                  fetches them from the npm registry (into
#                                  .cache/node/), not the host's node
#   scripts/base-images.sh redis   same for this host's redis-server (and redis-cli)
#
# Set FORCE=1 to rebuild an existing image, BASE_NODE=24 for a Node 24 one.
set -euo pipefail

# Bump when the contents change, so existing images are rebuilt.
RECIPE=3

die() { echo "base-images: $*" >&2; exit 1; }
log() { echo "base-images: $*" >&2; }

# Copies a file into the root filesystem at the same path, following symlinks.
put() {
  local src=$1 root=$2 dest=${3:-$1}
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$src" "$root$dest"
}

# Copies each binary's shared libraries (and the dynamic loader) as ldd lists them.
put_libs() {
  local root=$1; shift
  local lib
  for lib in $(ldd "$@" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
    [[ -e $root$lib ]] || put "$lib" "$root"
  done
}

# /etc files every image needs: users, name resolution, CA certificates.
put_etc() {
  local root=$1 user=$2 uid=$3 home=$4
  mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root$home"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s::%s:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' "$user" "$uid" "$uid" "$home" >"$root/etc/passwd"
  printf 'root:x:0:\n%s:x:%s:\nnogroup:x:65534:\n' "$user" "$uid" >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  local ca
  for ca in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
    if [[ -f $ca ]]; then cp -L "$ca" "$root/etc/ssl/certs/ca-certificates.crt"; break; fi
  done
  chown -R "$uid:$uid" "$root$home"
}

# A shell, env and a few file tools: Dockerfile RUN lines, npm's lifecycle
# scripts and a person debugging a container need them.
put_shell() {
  local root=$1 sh tool path
  sh=$(command -v dash || command -v sh) || die "no /bin/sh on this host"
  put "$sh" "$root" /bin/sh
  put_libs "$root" "$sh"
  for tool in env cat cp ls mkdir rm mv ln chmod id; do
    path=$(command -v "$tool") || die "no $tool on this host"
    put "$path" "$root" "/usr/bin/$tool"
    put_libs "$root" "$path"
  done
}

# True when the image exists and was made by this recipe.
image_current() {
  [[ ${FORCE:-0} != 1 ]] && [[ $(docker image inspect -f '{{index .Config.Labels "switchyard.recipe"}}' "$1" 2>/dev/null) == "$RECIPE" ]]
}

node_image() {
  local bin node version name root npm_dir
  bin=$(bash "$(dirname "${BASH_SOURCE[0]}")/node-runtime.sh" "${BASE_NODE:-26}") || die "could not get Node.js ${BASE_NODE:-26} from the npm registry (scripts/node-runtime.sh)"
  node=$bin/node
  version=$("$node" -p 'process.versions.node')
  [[ ${version%%.*} -ge 24 ]] || die "node is $version; Switchyard needs node 24 or newer"
  name="switchyard-base/node:$version-npm"
  if image_current "$name"; then echo "$name"; return; fi
  root=$(mktemp -d)
  trap 'rm -rf "$root"' RETURN
  put "$node" "$root" /usr/local/bin/node
  put_libs "$root" "$node"
  put_shell "$root"
  npm_dir=$(dirname "$bin")/lib/node_modules/npm
  [[ -f $npm_dir/bin/npm-cli.js ]] || die "no npm next to $node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  put_etc "$root" node 1000 /home/node
  log "importing $name from $node ($(du -sh "$root" | cut -f1))"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    -c 'ENV NODE_VERSION='"$version" \
    -c 'CMD ["node"]' \
    -c "LABEL switchyard.recipe=$RECIPE" \
    -m "node $version from the npm registry (node-linux-*), by scripts/base-images.sh" - "$name" >/dev/null
  echo "$name"
}

redis_image() {
  local server cli version name root
  server=$(command -v redis-server) || die "redis-server is not installed on this host (apt-get install redis-server)"
  version=$("$server" --version | sed -nE 's/.* v=([0-9.]+).*/\1/p')
  name="switchyard-base/redis:$version-host"
  if image_current "$name"; then echo "$name"; return; fi
  root=$(mktemp -d)
  trap 'rm -rf "$root"' RETURN
  put "$server" "$root" /usr/local/bin/redis-server
  put_libs "$root" "$server"
  if cli=$(command -v redis-cli); then
    put "$cli" "$root" /usr/local/bin/redis-cli
    put_libs "$root" "$cli"
  fi
  put_shell "$root"
  put_etc "$root" redis 999 /data
  log "importing $name from $server ($(du -sh "$root" | cut -f1))"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    -c 'WORKDIR /data' \
    -c 'USER redis' \
    -c 'EXPOSE 6379' \
    -c 'CMD ["redis-server"]' \
    -c "LABEL switchyard.recipe=$RECIPE" \
    -m "redis-server $version copied from the host by scripts/base-images.sh" - "$name" >/dev/null
  echo "$name"
}

case "${1:-}" in
  node) node_image ;;
  redis) redis_image ;;
  *) die "usage: $0 node|redis" ;;
esac
