#!/usr/bin/env bash
# ensure-docker.sh — make a Docker Engine, Compose v2 and v1, and busybox
# available on this machine, and start the daemon if it does not answer.
#
# Debian's docker.io (engine), docker-compose (Compose v1) and busybox-static
# come from apt; Compose v2 is built once from source with the Go toolchain
# (no registry or download site is needed) and kept in
# ~/.docker/cli-plugins/docker-compose, so later runs reuse it.
# Needs root for what is missing; does nothing when everything is in place.
set -euo pipefail

COMPOSE_V2_MODULE=github.com/docker/compose/v5
COMPOSE_V2_VERSION=v5.0.2
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/stackpilot"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ensure-docker: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (re-run as root, or install it yourself)"; fi
}

# 1. Packages.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
# Compose v1 reaches ssh:// engines only through paramiko, which Debian's
# docker-compose does not pull in.
dpkg -s python3-paramiko >/dev/null 2>&1 || missing+=(python3-paramiko)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The daemon.
if ! docker info >/dev/null 2>&1; then
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    say "removing stale /var/run/docker.pid"
    as_root rm -f /var/run/docker.pid
  fi
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    as_root systemctl start docker || true
  fi
  if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: /var/log/dockerd.log)"
    as_root sh -c 'setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &'
  fi
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log >&2 || true; die "dockerd did not come up within 60 s (see /var/log/dockerd.log)"; }
fi

# 3. Compose v2, built once per machine. A plugin this script installed
# before (byte for byte one of its cached builds) is moved to the pinned
# release; one installed any other way is left alone.
installed="$PLUGIN_DIR/docker-compose"
ours_but_old=""
if [ -x "$installed" ] && ! cmp -s "$installed" "$CACHE_DIR/compose-$COMPOSE_V2_VERSION/docker-compose"; then
  for old in "$CACHE_DIR"/compose-*/docker-compose; do
    if [ -f "$old" ] && cmp -s "$installed" "$old"; then ours_but_old=1; fi
  done
fi
if [ -n "$ours_but_old" ] || ! docker compose version --short >/dev/null 2>&1; then
  bin="$CACHE_DIR/compose-$COMPOSE_V2_VERSION/docker-compose"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null 2>&1 || die "go is needed to build Compose v2"
    say "building Compose $COMPOSE_V2_VERSION from source (once per machine, ~3 min)"
    # `go install module/cmd@version` refuses a module whose go.mod has
    # exclude directives, as Compose's has: build it in its own module.
    src=$(go mod download -json "$COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$src" ] || die "go mod download $COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION gave no source directory"
    tmp=$(mktemp -d)
    (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$tmp/docker-compose" \
      -ldflags "-X $COMPOSE_V2_MODULE/internal.Version=$COMPOSE_V2_VERSION" ./cmd)
    mkdir -p "$(dirname "$bin")"
    mv "$tmp/docker-compose" "$bin"
    rm -rf "$tmp"
  fi
  mkdir -p "$PLUGIN_DIR"
  cp "$bin" "$PLUGIN_DIR/docker-compose.new"
  chmod +x "$PLUGIN_DIR/docker-compose.new"
  mv "$PLUGIN_DIR/docker-compose.new" "$PLUGIN_DIR/docker-compose"
fi

say "docker $(docker version --format '{{.Server.Version}}' 2>/dev/null), compose v2 $(docker compose version --short), compose v1 $(docker-compose version --short 2>/dev/null)"
