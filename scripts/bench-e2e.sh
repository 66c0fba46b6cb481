#!/usr/bin/env bash
# Side-by-side end-to-end benchmark (issue 13): how much of the broker's own
# ceiling the monitor reaches, and how fast a fall's family push leaves while
# the monitor drains a telemetry backlog.
#
# For each mode, in one run:
#   1. ceiling: DEVICES mosquitto_pub -l -q 1 processes send MESSAGES water
#      meter readings each; a bare mosquitto_sub -q 1 on a persistent session
#      takes them (the monitor is not running). Time: first publish → last
#      message received.
#   2. monitor: `eldersafe serve` on the same broker takes the same load.
#      Time: first publish → /metrics counts every message handled or
#      rejected. Meanwhile FALLS wristband falls, spread over the backlog, are
#      timed from their publish to the family push reaching a local receiver,
#      and the machine's stalls are counted (a wake every millisecond that
#      came 50 ms or more late): one stops every process, a fall's too.
# Modes: external (a Mosquitto of our own, `serve --mqtt-url`) and embedded
# (`serve`'s own broker; its ceiling is the project's broker package run alone
# by scripts/benche2e, configured as serve does but without device
# authentication, with mosquitto_sub in the monitor's place).
#
# Usage: scripts/bench-e2e.sh
# Environment: DEVICES (50), MESSAGES (4000), FALLS (20), MODES ("external
# embedded"), TIMEOUT (120s: the longest one phase may take), RATE (0: the
# load offered as fast as it is taken; N: N messages a second, to compare
# falls' times at the same pace), KEEP=1 keeps the work directory (logs,
# payloads, results) even when the run succeeds.
set -euo pipefail

DEVICES=${DEVICES:-50}
MESSAGES=${MESSAGES:-4000}
FALLS=${FALLS:-20}
MODES=${MODES:-external embedded}
TIMEOUT=${TIMEOUT:-120s}
RATE=${RATE:-0}
TOKEN=bench-admin-token-0123456789
for n in DEVICES MESSAGES FALLS; do
	[[ ${!n} =~ ^[1-9][0-9]*$ ]] || {
		echo "bench-e2e: $n=${!n}: want a positive integer" >&2
		exit 2
	}
done
[[ $RATE =~ ^[0-9]+$ ]] || {
	echo "bench-e2e: RATE=$RATE: want a number of messages a second, 0 for as fast as taken" >&2
	exit 2
}

cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/eldersafe-bench.XXXXXX)
pids=()

