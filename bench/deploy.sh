#!/usr/bin/env bash
# bench/deploy.sh — what stackpilot's deploy costs, measured against Compose
# in the same run, on this machine:
#
#  1. A no-op deploy of the demo stack (web, api, db; nothing changed):
#     `stackpilot deploy` vs `docker compose up -d --build --wait`, alternating,
#     median wall time of each and their ratio (target ≤ 1.10).
#  2. Fail-fast latency: a service that exits 1 two seconds after it starts,
#     deployed with --timeout 5m; the time from the container's FinishedAt
#     (engine clock) to the failure line on stderr, and to stackpilot's exit
#     with the full report (target ≤ 1.5 s). With Compose v1 the exit can come
#     later than the line: v1 may still be starting other containers, and
#     stackpilot waits for Compose before it exits.
#
# The demo is copied to a temporary directory with its own project name,
# image names and ports, so nothing another stack uses is touched. Needs
# docker, Compose v2 (and v1 for STACKPILOT_COMPOSE=v1 in part 2) and the
# fixture images (scripts/build-fixtures.sh). RUNS=N sets the repetitions.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-9}
VARIANT=${STACKPILOT_COMPOSE:-v2}
say() { printf '==> %s\n' "$*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

work=$(mktemp -d)
tag=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
proj="spbench-$tag"
fail="spbenchfail-$tag"
cleanup() {
  (cd "$work/demo" 2>/dev/null && docker compose down --volumes --timeout 1 >/dev/null 2>&1) || true
  (cd "$work/fail" 2>/dev/null && docker compose down --volumes --timeout 1 >/dev/null 2>&1) || true
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^(stackpilot-bench-$tag/|stackpilot-rollback/($proj|$fail)/)" | xargs -r docker rmi >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "building stackpilot and the demo binary"
CGO_ENABLED=0 go build -trimpath -o "$work/stackpilot" .
mkdir -p "$work/demo/bin"
CGO_ENABLED=0 go build -trimpath -o "$work/demo/bin/demoapp" ./examples/demo/app
cp examples/demo/compose.yaml examples/demo/Dockerfile examples/demo/.env "$work/demo/"
sed -i "s#image: stackpilot-demo/#image: stackpilot-bench-$tag/#" "$work/demo/compose.yaml"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sed -i -e "s/^WEB_PORT=.*/WEB_PORT=$(free_port)/" -e "s/^API_PORT=.*/API_PORT=$(free_port)/" -e "s/^DB_PORT=.*/DB_PORT=$(free_port)/" "$work/demo/.env"
echo "COMPOSE_PROJECT_NAME=$proj" >> "$work/demo/.env"

sp() { STACKPILOT_COMPOSE=v2 "$work/stackpilot" -C "$work/demo" "$@"; }
say "first deploy of the demo (project $proj)"
sp deploy --yes >/dev/null 2>"$work/first.log" || { cat "$work/first.log" >&2; exit 1; }

say "no-op deploy: $RUNS runs each, alternating"
: > "$work/sp.times"; : > "$work/compose.times"
for i in $(seq 1 "$RUNS"); do
  t0=$(now); sp deploy --yes >/dev/null 2>"$work/run.log" || { cat "$work/run.log" >&2; exit 1; }; t1=$(now)
  echo "$t1 - $t0" | bc -l >> "$work/sp.times"
  t0=$(now); (cd "$work/demo" && docker compose up -d --build --wait >/dev/null 2>"$work/run.log") || { cat "$work/run.log" >&2; exit 1; }; t1=$(now)
  echo "$t1 - $t0" | bc -l >> "$work/compose.times"
done
sp_med=$(median < "$work/sp.times")
co_med=$(median < "$work/compose.times")
ratio=$(echo "$sp_med / $co_med" | bc -l)
printf 'no-op deploy, demo stack (%d runs each):\n' "$RUNS"
printf '  stackpilot deploy                        median %.3f s\n' "$sp_med"
printf '  docker compose up -d --build --wait      median %.3f s\n' "$co_med"
printf '  ratio                                    %.3f (target <= 1.10)\n' "$ratio"

say "fail-fast latency with Compose $VARIANT: a service exits 1 two seconds after start"
mkdir -p "$work/fail"
cat > "$work/fail/compose.yaml" <<'EOF'
services:
  ok:
    image: stackpilot-fixture:latest
    command: ["wait"]
  crash:
    image: stackpilot-fixture:latest
    command: ["print=starting", "sleep=2s", "eprint=fatal: lost the database", "exit=1"]
EOF
echo "COMPOSE_PROJECT_NAME=$fail" > "$work/fail/.env"
: > "$work/lat.times"; : > "$work/line.times"
fruns=$(( RUNS < 5 ? RUNS : 5 ))
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done; }
for i in $(seq 1 "$fruns"); do
  set +e
  { STACKPILOT_COMPOSE=$VARIANT "$work/stackpilot" -C "$work/fail" deploy --force-recreate --timeout 5m 2>&1 >/dev/null; echo "exit=$?"; } | stamp > "$work/fail.log"
  set -e
  grep -q ' exit=1$' "$work/fail.log" || { cat "$work/fail.log" >&2; echo "deploy did not exit 1" >&2; exit 1; }
  grep -q "fatal: lost the database" "$work/fail.log" || { cat "$work/fail.log" >&2; echo "report lacks the logs" >&2; exit 1; }
  finished=$(date -d "$(docker inspect -f '{{.State.FinishedAt}}' "$(docker ps -aq --filter label=com.docker.compose.project=$fail --filter label=com.docker.compose.service=crash)")" +%s.%N)
  line=$(grep -m1 'crash: failed' "$work/fail.log" | cut -d' ' -f1)
  done_at=$(grep ' exit=1$' "$work/fail.log" | cut -d' ' -f1)
  echo "$line - $finished" | bc -l >> "$work/line.times"
  echo "$done_at - $finished" | bc -l >> "$work/lat.times"
done
printf 'fail fast (Compose %s, --timeout 5m, %d runs), from the container'"'"'s FinishedAt (target <= 1.5 s):\n' "$VARIANT" "$fruns"
printf '  to the failure line "crash: failed — exited with status 1"   median %.3f s, max %.3f s\n' \
  "$(median < "$work/line.times")" "$(sort -g "$work/line.times" | tail -1)"
printf '  to stackpilot'"'"'s exit 1 after the full report (logs)      median %.3f s, max %.3f s\n' \
  "$(median < "$work/lat.times")" "$(sort -g "$work/lat.times" | tail -1)"
