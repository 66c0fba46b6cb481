#!/usr/bin/env bash
# countdown.sh BIN WORK HOUSEHOLD: a restart loses no countdown, on the
# data scripts/scale.sh made in WORK (issue 17 asks it at 1,000,000
# households). It starts BIN serve as scale.sh does; with SPEAK=N, every
# device of households 0..N-1 speaks first (scripts/speak), so that none
# is stale in the simulated hour that follows. Then, under the event clock
# (ticks, POST /api/v1/clock): HOUSEHOLD's water meter shows use 1 min
# after now, its water_no_use is set to 1 h (the least allowed) and its
# register stays flat at 20, 40 and 54 min; the monitor is stopped
# (SIGTERM: it writes its snapshot) and started again; at 58 min there
# must be no water_no_use task, at 62 min one. It prints the household's
# tasks at each step, and sets its thresholds back at the end.
set -euo pipefail
BIN=$(realpath "$1"); WORK=$(realpath "$2"); H=$3; TOKEN=scale-token
log() { echo "# $*" >&2; }
die() { echo "countdown.sh: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
http_port=$(free_port); broker_port=$(free_port); PPROF=
monitor_pid=
trap '[ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null; true' EXIT
API=http://127.0.0.1:$http_port/api/v1
start() { serve_scale "$BIN"; echo "# $(wait_ready "http://127.0.0.1:$http_port" "$monitor_pid" "$WORK/eldersafe.log")"; }
stop() { kill -TERM "$monitor_pid"; wait "$monitor_pid" || true; monitor_pid=; }
clock() { authed -X POST "$API/clock" -d "{\"ts\":$1}" | sed 's/.*"ts":"\([^"]*\)".*/\1/'; }
ms() { date -d "$1" +%s%3N; }
water() { mosquitto_pub -h 127.0.0.1 -p "$broker_port" -q 1 -t eldersafe/v1/devices/$H-d1/telemetry -m "{\"ts\":$1,\"seq\":$2,\"total_liters\":$3,\"battery_pct\":87}"; }
tasks() { authed "$API/tasks?household_id=$H" | grep -o '"rule":"[a-z_]*"[^}]*"state":"[a-z_]*"' | grep -o '"rule":"[a-z_]*"\|"state":"[a-z_]*"' | paste -d' ' - - | sort | uniq -c || true; }
# fired says whether HOUSEHOLD has a water_no_use task, and must say $1.
fired() {
	local n
	n=$(authed "$API/tasks?household_id=$H&rule=water_no_use" | { grep -o '"rule":"water_no_use"' || true; } | wc -l)
	if { [ "$1" = yes ] && [ "$n" -eq 0 ]; } || { [ "$1" = no ] && [ "$n" -gt 0 ]; }; then
		die "$2: water_no_use tasks of $H: $n"
	fi
}
# A tick at or before now moves nothing and answers now.
event_now() { clock 946771200000; }
start
if [ -n "${SPEAK:-}" ]; then
	(cd "$root" && go build -o "$WORK/speak" ./scripts/speak)
	"$WORK/speak" -mqtt "127.0.0.1:$broker_port" -from 0 -to "$SPEAK" | tail -n 1
fi
now=$(event_now); t0=$(ms "$now")
echo "clock $now"
echo "$H tasks before: $(tasks | tr '\n' ';')"
fired no "before"
t=$((t0 + 60000)); clock "$t" >/dev/null; water "$t" 9001 5000
sleep 1
authed -X PUT "$API/households/$H/thresholds" -d '{"water_no_use": {"hours": 1}}' >/dev/null
for m in 20 40 54; do
	t=$((t0 + 60000 + m * 60000))
	clock "$t" >/dev/null
	water "$t" $((9001 + m)) 5000
done
sleep 2
echo "at 54 min, before the restart: $(tasks | tr '\n' ';')"
fired no "at 54 min"
stop
start
echo "after the restart, clock $(event_now): $(tasks | tr '\n' ';')"
for m in 58 62; do
	t=$((t0 + 60000 + m * 60000))
	clock "$t" >/dev/null
	water "$t" $((9001 + m)) 5000
	sleep 2
	echo "at $m min: $(tasks | tr '\n' ';')"
	if [ "$m" = 58 ]; then fired no "at 58 min"; else fired yes "at 62 min"; fi
done
authed -X PUT "$API/households/$H/thresholds" -d '{}' >/dev/null
stop
echo "countdown kept across the restart"
