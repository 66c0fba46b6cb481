#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing,
# starts the real servers the tests use on loopback, runs go vet and
# go test -race, and stops the servers again.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/eldersafe-test.XXXXXX)
pids=()

cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*"; }

apt_updated=
apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		SUDO=sudo
	else
		SUDO=
	fi
	if [ -z "$apt_updated" ]; then
		log "apt-get update"
		$SUDO apt-get update -qq
		apt_updated=1
	fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# free_port picks a loopback port nothing listens on.
free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# wait_port waits until something listens on 127.0.0.1:$1.
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

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null || { echo "go is not installed" >&2; exit 1; }
apt_install mosquitto mosquitto-clients

# An external Mosquitto broker, with persistence so sessions survive its restarts.
mqtt_port=$(free_port)
mkdir -p "$work/mosquitto"
cat >"$work/mosquitto/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $work/mosquitto/
log_dest stderr
log_type error
log_type warning
CONF
log "starting mosquitto on 127.0.0.1:$mqtt_port"
mosquitto -c "$work/mosquitto/mosquitto.conf" 2>"$work/mosquitto.log" &
pids+=($!)
wait_port "$mqtt_port"
export ELDERSAFE_TEST_MOSQUITTO_URL="tcp://127.0.0.1:$mqtt_port"

log "go vet ./..."
go vet ./...

log "go test -race ./..."
go test -race -count=1 -timeout 20m ./...
