#!/usr/bin/env bash
# loadrun.sh measures a monitor's resident set while every device speaks:
# it starts a monitor (embedded broker without device auth, event clock,
# its own data directory, embedded defaults), runs the simulator's load mode
# against it (provisioning HOUSEHOLDS households of nine devices through the
# CSV import, then DURATION of simulated time as fast as the monitor takes
# it, so every device has spoken: each sends at least hourly), records the
# resident set every EVERY seconds and the simulator's progress lines, then
# stops the simulator, waits for the readings roll-up to be flushed, and
# restarts the monitor on the same data.
#
#   BIN=./eldersafe HOUSEHOLDS=100000 DURATION=65m WORK=/tmp/mem/base scripts/loadrun.sh
#   go run ./scripts/loadplot -households 100000 -o docs/load-100k.svg /tmp/mem/base/samples.txt
#
# PPROF=127.0.0.1:6061 also saves heap profiles in $WORK after the run and
# after the restart (heap-load.pprof, heap-restart.pprof).
#
# $WORK/samples.txt has one line per sample, each starting with the Unix
# time: "T rss KB", "T load <the simulator's progress line>", "T mark TEXT";
# scripts/loadplot draws it. Output: "key value" lines for
# docs/performance.md.
set -euo pipefail

BIN=${BIN:?the eldersafe binary to measure}
HOUSEHOLDS=${HOUSEHOLDS:-100000}
DURATION=${DURATION:-65m}
START=${START:-2026-03-02 08:00}
SPEED=${SPEED:-0}          # simulated seconds per second; 0: as fast as the monitor takes it
EVERY=${EVERY:-5}          # seconds between resident-set samples
PPROF=${PPROF:-}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
TOKEN=load-token
root=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "# $*" >&2; }
die() { echo "loadrun.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

bin=$(realpath "$BIN")
http_port=$(free_port)
broker_port=$(free_port)
api="http://127.0.0.1:$http_port"
samples="$WORK/samples.txt"
: >"$samples"
monitor_pid=

start_monitor() {
	serve_scale "$bin"
	mark "monitor started"
	wait_ready "$api" "$monitor_pid" "$WORK/eldersafe.log"
	mark ready
}
stop_monitor() {
	kill -TERM "$monitor_pid"
	wait "$monitor_pid" || true
	mark "monitor stopped"
}
profile() { # name
	[ -n "$PPROF" ] && curl -fsS -o "$WORK/$1.pprof" "http://$PPROF/debug/pprof/heap?gc=1"
	true
}
trap '[ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null; [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null; true' EXIT

start_monitor
start_sampler
t0=$(now)
cpu0=$(cpu_ticks)
# The simulator's progress lines (every 5 s) go into the samples with the
# time they were printed; its other output only to the log.
simulate_load "$bin" --speed "$SPEED" 2>>"$WORK/simulate.log" | while IFS= read -r line; do
	echo "$line" >>"$WORK/simulate.log"
	echo "$(now) load $line" >>"$samples"
done
echo "load_seconds $(echo "$(now) - $t0" | bc)"
# The monitor's CPU over provisioning and load: what a smaller heap
# headroom costs in collections shows here.
echo "load_cpu_seconds $(echo "($(cpu_ticks) - $cpu0) / $(getconf CLK_TCK)" | bc)"
grep -E '^(sent|the monitor handled) ' "$WORK/simulate.log" | tail -n 2 | sed 's/^/# /'
# The roll-up is written every 30 s; wait for two.
sleep 62
mark "load done"
echo "rss_kb_after_load $(rss_kb)"
echo "rss_bytes_per_household_after_load $(($(rss_kb) * 1024 / HOUSEHOLDS))"
echo "hwm_kb_during_load $(hwm_kb)"
profile heap-load
stop_sampler
stop_monitor
start_monitor
start_sampler
sleep 10
echo "rss_kb_after_restart $(rss_kb)"
echo "rss_bytes_per_household_after_restart $(($(rss_kb) * 1024 / HOUSEHOLDS))"
echo "hwm_kb_during_restart $(hwm_kb)"
profile heap-restart
stop_sampler
stop_monitor
monitor_pid=
