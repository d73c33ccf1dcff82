#!/usr/bin/env bash
# build-server-image.sh — build the "server" image the remote-host and Swarm
# tests run as second machines (internal/itest/server.go starts them):
#   stackpilot-server:<key>   a Debian bookworm root filesystem with its own
#   stackpilot-server:latest  Docker Engine (docker.io) and sshd
# No image registry is needed: the root filesystem comes from debootstrap and
# Debian's packages (the machine's own apt mirror), and goes in with
# `docker import`. The key is a hash of this script, so the image is built once
# per machine and again only when this script changes; when the image exists
# the script does nothing (one `docker image inspect`).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-server-image: %s\n' "$*" >&2; exit 1; }

REPO=stackpilot-server
SUITE=bookworm
PACKAGES=(docker.io openssh-server iproute2 ca-certificates iptables procps)

apt_install() {
  say "installing $* (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" >/dev/null
  }
}
# The tests reach the servers with the machine's ssh client.
if ! command -v ssh >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "the ssh client is missing (apt-get install openssh-client)"
  apt_install openssh-client
fi

key=$(sha256sum "$0" | cut -c1-16)
if docker image inspect "$REPO:$key" >/dev/null 2>&1; then
  # Already built; make sure :latest names this build (a rebuild of an older
  # script version may have moved it).
  [ "$(docker image inspect -f '{{.Id}}' "$REPO:latest" 2>/dev/null || true)" = "$(docker image inspect -f '{{.Id}}' "$REPO:$key")" ] ||
    docker tag "$REPO:$key" "$REPO:latest"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot)"

command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap

# The mirror this machine's apt uses for the suite (deb822 .sources first, then
# the one-line sources.list format); never a host name of our own.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      BEGIN { RS=""; FS="\n" }
      {
        uri=""; ok=0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { split($i, a, /[ \t]+/); uri=a[2] }
          if ($i ~ /^Suites:/) { n=split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok=1 }
          if ($i ~ /^Types:/ && $i !~ /[ \t]deb([ \t]|$)/) ok=-1
        }
        if (ok == 1 && uri != "") { print uri; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite) { u = $(i-1); if (u !~ /^\[/) { print u; exit } } }' "$f"
  done
}
MIRROR=$(mirror | head -1)
[ -n "$MIRROR" ] || die "no apt source for Debian $SUITE in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"

start=$(date +%s)
root=$(mktemp -d /var/tmp/stackpilot-server.XXXXXX)
log=$root.log
chmod 755 "$root" # apt inside downloads as its _apt user
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf --one-file-system "$root" "$log"
}
trap cleanup EXIT

say "building $REPO:$key (debootstrap $SUITE, then ${PACKAGES[*]}; once per machine, 2-3 min)"
quiet() { # what step: runs the rest, its output shown only when it fails
  local what=$1; shift
  "$@" >"$log" 2>&1 || { tail -30 "$log" >&2; die "$what failed"; }
}
quiet debootstrap debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR"

# Services must not start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
quiet "apt-get update" chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q update
quiet "apt-get install" chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "${PACKAGES[@]}"
umount "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"

# Small and without identity: no package caches, no host keys (each server
# generates its own at start, so every test server is a distinct host).
chroot "$root" apt-get -qq clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/etc/ssh/ssh_host_* "$root"/var/log/*.log "$root/etc/machine-id"
: >"$root/etc/machine-id"
# The server answers to root with a key only.
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n' >"$root/etc/ssh/sshd_config.d/stackpilot.conf"

tar --numeric-owner -C "$root" -c . |
  docker import --change 'CMD ["sleep","infinity"]' - "$REPO:$key" >/dev/null
docker tag "$REPO:$key" "$REPO:latest"
# Earlier builds of this script are not needed any more (an image a running
# server still uses stays until that server is gone).
for old in $(docker image ls --format '{{.Tag}}' "$REPO"); do
  case $old in "$key" | latest | "<none>") ;; *) docker image rm "$REPO:$old" >/dev/null 2>&1 || true ;; esac
done
say "built $REPO:$key in $(( $(date +%s) - start )) s ($(docker image inspect -f '{{.Size}}' "$REPO:$key" | awk '{printf "%d MB", $1/1e6}'))"
