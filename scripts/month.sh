#!/usr/bin/env bash
# month.sh BIN SRC: times the month's routine-visit pass. On a copy of the
# data of SRC (made by scripts/scale.sh without SPEAK: households imported
# under the event clock, so none has its visits yet), starts BIN serve as
# scale.sh does, sends one message, which starts the clock and with it the
# pass, and prints how many routine visits are open once their count stops
# growing for 5 s, with the seconds and the monitor's CPU seconds until its
# last change, from /readyz (a monitor whose snapshot has a clock begins
# the pass as it starts).
#
# With ELDERSAFE_STORE_URL (PostgreSQL), SRC/data holds only the master key
# and the snapshot, and the database is the one at that URL: run it on a
# copy whose month is not scheduled, e.g. for scale.sh's data in es1m:
#   CREATE DATABASE es_m TEMPLATE es1m;
#   -- in es_m: DELETE FROM routine_months WHERE month = '2026-12';
set -euo pipefail
BIN=$(realpath "$1"); SRC=$(realpath "$2"); WORK=$(mktemp -d)
cp -r "$SRC/data" "$WORK/data"
TOKEN=scale-token
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
http_port=$(free_port); broker_port=$(free_port); PPROF=
monitor_pid=
trap '[ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null; rm -rf "$WORK"' EXIT
(cd "$root" && go build -o "$WORK/speak" ./scripts/speak)
serve_scale "$BIN"
wait_ready "http://127.0.0.1:$http_port" "$monitor_pid" "$WORK/eldersafe.log" >/dev/null
c0=$(cpu_ticks); t0=$(date +%s.%N)
"$WORK/speak" -mqtt "127.0.0.1:$broker_port" -from 0 -to 1 >/dev/null
last=-1 same=0
while :; do
	n=$(authed "http://127.0.0.1:$http_port/metrics" | awk '/^eldersafe_tasks_open\{.*routine_visit/ {s+=$2} END {printf "%d", s}')
	if [ "$n" -gt 0 ] && [ "$n" -eq "$last" ]; then
		same=$((same + 1))
		[ "$same" -ge 10 ] && break
	else
		same=0 last=$n t1=$(date +%s.%N) c1=$(cpu_ticks)
	fi
	sleep 0.5
done
echo "routine_visits $n" \
	"seconds $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
	"cpu_s $(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / t }')"
kill -TERM "$monitor_pid"
wait "$monitor_pid" || true
monitor_pid=
