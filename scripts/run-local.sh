#!/usr/bin/env bash
# Runs Eric on this machine without Docker or Kubernetes: the local Kafka broker (unless
# KAFKA_BROKERS points at a cluster) and every service that is built, each as a process whose
# log goes to .eric/logs/<name>.log. Ctrl-C (or SIGTERM) stops the services gracefully and prints
# one line; a second Ctrl-C while they stop kills them at once. The broker keeps running for the
# next start (`make kafka-stop` stops it).
#
# A service that ends on its own (any status, or killed by a signal) is started again, as the
# kubelet restarts a container: with the same settings and log file, after a back-off of 1 s that
# doubles with each exit up to 30 s and starts over once the service has run for 60 s. One line
# says so, e.g. "run: aggregator-2 exited (status 1); restarting it in 2 s (restart 3), log in …".
# RUN_RESTART=0 stops every service instead when one ends (for runs that must fail loudly, as CI).
#
# Environment: AGGREGATORS (number of aggregator processes = partitions, default 4), GATEWAY_PORT
# (default 6066), PRODUCER_PORT (default 6060), AGGREGATOR_PORT (HTTP port of the first
# aggregator, the others follow; default 6070), PRODUCER_RATE (synthetic visits/s, default 20),
# RUN_LOG_DIR (default .eric/logs), RUN_RESTART (1: restart a service that ends, the default; 0:
# stop them all), plus any service setting (see docs/operations.md), which every process inherits.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

AGGREGATORS="${AGGREGATORS:-4}"
GATEWAY_PORT="${GATEWAY_PORT:-6066}"
PRODUCER_PORT="${PRODUCER_PORT:-6060}"
AGGREGATOR_PORT="${AGGREGATOR_PORT:-6070}"
PRODUCER_RATE="${PRODUCER_RATE:-20}"
RUN_RESTART="${RUN_RESTART:-1}"
# The back-off before a restart, seconds: the first, the longest, and the run that resets it.
BACKOFF_FIRST=1
BACKOFF_MAX=30
BACKOFF_RESET=60
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

# --- The services: each a process, restarted when it ends on its own -------------------------
# By index, what starting a service needs and what the script knows of it.
names=()       # aggregator-0 … aggregator-N, gateway, producer
entries=()     # its entry point
settings=()    # its VAR=value pairs, one a line
pids=()        # its process; empty while it waits out its back-off
started_at=()  # $SECONDS when it last started
last_exit=()   # how it last ended, e.g. "status 1"
backoff=()     # seconds before the restart after its last exit
backoff_left=() # seconds still to wait before that restart
restarts=()    # how often it has been restarted

launch() { # index: starts that service with its settings, its output appended to its log
  local index="$1"
  local -a pairs
  mapfile -t pairs <<<"${settings[index]}"
  # setsid: a session of its own, so the terminal's Ctrl-C reaches only this script, which then
  # sends each service exactly one SIGTERM (two signals would cut a graceful stop short).
  setsid env "${pairs[@]}" node "${entries[index]}" </dev/null >>"$LOGS/${names[index]}.log" 2>&1 &
  pids[index]=$!
  started_at[index]=$SECONDS
}

