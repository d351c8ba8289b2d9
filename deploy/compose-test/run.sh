#!/usr/bin/env bash
# `make compose-test`: the container route, really run. With podman (no Docker engine needed):
#   1. base image: a minimal Debian bookworm (debootstrap) with python3, imported once and cached
#   2. kafka + postgres images from Debian packages and the Maven Central jars (cached per recipe)
#   3. service images: docker-compose.yml's own build sections (deploy/docker/Dockerfile, PYTHON_IMAGE = (1))
#   4. up: docker-compose.yml + compose.local.yml (podman-compose), healthchecks, migrations, readiness
#   5. smoke: LMS events in over HTTP -> badges out, verified; revoke -> the verifier reports revoked
#   6. scale assessment and issuer to 2 replicas; badges keep flowing, one credential per learner
#   7. down, volumes included (also on failure)
# Prints each phase's time. Environment: COMPOSE_TEST_PORT_BASE (36000: enrollment on +1, verifier on +4,
# 127.0.0.1 only), COMPOSE_TEST_LEARNERS (200, the scaled run), COMPOSE_TEST_KEEP=1 (leave it running),
# DEBIAN_MIRROR (from /etc/apt/sources.list*), CREDSTREAM_CACHE (as deploy/local).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../local/_lib.sh
source "$HERE/../local/_lib.sh"
cd "$REPO_ROOT"

export CONTAINERS_CONF="$HERE/containers.conf"   # runc, cgroupfs, explicit ulimits (see the file)
PROJECT=credstream-compose-test
PORT_BASE="${COMPOSE_TEST_PORT_BASE:-36000}"
LEARNERS="${COMPOSE_TEST_LEARNERS:-200}"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
PODMAN_COMPOSE_VERSION=1.6.0
TOOLS="$CACHE_ROOT/podman-compose-$PODMAN_COMPOSE_VERSION"
BASE_IMAGE=localhost/credstream-base:bookworm
SUDO=""; [[ "$(id -u)" -eq 0 ]] || SUDO=sudo

TIMINGS=()
PHASE="" PHASE_T0=""
phase() {   # phase NAME: ends the running phase (recording its time) and starts the next
  if [[ -n "$PHASE" ]]; then TIMINGS+=("$(printf '%-10s %6ss' "$PHASE" "$(elapsed "$PHASE_T0")")"); fi
  PHASE="$1" PHASE_T0="$(now)"
  [[ -n "$PHASE" ]] && log "== $PHASE ($(date -u +%H:%M:%S), load average $(cut -d' ' -f1-3 /proc/loadavg))"
  return 0
}

ensure_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v mvn >/dev/null || missing+=(maven)
  command -v curl >/dev/null || missing+=(curl)
  [[ -x /usr/lib/podman/netavark || -x /usr/libexec/podman/netavark ]] || missing+=(netavark aardvark-dns)
  if ((${#missing[@]})); then
    log "installing Debian's ${missing[*]}"
    $SUDO apt-get update -q >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" uidmap slirp4netns \
      fuse-overlayfs >/dev/null
  fi
  if [[ ! -x "$TOOLS/bin/podman-compose" ]]; then
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION"
  fi
}

debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then printf '%s' "$DEBIAN_MIRROR"; return; fi
  # the first bookworm "main" source of this machine (deb822 URIs: or one-line deb entries)
  local found
  found="$( { sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources
    awk '$1 == "deb" && $3 == "bookworm" { print $2 }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list
  } 2>/dev/null | head -n1)" || true   # (a missing sources file is not an error)
  printf '%s' "${found:-http://deb.debian.org/debian}"
}

# image_exists REF
image_exists() { podman image exists "$1"; }

