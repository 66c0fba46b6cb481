#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing,
# starts the real servers the tests use on loopback, runs go vet and
# go test -race (the simulator's scenarios without -race: see below), and
# stops the servers again.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/eldersafe-test.XXXXXX)
pids=()
pg_ctl=

cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$pg_ctl" ]; then
		as_postgres "$pg_ctl" -D "$work/postgres/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*"; }

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

# wait_ping waits until the InfluxDB on 127.0.0.1:$1 answers GET /ping with
# 204, at most 60 seconds.
wait_ping() {
	for _ in $(seq 1 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && head -n1 <&3 | grep -q ' 204 ') 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "InfluxDB on 127.0.0.1:$1 does not answer /ping" >&2
	return 1
}

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null || { echo "go is not installed" >&2; exit 1; }
# Mosquitto: the external broker below, and the TLS tests' own (with the
# certificates they generate); a missing binary fails them here.
apt_install mosquitto mosquitto-clients
# NATS: the failover test's 3-node broker cluster (MQTT on JetStream), which
# it starts itself.
apt_install nats-server
# The console's browser tests: Debian's Chromium (a test tool's own browser
# download fails on a closed network) and a CJK font for legible zh-CN
# screenshots. ELDERSAFE_TEST_BROWSER=1 makes a missing browser a failure
# instead of a skip; screenshots land in test-artifacts/browser.
apt_install chromium fonts-wqy-microhei
export ELDERSAFE_TEST_BROWSER=1
export ELDERSAFE_TEST_ARTIFACTS="$root/test-artifacts"
rm -rf "$ELDERSAFE_TEST_ARTIFACTS/browser"
mkdir -p "$ELDERSAFE_TEST_ARTIFACTS"
# The disk-full test (cmd/eldersafe) mounts a small tmpfs as the monitor's
# data directory, which needs root, as in CI; there a failed mount fails the
# test instead of skipping it.
if [ "$(id -u)" -eq 0 ]; then
	export ELDERSAFE_TEST_DISKFULL=1
fi

# An external Mosquitto broker, with persistence so sessions survive its
# restarts and packets sent at once, as `eldersafe devices export-mosquitto`
# configures it (docs/operations.md). `user`: started as root, Mosquitto
# would switch to the mosquitto user, which cannot write its persistence file
# into our private directory.
mqtt_port=$(free_port)
mkdir -p "$work/mosquitto"
cat >"$work/mosquitto/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
user $(id -un)
allow_anonymous true
persistence true
persistence_location $work/mosquitto/
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
CONF
log "starting mosquitto on 127.0.0.1:$mqtt_port"
mosquitto -c "$work/mosquitto/mosquitto.conf" 2>"$work/mosquitto.log" &
pids+=($!)
wait_port "$mqtt_port"
export ELDERSAFE_TEST_MOSQUITTO_URL="tcp://127.0.0.1:$mqtt_port"

# PostgreSQL for the store suite's second pass and the failover tests:
# Debian's server, a private cluster in our directory on a free loopback
# port, trusting local connections, in the locale docs/operations.md asks
# for (text sorts by byte). initdb and postgres refuse to run as root, so as
# root they run as the postgres user the package creates.
apt_install postgresql
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
pg_ctl=$pg_bin/pg_ctl
as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
pg_port=$(free_port)
mkdir -p "$work/postgres"
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/postgres"
log "starting postgresql on 127.0.0.1:$pg_port"
as_postgres "$pg_bin/initdb" -D "$work/postgres/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >"$work/postgres.log" 2>&1 ||
	{ cat "$work/postgres.log" >&2; exit 1; }
# fsync off: a test server's data need not survive a power cut.
as_postgres "$pg_ctl" -D "$work/postgres/data" -l "$work/postgres/server.log" -w \
	-o "-p $pg_port -k $work/postgres -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null ||
	{ cat "$work/postgres/server.log" >&2; exit 1; }
export ELDERSAFE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"

# InfluxDB 1.8 for the readings history tests. Built from source once (pure
# Go: 2.x would need Rust) and cached in .tools/; the first build downloads
# about 450 MB of modules and takes a few minutes.
influxd=$root/.tools/influxd
if [ ! -x "$influxd" ]; then
	log "installing influxd v1.8.10 into .tools/ (first run only)"
	GOBIN=$root/.tools GOFLAGS=-mod=mod go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10
fi
influx_port=$(free_port)
influx_rpc_port=$(free_port)
mkdir -p "$work/influxdb"
cat >"$work/influxdb/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$influx_rpc_port"
[meta]
  dir = "$work/influxdb/meta"
[data]
  dir = "$work/influxdb/data"
  wal-dir = "$work/influxdb/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$influx_port"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
CONF
log "starting influxd on 127.0.0.1:$influx_port"
"$influxd" run -config "$work/influxdb/influxdb.conf" >"$work/influxdb.log" 2>&1 &
pids+=($!)
wait_ping "$influx_port" || { cat "$work/influxdb.log" >&2; exit 1; }
export ELDERSAFE_TEST_INFLUXDB_URL="http://127.0.0.1:$influx_port"

log "go vet ./..."
go vet ./...

# The simulator's scenarios push hundreds of thousands of messages through a
# real broker and monitor; under the race detector they take ten times as
# long (over 15 minutes here). The monitor's code they drive is race-tested in
# its own packages, so the simulator's package runs once without -race, every
# scenario of the library included.
log "go test -race (every package but the simulator)"
go test -race -count=1 -timeout 20m $(go list ./... | grep -v '/simulator')
log "go test ./simulator/... (the scenario library, without -race)"
go test -count=1 -timeout 20m ./simulator/...
