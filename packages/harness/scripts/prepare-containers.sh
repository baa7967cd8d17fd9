#!/usr/bin/env bash
# Prepares the container tier on a machine that has no container registry: starts a Docker engine
# if none answers, builds the test images locally from Debian's packages, and prints the environment
# the tests read (eval "$(bash packages/harness/scripts/prepare-containers.sh)").
#
# On a machine with Docker and registry access none of this is needed: the container tier pulls
# eclipse-mosquitto:2 and redis:7 and builds the sshd image from docker/sshd/Dockerfile.
#
# Needs root and the Debian packages docker.io, debootstrap and iptables. Everything it prints goes
# to stderr except the final `export` lines.
set -euo pipefail
log() { echo "prepare-containers: $*" >&2; }

STATE_DIR="${BASTION_DOCKER_STATE:-/var/lib/bastion-docker}"
SOCK="${BASTION_DOCKER_SOCK:-/run/bastion-docker.sock}"
BASE_IMAGE="local/bastion-base:bookworm"
SSHD_IMAGE="local/bastion-sshd:bookworm"
MOSQUITTO_IMAGE="local/bastion-mosquitto:trixie"
HERE="$(cd "$(dirname "$0")/.." && pwd)"

export DOCKER_HOST="unix://$SOCK"
if ! docker version >/dev/null 2>&1; then
  log "starting dockerd on $SOCK"
  # A dockerd killed without a clean stop (a session ending) leaves its pid file and socket behind.
  if [ -f "$STATE_DIR/dockerd.pid" ]; then
    kill "$(cat "$STATE_DIR/dockerd.pid")" 2>/dev/null || true
    rm -f "$STATE_DIR/dockerd.pid"
  fi
  rm -f "$SOCK"
  mkdir -p "$STATE_DIR/data" "$STATE_DIR/exec"
  nohup dockerd --data-root "$STATE_DIR/data" --exec-root "$STATE_DIR/exec" \
    --pidfile "$STATE_DIR/dockerd.pid" -H "$DOCKER_HOST" >"$STATE_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker version >/dev/null 2>&1 || { log "dockerd did not start:"; tail -20 "$STATE_DIR/dockerd.log" >&2; exit 1; }
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  rootfs="$(mktemp -d)"
  log "building $BASE_IMAGE with debootstrap from $mirror (about a minute)"
  debootstrap --variant=minbase --include=mosquitto,openssh-server,redis-server,procps \
    bookworm "$rootfs" "$mirror" >"$STATE_DIR/debootstrap.log" 2>&1 \
    || { log "debootstrap failed:"; tail -20 "$STATE_DIR/debootstrap.log" >&2; exit 1; }
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
fi

if ! docker image inspect "$SSHD_IMAGE" >/dev/null 2>&1; then
  log "building $SSHD_IMAGE from docker/sshd/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE_IMAGE" -t "$SSHD_IMAGE" "$HERE/docker/sshd" >/dev/null
fi

# The container tier's MQTT broker comes from Debian trixie (Mosquitto 2.0.21), not from the bookworm
# base: bookworm's 2.0.11 closes a taken-over MQTT 5 connection without DISCONNECT 0x8E (sent since
# 2.0.15), so the reason-code path of a client-id takeover could be tested on no tier. Only mosquitto
# is installed (the harness's readiness check is a CONNECT from the host; its start command needs sh,
# mkdir and chown, which minbase has). Built once, like the base image.
build_mosquitto_image() {
  docker image inspect "$MOSQUITTO_IMAGE" >/dev/null 2>&1 && return 0
  local mirror rootfs
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  rootfs="$(mktemp -d)"
  log "building $MOSQUITTO_IMAGE with debootstrap (trixie) from $mirror"
  if ! debootstrap --variant=minbase --include=mosquitto trixie "$rootfs" "$mirror" \
    >"$STATE_DIR/debootstrap-mosquitto.log" 2>&1; then
    log "debootstrap (trixie) failed:"
    tail -20 "$STATE_DIR/debootstrap-mosquitto.log" >&2
    rm -rf "$rootfs"
    exit 1
  fi
  # The downloaded .debs and package lists are half the tree and nothing runs from them.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/usr/sbin/mosquitto"]' - "$MOSQUITTO_IMAGE" >/dev/null
  rm -rf "$rootfs"
}
build_mosquitto_image

# The replicas topology's images (gateway, bastion-mqtt, bastion-ssh, the load balancer) are built
# from this checkout every time: they must run the code under test, not an earlier build.
if [ "${BASTION_SKIP_IMAGE_BUILD:-}" = "1" ]; then
  log "BASTION_SKIP_IMAGE_BUILD=1: not building the replicas images"
  images=""
else
  images="$(BASTION_BASE_IMAGE="$BASE_IMAGE" bash "$HERE/scripts/build-images.sh")"
fi

echo "export DOCKER_HOST=$DOCKER_HOST"
echo "export TESTCONTAINERS_RYUK_DISABLED=true"
echo "export BASTION_MOSQUITTO_IMAGE=$MOSQUITTO_IMAGE"
echo "export BASTION_REDIS_IMAGE=$BASE_IMAGE"
echo "export BASTION_SSHD_IMAGE=$SSHD_IMAGE"
if [ -n "$images" ]; then echo "$images"; fi
