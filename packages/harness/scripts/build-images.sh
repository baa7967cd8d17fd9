#!/usr/bin/env bash
# Builds the OCI images of the replicas topology from this checkout, with no registry: the gateway,
# bastion-mqtt and bastion-ssh (docker/node-app: FROM scratch, the Node binary that runs this script,
# the package as `pnpm deploy --prod` lays it out), and the load balancer (docker/lb: nginx from
# Debian on the local base image). The base image comes from prepare-containers.sh, which calls this
# script; run on its own it needs DOCKER_HOST pointing at an engine that has the base.
#
# Prints nothing on stdout but the `export` lines of the image names (as prepare-containers.sh).
set -euo pipefail
log() { echo "build-images: $*" >&2; }

HERE="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BASE_IMAGE="${BASTION_BASE_IMAGE:-local/bastion-base:bookworm}"
TAG="${BASTION_IMAGE_TAG:-dev}"
NODE_BIN="$(command -v node)"
case "$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')" in
  2[2-9] | [3-9][0-9]) ;;
  *) log "node $("$NODE_BIN" --version) is older than 22: put Node 24 first on PATH"; exit 1 ;;
esac

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

# name  package                bin (relative to the package)  port  health URL
APPS=(
  "gateway @bastion/gateway bin/bastion-gateway.js 4200 http://127.0.0.1:4200/healthz"
  "mqtt @bastion/mqtt-server bin/bastion-mqtt.js 4000 http://127.0.0.1:4000/mcp"
  "ssh @bastion/ssh-server bin/bastion-ssh.js 4100 http://127.0.0.1:4100/mcp"
)
for entry in "${APPS[@]}"; do
  read -r name pkg bin port health <<<"$entry"
  ctx="$STAGE/$name"
  mkdir -p "$ctx"
  log "pnpm deploy --prod $pkg"
  (cd "$ROOT" && pnpm --filter "$pkg" deploy --prod "$ctx/app" >"$STAGE/$name-deploy.log" 2>&1) \
    || { log "pnpm deploy of $pkg failed:"; tail -20 "$STAGE/$name-deploy.log" >&2; exit 1; }
  # Only what runs: the deploy's lockfile and workspace file are not part of the program.
  rm -f "$ctx/app/pnpm-lock.yaml" "$ctx/app/pnpm-workspace.yaml"
  cp "$NODE_BIN" "$ctx/node"
  cp "$HERE/docker/node-app/Dockerfile" "$HERE/docker/node-app/healthcheck.mjs" "$HERE/docker/node-app/entry.mjs" "$ctx/"
  log "building local/bastion-$name:$TAG"
  DOCKER_BUILDKIT=0 docker build -q \
    --build-arg "BASE=$BASE_IMAGE" --build-arg "BIN=$bin" --build-arg "PORT=$port" --build-arg "HEALTH_URL=$health" \
    --label "dev.bastion.image=$name" -t "local/bastion-$name:$TAG" "$ctx" >/dev/null
done

log "building local/bastion-lb:$TAG"
DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE_IMAGE" -t "local/bastion-lb:$TAG" "$HERE/docker/lb" >/dev/null
# Builds leave untagged images of earlier builds behind; keep the engine's disk from filling up.
docker image prune -f --filter "label=dev.bastion.image" >/dev/null 2>&1 || true

echo "export BASTION_GATEWAY_IMAGE=local/bastion-gateway:$TAG"
echo "export BASTION_MQTT_IMAGE=local/bastion-mqtt:$TAG"
echo "export BASTION_SSH_IMAGE=local/bastion-ssh:$TAG"
echo "export BASTION_LB_IMAGE=local/bastion-lb:$TAG"
