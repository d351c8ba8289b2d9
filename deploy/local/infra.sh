#!/usr/bin/env bash
# Real Kafka + PostgreSQL for development, tests and CI, without Docker.
#
#   deploy/local/infra.sh up       start both (in parallel), print + write the env file, report timings
#   deploy/local/infra.sh down     stop both
#   deploy/local/infra.sh env      print the env lines (no start)
#   deploy/local/infra.sh status   status of both (exit 0 only when both run)
#   deploy/local/infra.sh reset    stop both and wipe their data
#
# stdout of `up`/`env` is shell-sourceable (timings are comments), so both of these work:
#   eval "$(deploy/local/infra.sh up)"
#   deploy/local/infra.sh up && . .cache/local/infra.env
# Progress goes to stderr. Ports: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), PG_PORT (15432).
set -euo pipefail

# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_lib.sh"

KAFKA_PORT="${KAFKA_PORT:-19092}"
PG_PORT="${PG_PORT:-15432}"
PG_USER="${PG_USER:-credstream}"
PG_PASSWORD="${PG_PASSWORD:-credstream}"
PG_DATABASE="${PG_DATABASE:-credstream}"
ENV_FILE="$STATE_ROOT/infra.env"

env_lines() {
  echo "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
  echo "export DATABASE_URL=postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
}

# run_prefixed NAME OUTFILE CMD...: run CMD with its stderr prefixed by [NAME] on our stderr and its stdout in OUTFILE.
# A plain pipe, not a process substitution: the daemons the command starts must not inherit an extra fd of
# ours, or whoever reads our output (CI, `$(...)`, a test runner) would wait for EOF for as long as they run.
run_prefixed() {
  local name="$1" out="$2"
  shift 2
  { "$@" 2>&1 >"$out" </dev/null; echo $? >"$out.rc"; } | sed -u "s/^/[$name] /" >&2
  return "$(cat "$out.rc")"
}

up() {
  local t0 tmp kpid ppid krc=0 prc=0
  t0="$(now)"
  mkdir -p "$STATE_ROOT"
  tmp="$(mktemp -d)"
  run_prefixed kafka "$tmp/kafka" "$LOCAL_DIR/kafka.sh" start </dev/null &
  kpid=$!
  run_prefixed postgres "$tmp/postgres" "$LOCAL_DIR/postgres.sh" start </dev/null &
  ppid=$!
  wait "$kpid" || krc=$?
  wait "$ppid" || prc=$?
  if (( krc != 0 || prc != 0 )); then
    rm -rf "$tmp"
    die "infra up failed (kafka exit $krc, postgres exit $prc); logs: $STATE_ROOT/kafka/kafka.log, $STATE_ROOT/postgres/postgres.log"
  fi
  env_lines >"$ENV_FILE"
  env_lines
  echo "# env written to $ENV_FILE"
  # one line each, e.g. "kafka ready in 4.1s: ..." or "kafka 4.4.0 running (pid ...)" when it was already up
  echo "# $(tail -n1 "$tmp/kafka")"
  echo "# $(tail -n1 "$tmp/postgres")"
  echo "# infra up in $(elapsed "$t0")s"
  rm -rf "$tmp"
}

down() {
  local rc=0
  "$LOCAL_DIR/kafka.sh" stop </dev/null &
  local kpid=$!
  "$LOCAL_DIR/postgres.sh" stop </dev/null || rc=$?
  wait "$kpid" || rc=$?
  return "$rc"
}

status() {
  local rc=0
  "$LOCAL_DIR/kafka.sh" status || rc=$?
  "$LOCAL_DIR/postgres.sh" status || rc=$?
  return "$rc"
}

reset() {
  "$LOCAL_DIR/kafka.sh" reset </dev/null
  "$LOCAL_DIR/postgres.sh" reset </dev/null
  rm -f "$ENV_FILE"
}

case "${1:-}" in
  up|start) up ;;
  down|stop) down ;;
  env) env_lines ;;
  status) status ;;
  reset) reset ;;
  *) echo "usage: $0 {up|down|env|status|reset}" >&2; exit 2 ;;
esac
