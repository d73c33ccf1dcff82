#!/usr/bin/env bash
# bench/backup.sh — backup and restore throughput and peak memory of
# stackpilot against the plain docker pipeline, on the same 1 GiB volume in
# the same run:
#
#   backup:   stackpilot backup create            vs  docker cp CONTAINER:/srv - | gzip -1 > f
#   restore:  stackpilot backup restore ID --yes --no-safety-backup
#             vs  docker stop; gunzip -c f | docker cp - CONTAINER:/; docker start
#             (the same job by hand). stackpilot also verifies the whole archive
#             first, empties the volume (the container is re-created through
#             Compose), reads the volume back against its checksum, and waits
#             for the health check. "restore data" compares only the data part:
#             stackpilot's verify + replace + read-back (its own timings from
#             --json) against gunzip | docker cp alone; "w/o read-back" leaves out
#             the read-back pass (what --no-read-back saves).
#
# The volume holds mixed data: a quarter incompressible random bytes, a
# quarter base64 text, an eighth in 64 KiB files (2048 of them for 1 GiB),
# the rest numbers. Each measurement runs RUNS times (default 3)
# and the median is reported. Peak RSS is GNU time's maximum resident set.
# Needs docker, Compose v2 and the stackpilot-busybox image (scripts/build-fixtures.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
say() { printf '==> %s\n' "$*" >&2; }
command -v /usr/bin/time >/dev/null || { echo "bench: GNU time (/usr/bin/time) is needed" >&2; exit 1; }

work=$(mktemp -d)
project="spbench-$$"
cleanup() {
  (cd "$work/p" 2>/dev/null && docker compose down --volumes --timeout 1 >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

say "building stackpilot"
CGO_ENABLED=0 go build -trimpath -o "$work/stackpilot" .
sp="$work/stackpilot"

mkdir -p "$work/p"
cat > "$work/p/compose.yaml" <<'EOF'
services:
  data:
    image: stackpilot-busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    volumes: ["data:/srv"]
volumes:
  data:
EOF
echo "COMPOSE_PROJECT_NAME=$project" > "$work/p/.env"
cd "$work/p"
docker compose up -d >/dev/null 2>&1
c=$(docker compose ps -q data)

say "filling a ${SIZE_MIB} MiB volume with mixed data"
small=$((SIZE_MIB / 8)); q=$((SIZE_MIB / 4)); rest=$((SIZE_MIB - small - 2 * q))
docker exec "$c" sh -c "
  set -e; cd /srv; mkdir -p small
  head -c $((q * 1048576)) /dev/urandom > random.bin
  head -c $((q * 1048576 * 3 / 4)) /dev/urandom | base64 -w 0 > base64.txt
  seq 1 300000000 | head -c $((rest * 1048576)) > numbers.txt
  n=\$(( $small * 16 )); i=0
  while [ \$i -lt \$n ]; do seq \$i \$((i + 20000)) | head -c 65536 > small/f\$i.txt; i=\$((i + 1)); done
  sync"
bytes=$(docker exec "$c" du -sb /srv | cut -f1)
say "volume holds $bytes bytes"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# timed CMD… — prints "seconds maxrss_kib"
timed() { /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; cat "$work/time"; }

base_b=(); ours_b=(); rss_b=(); base_r=(); ours_r=(); rss_r=(); base_x=(); ours_x=(); ours_n=()
for run in $(seq 1 "$RUNS"); do
  say "run $run/$RUNS: docker cp | gzip -1"
  t0=$(date +%s.%N)
  docker cp "$c:/srv" - | gzip -1 > "$work/base.tar.gz"
  t1=$(date +%s.%N)
  base_b+=("$(echo "$t1 - $t0" | bc)")

  say "run $run/$RUNS: stackpilot backup create"
  rm -rf "$work/p/backups"
  read -r secs rss < <(timed "$sp" backup create)
  ours_b+=("$secs"); rss_b+=("$rss")
  id=$("$sp" backup list --json | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -1)

  say "run $run/$RUNS: docker stop; gunzip | docker cp -; docker start"
  t0=$(date +%s.%N)
  docker stop -t 10 "$c" >/dev/null
  t1=$(date +%s.%N)
  gunzip -c "$work/base.tar.gz" | docker cp - "$c:/"
  t2=$(date +%s.%N)
  docker start "$c" >/dev/null
  t3=$(date +%s.%N)
  base_r+=("$(echo "$t3 - $t0" | bc)"); base_x+=("$(echo "$t2 - $t1" | bc)")

  say "run $run/$RUNS: stackpilot backup restore"
  read -r secs rss < <(timed "$sp" backup restore "$id" --yes --no-safety-backup --json)
  cp "$work/out" "$work/restore.json"
  ours_r+=("$secs"); rss_r+=("$rss")
  ours_x+=("$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print((r["verify_ms"]+sum(v["duration_ms"] for v in r["volumes"]))/1000)' "$work/restore.json")")
  ours_n+=("$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print((r["verify_ms"]+sum(v["duration_ms"]-v["read_back_ms"] for v in r["volumes"]))/1000)' "$work/restore.json")")
  c=$(docker compose ps -q data)
done

archive=$(ls -1 "$work/p/backups"/*.tar.zst | head -1)
mb=$(echo "$bytes / 1048576" | bc -l)
report() { # name baseline-times ours-times rss-list
  local name=$1 b o r
  b=$(printf '%s\n' $2 | median); o=$(printf '%s\n' $3 | median); r=$(printf '%s\n' $4 | median)
  printf '%-15s baseline %6.2fs (%6.1f MiB/s)   stackpilot %6.2fs (%6.1f MiB/s)   ratio %.2fx   peak RSS %.1f MiB\n' \
    "$name" "$b" "$(echo "$mb / $b" | bc -l)" "$o" "$(echo "$mb / $o" | bc -l)" "$(echo "$b / $o" | bc -l)" "$(echo "$r / 1024" | bc -l)"
}
echo
echo "volume: $(printf '%.0f' "$mb") MiB; archive $(du -m "$archive" | cut -f1) MiB vs gzip -1 $(du -m "$work/base.tar.gz" | cut -f1) MiB; medians of $RUNS runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
report backup "${base_b[*]}" "${ours_b[*]}" "${rss_b[*]}"
report restore "${base_r[*]}" "${ours_r[*]}" "${rss_r[*]}"
report "restore data" "${base_x[*]}" "${ours_x[*]}" "${rss_r[*]}"
report "  w/o read-back" "${base_x[*]}" "${ours_n[*]}" "${rss_r[*]}"
echo "(ratio = baseline time / stackpilot time: above 1.00x stackpilot is faster)"
