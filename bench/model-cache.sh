#!/usr/bin/env bash
# bench/model-cache.sh — what the compose-model cache saves: `stackpilot
# status --json` on a project of N services defined (no container: the time
# is the model's, not the engine's), with the cache off
# (STACKPILOT_MODEL_CACHE=off: compose-go loads the files, as before the
# cache) and warm (the model decoded from $STACKPILOT_CACHE_DIR/models),
# measured in the same run, with `docker compose ps --format json` on the
# same project for reference. Each service has the keys a real one has
# (image, command, environment with a ${VAR:-default}, labels, healthcheck,
# restart). Needs a reachable engine (status asks it for the containers).
#
# Usage: bench/model-cache.sh [SERVICES] [RUNS] (default 200 services, 20 runs).
# Needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/model-cache.sh needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
n=${1:-200}
runs=${2:-20}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$tmp/stackpilot" .
mkdir -p "$tmp/proj"
python3 - "$n" "$tmp/proj/compose.yaml" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
out = ["services:"]
for i in range(n):
    out += [f"  svc{i:03d}:", "    image: stackpilot-busybox:latest", '    command: ["sleep", "3600"]',
            "    environment:", f"      NAME: svc{i:03d}", "      LEVEL: ${LEVEL:-info}",
            "    labels:", f"      app: demo{i}", "    healthcheck:", '      test: ["CMD", "true"]',
            "      interval: 5s", "    restart: unless-stopped"]
open(path, "w").write("\n".join(out) + "\n")
PY
printf 'LEVEL=debug\nCOMPOSE_PROJECT_NAME=spbench-model-cache\n' >"$tmp/proj/.env"
export STACKPILOT_CACHE_DIR="$tmp/cache"
cd "$tmp/proj"
"$tmp/stackpilot" status --json >/dev/null || true # stores the model
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $n services defined, none created"

hyperfine -N -i --style none --warmup 2 --runs "$runs" --export-json "$tmp/h.json" \
  -n cache-off "env STACKPILOT_MODEL_CACHE=off $tmp/stackpilot status --json" \
  -n cache-warm "$tmp/stackpilot status --json" \
  -n compose-ps "docker compose ps --format json" >/dev/null
python3 - "$tmp/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ms = lambda x: x * 1000
for name, what in [("cache-off", "status --json, model cache off "), ("cache-warm", "status --json, model cache warm"), ("compose-ps", "docker compose ps --format json")]:
    x = r[name]
    print(f"{what}  median {ms(x['median']):7.1f} ms  (min {ms(x['min']):.1f}, user {ms(x['user']):.1f} ms CPU mean)")
off, warm, ps = r["cache-off"]["median"], r["cache-warm"]["median"], r["compose-ps"]["median"]
print(f"the cache saves {ms(off - warm):.1f} ms of {ms(off):.1f} ({off / warm:.1f}x); status/compose ps: {off / ps:.2f} without, {warm / ps:.2f} with")
PY
