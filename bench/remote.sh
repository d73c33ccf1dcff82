#!/usr/bin/env bash
# bench/remote.sh — issue 13's figures, over one ssh:// endpoint in one run:
#
#   status --json                      vs  docker compose ps --format json   (target ≤ 0.25)
#   ssh connections for one status     (the server's sshd log)               (target 1)
#   backup create of a 1 GiB volume    vs  docker cp CONTAINER:/srv - | gzip -1 > f
#                                          (target ≥ 1.0: the pipeline's time over stackpilot's)
#
# The endpoint is a "server" container with its own sshd and engine
# (internal/itest/server.go; scripts/build-server-image.sh builds the image
# once), removed at the end with everything on it. The volume holds mixed
# data as in bench/backup.sh. SIZE_MIB (default 1024) and RUNS (default 3)
# tune the backup figure. The work is BenchmarkRemote (wizard/remote_bench_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-server-image.sh
STACKPILOT_REQUIRE_DOCKER=1 STACKPILOT_COMPOSE=v2 \
  go test -count=1 -run '^$' -bench '^BenchmarkRemote$' -benchtime 1x -timeout 30m ./wizard/ |
  grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok \)'
