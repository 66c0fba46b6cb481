#!/usr/bin/env bash
# loadagain.sh BIN DATA WORK: the load of scripts/loadrun.sh again, on a
# copy of the households it provisioned, so that builds compare on the same
# data without an import each: copies DATA (a data directory loadrun.sh
# left, its monitor stopped) to WORK/data, starts BIN serve on it as
# loadrun.sh does, runs the simulator's load mode without provisioning from
# START for DURATION as fast as the monitor takes it, then stops the monitor.
#
#   scripts/loadagain.sh /tmp/rs/eldersafe-new /tmp/lr300/data /tmp/again-new
#
# HOUSEHOLDS must be the number loadrun.sh provisioned; START where the event
# clock stood after it (its START plus its DURATION). PROFSEC=S also takes a
# CPU profile of S seconds 10 s into the load (WORK/cpu.pprof); the
# allocations since the start are in WORK/allocs.pprof. Output: "key value"
# lines for docs/performance.md; rss_hwm_kb is the resident set's peak since
# the start, the loading of the state included; after the load, how long
# the stop took and what it wrote, and the ready_seconds of a start after
# it. STOP=KILL kills the monitor instead (SIGKILL: a crash), so that the
# start after it replays the journal. The monitor's settings come from the
# environment as usual, e.g. ELDERSAFE_CHECKPOINT_JOURNAL=true.
#
# WORK/samples.txt holds the resident set every EVERY seconds and the
# simulator's progress lines, as scripts/loadrun.sh records them, for
# scripts/loadplot.
set -euo pipefail
BIN=$(realpath "$1"); DATA=$(realpath "$2"); WORK=$3
HOUSEHOLDS=${HOUSEHOLDS:-300000}
START=${START:-2026-03-02 08:10}
DURATION=${DURATION:-20m}
PROFSEC=${PROFSEC:-}
STOP=${STOP:-TERM}
EVERY=${EVERY:-5}
TOKEN=load-token
root=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "# $*" >&2; }
die() { echo "loadagain.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

copy_data "$DATA"
samples="$WORK/samples.txt"
: >"$samples"
http_port=$(free_port)
broker_port=$(free_port)
PPROF=127.0.0.1:$(free_port)
monitor_pid=
trap '[ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null; [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null; true' EXIT
serve_scale "$BIN"
mark "monitor started"
start_sampler
wait_ready "http://127.0.0.1:$http_port" "$monitor_pid" "$WORK/eldersafe.log"
mark ready
disk=$(lsblk -no pkname "$(df --output=source "$WORK" | tail -n 1)" 2>/dev/null || true)
disk=${disk:-$(basename "$(df --output=source "$WORK" | tail -n 1)")}
written() { awk -v d="$disk" '$3 == d { print $10 }' /proc/diskstats; }
cpu0=$(cpu_ticks)
sectors0=$(written)
if [ -n "$PROFSEC" ]; then
	(sleep 10; exec curl -fsS -o "$WORK/cpu.pprof" "http://$PPROF/debug/pprof/profile?seconds=$PROFSEC") &
fi
t0=$(now)
# The simulator's progress lines (every 5 s) go into the samples with the
# time they were printed; its other output only to the log.
simulate_load "$BIN" --provision=false --speed 0 2>>"$WORK/simulate.log" | while IFS= read -r line; do
	echo "$line" >>"$WORK/simulate.log"
	echo "$(now) load $line" >>"$samples"
done
mark "load done"
echo "load_seconds $(echo "$(now) - $t0" | bc)"
echo "load_cpu_seconds $(echo "($(cpu_ticks) - $cpu0) / $(getconf CLK_TCK)" | bc)"
echo "disk_written_mb $((($(written) - sectors0) / 2048))"
echo "rss_kb_after_load $(rss_kb) rss_hwm_kb $(hwm_kb)"
grep -E '^(sent|the monitor handled) ' "$WORK/simulate.log" | tail -n 2 | sed 's/^/# /'
curl -fsS -o "$WORK/allocs.pprof" "http://$PPROF/debug/pprof/allocs"
# The stop writes what is left: with checkpoint.journal, every household
# changed since the last checkpoint.
t1=$(now)
sectors1=$(written)
kill -"$STOP" "$monitor_pid"
wait "$monitor_pid" || true
mark "monitor stopped"
stop_sampler
echo "stop_seconds $(echo "$(now) - $t1" | bc)"
echo "disk_written_stop_mb $((($(written) - sectors1) / 2048))"
# A start after the clean stop.
serve_scale "$BIN"
mark "monitor started"
start_sampler
wait_ready "http://127.0.0.1:$http_port" "$monitor_pid" "$WORK/eldersafe.log"
mark ready
kill -TERM "$monitor_pid"
wait "$monitor_pid" || true
mark "monitor stopped"
stop_sampler
monitor_pid=
