#!/usr/bin/env bash
# Runs Eric on this machine without Docker or Kubernetes: the local Kafka broker (unless
# KAFKA_BROKERS points at a cluster) and every service that is built, each as a process whose
# log goes to .eric/logs/<name>.log. Ctrl-C (or SIGTERM) stops the services gracefully and prints
# one line; a second Ctrl-C while they stop kills them at once. The broker keeps running for the
# next start (`make kafka-stop` stops it).
#
# Environment: AGGREGATORS (number of aggregator processes = partitions, default 4), GATEWAY_PORT
# (default 6066), PRODUCER_PORT (default 6060), AGGREGATOR_PORT (HTTP port of the first
# aggregator, the others follow; default 6070), PRODUCER_RATE (synthetic visits/s, default 20),
# RUN_LOG_DIR (default .eric/logs), plus any service setting (see docs/operations.md), which every process inherits.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

AGGREGATORS="${AGGREGATORS:-4}"
GATEWAY_PORT="${GATEWAY_PORT:-6066}"
PRODUCER_PORT="${PRODUCER_PORT:-6060}"
AGGREGATOR_PORT="${AGGREGATOR_PORT:-6070}"
PRODUCER_RATE="${PRODUCER_RATE:-20}"
LOGS="${RUN_LOG_DIR:-$ROOT/.eric/logs}"
LOGS_SHOWN="${LOGS#"$ROOT"/}"
# One run per gateway port: the file holds the pid of the script that runs it.
RUN_FILE="$ROOT/.eric/run-$GATEWAY_PORT.pid"
mkdir -p "$LOGS"

built() { [ -f "services/$1/dist/main.js" ]; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- Refuse plainly to start a second time, before anything is started or printed. -----------
if [ -f "$RUN_FILE" ]; then
  other="$(cat "$RUN_FILE")"
  if kill -0 "$other" 2>/dev/null && ps -p "$other" -o args= | grep -q run-local.sh; then
    echo "run: Eric is already running (pid $other): dashboard at http://127.0.0.1:$GATEWAY_PORT/" >&2
    echo "run: stop that one first (Ctrl-C in its terminal, or kill $other), or give this one other ports:" >&2
    echo "run:   GATEWAY_PORT=… PRODUCER_PORT=… AGGREGATOR_PORT=… KAFKA_PORT=… make run" >&2
    exit 1
  fi
fi
busy=()
built gateway && port_in_use "$GATEWAY_PORT" && busy+=("GATEWAY_PORT=$GATEWAY_PORT")
built producer && port_in_use "$PRODUCER_PORT" && busy+=("PRODUCER_PORT=$PRODUCER_PORT")
if built aggregator; then
  for ((i = 0; i < AGGREGATORS; i++)); do
    port_in_use "$((AGGREGATOR_PORT + i))" && busy+=("AGGREGATOR_PORT=$AGGREGATOR_PORT (+$i)")
  done
fi
if [ ${#busy[@]} -gt 0 ]; then
  echo "run: another program already listens on ${busy[*]}: stop it, or choose other ports with these variables" >&2
  exit 1
fi
echo $$ >"$RUN_FILE"
trap 'rm -f "$RUN_FILE"' EXIT

scripts/kafka.sh start
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"

pids=()
names=()

start_service() { # name, entry point, then VAR=value pairs
  local name="$1" entry="$2"
  shift 2
  # setsid: a session of its own, so the terminal's Ctrl-C reaches only this script, which then
  # sends each service exactly one SIGTERM (two signals would cut a graceful stop short).
  setsid env "$@" node "$entry" </dev/null >>"$LOGS/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  echo "run: started $name (pid $!), log in $LOGS_SHOWN/$name.log"
}

# Waits for every service and sets `failed` to those that exited with a non-zero status.
wait_for_all() {
  failed=()
  for index in "${!pids[@]}"; do
    local status
    # `wait` returns early when a trapped signal (a second Ctrl-C) arrives: wait again then.
    while true; do
      status=0
      wait "${pids[$index]}" 2>/dev/null || status=$?
      kill -0 "${pids[$index]}" 2>/dev/null || break
    done
    [ "$status" -eq 0 ] || failed+=("${names[$index]} (status $status)")
  done
}

kill_all() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

# $1: why the services are stopped (empty for Ctrl-C or SIGTERM); ends the script with one line.
stop_all() {
  local why="${1:-}"
  trap 'kill_all' INT
  trap '' TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # EPOCHREALTIME (bash 5) has microseconds; older bash falls back to whole seconds.
  local started=${EPOCHREALTIME:-$SECONDS}
  wait_for_all
  local took summary
  took="$(awk -v from="$started" -v to="${EPOCHREALTIME:-$SECONDS}" 'BEGIN { printf "%.1f", to - from }')"
  if [ ${#failed[@]} -eq 0 ]; then
    summary="run: stopped ${#pids[@]} services gracefully in ${took} s"
  else
    summary="run: stopped in ${took} s; not cleanly: ${failed[*]} (see $LOGS_SHOWN/)"
  fi
  echo "$summary${why:+ ($why)}; the broker still runs (make kafka-stop)"
  if [ -n "$why" ] || [ ${#failed[@]} -gt 0 ]; then exit 1; fi
  exit 0
}
# The terminal echoes ^C without a newline: start the summary on a line of its own.
trap 'echo; stop_all' INT
trap 'stop_all' TERM

if built aggregator; then
  for ((i = 0; i < AGGREGATORS; i++)); do
    start_service "aggregator-$i" services/aggregator/dist/start.cjs \
      AGGREGATOR_ORDINAL="$i" PARTITIONS="$AGGREGATORS" HTTP_PORT="$((AGGREGATOR_PORT + i))"
  done
fi
if built gateway; then
  start_service gateway services/gateway/dist/main.js HTTP_PORT="$GATEWAY_PORT"
fi
if built producer; then
  start_service producer services/producer/dist/main.js HTTP_PORT="$PRODUCER_PORT" PRODUCER_RATE="$PRODUCER_RATE"
fi

echo
echo "Eric is running. Kafka: $KAFKA_BROKERS"
built gateway && echo "  dashboard:  http://127.0.0.1:$GATEWAY_PORT/" && echo "  websocket:  ws://127.0.0.1:$GATEWAY_PORT/ws"
built producer && echo "  ingest:     curl -X POST http://127.0.0.1:$PRODUCER_PORT/v1/visits -d '{\"account_id\":352,\"store_id\":\"default\"}'"
built aggregator && echo "  aggregators: http://127.0.0.1:$AGGREGATOR_PORT/ready … :$((AGGREGATOR_PORT + AGGREGATORS - 1))/ready"
[ ${#pids[@]} -eq 0 ] && echo "  (no service is built yet: only the broker runs)"
echo "Press Ctrl-C to stop."

if [ ${#pids[@]} -eq 0 ]; then
  while true; do sleep 3600 & wait $! || true; done
fi
# If a service dies on its own, say which and stop the others: a half-running pipeline hides
# the failure. (`wait -n` also returns when Ctrl-C's trap has run: then the script has exited.)
wait -n "${pids[@]}" || true
for index in "${!pids[@]}"; do
  if ! kill -0 "${pids[$index]}" 2>/dev/null; then
    stop_all "${names[$index]} exited on its own: see $LOGS_SHOWN/${names[$index]}.log"
  fi
done
stop_all
