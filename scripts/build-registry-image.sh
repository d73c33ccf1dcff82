#!/usr/bin/env bash
# build-registry-image.sh — build the image registry of the Swarm tests:
#   stackpilot-registry:<key>   FROM scratch, one static binary: the CNCF
#   stackpilot-registry:latest  distribution registry (scripts/registry)
# Worker nodes of a Swarm get images only from a registry; there is none to
# pull from here, so it is built from its Go source (the module proxy) on the
# host and imported (`docker import`, no build context, no base image).
#
# Cheap on a fresh machine: scripts/registry is a small main over the
# registry's HTTP handlers and its filesystem storage driver only. Upstream's
# cmd/registry links S3, Azure and GCS with their SDKs and OpenTelemetry's
# exporters with gRPC — ~370 packages, most of its compile time (the first
# attempt took 12–14 min on a loaded 2-core machine). The module's tracing
# package is cut down to the one constant the storage driver base reads
# (tracing only exports spans; no request path depends on it), leaving ~160.
#
# The key is a hash of this script and scripts/registry, so the image is
# built once per machine; when it exists the script does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-registry-image: %s\n' "$*" >&2; exit 1; }

REPO=stackpilot-registry
key=$(cat "$0" scripts/registry/go.mod scripts/registry/go.sum scripts/registry/main.go | sha256sum | cut -c1-16)
if docker image inspect "$REPO:$key" >/dev/null 2>&1; then
  [ "$(docker image inspect -f '{{.Id}}' "$REPO:latest" 2>/dev/null || true)" = "$(docker image inspect -f '{{.Id}}' "$REPO:$key")" ] ||
    docker tag "$REPO:$key" "$REPO:latest"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "go is not installed"

start=$(date +%s)
work=$(mktemp -d /var/tmp/stackpilot-registry.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
say "building $REPO:$key (the distribution registry from source; once per machine, ~1-2 min)"
cp scripts/registry/go.mod scripts/registry/go.sum scripts/registry/main.go "$work/"
cd "$work"
mod=github.com/distribution/distribution/v3
dir=$(go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || die "go mod download $mod: no source directory"
# A writable copy of the module with tracing cut down (GOMODCACHE files cannot
# be overlaid), used through a replace directive; go.sum still pins every
# other module.
cp -r "$dir" distribution
chmod -R u+w distribution
rm -f distribution/tracing/*.go
printf 'package tracing\n\n// AttributePrefix prefixes the storage driver'"'"'s span attributes.\nconst AttributePrefix = "io.cncf.distribution."\n' >distribution/tracing/tracing.go
go mod edit -replace "$mod=./distribution"
mkdir rootfs
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o rootfs/registry . || die "go build failed"
built=$(date +%s)
mkdir -p rootfs/var/lib/registry rootfs/tmp
tar --numeric-owner --owner=0 --group=0 -C rootfs -c . |
  docker import --change 'ENTRYPOINT ["/registry"]' --change 'EXPOSE 5000' --change 'VOLUME /var/lib/registry' - "$REPO:$key" >/dev/null
docker tag "$REPO:$key" "$REPO:latest"
for old in $(docker image ls --format '{{.Tag}}' "$REPO"); do
  case $old in "$key" | latest | "<none>") ;; *) docker image rm "$REPO:$old" >/dev/null 2>&1 || true ;; esac
done
say "built $REPO:$key in $(( $(date +%s) - start )) s (go build $(( built - start )) s, $(docker image inspect -f '{{.Size}}' "$REPO:$key" | awk '{printf "%d MB", $1/1e6}'))"
