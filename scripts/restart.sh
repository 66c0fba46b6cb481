#!/usr/bin/env bash
# restart.sh BIN WORK [PROFILE_OUT]: start BIN serve as scripts/scale.sh does
# on WORK/data (made by scale.sh or loadrun.sh), time it until /readyz
# answers 200, print its CPU, resident set and the pages it faulted in
# then, time five /metrics scrapes, and stop it (SIGTERM: it writes its
# snapshot). PROFILE_OUT: also a CPU profile of the first
# PROFSEC (20) seconds; HEAP=FILE: a heap profile once ready. SPEAK=N:
# then every device of scale.sh's households 0..N-1 says one thing
# (scripts/speak; the monitor's CPU-s meanwhile: speak_cpu_s), and the
# resident set is read again after two of the readings roll-up's writes
# (HEAP, if set, is taken then instead), and,
# with REST=S, again S seconds later; then the heap live after a forced
# collection. FROM_STORE=1: WORK/data's snapshot is removed first, so that
# the start reads the store, as after a crash without the journal or an
# upgrade. STATES_MOVED=1: one rule state is written again first (sqlite3),
# as a run after the snapshot's clean stop leaves the store, killed: the
# start finds the snapshot's states older than the store's and its devices
# not, and reads the states from the store. REGISTERED=N (with
# STATES_MOVED): also a door sensor registered (sqlite3) in each of N
# households since the snapshot; the start reads their devices from the
# store.
set -euo pipefail
BIN=$(realpath "$1"); WORK=$(realpath "$2"); PROF=${3:+$(realpath "$3")}
TOKEN=scale-token
root=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "# $*" >&2; }
die() { echo "restart.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

http_port=$(free_port)
broker_port=$(free_port)
PPROF=127.0.0.1:$(free_port)
monitor_pid= profile_pid=
if [ -n "${FROM_STORE:-}" ]; then
	rm -f "$WORK/data/rules.snapshot"
fi
if [ -n "${STATES_MOVED:-}" ]; then
	apt_install sqlite3
	sqlite3 "$WORK/data/eldersafe.db" \
		"UPDATE rule_state SET updated_at = updated_at + 1 WHERE household_id = (SELECT min(household_id) FROM rule_state)"
	if [ -n "${REGISTERED:-}" ]; then
		sqlite3 "$WORK/data/eldersafe.db" \
			"INSERT INTO devices (id, kind, household_id, secret_hash, created_at)
			 SELECT 'door-$$-' || id, 'door_sensor', id, '', created_at FROM households ORDER BY random() LIMIT $REGISTERED"
	fi
fi
trap '[ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null; true' EXIT
serve_scale "$BIN"
if [ -n "$PROF" ]; then
	(sleep 0.3; exec curl -fsS -o "$PROF" "http://$PPROF/debug/pprof/profile?seconds=${PROFSEC:-20}") &
	profile_pid=$!
fi
ready=$(wait_ready "http://127.0.0.1:$http_port" "$monitor_pid" "$WORK/eldersafe.log")
echo "$ready" \
	"cpu_s $(echo "scale=2; $(cpu_ticks) / $(getconf CLK_TCK)" | bc)" \
	"rss_kb $(rss_kb) hwm_kb $(hwm_kb)" \
	"minor_faults $(minor_faults) huge_kb $(huge_kb)"
scrape "http://127.0.0.1:$http_port"
if [ -n "${SPEAK:-}" ]; then
	(cd "$root" && go build -o "$WORK/speak" ./scripts/speak)
	cpu0=$(cpu_ticks)
	"$WORK/speak" -mqtt "127.0.0.1:$broker_port" -from 0 -to "$SPEAK" | tail -n 1 | sed 's/^/# /'
	echo "speak_cpu_s $(echo "scale=2; ($(cpu_ticks) - $cpu0) / $(getconf CLK_TCK)" | bc)"
	sleep 62 # the roll-up is written every 30 s; wait for two
	rss=$(rss_kb)
	echo "rss_kb_after_speak $rss bytes_per_household $((rss * 1024 / SPEAK))"
	if [ -n "${REST:-}" ]; then
		sleep "$REST"
		rss=$(rss_kb)
		echo "rss_kb_at_rest $rss bytes_per_household $((rss * 1024 / SPEAK))"
	fi
fi
curl -fsS -o "${HEAP:-/dev/null}" "http://$PPROF/debug/pprof/heap?gc=1"
live=$(authed "http://127.0.0.1:$http_port/metrics" |
	awk '/^go_memstats_heap_alloc_bytes/ {printf "%d", $2}')
echo "heap_live_bytes $live${SPEAK:+ bytes_per_household $((live / SPEAK))}"
if [ -n "$profile_pid" ]; then wait "$profile_pid"; fi
t1=$(date +%s.%N)
kill -TERM "$monitor_pid"
wait "$monitor_pid" || true
monitor_pid=
echo "stop_seconds $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
