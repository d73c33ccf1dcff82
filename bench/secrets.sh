#!/usr/bin/env bash
# bench/secrets.sh — what encrypted .env values cost, measured in the same
# run on this machine (issue 12):
#
#  1. `stackpilot deploy` of an unchanged stack whose .env holds 20 encrypted
#     values vs the same stack with the 20 values in plain text, alternating,
#     median wall time of each and their ratio (target ≤ 1.05). One service
#     interpolates all 20 (${VAR}), one reads them with env_file: .env, so both
#     delivery paths (the environment, and the override of references) run.
#  2. `stackpilot run TASK` of a trivial container task (`true` in a running
#     service) on the encrypted stack vs `docker compose exec -T SERVICE true`,
#     median and ratio (target ≤ 0.5); the same task on the plain stack, for
#     what decrypting adds (the model of a stack with decrypted values is
#     never cached: it would hold them).
#
# Each stack lives in a temporary directory under its own project name; the
# identity lives in a temporary XDG_CONFIG_HOME. Needs docker, Compose v2
# (STACKPILOT_COMPOSE=v1 measures deploy on v1) and the fixture images
# (scripts/build-fixtures.sh). RUNS=N sets the repetitions (default 9 for
# deploy, 4×N for run).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-9}
VARIANT=${STACKPILOT_COMPOSE:-v2}
say() { printf '==> %s\n' "$*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

work=$(mktemp -d)
tag=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
export XDG_CONFIG_HOME="$work/config"
cleanup() {
  for d in enc plain; do
    (cd "$work/$d" 2>/dev/null && docker compose down --timeout 1 >/dev/null 2>&1) || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

say "building stackpilot"
CGO_ENABLED=0 go build -trimpath -o "$work/stackpilot" .
sp() { local d=$1; shift; STACKPILOT_COMPOSE=$VARIANT "$work/stackpilot" -C "$work/$d" "$@"; }

for d in enc plain; do
  mkdir -p "$work/$d"
  {
    echo "services:"
    echo "  interp:"
    echo "    image: stackpilot-busybox:latest"
    echo "    command: [\"sleep\", \"1000000\"]"
    echo "    init: true"
    echo "    environment:"
    for i in $(seq -w 1 20); do echo "      SECRET_$i: \${SECRET_$i}"; done
    echo "  file:"
    echo "    image: stackpilot-busybox:latest"
    echo "    command: [\"sleep\", \"1000000\"]"
    echo "    init: true"
    echo "    env_file: .env"
    echo "x-stackpilot:"
    echo "  deploy: {settle: 0s}"
    echo "  tasks:"
    echo "    noop: {service: interp, command: [\"true\"]}"
  } > "$work/$d/compose.yaml"
  { echo "COMPOSE_PROJECT_NAME=spbenchsecrets-$d-$tag"; for i in $(seq -w 1 20); do echo "SECRET_$i=value-$i-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; done; } > "$work/$d/.env"
done
say "encrypting the 20 values of the first stack"
sp enc env keygen >/dev/null 2>&1
keys=$(for i in $(seq -w 1 20); do printf 'SECRET_%s ' "$i"; done)
# shellcheck disable=SC2086
sp enc env encrypt $keys >/dev/null 2>&1
grep -c 'ENC\[age:' "$work/enc/.env" | grep -qx 20 || { echo "the values were not encrypted" >&2; exit 1; }

say "first deploys"
for d in enc plain; do sp "$d" deploy --yes >/dev/null 2>"$work/first.log" || { cat "$work/first.log" >&2; exit 1; }; done

say "unchanged deploy: $RUNS runs each, alternating"
: > "$work/enc.times"; : > "$work/plain.times"
for _ in $(seq 1 "$RUNS"); do
  for d in enc plain; do
    t0=$(now); sp "$d" deploy --yes >/dev/null 2>"$work/run.log" || { cat "$work/run.log" >&2; exit 1; }; t1=$(now)
    echo "$t1 - $t0" | bc -l >> "$work/$d.times"
  done
done
enc=$(median < "$work/enc.times"); plain=$(median < "$work/plain.times")

say "run TASK vs compose exec: $((RUNS * 4)) runs each, alternating"
: > "$work/run.times"; : > "$work/exec.times"; : > "$work/runplain.times"
sp enc run noop >/dev/null; sp plain run noop >/dev/null # warm, as any second run would be
for _ in $(seq 1 $((RUNS * 4))); do
  t0=$(now); sp enc run noop >/dev/null 2>&1; t1=$(now); echo "$t1 - $t0" | bc -l >> "$work/run.times"
  t0=$(now); (cd "$work/enc" && docker compose exec -T interp true >/dev/null 2>&1); t1=$(now); echo "$t1 - $t0" | bc -l >> "$work/exec.times"
  t0=$(now); sp plain run noop >/dev/null 2>&1; t1=$(now); echo "$t1 - $t0" | bc -l >> "$work/runplain.times"
done
run=$(median < "$work/run.times"); exec=$(median < "$work/exec.times"); runplain=$(median < "$work/runplain.times")

printf '%-58s %8.3f s\n' "deploy, unchanged, 20 encrypted values ($VARIANT)" "$enc"
printf '%-58s %8.3f s\n' "deploy, unchanged, 20 plain values ($VARIANT)" "$plain"
printf '%-58s %8.3f s\n' "stackpilot run noop (encrypted .env)" "$run"
printf '%-58s %8.3f s\n' "docker compose exec -T interp true" "$exec"
printf '%-58s %8.3f s\n' "stackpilot run noop (plain .env)" "$runplain"
python3 - "$enc" "$plain" "$run" "$exec" "$runplain" <<'PY'
import sys
enc, plain, run, ex, runplain = map(float, sys.argv[1:])
r1, r2, r3 = enc / plain, run / ex, runplain / ex
print(f"ratio deploy encrypted / plain: {r1:.3f}  (target ≤ 1.05: {'ok' if r1 <= 1.05 else 'MISSED'})")
print(f"ratio run / compose exec:       {r2:.3f}  (target ≤ 0.5: {'ok' if r2 <= 0.5 else 'MISSED'})")
print(f"ratio run (plain .env) / exec:  {r3:.3f}  (for comparison)")
PY
