#!/usr/bin/env bash
# bench/status-ssh.sh — issue 18's remote figure: `stackpilot status --json`
# against `docker compose ps --format json` over the same ssh:// endpoint, on
# 60 running services, in the same run.
#
# Target: status / compose ps ≤ 0.25 (median wall). The endpoint is a "server"
# container with its own sshd and engine (internal/itest/server.go; the image
# is built once by scripts/build-server-image.sh), removed at the end with
# everything on it. BASE=/path/to/stackpilot also measures another build.
# The work is BenchmarkStatusOverSSH (wizard/status_ssh_bench_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-server-image.sh
STACKPILOT_REQUIRE_DOCKER=1 STACKPILOT_COMPOSE=v2 \
  go test -count=1 -run '^$' -bench '^BenchmarkStatusOverSSH$' -benchtime 1x -timeout 20m ./wizard/ |
  grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok \)'
