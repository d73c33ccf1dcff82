#!/usr/bin/env bash
# bench/startup.sh — how fast stackpilot starts: `stackpilot --version`
# (runtime start, package initialisation, exit), next to an empty Go program
# built the same way, measured in the same run.
#
# No target: issue 2's "--version ≤ 15 ms median" was retired by issue 11
# (a user never waits on --version; what they do wait on is measured against
# Compose by bench/status.sh and bench/env.sh). The script reports --version
# against the empty-Go-program floor, for reference, and never fails on it.
#
# Run it with nothing else busy: on small VMs the floor moves by milliseconds
# from one minute to the next, and a running stack's healthchecks (the demo
# runs one every few seconds, each a process started in a container) move
# it more. Usage: bench/startup.sh [RUNS] (default 200). Needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/startup.sh needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
runs=${1:-200}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$tmp/stackpilot" .
mkdir -p "$tmp/empty"
printf 'package main\n\nfunc main() {}\n' >"$tmp/empty/main.go"
printf 'module empty\n\ngo 1.21\n' >"$tmp/empty/go.mod"
(cd "$tmp/empty" && CGO_ENABLED=0 go build -trimpath -o "$tmp/empty-go" .)

if command -v docker >/dev/null && n=$(docker ps -q 2>/dev/null | wc -l) && [ "$n" -gt 0 ]; then
  echo "note: $n containers are running; their healthchecks add noise" >&2
fi
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

hyperfine -N --style none --warmup 20 --runs "$runs" --export-json "$tmp/h.json" \
  -n version "$tmp/stackpilot --version" -n empty "$tmp/empty-go" >/dev/null
python3 - "$tmp/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
v, e = r["version"], r["empty"]
ms = lambda x: x * 1000
print(f"stackpilot --version   median {ms(v['median']):5.1f} ms  (min {ms(v['min']):.1f}, mean {ms(v['mean']):.1f})")
print(f"an empty Go program    median {ms(e['median']):5.1f} ms  (min {ms(e['min']):.1f}): the floor here")
print(f"--version: {ms(v['median'] - e['median']):.1f} ms above the floor ({v['median'] / e['median']:.1f}× the empty program)")
PY
