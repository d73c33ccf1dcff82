#!/usr/bin/env bash
# bench/status.sh — how fast `stackpilot status` answers compared with
# Compose's own `ps`, measured in the same run on the demo stack.
#
# Target (issue 2): status --json / docker compose ps --format json ≤ 0.25
# (median wall). Needs the demo stack up (scripts/demo.sh) and hyperfine
# (apt-get install hyperfine). Start-up alone (--version) is
# bench/startup.sh, which wants the demo stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/status.sh needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/stackpilot
CGO_ENABLED=0 go build -trimpath -o "$bin" .
demo=examples/demo
runs=${RUNS:-30}

if [ -z "$(docker ps -q --filter label=com.docker.compose.project=demo)" ]; then
  echo "the demo stack is not running: start it with scripts/demo.sh" >&2
  exit 1
fi
"$bin" -C "$demo" status --json >/dev/null # warm the validation cache, as any second run would be

median() { # hyperfine JSON → median in ms
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"
}
bench() { # name command [runs] → median ms
  local out; out=$(mktemp)
  hyperfine -N --warmup 3 --runs "${3:-$runs}" --export-json "$out" "$2" >/dev/null 2>&1
  median "$out"
}

sp=$(cd "$demo" && bench sp "$bin status --json")
v2=$(cd "$demo" && bench v2 "docker compose ps --format json")
v1=$(cd "$demo" && bench v1 "docker-compose ps" 5)

printf '%-44s %8s ms\n' "stackpilot status --json" "$sp"
printf '%-44s %8s ms\n' "docker compose ps --format json (v2)" "$v2"
printf '%-44s %8s ms\n' "docker-compose ps (v1)" "$v1"
python3 - "$sp" "$v2" "$v1" <<'PY'
import sys
sp, v2, v1 = map(float, sys.argv[1:])
r2, r1 = sp / v2, sp / v1
print(f"ratio status / compose v2 ps: {r2:.3f}  (target ≤ 0.25: {'ok' if r2 <= 0.25 else 'MISSED'})")
print(f"ratio status / compose v1 ps: {r1:.3f}")
PY