cleanup() {
	local rc=$?
	for pid in "${pids[@]}"; do
		stop_process "$pid"
	done
	if [ "$rc" -ne 0 ]; then
		echo "bench-e2e failed; logs kept in $work" >&2
	elif [ "${KEEP:-}" = 1 ]; then
		echo "logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'bench-e2e: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

# start_process runs "$@" in the background with its output in log file $1
# and sets $started to its pid; cleanup stops it.
start_process() {
	local logfile=$1
	shift
	"$@" >"$logfile" 2>&1 &
	started=$!
	pids+=("$started")
}

# stop_process stops process $1 (TERM, then KILL after 10 s) and forgets it,
# so cleanup never signals a pid that may since belong to someone else.
stop_process() {
	local pid keep=()
	for pid in "${pids[@]}"; do
		[ "$pid" = "$1" ] || keep+=("$pid")
	done
	pids=("${keep[@]}")
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# cpu_seconds prints the CPU time (user + system) process $1 has used.
cpu_seconds() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# result prints key $1 of the key=value results in file $2.
result() { sed -n "s/^$1=//p" "$2"; }

build() {
	log "building eldersafe and scripts/benche2e"
	go build -o "$work/bin/eldersafe" ./cmd/eldersafe
	go build -o "$work/bin/benche2e" ./scripts/benche2e
}

start_mosquitto() {
	local port=$1 dir=$2
	mkdir -p "$dir"
	# Mosquitto's defaults but for persistence (sessions outlive a broker
	# restart, as in production), packets sent at once (set_tcp_nodelay, as
	# `eldersafe devices export-mosquitto` configures it: docs/operations.md)
	# and a queue that can hold the whole run for one session: the default
	# 1,000 would drop what a slow consumer has not taken, and this measures
	# consumers, not that limit. `user`: started as root, Mosquitto would
	# switch to the mosquitto user, which cannot write the persistence file
	# into our private temporary directory.
	cat >"$dir/mosquitto.conf" <<-CONF
		listener $port 127.0.0.1
		user $(id -un)
		allow_anonymous true
		persistence true
		persistence_location $dir/
		set_tcp_nodelay true
		max_queued_messages $((DEVICES * MESSAGES + FALLS))
		log_dest stderr
		log_type error
		log_type warning
	CONF
	start_process "$dir/mosquitto.log" mosquitto -c "$dir/mosquitto.conf"
	broker_pid=$started
	wait_port "$port"
}

# start_monitor runs `eldersafe serve` with the extra flags given, on a
# fresh data directory and free HTTP port ($http_port), and waits until
# /readyz answers 200 (the MQTT subscription is up).
start_monitor() {
	local dir=$1
	shift
	http_port=$(free_port)
	start_process "$dir/eldersafe.log" env ELDERSAFE_AUTH_ADMIN_TOKEN="$TOKEN" ELDERSAFE_LOG_LEVEL=warn \
		"$work/bin/eldersafe" serve --config "$root/configs/eldersafe.yaml" \
		--data-dir "$dir/data" --http-addr "127.0.0.1:$http_port" "$@"
	monitor_pid=$started
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$http_port/readyz" 2>/dev/null; then
			return 0
		fi
		kill -0 "$monitor_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$dir/eldersafe.log" >&2
	die "the monitor did not become ready (log: $dir/eldersafe.log)"
}

load_flags() {
	echo -mqtt "127.0.0.1:$1" -dir "$2" -devices "$DEVICES" -messages "$MESSAGES" -timeout "$TIMEOUT" -rate "$RATE"
}

# measure_monitor provisions the running monitor and times it on the broker
# at 127.0.0.1:$1 (extra benche2e flags after $3), results into $3.
measure_monitor() {
	local port=$1 dir=$2 out=$3
	shift 3
	local push_port monitor_cpu broker_cpu
	push_port=$(free_port)
	"$work/bin/benche2e" provision -api "http://127.0.0.1:$http_port" -token "$TOKEN" \
		-devices "$DEVICES" -falls "$FALLS" -push "http://127.0.0.1:$push_port"
	monitor_cpu=$(cpu_seconds "$monitor_pid")
	[ -z "$broker_pid" ] || broker_cpu=$(cpu_seconds "$broker_pid")
	log "monitor: $((DEVICES * MESSAGES)) messages and $FALLS falls"
	# shellcheck disable=SC2046 # load_flags is a list of words
	"$work/bin/benche2e" monitor $(load_flags "$port" "$dir/payloads") "$@" \
		-metrics "http://127.0.0.1:$http_port/metrics" -falls "$FALLS" -receiver "127.0.0.1:$push_port" >"$out"
	echo "monitor_cpu=$(awk -v a="$monitor_cpu" -v b="$(cpu_seconds "$monitor_pid")" 'BEGIN { printf "%.1f", b - a }')" >>"$out"
	[ -z "$broker_pid" ] ||
		echo "broker_cpu=$(awk -v a="$broker_cpu" -v b="$(cpu_seconds "$broker_pid")" 'BEGIN { printf "%.1f", b - a }')" >>"$out"
}

measure_ceiling() {
	local port=$1 dir=$2
	shift 2
	log "ceiling: $((DEVICES * MESSAGES)) messages"
	# shellcheck disable=SC2046
	"$work/bin/benche2e" ceiling $(load_flags "$port" "$dir/payloads") "$@" >"$dir/ceiling.txt"
}

run_external() {
	local dir=$work/external port
	mkdir -p "$dir"
	port=$(free_port)
	log "external: mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p') on 127.0.0.1:$port"
	start_mosquitto "$port" "$dir/mosquitto"
	"$work/bin/benche2e" gen -dir "$dir/payloads" -devices "$DEVICES" -messages "$MESSAGES"
	measure_ceiling "$port" "$dir"
	start_monitor "$dir" --mqtt-url "tcp://127.0.0.1:$port"
	measure_monitor "$port" "$dir" "$dir/monitor.txt"
	stop_process "$monitor_pid"
	stop_process "$broker_pid"
}

run_embedded() {
	local dir=$work/embedded port
	mkdir -p "$dir"
	port=$(free_port)
	log "embedded: the broker package alone on 127.0.0.1:$port, acknowledging in process"
	"$work/bin/benche2e" gen -dir "$dir/payloads" -devices "$DEVICES" -messages "$MESSAGES"
	measure_ceiling "$port" "$dir" -embedded

	port=$(free_port)
	log "embedded: eldersafe serve with its broker on 127.0.0.1:$port"
	start_monitor "$dir" --broker-addr "127.0.0.1:$port"
	broker_pid= # the broker runs in the monitor's process
	measure_monitor "$port" "$dir" "$dir/monitor.txt" -auth
	stop_process "$monitor_pid"
}

# print_table prints mode $1's figures from its result files.
print_table() {
	local mode=$1 c=$work/$1/ceiling.txt m=$work/$1/monitor.txt note= broker_cpu="in the monitor's process"
	[ "$(result done "$m")" = true ] || note=" (NOT DONE: gave up; rate of what was handled)"
	[ "$mode" = embedded ] || broker_cpu="$(result broker_cpu "$m") s"
	printf '\n%s broker: %d devices x %d messages (QoS 1), %d falls\n' "$mode" "$DEVICES" "$MESSAGES" "$FALLS"
	printf '  %-24s %10s msg/s  (%s s)\n' "ceiling" "$(result rate "$c")" "$(result seconds "$c")"
	printf '  %-24s %10s msg/s  (%s s)%s\n' "monitor" "$(result rate "$m")" "$(result seconds "$m")" "$note"
	printf '  %-24s %10s\n' "ratio" "$(awk -v m="$(result rate "$m")" -v c="$(result rate "$c")" 'BEGIN { printf "%.2f", m / c }')"
	printf '  %-24s %10s  (rejected %s: %s)\n' "lost" "$(result lost "$m")" "$(result rejected "$m")" "$(result rejected_by_reason "$m")"
	printf '  %-24s %10s  of %s sent (each payload is valid and unique: all should be)\n' "accepted" "$(result handled "$m")" "$(result sent "$m")"
	printf '  %-24s %10s  of %s published\n' "falls pushed" "$(result falls_pushed "$m")" "$(result falls_published "$m")"
	printf '  %-24s %10s ms  p99 %s ms  max %s ms\n' "fall -> push p50" "$(result fall_p50_ms "$m")" "$(result fall_p99_ms "$m")" "$(result fall_max_ms "$m")"
	printf '  %-24s %10s  (the longest %s ms: every process waits, a fall too)\n' "machine stalls >= 50 ms" "$(result stalls "$m")" "$(result stall_max_ms "$m")"
	printf '  %-24s monitor %s s, broker %s\n' "CPU during monitor run" "$(result monitor_cpu "$m")" "$broker_cpu"
}

main() {
	if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
		export PATH=$PATH:/usr/local/go/bin
	fi
	command -v go >/dev/null || die "go is not installed"
	apt_install mosquitto mosquitto-clients curl
	build
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	for mode in $MODES; do
		case $mode in
		external) run_external ;;
		embedded) run_embedded ;;
		*) die "unknown mode $mode (want external, embedded)" ;;
		esac
	done
	printf '\n%s, %s cores, load average %s before, %s after\n' \
		"$(date -u +%FT%TZ)" "$(nproc)" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
	for mode in $MODES; do
		print_table "$mode"
	done
}

main
