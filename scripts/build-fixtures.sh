#!/usr/bin/env bash
# build-fixtures.sh — build the images the tests and the demo run on, FROM
# scratch, from this repository's own code and Debian's static busybox:
#   stackpilot-fixture:latest  internal/fixture (a program driven by its arguments)
#   stackpilot-busybox:latest  busybox (sh, tar, wget, printenv …) for tests that need a shell
# and the demo's binary examples/demo/bin/demoapp (the demo images are built by
# Compose from examples/demo/Dockerfile when the stack is deployed).
# An image is rebuilt only when its content changed (a label holds its hash).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
export DOCKER_BUILDKIT=0 # the classic builder: no buildx plugin is needed, and FROM scratch pulls nothing

build_image() { # tag context-dir
  local tag=$1 dir=$2 sum
  sum=$(cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "stackpilot.content"}}' "$tag" 2>/dev/null || true)" = "$sum" ]; then
    return 0
  fi
  say "building $tag"
  docker build -q --label "stackpilot.content=$sum" -t "$tag" "$dir" >/dev/null 2>/tmp/stackpilot-build.$$ || {
    cat /tmp/stackpilot-build.$$ >&2; rm -f /tmp/stackpilot-build.$$; exit 1; }
  rm -f /tmp/stackpilot-build.$$
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/fixture" "$work/busybox"
CGO_ENABLED=0 go build -trimpath -o "$work/fixture/fixture" ./internal/fixture
printf 'FROM scratch\nCOPY fixture /fixture\nENTRYPOINT ["/fixture"]\n' > "$work/fixture/Dockerfile"
build_image stackpilot-fixture:latest "$work/fixture"

[ -x /bin/busybox ] || { echo "build-fixtures: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
cp /bin/busybox "$work/busybox/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n' > "$work/busybox/Dockerfile"
build_image stackpilot-busybox:latest "$work/busybox"

mkdir -p examples/demo/bin
CGO_ENABLED=0 go build -trimpath -o examples/demo/bin/demoapp ./examples/demo/app
