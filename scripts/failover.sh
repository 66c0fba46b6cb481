#!/usr/bin/env bash
# failover.sh BIN WORK: time a standby's takeover (CONTRACT §15) on
# scripts/scale.sh's households in PostgreSQL (ELDERSAFE_STORE_URL; scale.sh
# run with it set leaves its master key in WORK/data) with an external
# broker at MQTT (host:port, e.g. Mosquitto). A leader and a standby of BIN
# serve (ha.enabled, the wall clock) run from WORK/leader and
# WORK/standby, with the absence rules off: scale.sh's households were
# imported under the event clock, their devices silent since, and a leader
# on the wall clock would open a task for each. It prints how long each
# took to load (the standby's until it stands by), then has SPEAK (default
# 200000) households speak through the broker (scripts/speak), kills the
# leader (SIGKILL) KILL_AFTER (20) seconds in, and prints the seconds from
# the kill to the standby's /readyz 200, how they split (the lease's
# expiry, the takeover's own work, from the standby's log), and the
# standby's CPU while it stood by under the load (from its tenth second:
# KILL_AFTER is at least 11), with the rule states it followed meanwhile;
# PROFILE=FILE: a CPU profile of the standby over those seconds.
# ERASE=ID: household ID is erased through the leader once the standby
# stands by, and the time the standby took to forget it is printed.
# CONFIG_EXTRA: YAML added to both monitors' config (top-level keys other
# than ha and rules), e.g. care levels' rules profiles.
set -euo pipefail
BIN=$(realpath "$1"); WORK=$(realpath "$2")
: "${ELDERSAFE_STORE_URL:?a PostgreSQL URL}" "${MQTT:?the broker, host:port}"
TOKEN=scale-token
root=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "# $*" >&2; }
die() { echo "failover.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_s() { echo "scale=2; $1 / $(getconf CLK_TCK)" | bc; }
# logged_at PATTERN LOG: the Unix time of LOG's first line matching PATTERN.
logged_at() { grep -m1 "$1" "$2" | sed -n 's/.*"time":"\([^"]*\)".*/\1/p' | xargs -I{} date -d {} +%s.%N; }

cat >"$WORK/ha.yaml" <<YAML
ha:
  enabled: true
rules:
$(for r in water_no_use water_continuous_flow no_motion no_exit power_no_use unusual_quiet late_wake device_offline battery_low sensor_health presumed_out; do
	echo "  $r: {enabled: false}"
done)
${CONFIG_EXTRA:-}
YAML
leader_pid= standby_pid= speak_pid=
trap 'kill -9 $leader_pid $standby_pid $speak_pid 2>/dev/null; true' EXIT
# serve ROLE HTTP_PORT: BIN serve from WORK/ROLE, logging to WORK/ROLE.log.
serve() {
	mkdir -p "$WORK/$1"
	cp "$WORK/data/eldersafe.key" "$WORK/$1/"
	env ELDERSAFE_AUTH_ADMIN_TOKEN="$TOKEN" ELDERSAFE_LOG_LEVEL=info ELDERSAFE_LOG_FORMAT=json \
		"$BIN" serve --config "$WORK/ha.yaml" --data-dir "$WORK/$1" \
		--http-addr "127.0.0.1:$2" --mqtt-url "tcp://$MQTT" >>"$WORK/$1.log" 2>&1 &
}
leader_port=$(free_port) standby_port=$(free_port)
rm -f "$WORK/leader.log" "$WORK/standby.log"
serve leader "$leader_port"
leader_pid=$!
echo "leader $(wait_ready "http://127.0.0.1:$leader_port" "$leader_pid" "$WORK/leader.log")"
t0=$(date +%s.%N)
standby_pprof=127.0.0.1:$(free_port)
ELDERSAFE_HTTP_PPROF_ADDR=$standby_pprof serve standby "$standby_port"
standby_pid=$!
until grep -q "standing by: another monitor holds the leader lease" "$WORK/standby.log"; do
	kill -0 "$standby_pid" 2>/dev/null || die "the standby stopped (log: $WORK/standby.log)"
	sleep 0.1
done
echo "standby_load_seconds $(seconds_since "$t0") rss_kb $(awk '/^VmRSS/ {print $2}' "/proc/$standby_pid/status")"

if [ -n "${ERASE:-}" ]; then
	authed -X DELETE -d '{"reason":"failover.sh: an erasure the standby follows"}' \
		"http://127.0.0.1:$leader_port/api/v1/households/$ERASE" >/dev/null
	until grep -q '"standing by: forgot the households erased"' "$WORK/standby.log"; do sleep 0.1; done
	grep -m1 '"standing by: forgot the households erased"' "$WORK/standby.log" |
		sed 's/.*"households":\([0-9]*\),"took":\([0-9]*\).*/erased_followed households \1 took_ms \2/' |
		awk '{ $5 = sprintf("%.1f", $5 / 1e6); print }'
fi
(cd "$root" && go build -o "$WORK/speak" ./scripts/speak)
"$WORK/speak" -mqtt "$MQTT" -from 0 -to "${SPEAK:-200000}" >"$WORK/speak.log" 2>&1 &
speak_pid=$!
# The standby's CPU and the states it followed over the load's seconds 10
# to KILL_AFTER: the first seconds hold the collection after its load.
followed() { authed "http://127.0.0.1:$standby_port/metrics" | awk '/^eldersafe_standby_states_followed_total/ {printf "%d", $2}'; }
window=$((${KILL_AFTER:-20} - 10))
sleep 10
cpu0=$(ticks "$standby_pid") followed0=$(followed)
if [ -n "${PROFILE:-}" ]; then
	curl -fsS -o "$PROFILE" "http://$standby_pprof/debug/pprof/profile?seconds=$window"
else
	sleep "$window"
fi
echo "standby_following cpu_s $(cpu_s $(($(ticks "$standby_pid") - cpu0))) in $window s, states $(($(followed) - followed0))"
killed=$(date +%s.%N)
kill -9 "$leader_pid"
leader_pid=
echo "takeover $(wait_ready "http://127.0.0.1:$standby_port" "$standby_pid" "$WORK/standby.log")"
leased=$(logged_at '"took the leader lease"' "$WORK/standby.log")
working=$(logged_at '"took over: working"' "$WORK/standby.log")
awk -v k="$killed" -v l="$leased" -v w="$working" \
	'BEGIN { printf "lease_taken_after_s %.2f took_over_in_s %.2f\n", l - k, w - l }'
wait "$speak_pid" || true
speak_pid=
tail -n 1 "$WORK/speak.log" | sed 's/^/# speak: /'
kill -TERM "$standby_pid"
wait "$standby_pid" || true
standby_pid=
