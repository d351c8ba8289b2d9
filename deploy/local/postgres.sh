#!/usr/bin/env bash
# Throw-away PostgreSQL cluster (initdb/pg_ctl) without Docker.
#
#   deploy/local/postgres.sh start|stop|restart|status|reset
#
# Binaries: the newest /usr/lib/postgresql/*/bin (the Debian `postgresql` package is installed when
# initdb/pg_ctl are missing and we are root). As root the cluster runs as the `postgres` system user
# (initdb refuses root); as another user it runs as that user.
# Data dir: ${PG_DATA:-/tmp/credstream-pg-<port>} (under /tmp so the postgres user can reach it whatever
# the repo's location); unix socket in the data dir; TCP on 127.0.0.1:${PG_PORT:-15432} only.
# Role/database: credstream/credstream (password credstream, CREATEDB), password (scram) auth over TCP.
#
# Environment: PG_PORT (15432), PG_DATA, PG_USER (credstream), PG_PASSWORD (credstream), PG_DATABASE
# (credstream), PG_START_TIMEOUT (60 s), PG_MAX_CONNECTIONS (200).
set -euo pipefail

# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_lib.sh"

PG_HOST=127.0.0.1
PG_PORT="${PG_PORT:-15432}"
PG_DATA="${PG_DATA:-/tmp/credstream-pg-$PG_PORT}"
PG_USER="${PG_USER:-credstream}"
PG_PASSWORD="${PG_PASSWORD:-credstream}"
PG_DATABASE="${PG_DATABASE:-credstream}"
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
PG_MAX_CONNECTIONS="${PG_MAX_CONNECTIONS:-200}"
STATE="$STATE_ROOT/postgres"
LOGFILE="$PG_DATA/postgres.log"

find_bindir() {
  local d found
  found="$(for d in /usr/lib/postgresql/*/bin; do
      if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; fi
    done | sort -t/ -k5,5n | tail -n1)"
  if [[ -z "$found" ]] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    found="$(dirname "$(command -v pg_ctl)")"
  fi
  printf '%s' "$found"
}

ensure_binaries() {
  BINDIR="$(find_bindir)"
  if [[ -z "$BINDIR" ]]; then
    [[ $EUID -eq 0 ]] || die "PostgreSQL server binaries (initdb, pg_ctl) not found; install the 'postgresql' package"
    log "postgres: initdb/pg_ctl not found; installing the Debian 'postgresql' package ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >&2
    apt-get install -y -qq --no-install-recommends postgresql </dev/null >&2
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] || die "postgresql installed but initdb/pg_ctl still not found"
  fi
  PSQL="$BINDIR/psql"
  [[ -x "$PSQL" ]] || PSQL="$(command -v psql || true)"
  [[ -n "$PSQL" ]] || die "psql not found"
}

# Run a command as the cluster's owner.
if [[ $EUID -eq 0 ]]; then
  PG_OS_USER=postgres
  # cd /: the postgres user may not be allowed into the caller's cwd (e.g. the repo under /root)
  as_owner() { (cd / && runuser -u "$PG_OS_USER" -- "$@"); }
else
  PG_OS_USER="$(id -un)"
  as_owner() { "$@"; }
fi

ensure_os_user() {
  [[ $EUID -eq 0 ]] || return 0
  if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
    log "postgres: creating system user $PG_OS_USER"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
  fi
}

pgctl() { as_owner "$BINDIR/pg_ctl" -D "$PG_DATA" "$@"; }

