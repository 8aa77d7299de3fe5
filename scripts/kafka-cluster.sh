#!/usr/bin/env bash
# A production-like Apache Kafka cluster on this machine, without Docker: three KRaft nodes, each
# broker and controller, with TLS, SASL/SCRAM-SHA-512, the StandardAuthorizer and Eric's ACLs.
#
#   scripts/kafka-cluster.sh start           certificates, users and storage at first start; start the
#                                           three nodes, wait until all serve, create Eric's ACLs once
#   scripts/kafka-cluster.sh stop            stop every node (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka-cluster.sh status          say which nodes run (exit 1 when none does)
#   scripts/kafka-cluster.sh reset           stop and delete everything: data, certificates, passwords
#   scripts/kafka-cluster.sh kill <node>     SIGKILL node 1, 2 or 3 (a crash)
#   scripts/kafka-cluster.sh restart <node>  start a stopped or killed node again and wait for it
#   scripts/kafka-cluster.sh env <user>      print the Eric settings (KAFKA_*) for admin, producer,
#                                           aggregator or gateway, as `export` lines
#   scripts/kafka-cluster.sh controller      print the id of the active KRaft controller
#   scripts/kafka-cluster.sh coordinator <transactional id>
#                                           print the id of the node coordinating that id's transactions
#
# Node n (1-3) listens on $KAFKA_CLUSTER_HOST (127.0.0.1) at, with the default port base 19300,
#   1930n  clients: SASL_SSL (TLS + SCRAM-SHA-512), what Eric's services use
#   1930(n+3)  brokers among themselves: PLAINTEXT
#   1931n  KRaft controllers: PLAINTEXT
# The inter-broker and controller listeners are plaintext and unauthenticated, and their
# principal (ANONYMOUS) is a super user: acceptable on loopback for tests, never in production,
# where they use TLS or SASL too. New topics and Kafka's internal ones get replication factor 3
# and min.insync.replicas 2: a write is acknowledged once two nodes have it, and any one node
# may die.
#
# State (git-ignored) in $KAFKA_CLUSTER_DIR: tls/ (a CA, the nodes' certificates, and a second CA
# nobody trusts, for tests), users/<name>.password (random, made at first start), node-<n>/
# (properties, data, log, pid). The jars are scripts/kafka.sh's (.cache/kafka/<version>/libs).
#
# Users: admin (super user: this script, the topic provisioning), and one per Eric service with
# only the ACLs it needs (see acls() below and docs/operations.md, "Running against a secured
# cluster"). Topics are created by the admin's provisioning step, not by the services.
#
# Environment (all optional):
#   KAFKA_CLUSTER_DIR       state directory, default .eric/kafka-cluster
#   KAFKA_VERSION           Apache Kafka release, default 4.1.1 (as scripts/kafka.sh)
#   KAFKA_HEAP_OPTS         JVM heap per node, default -Xms128m -Xmx384m
#   KAFKA_JVM_OPTS          the nodes' other JVM options, default -XX:+UseG1GC -XX:MaxGCPauseMillis=20
#   KAFKA_EXTRA_JVM_OPTS    options added to those, default none; the tests add
#                           -XX:TieredStopAtLevel=1 (no C2 compiler: a node killed under load
#                           restarts sooner on two busy cores)
#   KAFKA_START_TIMEOUT     seconds to wait for the cluster, default 120
#   KAFKA_CLUSTER_HOST      the address the nodes listen on, advertise and name in their
#                           certificates, default 127.0.0.1; pods reach a cluster on this machine
#                           at their bridge's address (test/k8s/secured-cluster.int.test.ts)
#   KAFKA_CLUSTER_PORT      the port base, default 19300: clients at base+1..3, inter-broker
#                           base+4..6, controllers base+11..13
#   ERIC_APPLICATION_ID     the aggregator's APPLICATION_ID the ACLs are for, default eric-aggregator
#   ERIC_GATEWAY_CLIENT_ID  the gateway's KAFKA_CLIENT_ID the ACLs are for, default eric-gateway
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
DIR="${KAFKA_CLUSTER_DIR:-$ROOT/.eric/kafka-cluster}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx384m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}"
KAFKA_EXTRA_JVM_OPTS="${KAFKA_EXTRA_JVM_OPTS:-}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
APPLICATION_ID="${ERIC_APPLICATION_ID:-eric-aggregator}"
GATEWAY_CLIENT_ID="${ERIC_GATEWAY_CLIENT_ID:-eric-gateway}"
HOST="${KAFKA_CLUSTER_HOST:-127.0.0.1}"
PORT_BASE="${KAFKA_CLUSTER_PORT:-19300}"
NODES=(1 2 3)
USERS=(admin producer aggregator gateway)

