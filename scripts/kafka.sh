#!/usr/bin/env bash
# A real Apache Kafka broker on this machine, without Docker.
#
#   scripts/kafka.sh start     fetch the jars if needed, format KRaft storage, start, wait until ready
#   scripts/kafka.sh stop      stop the broker this script started (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status    say whether it runs and where
#   scripts/kafka.sh fetch     only download the jars into the cache
#   scripts/kafka.sh classpath print the broker's classpath (for tools such as kafka-topics)
#   scripts/kafka.sh reset     stop and delete the broker's data
#
# One process is both broker and KRaft controller: enough for development and tests, never for
# production. The jars of a pinned Kafka release come from Maven Central through Maven and are
# kept in .cache/kafka/<version>/ (git-ignored); data and the log file live in $KAFKA_HOME_DIR.
#
# Environment (all optional):
#   KAFKA_BROKERS          an existing cluster: when set, nothing is started and "start" only says so
#   KAFKA_PORT             client listener port, default 9092
#   KAFKA_CONTROLLER_PORT  KRaft controller port, default KAFKA_PORT + 1
#   KAFKA_HOST             address to listen on and advertise, default 127.0.0.1
#   KAFKA_HOME_DIR         data, log and pid file, default .eric/kafka-<port>
#   KAFKA_VERSION          Apache Kafka release, default 4.1.1
#   KAFKA_HEAP_OPTS        JVM heap, default -Xms256m -Xmx1g
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to serve metadata, default 90
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_HOME_DIR="${KAFKA_HOME_DIR:-$ROOT/.eric/kafka-$KAFKA_PORT}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

LIBS="$ROOT/.cache/kafka/$KAFKA_VERSION/libs"
DATA="$KAFKA_HOME_DIR/data"
PIDFILE="$KAFKA_HOME_DIR/kafka.pid"
LOGFILE="$KAFKA_HOME_DIR/kafka.log"
PROPS="$KAFKA_HOME_DIR/server.properties"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

say() { echo "kafka: $*"; }
die() { echo "kafka: error: $*" >&2; exit 1; }

need_java() {
  command -v java >/dev/null || die "Java 17 or newer is required (Debian: apt-get install openjdk-17-jre-headless)"
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')"
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "Java 17 or newer is required, found ${major:-unknown}"
}

fetch() {
  if [ -f "$LIBS/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven is required to download Kafka's jars (Debian: apt-get install maven)"
  say "downloading Apache Kafka $KAFKA_VERSION jars from Maven Central into ${LIBS#$ROOT/}"
  rm -rf "$LIBS"
  local mvn_log="$ROOT/.cache/kafka/maven-$KAFKA_VERSION.log"
  mkdir -p "$ROOT/.cache/kafka"
  mvn --batch-mode -Dstyle.color=never --file "$ROOT/scripts/kafka/pom.xml" \
    -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >"$mvn_log" 2>&1 \
    || { tail -n 20 "$mvn_log" >&2; die "could not download the Kafka jars with Maven (full output in $mvn_log)"; }
  touch "$LIBS/.complete"
}

classpath() { echo "$LIBS/*"; }

running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  # The pid could have been reused by an unrelated process after a reboot.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

# Asks the broker for its topic list: only a broker that serves metadata can answer.
serves_metadata() {
  timeout 20 java -Xmx128m -cp "$(classpath)" -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1
}

write_properties() {
  mkdir -p "$KAFKA_HOME_DIR"
  cat >"$PROPS" <<EOF
# Written by scripts/kafka.sh: a single-node KRaft broker for development and tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$BOOTSTRAP
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
# Eric creates its topics itself, with the partition counts it needs.
auto.create.topics.enable=false
num.partitions=1
# One node: internal topics cannot be replicated; fewer partitions start faster.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# No reason to wait for more members in a local group.
group.initial.rebalance.delay.ms=0
# Expired windows in the changelog are cleaned soon after they expire.
log.retention.check.interval.ms=30000
EOF
}

start() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "KAFKA_BROKERS is set: using the existing cluster at $KAFKA_BROKERS, starting nothing"
    return 0
  fi
  need_java
  local pid
  if pid="$(running_pid)"; then
    wait_until_ready "$pid"
    say "already running (pid $pid) at $BOOTSTRAP"
    return 0
  fi
  if port_in_use "$KAFKA_PORT"; then
    die "port $KAFKA_PORT on $KAFKA_HOST is already in use by another process; stop it, choose another KAFKA_PORT, or point KAFKA_BROKERS at that cluster"
  fi
  if port_in_use "$KAFKA_CONTROLLER_PORT"; then
    die "controller port $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is already in use; set KAFKA_CONTROLLER_PORT"
  fi
  fetch
  write_properties
  if [ ! -f "$DATA/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -cp "$(classpath)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    java -cp "$(classpath)" -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
      kafka.tools.StorageTool format --config "$PROPS" --cluster-id "$cluster_id" >>"$LOGFILE" 2>&1 \
      || die "could not format the KRaft storage in $DATA (see $LOGFILE)"
    say "formatted KRaft storage in ${DATA#$ROOT/} (cluster $cluster_id)"
  fi
  local started=$SECONDS
  # setsid: the broker outlives the shell that started it and gets no terminal signals;
  # exec: the pid we record is the JVM's own.
  # shellcheck disable=SC2086
  setsid bash -c 'exec "$@"' kafka java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
    -cp "$(classpath)" kafka.Kafka "$PROPS" >>"$LOGFILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  say "starting Apache Kafka $KAFKA_VERSION (pid $pid) at $BOOTSTRAP, log in ${LOGFILE#$ROOT/}"
  wait_until_ready "$pid"
  say "ready at $BOOTSTRAP after $((SECONDS - started))s"
}

# Waits until the broker with this pid serves metadata; fails if it dies or takes too long.
wait_until_ready() {
  local pid="$1" since=$SECONDS
  until port_in_use "$KAFKA_PORT" && serves_metadata; do
    # Liveness by pid only: right after the start the process may not show as java yet.
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOGFILE" >&2
      die "the broker exited during start-up (log above, full log in $LOGFILE)"
    fi
    if ((SECONDS - since > KAFKA_START_TIMEOUT)); then
      die "the broker did not serve metadata within ${KAFKA_START_TIMEOUT}s (see $LOGFILE)"
    fi
    sleep 0.5
  done
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running at $BOOTSTRAP"
    rm -f "$PIDFILE"
    return 0
  fi
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= 300)); then
      say "still running after 30s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

status() {
  local pid
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "KAFKA_BROKERS is set: Eric uses $KAFKA_BROKERS"
  elif pid="$(running_pid)"; then
    say "running (pid $pid) at $BOOTSTRAP, data in ${DATA#$ROOT/}"
  else
    say "not running at $BOOTSTRAP"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) need_java; fetch ;;
  classpath) fetch >&2; classpath ;;
  reset) stop; rm -rf "$KAFKA_HOME_DIR"; say "deleted ${KAFKA_HOME_DIR#$ROOT/}" ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
