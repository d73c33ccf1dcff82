#!/usr/bin/env bash
# test.sh — the one command that runs every stackpilot test on a fresh machine.
#
# Installs what is missing (Docker Engine, Compose v1 and v2, busybox), starts
# the daemon, builds the fixture images, the "server" image of the
# remote-host and Swarm tests and the Swarm tests' registry (once per machine), then runs `go vet` and `go test ./...`
# with the integration tests required (a missing engine fails instead of
# skipping), once with Compose v2 and the integration suite again with v1,
# then fuzzes the backup archive reader for a fixed time.
# Extra arguments go to both `go test` runs (e.g. -run Status -v).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
say() { printf '==> %s\n' "$*" >&2; }

scripts/ensure-docker.sh
scripts/build-fixtures.sh
scripts/build-server-image.sh
scripts/build-registry-image.sh
# minisign: the release tests (e2e/selfupdate) check signatures with the standard tool too.
if ! command -v minisign >/dev/null 2>&1; then
  say "installing minisign (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq minisign >/dev/null
fi

export STACKPILOT_REQUIRE_DOCKER=1
export STACKPILOT_CACHE_DIR="${STACKPILOT_CACHE_DIR:-$(mktemp -d)}"

# -parallel 4: the integration tests that may overlap (t.Parallel) mostly wait
# on containers (health checks, restarts), not on the two cores; timing-
# sensitive tests stay serial.
say "go vet"
go vet ./...

say "go test ./... (Compose v2)"
STACKPILOT_COMPOSE=v2 go test -count=1 -timeout 40m -parallel 4 "$@" ./...

say "integration tests again with Compose v1"
STACKPILOT_COMPOSE=v1 go test -count=1 -timeout 40m -parallel 4 -run 'Integration' "$@" ./...

# The backup archive reader takes untrusted input: fuzz it for a fixed time on
# every run, from the committed seeds (stackops/backup/testdata/fuzz). A crash
# is a file written next to the seeds. Go 1.26's fuzz coordinator can fail a
# duration-bounded run with a bare "context deadline exceeded" and no input
# (go.dev/issue/75804): that alone is reported, not counted as a failure.
fuzz_time="${STACKPILOT_FUZZ_TIME:-20s}"
say "fuzz FuzzArchive for ${fuzz_time}"
seeds=stackops/backup/testdata/fuzz/FuzzArchive
before=$(ls "$seeds" | sort)
if ! out=$(go test -run='^$' -fuzz=FuzzArchive -fuzztime="$fuzz_time" -fuzzminimizetime=5s ./stackops/backup 2>&1); then
  printf '%s\n' "$out" | tail -20 >&2
  if [ "$(ls "$seeds" | sort)" = "$before" ] && printf '%s\n' "$out" | grep -q 'context deadline exceeded'; then
    say "fuzz: the coordinator's deadline race (go.dev/issue/75804), no failing input — not a failure"
  else
    say "fuzz: FuzzArchive failed (the failing input is in $seeds)"
    exit 1
  fi
fi

say "all tests passed in $(( $(date +%s) - start )) s"