# The postmaster's pid (first line of postmaster.pid) when it is alive (zombies count as dead).
postmaster_pid() {
  local pid
  [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
  pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
  pid_alive "$pid" "postgres" || return 1
  printf '%s' "$pid"
}

is_running() { postmaster_pid >/dev/null; }

# Running and accepting connections (waits up to 15 s for a server that is starting or dying to settle).
is_ready() {
  local i
  for (( i = 0; i < 75; i++ )); do
    is_running || return 1
    if port_open "$PG_HOST" "$PG_PORT" && as_owner "$BINDIR/pg_isready" -q -h "$PG_DATA" -p "$PG_PORT" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

status() {
  local pid
  if pid="$(postmaster_pid)"; then
    port_open "$PG_HOST" "$PG_PORT" || { echo "postgres process $pid alive but $PG_HOST:$PG_PORT not answering"; return 0; }
    echo "postgres $(cat "$PG_DATA/PG_VERSION") running (pid $pid) on $PG_HOST:$PG_PORT, data $PG_DATA"
    return 0
  fi
  echo "postgres stopped"
  return 3
}

init_cluster() {
  if [[ -e "$PG_DATA" && "$(stat -c %U "$PG_DATA")" != "$PG_OS_USER" ]]; then
    log "postgres: $PG_DATA is not owned by $PG_OS_USER; re-initializing it"
    rm -rf "$PG_DATA" || die "cannot remove $PG_DATA (owned by $(stat -c %U "$PG_DATA")); set PG_DATA"
  fi
  if [[ -f "$PG_DATA/PG_VERSION" ]]; then
    local have want
    have="$(cat "$PG_DATA/PG_VERSION")"
    want="$("$BINDIR/pg_ctl" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
    if [[ "$have" == "$want" ]]; then
      return 0
    fi
    log "postgres: $PG_DATA holds a PostgreSQL $have cluster but binaries are $want; re-initializing"
    rm -rf "$PG_DATA"
  elif [[ -e "$PG_DATA" ]]; then
    rm -rf "$PG_DATA"   # half-made by an interrupted initdb
  fi
  log "postgres: initdb $PG_DATA"
  install -d -m 0700 -o "$PG_OS_USER" "$PG_DATA"
  # superuser "postgres" has no password: reachable only through the unix socket in the data dir
  if ! as_owner "$BINDIR/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256 </dev/null >"$STATE/initdb.log" 2>&1; then
    cat "$STATE/initdb.log" >&2
    die "initdb failed"
  fi
  echo "include_if_exists = 'credstream.conf'" >>"$PG_DATA/postgresql.conf"
}

write_config() {
  local conf="$PG_DATA/credstream.conf"
  as_owner tee "$conf" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on each start.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_DATA'
max_connections = $PG_MAX_CONNECTIONS
shared_buffers = 128MB
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

# shellcheck disable=SC2120  # extra psql arguments are optional
psql_super() {
  as_owner "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PG_DATA" -p "$PG_PORT" -U postgres -d postgres "$@"
}

ensure_role_and_db() {
  local q_pw="${PG_PASSWORD//\'/\'\'}"
  psql_super <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$PG_USER', '$q_pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', '$PG_USER', '$q_pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DATABASE', '$PG_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE') \gexec
SQL
}

start() {
  local t0
  t0="$(now)"
  mkdir -p "$STATE"
  with_lock "$STATE/.lock"
  ensure_binaries
  ensure_os_user
  if is_ready; then
    ensure_role_and_db
    status
    return 0
  fi
  if is_running; then
    log "postgres: postmaster $(postmaster_pid) alive but not accepting connections; stopping it first"
    pgctl stop -m immediate -w -t 30 </dev/null >&2 || true
  fi
  if port_open "$PG_HOST" "$PG_PORT"; then
    die "port $PG_HOST:$PG_PORT is already in use by another process (not this cluster); set PG_PORT"
  fi
  init_cluster
  write_config
  log "postgres: starting $BINDIR/postgres on $PG_HOST:$PG_PORT (data $PG_DATA, log $LOGFILE)"
  # setsid: the server outlives this script and its terminal; fd 9 (our lock) is not inherited.
  # Retried: right after a kill -9 of the postmaster its backends may still hold the shared memory for a moment.
  local attempt
  for attempt in 1 2 3 4 5 6 7 8; do
    if as_owner setsid "$BINDIR/pg_ctl" -D "$PG_DATA" -l "$LOGFILE" -w -t "$PG_START_TIMEOUT" start \
        </dev/null >"$STATE/pg_ctl.log" 2>&1 9>&-; then
      break
    fi
    if (( attempt == 8 )); then
      cat "$STATE/pg_ctl.log" >&2 || true
      print_log_tail "$LOGFILE"
      die "postgres did not start"
    fi
    log "postgres: start attempt $attempt failed ($(grep -E 'FATAL' "$LOGFILE" 2>/dev/null | tail -n1 | cut -c1-200)); retrying"
    sleep 1
  done
  ensure_role_and_db
  ln -sfn "$LOGFILE" "$STATE/postgres.log"
  echo "postgres ready in $(elapsed "$t0")s: $PG_HOST:$PG_PORT (db $PG_DATABASE, user $PG_USER)"
}

stop() {
  mkdir -p "$STATE"
  with_lock "$STATE/.lock"
  if ! is_running; then
    echo "postgres stopped (was not running)"
    return 0
  fi
  ensure_binaries
  if ! pgctl stop -m fast -w -t 30 </dev/null >&2; then
    log "postgres: fast shutdown timed out; immediate shutdown"
    pgctl stop -m immediate -w -t 30 </dev/null >&2 || true
  fi
  echo "postgres stopped"
}

reset() {
  stop
  rm -rf "$PG_DATA"
  echo "postgres data wiped ($PG_DATA)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  reset) reset ;;
  *) echo "usage: $0 {start|stop|restart|status|reset}" >&2; exit 2 ;;
esac
