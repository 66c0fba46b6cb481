#!/usr/bin/env bash
# scale.sh measures what issue 17 asks of one monitor with many households,
# from outside, on one binary: CSV import of households with five devices
# each (households/s per chunk), a /metrics scrape, the resident set, and a
# restart until /readyz answers 200.
#
#   BIN=./eldersafe HOUSEHOLDS=20000 scripts/scale.sh
#
# FROM=N numbers the households imported from N on, into the data of an
# earlier run in $WORK: the import's rate on top of a large registry.
#
# SPEAK=1 then has every device say one thing (scripts/speak: a meter's
# register, a PIR's motion, ...) before the restart, waits for two of the
# readings roll-up's writes, and measures the resident set again: the
# monitor with every device heard from.
#
# PPROF=127.0.0.1:6061 also saves, in $WORK, a CPU profile of the import's
# first 20 s (cpu-import.pprof) and heap profiles after the import, after
# the devices spoke and after the restart (heap-import.pprof,
# heap-speak.pprof, heap-restart.pprof).
#
# Output: one line per step, "key value", for docs/performance.md.
# $WORK/samples.txt has the resident set every EVERY (5) seconds and the
# run's marks, and the devices' messages/s, for scripts/loadplot:
#
#   go run ./scripts/loadplot -households 1000000 -o docs/scale-1m.svg $WORK/samples.txt
set -euo pipefail

BIN=${BIN:?the eldersafe binary to measure}
HOUSEHOLDS=${HOUSEHOLDS:-20000}
CHUNK=${CHUNK:-1000}       # households per import request (5,000 device rows)
FROM=${FROM:-0}
PPROF=${PPROF:-}
SPEAK=${SPEAK:-}
EVERY=${EVERY:-5}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
TOKEN=scale-token
root=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "# $*" >&2; }
die() { echo "scale.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

http_port=$(free_port)
broker_port=$(free_port)
api="http://127.0.0.1:$http_port"
monitor_pid=
samples="$WORK/samples.txt"
: >"$samples"

start_monitor() {
	serve_scale "$(realpath "$BIN")"
	mark "monitor started"
	start_sampler
	wait_ready "$api" "$monitor_pid" "$WORK/eldersafe.log"
	mark ready
}
stop_monitor() {
	stop_sampler
	kill -TERM "$monitor_pid"
	wait "$monitor_pid" || true
	mark "monitor stopped"
}
trap '[ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null; [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null; true' EXIT
if [ -n "$SPEAK" ]; then
	(cd "$root" && go build -o "$WORK/speak" ./scripts/speak)
fi

post() { authed -d "$2" "$api$1" >/dev/null; }

start_monitor
if ((FROM == 0)); then
	post /api/v1/grids '{"id":"g1","name":"Grid one"}'
	post /api/v1/workers '{"id":"w1","name":"Wang","phone":"+8613800000001","grid_ids":["g1"],"role":"grid_worker"}'
fi

profile() { # name, path
	[ -n "$PPROF" ] && curl -fsS -o "$WORK/$1.pprof" "http://$PPROF/debug/pprof/$2"
	true
}
profile cpu-import 'profile?seconds=20' &
profiling=$!
# chunk writes households [$1, $2) as CSV to $3.
chunk() {
	awk -v from="$1" -v to="$2" 'BEGIN {
		split("water_meter motion_sensor door_sensor wristband power_meter", k, " ")
		print "household_id,name,address,grid_id,contact_name,contact_relation,contact_channels,device_id,device_kind,device_secret"
		for (i = from; i < to; i++)
			for (j = 1; j <= 5; j++)
				printf "h%d,Resident %d,%d Road,g1,%s,%s,%s,h%d-d%d,%s,secret-of-h%d-d%d-0123456789\n",
					i, i, i, (j == 1 ? "Child" : ""), (j == 1 ? "daughter" : ""), (j == 1 ? "log" : ""), i, j, k[j], i, j
	}' >"$3"
}
last=$((FROM + HOUSEHOLDS))
upto() { echo $(($1 + CHUNK < last ? $1 + CHUNK : last)); }
chunk "$FROM" "$(upto "$FROM")" "$WORK/chunk-0.csv"
t0=$(date +%s.%N)
cpu0=$(cpu_ticks)
for ((from = FROM, n = 0; from < last; from += CHUNK, n++)); do
	to=$(upto "$from")
	# The next file is written while this one is imported: an operator's
	# files exist before the import, and the rate is the monitor's.
	next=
	if ((to < last)); then
		chunk "$to" "$(upto "$to")" "$WORK/chunk-$(((n + 1) % 2)).csv" &
		next=$!
	fi
	c0=$(date +%s.%N)
	out=$(curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @"$WORK/chunk-$((n % 2)).csv" "$api/api/v1/import/households")
	case $out in *'"errors":[]'*) ;; *) die "import $from: ${out:0:300}" ;; esac
	if (((to / CHUNK) % 10 == 0)) || ((to == last)); then
		echo "import_chunk_per_s_at_$to $(echo "($to - $from) / ($(date +%s.%N) - $c0)" | bc)"
	fi
	[ -z "$next" ] || wait "$next"
done
echo "import_households_per_s $(echo "$HOUSEHOLDS / ($(date +%s.%N) - $t0)" | bc)"
# The CPU the monitor spent per household: on a shared machine, steadier
# than the rate.
echo "import_cpu_us_per_household $(echo "($(cpu_ticks) - $cpu0) * 1000000 / $(getconf CLK_TCK) / $HOUSEHOLDS" | bc)"
echo "rss_kb_after_import $(rss_kb)"
mark "import done"
wait "$profiling"
profile heap-import 'heap?gc=1'
scrape "$api"
if [ -n "$SPEAK" ]; then
	t0=$(now)
	cpu0=$(cpu_ticks)
	# Its progress lines go into the samples with the time they came.
	"$WORK/speak" -mqtt "127.0.0.1:$broker_port" -from "$FROM" -to "$last" 2>&1 | while IFS= read -r line; do
		echo "$line" >>"$WORK/speak.log"
		echo "$(now) load $line" >>"$samples"
	done
	echo "speak_seconds $(echo "$(now) - $t0" | bc)"
	echo "speak_cpu_us_per_message $(echo "($(cpu_ticks) - $cpu0) * 1000000 / $(getconf CLK_TCK) / ($HOUSEHOLDS * 5)" | bc)"
	tail -n 1 "$WORK/speak.log" | sed 's/^/# /'
	# The readings roll-up is written every 30 s; wait for two.
	sleep 62
	mark "devices spoke"
	echo "rss_kb_after_speak $(rss_kb)"
	echo "rss_bytes_per_household_after_speak $(($(rss_kb) * 1024 / last))"
	profile heap-speak 'heap?gc=1'
fi
stop_monitor
start_monitor
echo "rss_kb_after_restart $(rss_kb)"
echo "rss_bytes_per_household_after_restart $(($(rss_kb) * 1024 / last))"
profile heap-restart 'heap?gc=1'
scrape "$api"
stop_monitor
monitor_pid=
