#!/usr/bin/env bash
# restart.sh BIN WORK [PROFILE_OUT]: start BIN serve as scripts/scale.sh does
# on WORK/data (made by scale.sh or loadrun.sh), time it until /readyz
# answers 200, print its CPU and resident set then, and stop it (SIGTERM:
# it writes its snapshot). PROFILE_OUT: also a CPU profile of the first
# PROFSEC (20) seconds; HEAP=FILE: a heap profile once ready.
set -euo pipefail
BIN=$1; WORK=$2; PROF=${3:-}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
hp=$((20000 + RANDOM % 20000)); bp=$((40000 + RANDOM % 20000)); pp=$((60000 + RANDOM % 5000))
env ELDERSAFE_AUTH_ADMIN_TOKEN=scale-token ELDERSAFE_LOG_LEVEL="${LOGLEVEL:-warn}" ELDERSAFE_MQTT_BROKER_AUTH=none \
  ELDERSAFE_HTTP_PPROF_ADDR=127.0.0.1:$pp \
  "$BIN" serve --clock event --simulation --data-dir "$WORK/data" --http-addr 127.0.0.1:$hp --broker-addr 127.0.0.1:$bp \
  >>"$WORK/restart.log" 2>&1 &
pid=$!; profpid=
t0=$(now)
if [ -n "$PROF" ]; then
  (sleep 0.3; exec curl -fsS -o "$PROF" "http://127.0.0.1:$pp/debug/pprof/profile?seconds=${PROFSEC:-20}") & profpid=$!
fi
until curl -fsS -o /dev/null "http://127.0.0.1:$hp/readyz" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "died"; tail -5 "$WORK/restart.log"; exit 1; }
  sleep 0.05
done
echo "ready_seconds $(since "$t0") cpu_s $(awk '{print ($14+$15)/100}' /proc/$pid/stat)" \
  "rss_kb $(awk '/^VmRSS/ {print $2}' /proc/$pid/status) hwm_kb $(awk '/^VmHWM/ {print $2}' /proc/$pid/status)"
if [ -n "${HEAP:-}" ]; then curl -fsS -o "$HEAP" "http://127.0.0.1:$pp/debug/pprof/heap?gc=1"; fi
if [ -n "$profpid" ]; then wait "$profpid"; fi
t1=$(now)
kill -TERM $pid; wait $pid || true
echo "stop_seconds $(since "$t1")"
