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
# On a shared, loaded machine a single timing says little: the two sides
# of each figure are measured in pairs, one right after the other, in
# alternating order (ABBA, so neither always runs on a cache the other just
# warmed or always after the other's noise), and a figure is the median of
# the per-pair ratios — each pair sees the same load — next to the ratio of
# the medians. The verdict uses the paired median.
#
# Each stack lives in a temporary directory under its own project name; the
# identity lives in a temporary XDG_CONFIG_HOME. Needs docker, Compose v2
# (STACKPILOT_COMPOSE=v1 measures deploy on v1) and the fixture images
# (scripts/build-fixtures.sh). RUNS=N sets the repetitions (default 15
# pairs for deploy, 4×N triples for run).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-15}
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

# timed CMD… appends CMD's wall time in seconds to the file $T (stdout and
# stderr to $work/out.log; a failure stops the bench with its output).
timed() {
  local t0 t1
  t0=$(now); "$@" >"$work/out.log" 2>&1 </dev/null || { cat "$work/out.log" >&2; exit 1; }; t1=$(now)
  echo "$t1 - $t0" | bc -l >> "$T"
}
deploy_enc() { sp enc deploy --yes; }
deploy_plain() { sp plain deploy --yes; }
run_enc() { sp enc run noop; }
run_plain() { sp plain run noop; }
compose_exec() { (cd "$work/enc" && docker compose exec -T interp true); }

say "unchanged deploy: $RUNS pairs, alternating order"
: > "$work/enc.times"; : > "$work/plain.times"
for i in $(seq 1 "$RUNS"); do
  if (( i % 2 )); then
    T=$work/enc.times timed deploy_enc; T=$work/plain.times timed deploy_plain
  else
    T=$work/plain.times timed deploy_plain; T=$work/enc.times timed deploy_enc
  fi
done
enc=$(median < "$work/enc.times"); plain=$(median < "$work/plain.times")

say "run TASK vs compose exec: $((RUNS * 4)) triples, alternating order"
: > "$work/run.times"; : > "$work/exec.times"; : > "$work/runplain.times"
sp enc run noop >/dev/null; sp plain run noop >/dev/null # warm, as any second run would be
for i in $(seq 1 $((RUNS * 4))); do
  if (( i % 2 )); then
    T=$work/run.times timed run_enc; T=$work/exec.times timed compose_exec; T=$work/runplain.times timed run_plain
  else
    T=$work/runplain.times timed run_plain; T=$work/exec.times timed compose_exec; T=$work/run.times timed run_enc
  fi
done
run=$(median < "$work/run.times"); exec=$(median < "$work/exec.times"); runplain=$(median < "$work/runplain.times")

printf '%-58s %8.3f s\n' "deploy, unchanged, 20 encrypted values ($VARIANT)" "$enc"
printf '%-58s %8.3f s\n' "deploy, unchanged, 20 plain values ($VARIANT)" "$plain"
printf '%-58s %8.3f s\n' "stackpilot run noop (encrypted .env)" "$run"
printf '%-58s %8.3f s\n' "docker compose exec -T interp true" "$exec"
printf '%-58s %8.3f s\n' "stackpilot run noop (plain .env)" "$runplain"
python3 - "$work" <<'PY'
import statistics, sys
w = sys.argv[1]
t = {n: [float(x) for x in open(f"{w}/{n}.times")] for n in ("enc", "plain", "run", "exec", "runplain")}
def figure(label, a, b, target):
    paired = statistics.median(x / y for x, y in zip(t[a], t[b]))
    of_medians = statistics.median(t[a]) / statistics.median(t[b])
    verdict = "ok" if target and paired <= target else "MISSED"
    print(f"ratio {label:<24} {paired:.3f} paired median, {of_medians:.3f} of medians, n={len(t[a])}"
          + (f"  (target ≤ {target}: {verdict})" if target else "  (for comparison)"))
figure("deploy encrypted / plain", "enc", "plain", 1.05)
figure("run / compose exec", "run", "exec", 0.5)
figure("run (plain .env) / exec", "runplain", "exec", None)
PY
