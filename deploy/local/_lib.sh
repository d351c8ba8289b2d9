# Shared helpers for deploy/local/*.sh (sourced, not executed).
# shellcheck shell=bash disable=SC2034  # the variables below are used by the scripts that source this file

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"
CACHE_ROOT="${CREDSTREAM_CACHE:-${HOME:-/root}/.cache/credstream}"
STATE_ROOT="${CREDSTREAM_STATE:-$REPO_ROOT/.cache/local}"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch with sub-second precision (bash >= 5 has EPOCHREALTIME).
now() { if [[ -n "${EPOCHREALTIME:-}" ]]; then printf '%s' "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# pid_alive PID [PATTERN]: process exists (and its command line contains PATTERN, guarding against pid reuse).
pid_alive() {
  local pid="$1" pattern="${2:-}"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # a killed process whose parent (init here) has not reaped it yet is a zombie: count it as dead
  if [[ -r "/proc/$pid/stat" ]]; then
    local st
    st="$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
    [[ "$st" == Z ]] && return 1
  fi
  [[ -z "$pattern" ]] && return 0
  [[ -r "/proc/$pid/cmdline" ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"
}

# with_lock FILE: serialize start/stop of one component across concurrent callers.
with_lock() {
  local file="$1"
  mkdir -p "$(dirname "$file")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$file"
    flock -w 900 9 || die "could not take lock $file"
  fi
}

print_log_tail() {
  local file="$1" n="${2:-50}"
  if [[ -f "$file" ]]; then
    log "----- last $n lines of $file -----"
    tail -n "$n" "$file" >&2 || true
    log "-----"
  else
    log "(no log file at $file)"
  fi
}