LIBS="$ROOT/.cache/kafka/$KAFKA_VERSION/libs"
TLS="$DIR/tls"
LOG4J="$ROOT/scripts/kafka/log4j2.properties"
TOOLS_LOG4J="$ROOT/scripts/kafka-cluster/tools-log4j2.properties"
ADMIN_CONFIG="$DIR/admin.properties"
CLUSTER_ID_FILE="$DIR/cluster-id"
ACLS_DONE="$DIR/acls.done"

client_port() { echo $((PORT_BASE + $1)); }
internal_port() { echo $((PORT_BASE + 3 + $1)); }
controller_port() { echo $((PORT_BASE + 10 + $1)); }
node_dir() { echo "$DIR/node-$1"; }
bootstrap() { echo "$HOST:$(client_port 1),$HOST:$(client_port 2),$HOST:$(client_port 3)"; }

say() { echo "kafka-cluster: $*"; }
die() { echo "kafka-cluster: error: $*" >&2; exit 1; }

need_tools() {
  command -v openssl >/dev/null || die "openssl is required to make the cluster's certificates (Debian: apt-get install openssl)"
  command -v java >/dev/null || die "Java 17 or newer is required (Debian: apt-get install openjdk-17-jre-headless)"
  # The jars come from scripts/kafka.sh, which downloads them once into .cache/kafka.
  KAFKA_VERSION="$KAFKA_VERSION" "$ROOT/scripts/kafka.sh" fetch
}

