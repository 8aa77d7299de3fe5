#!/bin/sh
# The broker's entry point, with apache/kafka's environment conventions (see the Dockerfile):
#   KAFKA_ADVERTISED_LISTENERS=...  ->  advertised.listeners=...
#   one "_" is a ".", "__" an "_" and "___" a "-" (KAFKA_LOG_DIRS -> log.dirs)
# The JVM's own settings (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...) are not broker properties.
set -eu
config=/opt/kafka/config/server.properties
: >"$config"
env | sort | while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_JMX_OPTS | \
      KAFKA_LOG4J_OPTS | KAFKA_VERSION) ;;
    KAFKA_*)
      key="$(echo "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' |
        sed -e 's/___/-/g' -e 's/__/\x01/g' -e 's/_/./g' -e 's/\x01/_/g')"
      echo "$key=$value" >>"$config"
      ;;
  esac
done

classpath='/opt/kafka/libs/*'
logging="-Dlog4j2.configurationFile=/opt/kafka/log4j2.properties"
: "${CLUSTER_ID:?CLUSTER_ID must be set (22 characters, base64url), as with apache/kafka}"
# Formats the storage on the first start only; later starts find it formatted.
java -cp "$classpath" "$logging" kafka.tools.StorageTool format --ignore-formatted \
  --config "$config" --cluster-id "$CLUSTER_ID"
# shellcheck disable=SC2086 # the JVM options are lists of words
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
  ${KAFKA_JVM_PERFORMANCE_OPTS:-} ${KAFKA_OPTS:-} "$logging" -cp "$classpath" kafka.Kafka "$config"