ensure_base() {
  image_exists "$BASE_IMAGE" && return 0
  local root
  root="$(mktemp -d /tmp/credstream-rootfs.XXXXXX)"
  log "debootstrap bookworm from $(debian_mirror) into $root"
  debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm "$root" "$(debian_mirror)" >"$root.log" 2>&1 || { print_log_tail "$root.log"; die "debootstrap failed"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --quiet --message "credstream base: debootstrap bookworm minbase + python3" \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$root" "$root.log"
}

# recipe_tag DIR...: short hash of the files an image is built from (a changed recipe builds a new image)
recipe_tag() { cat "$@" | sha256sum | cut -c1-12; }

ensure_infra_images() {
  local tag jars tools
  tag="$(recipe_tag "$HERE"/postgres/*)"
  POSTGRES_IMAGE="localhost/credstream-postgres:15-$tag"
  if ! image_exists "$POSTGRES_IMAGE"; then
    podman build --format docker --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$POSTGRES_IMAGE" "$HERE/postgres" \
      >>"$LOGS/infra.log" 2>&1 || { print_log_tail "$LOGS/infra.log"; die "postgres image did not build"; }
  fi
  tag="$(recipe_tag "$HERE"/kafka/* "$LOCAL_DIR/kafka/pom.xml" "$LOCAL_DIR/kafka/log4j2.xml")"
  KAFKA_IMAGE="localhost/credstream-kafka:4-$tag"
  if ! image_exists "$KAFKA_IMAGE"; then
    jars="$("$LOCAL_DIR/kafka.sh" jars)"   # the broker's jars, as deploy/local fetches them (cached)
    # + kafka-tools for kafka-broker-api-versions.sh, compose's healthcheck (not in the broker's dependencies)
    tools="$CACHE_ROOT/compose-test/kafka-tools"
    if [[ ! -f "$tools/.complete" ]]; then
      local version
      version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$LOCAL_DIR/kafka/pom.xml" | head -n1)"
      mkdir -p "$tools"
      mvn -B -q -Dmaven.repo.local="${CREDSTREAM_MAVEN_REPO:-$CACHE_ROOT/m2}" dependency:copy \
        -Dartifact="org.apache.kafka:kafka-tools:$version" -DoutputDirectory="$tools" </dev/null >/dev/null
      touch "$tools/.complete"
    fi
    local context
    context="$(mktemp -d /tmp/credstream-kafka-jars.XXXXXX)"
    cp "$jars"/*.jar "$tools"/*.jar "$context"/
    podman build --format docker --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$KAFKA_IMAGE" \
      --build-context jars="$context" --build-context localkafka="$LOCAL_DIR/kafka" "$HERE/kafka" \
      >>"$LOGS/infra.log" 2>&1 || { print_log_tail "$LOGS/infra.log"; die "kafka image did not build"; }
    rm -rf "$context"
  fi
}

compose() {
  "$TOOLS/bin/podman-compose" --in-pod false -p "$PROJECT" -f docker-compose.yml -f "$HERE/compose.local.yml" "$@"
}

# Secrets and local choices for docker-compose.yml's ${...} (a fresh set each run; nothing written to .env).
compose_env() {
  export PYTHON_IMAGE="$BASE_IMAGE" KAFKA_IMAGE POSTGRES_IMAGE
  export PUBLISH_ADDRESS=127.0.0.1 ENROLLMENT_HOST_PORT=$((PORT_BASE + 1)) VERIFIER_HOST_PORT=$((PORT_BASE + 4))
  export CREDSTREAM_PUBLIC_BASE_URL="http://127.0.0.1:$VERIFIER_HOST_PORT"
  export CREDSTREAM_ISSUER_BASE_URL=http://issuer:8003   # status lists, as the verifier reaches them
  export KAFKA_TOPIC_PARTITIONS=6 LOG_FORMAT=json
  POSTGRES_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
  CREDSTREAM_ADMIN_TOKEN="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
  CREDSTREAM_LMS_API_KEYS="compose-test:$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
  CREDSTREAM_KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  export POSTGRES_PASSWORD CREDSTREAM_ADMIN_TOKEN CREDSTREAM_LMS_API_KEYS CREDSTREAM_KEY_ENCRYPTION_KEY
}

build_services() {
  # One build at a time: the first builds the shared stages, the others reuse them from the layer cache.
  # The host's CA bundle (registries are reached through a chain only it trusts) and a pip.conf naming it are
  # mounted into the build, not copied into the image.
  # podman 4.3 does not read <Dockerfile>.dockerignore by itself: --ignorefile.
  compose --parallel 1 --podman-build-args="--format docker --ignorefile $REPO_ROOT/deploy/docker/Dockerfile.dockerignore \
-v $CA_BUNDLE:$CA_BUNDLE:ro -v $HERE/pip.conf:/etc/pip.conf:ro" build >"$LOGS/build.log" 2>&1 || { print_log_tail "$LOGS/build.log"; die "service images did not build"; }
}

container_of() { podman ps -a --filter "label=io.podman.compose.project=$PROJECT" \
  --filter "label=io.podman.compose.service=$1" --format '{{.Names}}'; }

# wait_healthy SERVICE [TIMEOUT]: run each of its containers' compose healthcheck until it passes (podman runs
# healthchecks from systemd timers, which a machine without systemd does not have; podman-compose before podman
# 4.6 does not wait for `service_healthy`).
wait_healthy() {
  local service="$1" deadline=$(( $(date +%s) + ${2:-180} )) name state
  for name in $(container_of "$service"); do
    until podman healthcheck run "$name" >/dev/null 2>&1; do
      state="$(podman inspect --format '{{.State.Status}}' "$name")"
      [[ "$state" == running ]] || { podman logs --tail 40 "$name" >&2 || true; die "$name is $state"; }
      (( $(date +%s) < deadline )) || { podman logs --tail 40 "$name" >&2 || true; die "$name not healthy"; }
      sleep 1
    done
  done
}

# wait_exited SERVICE: a one-shot container's exit status must be 0
wait_exited() {
  local name code
  name="$(container_of "$1")"
  code="$(podman wait "$name")"
  [[ "$code" == 0 ]] || { podman logs --tail 60 "$name" >&2 || true; die "$1 exited $code"; }
}

up() {
  compose up -d --no-build postgres kafka >>"$LOGS/up.log" 2>&1 || { print_log_tail "$LOGS/up.log"; die "up failed"; }
  wait_healthy postgres
  wait_healthy kafka
  compose up -d --no-build --no-deps init >>"$LOGS/up.log" 2>&1 || { print_log_tail "$LOGS/up.log"; die "init failed"; }
  wait_exited init
  compose up -d --no-build --no-deps enrollment assessment issuer verifier webhooks >>"$LOGS/up.log" 2>&1 \
    || { print_log_tail "$LOGS/up.log"; die "up failed"; }
  wait_services_ready
}

wait_services_ready() {
  local service
  for service in enrollment assessment issuer verifier webhooks; do wait_healthy "$service"; done
  # and the published ports answer /readyz (after migrations, broker and database connected)
  local port deadline=$(( $(date +%s) + 120 ))
  for port in "$ENROLLMENT_HOST_PORT" "$VERIFIER_HOST_PORT"; do
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; do
      (( $(date +%s) < deadline )) || die "127.0.0.1:$port/readyz does not answer"
      sleep 1
    done
  done
}

# smoke ARGS...: deploy/compose-test/smoke.py in a one-off verifier container (compose's own environment and
# network: the only place where kafka:9092 and the unpublished admin APIs answer)
smoke() {
  compose run --rm --no-deps -T -v "$HERE/smoke.py:/smoke.py:ro" -e LOG_FORMAT=console --entrypoint python \
    verifier /smoke.py "$@" 2> >(grep -v 'systemd connection' >&2)
}

scale() {
  local service
  for service in assessment issuer; do   # podman-compose takes one --scale per call
    compose up -d --no-build --no-deps --scale "$service=2" "$service" >>"$LOGS/up.log" 2>&1 \
      || { print_log_tail "$LOGS/up.log"; die "scaling $service failed"; }
  done
  for service in assessment issuer; do
    [[ "$(container_of "$service" | wc -l)" -eq 2 ]] || die "$service: $(container_of "$service" | wc -l) replicas"
  done
  wait_services_ready
  podman ps --filter "label=io.podman.compose.project=$PROJECT" --format '  {{.Names}}\t{{.Status}}' >&2
}

# remove_project: compose down, then whatever of the project it does not know of (podman-compose removes only
# the replicas its configuration names: a scaled-up container of an earlier run would outlive it)
remove_project() {
  local label="label=io.podman.compose.project=$PROJECT"
  compose down -v -t 20 >>"$LOGS/down.log" 2>&1 || log "compose down failed: $LOGS/down.log"
  podman ps -aq --filter "$label" | xargs -r podman rm -f -t 10 >>"$LOGS/down.log" 2>&1
  podman volume ls -q --filter "$label" | xargs -r podman volume rm -f >>"$LOGS/down.log" 2>&1
  podman network ls -q --filter "$label" | xargs -r podman network rm -f >>"$LOGS/down.log" 2>&1
}

# replicas_share_work: every replica of assessment and issuer holds partitions of its consumer group (the last
# rebalance each logged), so the scaled run really went through both
replicas_share_work() {
  local service name partitions
  for service in assessment issuer; do
    for name in $(container_of "$service"); do
      partitions="$(podman logs "$name" 2>&1 | grep "assigned to partitions" | tail -n1 | grep -o "partition=[0-9]*" \
        | wc -l)"
      log "  $name: $partitions partitions at its last rebalance"
      ((partitions > 0)) || die "$name has no partitions: the replicas do not share the work"
    done
  done
}

down() {
  local code=$?
  phase down
  if [[ "${COMPOSE_TEST_KEEP:-}" == 1 ]]; then
    log "COMPOSE_TEST_KEEP=1: left running (project $PROJECT); stop with: $0 down"
  else
    if ((code != 0)); then
      compose logs --tail 30 >"$LOGS/services.log" 2>&1 || true
      log "service logs: $LOGS/services.log"
    fi
    remove_project
  fi
  phase ""
  log "compose-test timings (logs in $LOGS):"
  printf '  %s\n' "${TIMINGS[@]}" >&2
  log "  total      $(elapsed "$T0")s -> $([[ $code == 0 ]] && echo PASSED || echo "FAILED ($code)")"
  exit "$code"
}

main() {
  T0="$(now)"
  LOGS="$STATE_ROOT/compose-test"
  mkdir -p "$LOGS"
  rm -f "$LOGS"/*.log
  phase tools; ensure_tools
  compose_env
  if [[ "${1:-}" == down ]]; then remove_project; exit; fi
  trap down EXIT
  trap "exit 130" INT
  trap "exit 143" TERM
  phase base; ensure_base
  phase infra; ensure_infra_images
  export KAFKA_IMAGE POSTGRES_IMAGE
  phase build; build_services
  remove_project   # leftovers of an interrupted run
  phase up; up
  phase smoke; smoke flow --learners 20 --tenant-prefix "smoke$(date +%s)"
  phase scale; scale
  phase scaled; smoke count --learners "$LEARNERS" --tenant-prefix "scaled$(date +%s)"
  replicas_share_work
}

main "$@"