# A Kafka tool (AclCommand, TopicCommand...) in a small, quick-starting JVM, logging only warnings.
tool() {
  java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIBS/*" -Dlog4j2.configurationFile="$TOOLS_LOG4J" "$@"
}

valid_node() {
  case "${1:-}" in 1 | 2 | 3) ;; *) die "which node? 1, 2 or 3 (got '${1:-}')" ;; esac
}

password_of() {
  local file="$DIR/users/$1.password"
  [ -f "$file" ] || die "no user '$1' (users: ${USERS[*]}); has the cluster been started once?"
  cat "$file"
}

# --- first start: certificates, passwords, properties, storage ----------------------------------

make_ca() { # <name>: a self-signed CA in $TLS/<name>.pem with its key in $TLS/<name>.key
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Eric test $1" \
    -keyout "$TLS/$1.key" -out "$TLS/$1.pem" >/dev/null 2>&1 || die "openssl could not make the CA $1"
}

make_certificates() {
  [ -f "$TLS/node-3.keystore.pem" ] && return 0
  mkdir -p "$TLS"
  chmod 700 "$TLS"
  make_ca ca
  # A CA that signed nothing here: clients that trust only it must refuse the brokers.
  make_ca untrusted-ca
  local n
  for n in "${NODES[@]}"; do
    # librdkafka checks the broker's name (ssl.endpoint.identification.algorithm=https): the
    # certificate names the address clients dial.
    printf 'subjectAltName=IP:%s,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$HOST" >"$TLS/node-$n.ext"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kafka-node-$n" -keyout "$TLS/node-$n.key" -out "$TLS/node-$n.csr" >/dev/null 2>&1 \
      || die "openssl could not make the key of node $n"
    openssl x509 -req -in "$TLS/node-$n.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -days 3650 \
      -extfile "$TLS/node-$n.ext" -out "$TLS/node-$n.pem" >/dev/null 2>&1 || die "openssl could not sign the certificate of node $n"
    # A PEM keystore (ssl.keystore.type=PEM): the unencrypted PKCS#8 key, then the chain.
    openssl pkcs8 -topk8 -nocrypt -in "$TLS/node-$n.key" -out "$TLS/node-$n.pk8" || die "openssl could not convert the key of node $n"
    cat "$TLS/node-$n.pk8" "$TLS/node-$n.pem" "$TLS/ca.pem" >"$TLS/node-$n.keystore.pem"
    rm -f "$TLS/node-$n.csr" "$TLS/node-$n.ext" "$TLS/node-$n.pk8"
  done
  chmod 600 "$TLS"/*.key "$TLS"/*.keystore.pem
  say "made a CA and the nodes' certificates in ${TLS#$ROOT/}"
}

make_passwords() {
  mkdir -p "$DIR/users"
  chmod 700 "$DIR/users"
  local user
  for user in "${USERS[@]}"; do
    [ -f "$DIR/users/$user.password" ] || (umask 077 && openssl rand -hex 16 >"$DIR/users/$user.password")
  done
  # The script's own client configuration, for Kafka's tools.
  (umask 077 && cat >"$ADMIN_CONFIG" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(password_of admin)";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
EOF
  )
}

write_properties() { # <node>
  local n="$1" d
  d="$(node_dir "$n")"
  mkdir -p "$d"
  local voters="1@$HOST:$(controller_port 1),2@$HOST:$(controller_port 2),3@$HOST:$(controller_port 3)"
  cat >"$d/server.properties" <<EOF
# Written by scripts/kafka-cluster.sh: node $n of a three-node KRaft cluster (broker and controller).
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
# CLIENT: what applications use, TLS and SCRAM. INTERNAL and CONTROLLER: plaintext on loopback,
# for the nodes among themselves only (use TLS or SASL for them in production).
listeners=CLIENT://$HOST:$(client_port "$n"),INTERNAL://$HOST:$(internal_port "$n"),CONTROLLER://$HOST:$(controller_port "$n")
advertised.listeners=CLIENT://$HOST:$(client_port "$n"),INTERNAL://$HOST:$(internal_port "$n")
listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
log.dirs=$d/data

# TLS on the client listener: a PEM keystore with the node's key and certificate chain.
listener.name.client.ssl.keystore.type=PEM
listener.name.client.ssl.keystore.location=$TLS/node-$n.keystore.pem
listener.name.client.ssl.client.auth=none
# SASL/SCRAM-SHA-512 on the client listener; the users are in the cluster metadata.
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

# ACLs: nothing is allowed unless an ACL allows it. The nodes reach each other as ANONYMOUS over
# the plaintext listeners above, hence a super user; admin is the operator.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS

# Three copies of everything, two of them in sync before a write is acknowledged.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
# Topics are made by a provisioning step, with the partition counts Eric needs.
auto.create.topics.enable=false
num.partitions=1
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=30000
EOF
}

format_storage() {
  [ -f "$(node_dir 3)/data/meta.properties" ] && return 0
  local cluster_id n user
  if [ ! -f "$CLUSTER_ID_FILE" ]; then
    tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$CLUSTER_ID_FILE"
  fi
  cluster_id="$(cat "$CLUSTER_ID_FILE")"
  local scram=()
  for user in "${USERS[@]}"; do scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(password_of "$user")]"); done
  # One JVM per node, side by side: each takes seconds to start.
  local pids=() failed=()
  for n in "${NODES[@]}"; do
    [ -f "$(node_dir "$n")/data/meta.properties" ] && continue
    tool kafka.tools.StorageTool format --config "$(node_dir "$n")/server.properties" --cluster-id "$cluster_id" "${scram[@]}" \
      >>"$(node_dir "$n")/kafka.log" 2>&1 &
    pids+=("$n:$!")
  done
  for n in "${pids[@]}"; do wait "${n#*:}" || failed+=("${n%%:*}"); done
  ((${#failed[@]} == 0)) || die "could not format the storage of node(s) ${failed[*]} (see $DIR/node-<n>/kafka.log)"
  say "formatted the storage of the three nodes (cluster $cluster_id, SCRAM users ${USERS[*]})"
}

# --- processes ------------------------------------------------------------------------------------

running_pid() { # <node>
  local pidfile pid
  pidfile="$(node_dir "$1")/kafka.pid"
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

start_node() { # <node>
  local n="$1" d pid port
  d="$(node_dir "$n")"
  if pid="$(running_pid "$n")"; then return 0; fi
  for port in "$(client_port "$n")" "$(internal_port "$n")" "$(controller_port "$n")"; do
    port_in_use "$port" && die "port $port on $HOST is already in use by another process (node $n needs it)"
  done
  # Where this start's lines begin in the (appended) log: wait_until_ready reads from there.
  stat -c %s "$d/kafka.log" 2>/dev/null >"$d/start-offset" || echo 0 >"$d/start-offset"
  # setsid: the node outlives the shell that started it; exec: the recorded pid is the JVM's.
  # shellcheck disable=SC2086
  setsid bash -c 'exec "$@"' kafka java $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS $KAFKA_EXTRA_JVM_OPTS -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" kafka.Kafka "$d/server.properties" >>"$d/kafka.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$d/kafka.pid"
  say "starting node $n (pid $pid) at $HOST:$(client_port "$n"), log in ${d#$ROOT/}/kafka.log"
}

# Waits until each node given has logged, since its start, that it serves: in combined mode
# KafkaRaftServer says "Kafka Server started" once the broker is unfenced and its listeners accept.
# Reading the log costs nothing, where asking the cluster takes a JVM start per try.
started_since_start() { # <node>
  local d
  d="$(node_dir "$1")"
  tail -c +"$(($(cat "$d/start-offset" 2>/dev/null || echo 0) + 1))" "$d/kafka.log" 2>/dev/null \
    | grep -q 'Kafka Server started'
}

wait_until_ready() { # <node...>
  local since=$SECONDS n pid missing
  while :; do
    missing=()
    for n in "$@"; do
      # Liveness by pid only: right after the start the process may not show as java yet.
      pid="$(cat "$(node_dir "$n")/kafka.pid" 2>/dev/null || true)"
      if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        tail -n 30 "$(node_dir "$n")/kafka.log" >&2
        die "node $n exited during start-up (log above, full log in $(node_dir "$n")/kafka.log)"
      fi
      started_since_start "$n" || missing+=("$n")
    done
    ((${#missing[@]} == 0)) && return 0
    if ((SECONDS - since > KAFKA_START_TIMEOUT)); then
      die "node(s) ${missing[*]} not serving within ${KAFKA_START_TIMEOUT}s (logs in ${DIR#$ROOT/}/node-*/kafka.log)"
    fi
    sleep 0.5
  done
}

