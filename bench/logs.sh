#!/usr/bin/env bash
# bench/logs.sh — how fast and how lean `stackpilot logs --summary` reads a
# big log, against `docker logs CONTAINER 2>&1 | grep -c ERROR` on the same
# container in the same run (the runs alternate, so both see the same load).
#
# A fixture container writes 1,000,000 mixed-level lines (`fixture
# spam=1000000`: JSON, logfmt, [LEVEL] and plain lines; every 10th an error).
# Targets (issue 6): summary wall / baseline wall ≤ 1.5 (medians), peak RSS of
# the summary ≤ 64 MiB (GNU time's maximum resident set size).
#
# RUNS=n sets the number of alternating runs (default 3); LINES=n the log size.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "bench/logs.sh needs GNU time (apt-get install -y time)" >&2; exit 1; }
runs=${RUNS:-3}
lines=${LINES:-1000000}

work=$(mktemp -d)
bin=$work/stackpilot
CGO_ENABLED=0 go build -trimpath -o "$bin" .

project=splogsbench-$$
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
cleanup() {
  (cd "$work" && "${compose[@]}" --project-name "$project" down --volumes --timeout 1 >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/compose.yaml" <<EOF
services:
  spam:
    image: stackpilot-fixture:latest
    command: ["spam=$lines"]
    restart: "no"
EOF
echo "COMPOSE_PROJECT_NAME=$project" >"$work/.env"
echo "writing $lines log lines…" >&2
(cd "$work" && "${compose[@]}" up -d >/dev/null 2>&1)
id=$(docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=spam)
for _ in $(seq 1 600); do
  [ "$(docker inspect -f '{{.State.Status}}' "$id")" = exited ] && break
  sleep 0.5
done
[ "$(docker inspect -f '{{.State.Status}}' "$id")" = exited ] || { echo "the spam container did not finish" >&2; exit 1; }

# Correctness first: the summary must count every line and every error.
json=$("$bin" -C "$work" logs --summary --json)
read -r got_lines got_errors < <(python3 -c 'import json,sys; s=json.loads(sys.argv[1])["services"][0]; print(s["lines"], s["levels"]["error"])' "$json")
want_errors=$(( lines / 10 ))
if [ "$got_lines" != "$lines" ] || [ "$got_errors" != "$want_errors" ]; then
  echo "summary counted $got_lines lines / $got_errors errors; want $lines / $want_errors" >&2
  exit 1
fi
grep_count=$(docker logs "$id" 2>&1 | grep -c ERROR || true)

measure() { # out-file cmd… → appends "wall_seconds max_rss_kb"
  local out=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/t" "$@" >/dev/null 2>&1
  cat "$work/t" >>"$out"
}
: >"$work/base"; : >"$work/sum"
for i in $(seq 1 "$runs"); do
  measure "$work/base" sh -c "docker logs $id 2>&1 | grep -c ERROR"
  measure "$work/sum" "$bin" -C "$work" logs --summary
  echo "run $i/$runs: baseline $(tail -1 "$work/base" | cut -d' ' -f1) s, summary $(tail -1 "$work/sum" | cut -d' ' -f1) s" >&2
done

python3 - "$work/base" "$work/sum" "$lines" "$got_errors" "$grep_count" <<'PY'
import statistics, sys
def load(p):
    rows = [tuple(map(float, l.split())) for l in open(p) if l.strip()]
    return [r[0] for r in rows], [r[1] for r in rows]
bw, _ = load(sys.argv[1])
sw, srss = load(sys.argv[2])
lines, errors, grep_count = sys.argv[3], sys.argv[4], sys.argv[5]
b, s = statistics.median(bw), statistics.median(sw)
rss = max(srss) / 1024
ratio = s / b
print(f"log of {lines} lines: summary counted {errors} error lines (grep -c ERROR, upper case only: {grep_count})")
print(f"{'docker logs C 2>&1 | grep -c ERROR':44s} median {b:6.2f} s  ({len(bw)} runs)")
print(f"{'stackpilot logs --summary':44s} median {s:6.2f} s  peak RSS {rss:.1f} MiB")
print(f"ratio summary / baseline: {ratio:.2f}  (target ≤ 1.5: {'ok' if ratio <= 1.5 else 'MISSED'})")
print(f"peak RSS {rss:.1f} MiB          (target ≤ 64 MiB: {'ok' if rss <= 64 else 'MISSED'})")
sys.exit(0 if ratio <= 1.5 and rss <= 64 else 1)
PY
