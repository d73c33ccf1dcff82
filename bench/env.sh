#!/usr/bin/env bash
# bench/env.sh — median wall time of `stackpilot env get` and `env set` on a
# 10,000-line .env (fsyncs included), against the targets of issue 4:
#   env get <= 20 ms, env set <= 40 ms.
# Also prints `stackpilot --version`: the process floor (runtime start and
# package initialisation) that every command pays before doing any work.
#
# Run it with nothing else busy: on small VMs the floor moves by milliseconds
# from one minute to the next, and a running stack's healthchecks (the demo
# runs one every few seconds) move it more.
#
# Usage: bench/env.sh [RUNS]   (default 50; uses hyperfine when installed)
set -euo pipefail

runs=${1:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bin=$work/stackpilot
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$bin" .)

proj=$work/proj
mkdir -p "$proj"
cat >"$proj/compose.yaml" <<'EOF'
services:
  api:
    image: stackpilot-busybox:latest
    environment:
      DB_HOST: ${KEY_05001}
EOF

# 10,000 lines: comments, plain, double- and single-quoted values, ${refs}
awk 'BEGIN {
  for (i = 0; i < 10000; i++) {
    m = i % 5
    if (m == 0) printf "# comment %d\n", i
    else if (m == 1) printf "KEY_%05d=value-%d\n", i, i
    else if (m == 2) printf "QUOTED_%05d=\"double $$ %d\"\n", i, i
    else if (m == 3) printf "SINGLE_%05d=\x27single # %d\x27\n", i, i
    else printf "REF_%05d=${KEY_%05d:-x}\n", i, i - 3
  }
}' >"$proj/.env"
if command -v docker >/dev/null && n=$(docker ps -q 2>/dev/null | wc -l) && [ "$n" -gt 0 ]; then
	echo "note: $n containers are running; their healthchecks add noise" >&2
fi
lines=$(wc -l <"$proj/.env")
echo "stackpilot: $("$bin" --version)"
echo ".env: $lines lines, $(wc -c <"$proj/.env") bytes; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

get=("$bin" -C "$proj" env get KEY_05001)
set_before=("$bin" -C "$proj" env set KEY_05001=before)
set_after=("$bin" -C "$proj" env set KEY_05001=after)
floor=("$bin" --version)

"${get[@]}" >/dev/null
"${set_after[@]}" 2>/dev/null

median_ms() { # median of the numbers (ns) on stdin, in ms
	sort -n | awk '{a[NR]=$1} END {if (NR%2) m=a[(NR+1)/2]; else m=(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1e6}'
}

if command -v hyperfine >/dev/null; then
	json=$work/h.json
	hyperfine -N --style none --warmup 5 --runs "$runs" --export-json "$json" \
		-n floor "${floor[*]}" \
		-n get "${get[*]}" \
		--prepare "${set_before[*]}" -n set "${set_after[*]}" >/dev/null 2>&1 ||
		hyperfine -N --style none --warmup 5 --runs "$runs" --export-json "$json" \
			-n floor "${floor[*]}" -n get "${get[*]}" >/dev/null
	med() { # median (ms) of the named command from hyperfine's JSON
		awk -v name="\"$1\"" '
			/"command":/ { cur = $2; gsub(/,/, "", cur) }
			/"median":/ && cur == name { v = $2; gsub(/,/, "", v); printf "%.1f", v * 1000; exit }' "$json"
	}
	cpu() { # mean user+system CPU (ms) of the named command
		awk -v name="\"$1\"" '
			/"command":/ { cur = $2; gsub(/,/, "", cur) }
			/"user":/ && cur == name { u = $2; gsub(/,/, "", u) }
			/"system":/ && cur == name { s = $2; gsub(/,/, "", s); printf "%.1f", (u + s) * 1000; exit }' "$json"
	}
	minv() { # fastest run (ms): what the command costs when the machine is not contended
		awk -v name="\"$1\"" '
			/"command":/ { cur = $2; gsub(/,/, "", cur) }
			/"min":/ && cur == name { v = $2; gsub(/,/, "", v); printf "%.1f", v * 1000; exit }' "$json"
	}
	m_floor=$(med floor)
	m_get=$(med get)
	m_set=$(med set)
	c_floor=" (min $(minv floor), cpu $(cpu floor))"
	c_get=" (min $(minv get), cpu $(cpu get))"
	c_set=" (min $(minv set), cpu $(cpu set))"
	how="hyperfine, $runs runs, 5 warm-up; min = fastest run, cpu = mean user+system, in ms"
else
	time_runs() {
		for _ in $(seq "$runs"); do
			[ -n "${prep:-}" ] && $prep >/dev/null 2>&1
			s=$(date +%s%N)
			"$@" >/dev/null 2>&1
			e=$(date +%s%N)
			echo $((e - s))
		done | median_ms
	}
	m_floor=$(prep="" time_runs "${floor[@]}")
	m_get=$(prep="" time_runs "${get[@]}")
	m_set=$(prep="${set_before[*]}" time_runs "${set_after[@]}")
	how="date +%s%N loop, $runs runs"
fi

verdict() { awk -v m="$1" -v t="$2" 'BEGIN { if (m + 0 <= t + 0) print "meets the target"; else print "OVER the target" }'; }
echo
echo "median wall time ($how):"
printf "  %-38s %7s ms%s   process floor, for reference\n" "stackpilot --version" "$m_floor" "${c_floor:-}"
printf "  %-38s %7s ms%s   target <= 20 ms: %s\n" "stackpilot env get KEY_05001" "$m_get" "${c_get:-}" "$(verdict "$m_get" 20)"
printf "  %-38s %7s ms%s   target <= 40 ms: %s\n" "stackpilot env set KEY_05001=after" "$m_set" "${c_set:-}" "$(verdict "$m_set" 40)"
echo
echo "in-process cost on the same file (go test -bench, ns/op):"
(cd "$root" && go test ./stackops/envfile -run '^$' -bench 'BenchmarkEnv(Scan|GetCommand|SetCommand)$' -benchtime 30x 2>/dev/null | awk '/^Benchmark/ {printf "  %-28s %8.1f ms/op\n", $1, $3/1e6}')