acl() { tool org.apache.kafka.tools.AclCommand --bootstrap-server "$(bootstrap)" --command-config "$ADMIN_CONFIG" --add "$@" >/dev/null; }

# Each Eric service gets only what it does (names: services/shared/src/kafka/topic-names.ts and
# the services' config.ts, with their default values). Topic creation is not among them: the
# topics are made by the provisioning step (the aggregator's `provision` command) as admin.
# The commands run side by side: each is a JVM that takes seconds to start.
acls() {
  [ -f "$ACLS_DONE" ] && return 0
  local app="$APPLICATION_ID" pids=() pid failed=0 log="$DIR/acls.log"
  : >"$log"
  # producer: writes visits (idempotently: WRITE on the topic covers that since Kafka 3.0).
  acl --allow-principal User:producer --operation Write --operation Describe --topic visits 2>>"$log" &
  pids+=($!)
  # aggregator: reads visits and its own two topics, writes its four output topics...
  acl --allow-principal User:aggregator --operation Read --operation Describe \
    --topic visits --topic visits-repartition --topic visit-counts-changelog 2>>"$log" &
  pids+=($!)
  acl --allow-principal User:aggregator --operation Write --operation Describe \
    --topic visits-repartition --topic visit-counts-changelog --topic active-visitors --topic visits-dead-letter 2>>"$log" &
  pids+=($!)
  # ...uses its consumer groups (<app>-repartition, -count, -restore) and transactional ids
  # (<app>-count-<partition>), all named after APPLICATION_ID.
  acl --allow-principal User:aggregator --operation Read --operation Describe --group "$app-" --resource-pattern-type prefixed 2>>"$log" &
  pids+=($!)
  acl --allow-principal User:aggregator --operation Write --operation Describe --transactional-id "$app-" --resource-pattern-type prefixed 2>>"$log" &
  pids+=($!)
  # gateway: reads active-visitors, assigned by hand under the group <client id>-follower.
  acl --allow-principal User:gateway --operation Read --operation Describe --topic active-visitors --group "$GATEWAY_CLIENT_ID-follower" 2>>"$log" &
  pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || { cat "$log" >&2; die "could not create the ACLs (output above, in $log)"; }
  touch "$ACLS_DONE"
  say "created the ACLs of producer, aggregator and gateway"
}

