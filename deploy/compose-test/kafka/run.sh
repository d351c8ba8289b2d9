#!/bin/bash
# KAFKA_* environment -> /opt/kafka/config/server.properties (as the apache/kafka image does), format the log
# directory once, run the broker in the foreground.
set -euo pipefail
conf=/opt/kafka/config/server.properties
: >"$conf"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_LOG_LEVEL | KAFKA_CLUSTER_ID) continue ;;
    KAFKA_*) key="${name#KAFKA_}"; key="${key,,}"; printf '%s=%s\n' "${key//_/.}" "$value" >>"$conf" ;;
  esac
done < <(env)
log_dirs="$(sed -n 's/^log.dirs=//p' "$conf")"
java_opts=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.xml)
if [[ ! -f "${log_dirs:-/var/lib/kafka/data}/meta.properties" ]]; then
  # (--cluster-id=: a random id may start with "-")
  cluster_id="${KAFKA_CLUSTER_ID:-$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')}"
  java "${java_opts[@]}" -cp '/opt/kafka/libs/*' kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$conf" \
    --ignore-formatted
fi
exec java "${java_opts[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$conf"
