#!/usr/bin/env bash
# demo.sh — bring up the bundled demo stack (examples/demo: web, api, db, all
# built from this repository FROM scratch) and open stackpilot on it.
#
# Gets a Docker Engine first when there is none (same helper as the tests),
# builds stackpilot into ./bin, deploys the demo with it, then opens the menu in a
# terminal (or prints the status when there is none).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-docker.sh
printf '==> building stackpilot and the demo binary\n' >&2
mkdir -p bin examples/demo/bin
CGO_ENABLED=0 go build -trimpath -o bin/stackpilot .
CGO_ENABLED=0 go build -trimpath -o examples/demo/bin/demoapp ./examples/demo/app

printf '==> deploying the demo stack (build, start, wait until healthy)\n' >&2
bin/stackpilot -C examples/demo deploy --yes

if [ -t 0 ] && [ -t 1 ]; then
  exec bin/stackpilot -C examples/demo
fi
bin/stackpilot -C examples/demo status