# --- commands -------------------------------------------------------------------------------------

start() {
  need_tools
  make_certificates
  make_passwords
  local n started=$SECONDS
  for n in "${NODES[@]}"; do write_properties "$n"; done
  format_storage
  for n in "${NODES[@]}"; do start_node "$n"; done
  wait_until_ready "${NODES[@]}"
  acls
  say "ready at $(bootstrap) after $((SECONDS - started))s (SASL_SSL, SCRAM-SHA-512, CA ${TLS#$ROOT/}/ca.pem)"
}

stop_pids() { # <pid...>: SIGTERM all at once (a node alone cannot shut down cleanly without a quorum), wait
  local pid waited=0
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null; do
      if ((waited == 300)); then
        say "still running after 30s, sending SIGKILL"
        kill -KILL "$@" 2>/dev/null || true
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
  done
}

stop() {
  local n pid pids=() names=()
  for n in "${NODES[@]}"; do
    if pid="$(running_pid "$n")"; then pids+=("$pid"); names+=("$n"); fi
  done
  if ((${#pids[@]} == 0)); then
    say "not running"
  else
    stop_pids "${pids[@]}"
    say "stopped node(s) ${names[*]}"
  fi
  for n in "${NODES[@]}"; do rm -f "$(node_dir "$n")/kafka.pid"; done
}

status() {
  local n pid any=1
  for n in "${NODES[@]}"; do
    if pid="$(running_pid "$n")"; then
      say "node $n running (pid $pid) at $HOST:$(client_port "$n")"
      any=0
    else
      say "node $n not running"
    fi
  done
  return "$any"
}

kill_node() {
  valid_node "${1:-}"
  local pid
  pid="$(running_pid "$1")" || die "node $1 is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$(node_dir "$1")/kafka.pid"
  say "killed node $1 (pid $pid, SIGKILL)"
}

restart_node() {
  valid_node "${1:-}"
  [ -f "$(node_dir "$1")/data/meta.properties" ] || die "node $1 has never been started: use start"
  local started=$SECONDS
  start_node "$1"
  wait_until_ready "$1"
  say "node $1 serving after $((SECONDS - started))s"
}

# The active controller, from the quorum's own description (clients' metadata in KRaft names a
# random broker as "controller", not the quorum's leader).
print_controller() {
  tool org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$(bootstrap)" --command-config "$ADMIN_CONFIG" \
    describe --status | sed -n 's/^LeaderId:[[:space:]]*\([0-9]*\).*/\1/p' | grep . || die "could not describe the KRaft quorum"
}

# The transaction coordinator of a transactional id: the leader of its __transaction_state partition.
print_coordinator() { # <transactional id>
  [ -n "${1:-}" ] || die "whose coordinator? give a transactional id"
  tool org.apache.kafka.tools.TransactionsCommand --bootstrap-server "$(bootstrap)" --command-config "$ADMIN_CONFIG" \
    describe --transactional-id "$1" | awk 'NR == 2 { print $1 }' | grep . || die "could not describe the transactional id $1"
}

print_env() { # <user>: the settings an Eric service needs, as export lines
  local user="${1:-}"
  [ -n "$user" ] || die "whose settings? one of ${USERS[*]}"
  cat <<EOF
export KAFKA_BROKERS=$(bootstrap)
export KAFKA_SECURITY_PROTOCOL=sasl_ssl
export KAFKA_SASL_MECHANISM=SCRAM-SHA-512
export KAFKA_SASL_USERNAME=$user
export KAFKA_SASL_PASSWORD=$(password_of "$user")
export KAFKA_SSL_CA_LOCATION=$TLS/ca.pem
EOF
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$DIR"; say "deleted ${DIR#$ROOT/}" ;;
  kill) kill_node "${2:-}" ;;
  restart) need_tools >/dev/null; restart_node "${2:-}" ;;
  env) print_env "${2:-}" ;;
  controller) print_controller ;;
  coordinator) print_coordinator "${2:-}" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
