# Shell functions the project's scripts share: source it, after defining
# log (progress) and, for wait_port's failure, nothing more.

# apt_install installs the Debian packages that are missing, running
# apt-get update once.
apt_updated=
apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	if [ -z "$apt_updated" ]; then
		log "apt-get update"
		$sudo apt-get update -qq
		apt_updated=1
	fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# free_port picks a loopback port nothing listens on, below the kernel's
# range for outgoing connections: a port from that range may be taken by a
# client's connection between the pick and the server's bind.
free_port() {
	local port low=32768
	[ -r /proc/sys/net/ipv4/ip_local_port_range ] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	((low > 11000)) || low=32768
	while :; do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# wait_port waits up to 10 s until something listens on 127.0.0.1:$1.
wait_port() {
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# wait_ready waits until $1/readyz answers 200 and prints ready_seconds,
# counted from when it was called; if process $2 ends first, or after 10
# minutes, it shows the end of log $3 and dies.
wait_ready() {
	local t0 deadline=$((SECONDS + 600))
	t0=$(date +%s.%N)
	until curl -fsS -o /dev/null "$1/readyz" 2>/dev/null; do
		if ! kill -0 "$2" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			tail -n 20 "$3" >&2
			die "the monitor did not become ready (log: $3)"
		fi
		sleep 0.05
	done
	echo "ready_seconds $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
}

# simulate_load BIN [FLAG...] runs BIN's simulator in load mode against the
# monitor serve_scale started: $HOUSEHOLDS households from $START for
# $DURATION, through the embedded broker on $broker_port and the API on
# $http_port with $TOKEN; FLAGs (the pace, whether to provision) are added.
simulate_load() {
	local bin=$1
	shift
	"$bin" simulate --load --auth none --households "$HOUSEHOLDS" --max-ahead 4000 \
		--start "$START" --duration "$DURATION" --mqtt-url "tcp://127.0.0.1:$broker_port" \
		--api-url "http://127.0.0.1:$http_port" --token "$TOKEN" "$@"
}

# copy_data makes $WORK afresh with a copy of the data directory $1 in
# $WORK/data, so that builds compare on the same households without an
# import each; $WORK becomes an absolute path.
copy_data() {
	rm -rf "$WORK"
	mkdir -p "$WORK"
	WORK=$(realpath "$WORK")
	cp -a "$1" "$WORK/data"
}

# serve_scale starts $1 (an absolute path) serve as the scale scripts run
# it, in the background, from $WORK (no configs/eldersafe.yaml there, so
# embedded defaults): the embedded broker without device auth on
# $broker_port, the event clock, the API on $http_port, admin token $TOKEN,
# pprof on $PPROF when set, data in $WORK/data and its log in
# $WORK/eldersafe.log. Its pid is $monitor_pid.
serve_scale() {
	cd "$WORK"
	env ELDERSAFE_AUTH_ADMIN_TOKEN="$TOKEN" ELDERSAFE_LOG_LEVEL="${LOGLEVEL:-warn}" ELDERSAFE_MQTT_BROKER_AUTH=none \
		${PPROF:+ELDERSAFE_HTTP_PPROF_ADDR=$PPROF} \
		"$1" serve --clock event --simulation --data-dir "$WORK/data" \
		--http-addr "127.0.0.1:$http_port" --broker-addr "127.0.0.1:$broker_port" >>"$WORK/eldersafe.log" 2>&1 &
	monitor_pid=$!
}

# scrape times five /metrics scrapes of the monitor at $1 (http://host:port),
# with $TOKEN, and prints the best and the worst, in ms.
scrape() {
	local best=999999 worst=0 ms
	for _ in 1 2 3 4 5; do
		ms=$(curl -fsS -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$1/metrics" | awk '{printf "%d", $1*1000}')
		best=$((ms < best ? ms : best)); worst=$((ms > worst ? ms : worst))
	done
	echo "scrape_ms $best-$worst"
}

# The samples file of a run ($samples), read by scripts/loadplot: a line
# per sample, the Unix time first. mark records an event; the sampler
# records the resident set of $monitor_pid every $EVERY seconds while it
# lives (restart it with the monitor).
now() { date +%s.%N; }
# authed is curl with the monitor's $TOKEN, sending JSON.
authed() { curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
# The monitor's ($monitor_pid) resident set and its peak, in KiB, and its
# user + system CPU time so far, in clock ticks; the pages it has faulted
# in, and how much of its memory is in transparent huge pages, in KiB
# (docs/operations.md, "Huge pages").
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$monitor_pid/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$monitor_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$monitor_pid/stat"; }
minor_faults() { awk '{print $10}' "/proc/$monitor_pid/stat"; }
huge_kb() { awk '/^AnonHugePages/ {print $2}' "/proc/$monitor_pid/smaps_rollup"; }
mark() { echo "$(now) mark $*" >>"$samples"; }
sample() {
	local kb
	while kill -0 "$monitor_pid" 2>/dev/null; do
		# A monitor exiting still answers kill -0, without a resident set.
		kb=$(rss_kb 2>/dev/null || true)
		[ -n "$kb" ] && echo "$(now) rss $kb" >>"$samples"
		sleep "$EVERY"
	done
}
sampler_pid=
start_sampler() { sample & sampler_pid=$!; }
# stop_sampler clears sampler_pid: an EXIT trap that kills it again would
# fail, and under set -e end the script with status 1.
stop_sampler() {
	kill "$sampler_pid" 2>/dev/null || true
	wait "$sampler_pid" 2>/dev/null || true
	sampler_pid=
}