start_service() { # name, entry point, then VAR=value pairs
  local index=${#names[@]}
  names[index]="$1"
  entries[index]="$2"
  shift 2
  settings[index]="$(printf '%s\n' "$@")"
  backoff[index]=0
  restarts[index]=0
  launch "$index"
  echo "run: started ${names[index]} (pid ${pids[index]}), log in $LOGS_SHOWN/${names[index]}.log"
}

# How `wait`'s status reads: "status 1", or "killed by SIGKILL" (a status above 128 is a signal).
describe_exit() { # status
  local signal
  if [ "$1" -gt 128 ] && signal="$(kill -l "$(($1 - 128))" 2>/dev/null)"; then
    echo "killed by SIG$signal"
  else
    echo "status $1"
  fi
}

# A service ended on its own. Kubernetes would restart it, and Eric relies on that to recover
# from some faults (a long broker freeze ends an aggregator), so this does the same, with the
# kubelet's CrashLoopBackOff: wait BACKOFF_FIRST s, twice as long after each exit up to
# BACKOFF_MAX s, and start from BACKOFF_FIRST again after a run of BACKOFF_RESET s.
# RUN_RESTART=0 stops everything instead: a half-running pipeline would hide the failure.
service_exited() { # index
  local index="$1" status=0
  wait "${pids[index]}" 2>/dev/null || status=$?
  last_exit[index]="$(describe_exit "$status")"
  if [ "$RUN_RESTART" = 0 ]; then
    stop_all "${names[index]} exited on its own: see $LOGS_SHOWN/${names[index]}.log"
  fi
  if ((backoff[index] == 0 || SECONDS - started_at[index] >= BACKOFF_RESET)); then
    backoff[index]=$BACKOFF_FIRST
  else
    backoff[index]=$((backoff[index] * 2 < BACKOFF_MAX ? backoff[index] * 2 : BACKOFF_MAX))
  fi
  backoff_left[index]=${backoff[index]}
  restarts[index]=$((restarts[index] + 1))
  pids[index]=''
  echo "run: ${names[index]} exited (${last_exit[index]}); restarting it in ${backoff[index]} s (restart ${restarts[index]}), log in $LOGS_SHOWN/${names[index]}.log"
}

# Waits for every running service and sets `failed` to those that did not end cleanly: a non-zero
# status, or waiting out a back-off (it never got to stop gracefully); `stopped` counts the others.
wait_for_all() {
  failed=()
  stopped=0
  for index in "${!names[@]}"; do
    if [ -z "${pids[index]}" ]; then
      failed+=("${names[index]} (${last_exit[index]}, waiting to restart)")
      continue
    fi
    local status
    # `wait` returns early when a trapped signal (a second Ctrl-C) arrives: wait again then.
    while true; do
      status=0
      wait "${pids[index]}" 2>/dev/null || status=$?
      kill -0 "${pids[index]}" 2>/dev/null || break
    done
    if [ "$status" -eq 0 ]; then stopped=$((stopped + 1)); else failed+=("${names[index]} (status $status)"); fi
  done
}

kill_all() {
  for pid in "${pids[@]}"; do
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

# $1: why the services are stopped (empty for Ctrl-C or SIGTERM); ends the script with one line.
stop_all() {
  local why="${1:-}"
  trap 'kill_all' INT
  trap '' TERM
  for pid in "${pids[@]}"; do
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  # EPOCHREALTIME (bash 5) has microseconds; older bash falls back to whole seconds.
  local started=${EPOCHREALTIME:-$SECONDS}
  wait_for_all
  local took summary
  took="$(awk -v from="$started" -v to="${EPOCHREALTIME:-$SECONDS}" 'BEGIN { printf "%.1f", to - from }')"
  if [ ${#failed[@]} -eq 0 ]; then
    summary="run: stopped $stopped services gracefully in ${took} s"
  else
    summary="run: stopped in ${took} s; not cleanly: ${failed[*]} (see $LOGS_SHOWN/)"
  fi
  echo "$summary${why:+ ($why)}; the broker still runs (make kafka-stop)"
  if [ -n "$why" ] || [ ${#failed[@]} -gt 0 ]; then exit 1; fi
  exit 0
}

# Ctrl-C or SIGTERM only asks for the stop: the loop at the end sees it at once and stops every
# service, including those waiting out a back-off, which are then not started again.
stop_requested=''
# The terminal echoes ^C without a newline: start the summary on a line of its own.
trap 'echo; stop_requested=yes' INT
trap 'stop_requested=yes' TERM

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

# Once a second: notice the services that ended, and restart those whose back-off is over (each
# second of a back-off is one turn). Not `wait -n`: it waits only for the next process to end, so
# it would miss one that ended while this loop was busy. A trapped signal ends the `wait` at once;
# bash would also report there, on stderr, a service killed by a signal: service_exited says it.
while [ -z "$stop_requested" ]; do
  sleep 1 &
  wait $! 2>/dev/null || true
  for index in "${!names[@]}"; do
    [ -z "$stop_requested" ] || break
    if [ -n "${pids[index]}" ]; then
      kill -0 "${pids[index]}" 2>/dev/null || service_exited "$index"
    else
      backoff_left[index]=$((backoff_left[index] - 1))
      if ((backoff_left[index] <= 0)); then launch "$index"; fi
    fi
  done
done
stop_all
