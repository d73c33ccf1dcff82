#!/usr/bin/env bash
# bench/tasks.sh — what running a task costs, measured against Compose in
# the same run: `stackpilot run TASK` of a trivial container task (`true`
# inside a running service) vs `docker compose exec -T SERVICE true`, median
# wall time of each (hyperfine, alternating runs interleaved by hyperfine's
# own order), and their ratio (target ≤ 0.5, issue 12). The same for Compose
# v1 (`docker-compose exec -T`), for information.
#
# A one-service stack of the busybox fixture image runs in a temporary
# directory under its own project name, so nothing another stack uses is
# touched. Needs docker, Compose v2 (and v1), the fixture images
# (scripts/build-fixtures.sh) and hyperfine (apt-get install hyperfine).
# RUNS=N sets the repetitions (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/tasks.sh needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }

runs=${RUNS:-30}
work=$(mktemp -d)
proj="spbenchtasks-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
  (cd "$work" && docker compose down --timeout 1 >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -trimpath -o "$work/stackpilot" .
cat >"$work/compose.yaml" <<'YAML'
services:
  box:
    image: stackpilot-busybox:latest
    command: ["sleep", "1000000"]
    init: true
x-stackpilot:
  tasks:
    noop:
      description: does nothing, in box
      service: box
      command: ["true"]
YAML
echo "COMPOSE_PROJECT_NAME=$proj" >"$work/.env"
(cd "$work" && docker compose up -d --quiet-pull >/dev/null 2>&1)
sp="$work/stackpilot"
(cd "$work" && "$sp" run noop) # warm the validation cache, as any second run would be

median() { # hyperfine JSON → median in ms
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"
}
bench() { # command [runs] → median ms
  local out; out=$(mktemp)
  (cd "$work" && hyperfine -N --warmup 3 --runs "${2:-$runs}" --export-json "$out" "$1" >/dev/null 2>&1)
  median "$out"
}

s=$(bench "$sp run noop")
v2=$(bench "docker compose exec -T box true")
v1=$(bench "docker-compose exec -T box true" 5)
s2=$(STACKPILOT_COMPOSE=v1 bench "$sp run noop")

printf '%-44s %8s ms\n' "stackpilot run noop" "$s"
printf '%-44s %8s ms\n' "docker compose exec -T box true (v2)" "$v2"
printf '%-44s %8s ms\n' "docker-compose exec -T box true (v1)" "$v1"
printf '%-44s %8s ms\n' "stackpilot run noop (STACKPILOT_COMPOSE=v1)" "$s2"
python3 - "$s" "$v2" "$v1" <<'PY'
import sys
s, v2, v1 = map(float, sys.argv[1:])
r2, r1 = s / v2, s / v1
print(f"ratio run / compose v2 exec: {r2:.3f}  (target ≤ 0.5: {'ok' if r2 <= 0.5 else 'MISSED'})")
print(f"ratio run / compose v1 exec: {r1:.3f}")
PY
