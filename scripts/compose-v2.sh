#!/usr/bin/env bash
# Installs Docker Compose v2 (`docker compose`) as a Docker CLI plugin on a
# Debian machine whose own archive has only Compose v1 (bookworm's
# docker-compose is 1.29). Takes Debian trixie's docker-compose package
# (Compose 2.26): fetches that single .deb with apt from a temporary source
# list and package lists (the system's sources, lists and installed packages
# stay untouched), unpacks it with dpkg -x and copies its one binary to
# ${DOCKER_CONFIG:-~/.docker}/cli-plugins/docker-compose, for this user only.
# Compose v1 (`docker-compose`) stays installed and keeps working.
#
# The binary needs only libc >= 2.34 (bookworm has 2.36) and negotiates the
# engine's API version: it runs against Debian's docker.io 20.10 (API 1.41)
# with no DOCKER_API_VERSION.
#
#   scripts/compose-v2.sh           install unless `docker compose version` already reports v2
#   scripts/compose-v2.sh --force   install even so (replaces this user's plugin)
#
# Environment: COMPOSE_V2_SUITE (trixie), COMPOSE_V2_MIRROR
# (http://deb.debian.org/debian), COMPOSE_V2_TIMEOUT (seconds per apt step, 300),
# DOCKER_CONFIG (the Docker CLI's configuration directory, ~/.docker).
set -euo pipefail

SUITE=${COMPOSE_V2_SUITE:-trixie}
MIRROR=${COMPOSE_V2_MIRROR:-http://deb.debian.org/debian}
STEP_TIMEOUT=${COMPOSE_V2_TIMEOUT:-300}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
PLUGIN_DIR=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins

say() { echo "compose-v2: $*" >&2; }
die() { say "$*"; exit 1; }
# A failure no die() foresaw still ends with a line saying where: .ci/run reports the last line.
trap 'say "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

# The version `docker compose` reports (2.26.1-4, v2.27.0, ...), empty without one.
compose_version() { docker compose version --short 2>/dev/null || true; }

force=0
case "${1:-}" in
  '') ;;
  --force) force=1 ;;
  *) die "usage: $0 [--force]" ;;
esac

command -v docker >/dev/null || die "the docker command is not installed (Debian: apt-get install docker.io); Compose v2 is a plugin of it"
current=$(compose_version)
if [[ $force == 0 && $current =~ ^v?2\. ]]; then
  say "Compose v2 is already installed: docker compose $current ($(docker info -f '{{.ClientInfo.Plugins}}' 2>/dev/null | grep -o '/[^ ]*docker-compose' || echo 'a Docker CLI plugin'))"
  exit 0
fi

for tool in apt-get dpkg dpkg-deb timeout; do
  command -v "$tool" >/dev/null || die "$tool is missing: this installer takes Debian's package; elsewhere see https://docs.docker.com/compose/install/linux/"
done
[[ -r $KEYRING ]] || die "no Debian archive keyring at $KEYRING to check $SUITE's signature (apt-get install debian-archive-keyring)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compose-v2.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" >"$tmp/sources.list"

# Everything apt reads or writes for this lives in $tmp: the source list (and
# no sources.list.d), the package lists, the package cache.
apt_opts=(
  -q
  -o "Dir::Etc::sourcelist=$tmp/sources.list"
  -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$tmp/lists"
  -o "Dir::Cache=$tmp/cache"
  -o APT::Get::List-Cleanup=0
  -o Acquire::Retries=2
  -o Acquire::http::Timeout=30
  -o Acquire::https::Timeout=30
)
# Root's private temporary directory is no place apt's _apt user may write.
((EUID == 0)) && apt_opts+=(-o APT::Sandbox::User=root)

started=$SECONDS
say "reading $SUITE's package list from $MIRROR (temporary; the system's apt sources and lists are not touched)"
if ! timeout "$STEP_TIMEOUT" apt-get "${apt_opts[@]}" update >"$tmp/update.log" 2>&1 || grep -q '^[EW]: Failed to fetch' "$tmp/update.log"; then
  cat "$tmp/update.log" >&2
  die "apt-get update of $SUITE from $MIRROR failed or took over ${STEP_TIMEOUT}s (COMPOSE_V2_TIMEOUT); is the mirror reachable?"
fi
say "downloading $SUITE's docker-compose package"
if ! (cd "$tmp/deb" && timeout "$STEP_TIMEOUT" apt-get "${apt_opts[@]}" download docker-compose) >"$tmp/download.log" 2>&1; then
  cat "$tmp/download.log" >&2
  die "apt-get download docker-compose from $SUITE failed or took over ${STEP_TIMEOUT}s (COMPOSE_V2_TIMEOUT)"
fi
deb=$(find "$tmp/deb" -name 'docker-compose_*.deb' | head -1)
[[ -n $deb ]] || die "apt-get download left no docker-compose .deb in $tmp/deb"
version=$(dpkg-deb -f "$deb" Version)
[[ $version =~ ^2\. ]] || die "$SUITE's docker-compose is $version, not Compose v2 (set COMPOSE_V2_SUITE to a suite that has 2.x)"
say "unpacking docker-compose $version ($(dpkg-deb -f "$deb" Depends))"

dpkg -x "$deb" "$tmp/root"
# The package puts the plugin in /usr/libexec/docker/cli-plugins (and links
# /usr/bin/docker-compose to it, which is NOT copied: that name stays Compose v1's).
bin=$tmp/root/usr/libexec/docker/cli-plugins/docker-compose
[[ -f $bin ]] || bin=$(find "$tmp/root" -type f -name docker-compose -perm -u+x | head -1)
[[ -n $bin && -f $bin ]] || die "the docker-compose $version package holds no docker-compose binary (contents: $(dpkg-deb -c "$deb" | awk '{print $6}' | grep -c .) files)"
"$bin" version >/dev/null 2>&1 || die "the docker-compose $version binary does not run here: $("$bin" version 2>&1 | head -3) (it needs libc6 >= 2.34)"

mkdir -p "$PLUGIN_DIR"
install -m 0755 "$bin" "$PLUGIN_DIR/.docker-compose.new"
mv -f "$PLUGIN_DIR/.docker-compose.new" "$PLUGIN_DIR/docker-compose"

installed=$(compose_version)
[[ $installed =~ ^v?2\. ]] || die "copied Compose $version to $PLUGIN_DIR/docker-compose, but 'docker compose version' does not report it (a Docker CLI older than 19.03 has no plugins; DOCKER_CONFIG must be the same when you run docker)"
say "installed Docker Compose $installed at $PLUGIN_DIR/docker-compose in $((SECONDS - started)) s; docker-compose (v1) is unchanged"

# It negotiates the API version with the engine (20.10 speaks 1.41): prove it.
if docker info >/dev/null 2>&1; then
  if ! docker compose ls >/dev/null 2>"$tmp/ls.log"; then
    cat "$tmp/ls.log" >&2
    die "docker compose $installed cannot talk to the Docker engine $(docker version -f '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null)"
  fi
  say "it talks to the Docker engine $(docker version -f '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null)"
else
  say "no Docker engine answers (not running, or this user may not use its socket): 'docker compose ls' against it was not tried"
fi
docker compose version
