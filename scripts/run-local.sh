#!/usr/bin/env bash
# Runs Eric on this machine without Docker or Kubernetes: the local Kafka broker (unless
# KAFKA_BROKERS points at a cluster) and every service that is built, each as a process whose
# log goes to .eric/logs/<name>.log. Ctrl-C (or SIGTERM) stops the services gracefully; the broker
# keeps running for the next start (`make kafka-stop` stops it).
#
# Environment: AGGREGATORS (number of aggregator processes = partitions, default 4), GATEWAY_PORT
# (default 6066), PRODUCER_PORT (default 6060), PRODUCER_RATE (synthetic visits/s, default 20),
# plus any service setting (see README), which every process inherits.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

AGGREGATORS="${AGGREGATORS:-4}"
GATEWAY_PORT="${GATEWAY_PORT:-6066}"
PRODUCER_PORT="${PRODUCER_PORT:-6060}"
PRODUCER_RATE="${PRODUCER_RATE:-20}"
LOGS="$ROOT/.eric/logs"
mkdir -p "$LOGS"

scripts/kafka.sh start
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"

pids=()
names=()
start_service() { # name, entry point, then VAR=value pairs
  local name="$1" entry="$2"
  shift 2
  env "$@" node "$entry" >>"$LOGS/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  echo "run: started $name (pid $!), log in .eric/logs/$name.log"
}

stop_all() {
  trap - INT TERM
  echo
  echo "run: stopping services"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  echo "run: stopped (the broker still runs: make kafka-stop)"
  exit 0
}
trap stop_all INT TERM

built() { [ -f "services/$1/dist/main.js" ]; }

if built aggregator; then
  for ((i = 0; i < AGGREGATORS; i++)); do
    start_service "aggregator-$i" services/aggregator/dist/main.js \
      AGGREGATOR_ORDINAL="$i" PARTITIONS="$AGGREGATORS" HTTP_PORT="$((6070 + i))" \
      NODE_OPTIONS="--max-semi-space-size=64"
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
built aggregator && echo "  aggregators: http://127.0.0.1:6070/ready … :$((6070 + AGGREGATORS - 1))/ready"
[ ${#pids[@]} -eq 0 ] && echo "  (no service is built yet: only the broker runs)"
echo "Press Ctrl-C to stop."

if [ ${#pids[@]} -eq 0 ]; then
  while true; do sleep 3600; done
fi
# If a service dies, say so and stop the others: a half-running pipeline hides the failure.
wait -n "${pids[@]}" || true
for index in "${!pids[@]}"; do
  if ! kill -0 "${pids[$index]}" 2>/dev/null; then
    echo "run: ${names[$index]} exited; see .eric/logs/${names[$index]}.log" >&2
  fi
done
stop_all
