#!/usr/bin/env bash
# bench/status.sh — how fast `stackpilot status` answers compared with
# Compose's own `ps`, measured in the same run, at 3, 60 and 200 running
# services (busybox, a sleep loop that ends on TERM).
#
# Targets (issues 2 and 18), on median wall time:
#   status --json / docker compose ps --format json (v2) ≤ 0.25 at every size
#   peak RSS of status --json at 200 services ≤ 40 MiB
# Compose v1 (`docker-compose ps`) is reported too (fewer runs: seconds each).
#
# At 200 services it also splits status's time: the same 200-service file
# under a project with no containers (loading the compose model, one empty
# list) against the running stack (the engine's part on top). And it reports
# the first status after the containers changed ("cold": each container's run
# is inspected once, in one round trip) next to the usual one ("warm": one
# list call, whatever the size).
#
# The stack is a project of its own (spbench-<random>) in a temporary
# directory, grown 3 → 60 → 200 services and removed at the end, whatever
# happens. Usage: bench/status.sh [SIZES…] (default "3 60 200"); RUNS (30, in
# ROUNDS rounds, 5), RUNS_V1 (3); BASE=/path/to/another/stackpilot also measures that build's
# status, for a before/after. Needs hyperfine and Compose v2; v1 is skipped
# when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/status.sh needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
docker compose version >/dev/null 2>&1 || { echo "bench/status.sh needs Compose v2 (docker compose)" >&2; exit 1; }
sizes=${*:-3 60 200}
runs=${RUNS:-30}
runs_v1=${RUNS_V1:-3}
rounds=${ROUNDS:-5}
per_round=$(((runs + rounds - 1) / rounds))

tmp=$(mktemp -d)
project=spbench-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
dir=$tmp/$project
mkdir -p "$dir"
cleanup() {
  (cd "$dir" && docker compose -p "$project" down -t 1 --remove-orphans >/dev/null 2>&1) || true
  rm -rf "$tmp"
}
trap cleanup EXIT
bin=$tmp/stackpilot
CGO_ENABLED=0 go build -trimpath -o "$bin" .
export STACKPILOT_CACHE_DIR=$tmp/cache

compose_file() { # n → compose.yaml with services s000…
  {
    echo "services:"
    for i in $(seq 0 $(($1 - 1))); do
      printf '  s%03d:\n    image: stackpilot-busybox:latest\n' "$i"
      printf '    command: ["sh", "-c", "trap '"'"'exit 0'"'"' TERM; while :; do sleep 3600 & wait $$!; done"]\n'
    done
  } >"$dir/compose.yaml"
}
# Commands are measured in rounds, taking turns (a few runs of each per
# round), so a machine whose load drifts — a shared CI runner — slows them
# alike instead of whichever ran during the busy minute.
sample() { # label command [hyperfine options…]: one round's runs of command
  local label=$1 cmd=$2
  shift 2
  hyperfine -N --warmup 1 --runs "$per_round" --export-json "$(mktemp -p "$tmp" "$label.XXXX.json")" "$@" "$cmd" >/dev/null 2>&1
}
median() { # label → median in ms over all its rounds
  python3 -c 'import glob,json,statistics,sys
t = [x for f in glob.glob(sys.argv[1] + ".*.json") for x in json.load(open(f))["results"][0]["times"]]
print("%.1f" % (statistics.median(t) * 1000))' "$tmp/$1"
}
peak_rss() { # command… → peak RSS in MiB
  local f
  f=$(mktemp -p "$tmp")
  /usr/bin/time -v "$@" >/dev/null 2>"$f" || true
  awk -F: '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$f"
}

results=()
cd "$dir"
for n in $sizes; do
  compose_file "$n"
  echo "==> $n services: starting" >&2
  docker compose -p "$project" up -d --remove-orphans --quiet-pull >/dev/null 2>&1
  running=$(docker ps -q --filter "label=com.docker.compose.project=$project" | wc -l)
  [ "$running" -eq "$n" ] || { echo "only $running of $n containers run" >&2; exit 1; }
  export COMPOSE_PROJECT_NAME=$project
  "$bin" status --json >/dev/null # warm the caches, as any second run would be
  echo "==> $n services: measuring" >&2
  for round in $(seq "$rounds"); do
    sample "sp$n" "$bin status --json"
    sample "cold$n" "$bin status --json" --prepare "rm -rf $STACKPILOT_CACHE_DIR/runs"
    sample "v2$n" "docker compose ps --format json"
    if [ -n "${BASE:-}" ]; then
      sample "base$n" "$BASE status --json"
    fi
    if [ "$n" = 200 ]; then
      # The same file under a project without containers: the model's share.
      COMPOSE_PROJECT_NAME=$project-empty sample "model$n" "$bin status --json" -i
    fi
  done
  sp=$(median "sp$n") cold=$(median "cold$n") v2=$(median "v2$n") v1=- base=- model=-
  if command -v docker-compose >/dev/null; then
    per_round=$runs_v1 sample "v1$n" "docker-compose ps"
    v1=$(median "v1$n")
  fi
  [ -z "${BASE:-}" ] || base=$(median "base$n")
  [ "$n" != 200 ] || model=$(median "model$n")
  rss=$(peak_rss "$bin" status --json)
  unset COMPOSE_PROJECT_NAME
  results+=("$n $sp $cold $v2 $v1 $rss $model $base")
done

echo
printf '%-9s %12s %12s %14s %14s %9s %9s %10s\n' services "status ms" "cold ms" "compose v2 ms" "compose v1 ms" "ratio v2" "ratio v1" "peak RSS"
python3 - "${results[@]}" <<'PY'
import sys
ok = True
for line in sys.argv[1:]:
    n, sp, cold, v2, v1, rss, model, base = line.split()
    sp, cold, v2 = float(sp), float(cold), float(v2)
    r2 = sp / v2
    r1 = f"{sp / float(v1):.3f}" if v1 != "-" else "-"
    print(f"{n:<9} {sp:12.1f} {cold:12.1f} {v2:14.1f} {v1:>14} {r2:9.3f} {r1:>9} {rss:>6} MiB")
    ok &= r2 <= 0.25
    if n == "200":
        rss_ok = float(rss) <= 40
        ok &= rss_ok
        print(f"  peak RSS at 200 services: {rss} MiB (target ≤ 40: {'ok' if rss_ok else 'MISSED'})")
        if model != "-":
            m = float(model)
            print(f"  200 services split: model load (no containers) {m:.1f} ms, engine part {sp - m:.1f} ms of {sp:.1f} ms;"
                  f" model load alone / compose v2 = {m / v2:.3f}")
    print(f"  ratio status / compose v2 ps at {n}: {r2:.3f} (target ≤ 0.25: {'ok' if r2 <= 0.25 else 'MISSED'}); cold (first status after a change): {cold / v2:.3f}")
    if base != "-":
        print(f"  BASE status at {n}: {float(base):.1f} ms (ratio {float(base) / v2:.3f})")
print("all targets met" if ok else "some targets MISSED")
PY
