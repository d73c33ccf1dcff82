#!/usr/bin/env bash
# bench/swarm.sh — issue 14's figures on a three-node Swarm (three "server"
# containers, internal/itest/server.go) with the registry beside it:
#   - failed requests during a rolling update of a 2-replica web service
#     under a client loop on the overlay network (target 0 of ≥ 1000);
#   - `status --json` vs `docker stack services` + `docker stack ps`, same
#     run: on the manager (unix socket), over tcp:// (target ≤ 0.25) and over
#     ssh:// (one ssh login against two: about 0.6 at best);
#   - seconds from Swarm marking a crashing task failed to stackpilot
#     reporting it (target ≤ 2 s).
# The work is BenchmarkSwarm (wizard/swarm_bench_test.go); everything it
# starts is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-fixtures.sh
scripts/build-server-image.sh
scripts/build-registry-image.sh
STACKPILOT_REQUIRE_DOCKER=1 STACKPILOT_COMPOSE=v2 \
  go test -count=1 -run '^$' -bench '^BenchmarkSwarm$' -benchtime 1x -timeout 20m ./wizard/ |
  grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok \)'
