#!/usr/bin/env bash
# fallprobe.sh BIN DATA WORK: how long a fall waits for its PUBACK and for
# its family's push while every device of scripts/scale.sh's households
# speaks: copies DATA (a data directory scale.sh left, its monitor
# stopped) to WORK/data, starts BIN serve on it as scale.sh does, registers
# FALLS (300) households with a wristband and a family pushed to a receiver
# (benche2e provision), has every device of households 0..SPEAK-1
# (1,000,000) say one thing (scripts/speak), flat out or RATE messages a
# second, and 10 s into that publishes a fall every 200 ms, one a wristband
# (benche2e probe); then stops the monitor.
#
#   scripts/fallprobe.sh /tmp/eldersafe /tmp/s1m/data /tmp/probe
#
# Output: "key=value" lines of benche2e probe, and speak's last line.
set -euo pipefail
BIN=$(realpath "$1"); DATA=$(realpath "$2"); WORK=$3
FALLS=${FALLS:-300}
SPEAK=${SPEAK:-1000000}
RATE=${RATE:-0}
TOKEN=scale-token
root=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "# $*" >&2; }
die() { echo "fallprobe.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

copy_data "$DATA"
(cd "$root" && go build -o "$WORK/speak" ./scripts/speak && go build -o "$WORK/benche2e" ./scripts/benche2e)
http_port=$(free_port)
broker_port=$(free_port)
push_port=$(free_port)
monitor_pid= speak_pid=
trap '[ -n "$speak_pid" ] && kill "$speak_pid" 2>/dev/null; [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null; true' EXIT
serve_scale "$BIN"
wait_ready "http://127.0.0.1:$http_port" "$monitor_pid" "$WORK/eldersafe.log" >/dev/null
"$WORK/benche2e" provision -api "http://127.0.0.1:$http_port" -token "$TOKEN" \
	-devices 0 -falls "$FALLS" -push "http://127.0.0.1:$push_port"
"$WORK/speak" -mqtt "127.0.0.1:$broker_port" -from 0 -to "$SPEAK" -rate "$RATE" >"$WORK/speak.log" 2>&1 &
speak_pid=$!
sleep 10
"$WORK/benche2e" probe -mqtt "127.0.0.1:$broker_port" -falls "$FALLS" -receiver "127.0.0.1:$push_port"
if kill -0 "$speak_pid" 2>/dev/null; then
	log "speak still running after the probe: stopped"
	kill "$speak_pid"
fi
wait "$speak_pid" || true
speak_pid=
tail -n 1 "$WORK/speak.log" | sed 's/^/# speak: /'
kill -TERM "$monitor_pid"
wait "$monitor_pid" || true
monitor_pid=
