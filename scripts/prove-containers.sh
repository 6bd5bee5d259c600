#!/usr/bin/env bash
# Proves the container files on a machine with a Docker engine: builds the image, starts each
# compose file, and checks the running service through its API and across a restart.
#   scripts/prove-containers.sh            # both compose files
# Where the base images cannot be pulled (no route to a registry), it builds local stand-ins under
# the same names first: Debian bookworm from the apt mirror (debootstrap) with this machine's
# Node.js, and with Debian's redis-server. The project's Dockerfile and compose files run unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_IMAGE=node:20-bookworm-slim
REDIS_IMAGE=redis:7-bookworm
PROJECT=kuueri-proof
PORT=8202
work=$(mktemp -d)
trap 'docker-compose -p "$PROJECT" -f docker-compose.yml down -v >/dev/null 2>&1 || true; docker-compose -p "$PROJECT" -f docker-compose.sqlite.yml down -v >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || fail 'no Docker engine answers (start dockerd first)'

have_image() { docker image inspect "$1" >/dev/null 2>&1 || timeout 60 docker pull -q "$1" >/dev/null 2>&1; }

stand_in_base() {
  if docker image inspect kuueri-standin/bookworm:base >/dev/null 2>&1; then return; fi
  say 'building a Debian bookworm base from the apt mirror (debootstrap)'
  command -v debootstrap >/dev/null || fail 'debootstrap is needed to build stand-in images (apt-get install debootstrap)'
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$work/rootfs" -c . | docker import - kuueri-standin/bookworm:base >/dev/null
  rm -rf "$work/rootfs"
}

if ! have_image "$NODE_IMAGE"; then
  stand_in_base
  say "no $NODE_IMAGE to pull: a stand-in with this machine's $(node --version)"
  mkdir -p "$work/node"
  tar -C / -cf "$work/node/node.tar" usr/bin/node usr/include/node usr/lib/node_modules/npm usr/lib/node_modules/corepack
  # This machine reaches the npm registry through its own certificate authorities: the stand-in trusts them too.
  cp /etc/ssl/certs/ca-certificates.crt "$work/node/ca-certificates.crt"
  cat >"$work/node/Dockerfile" <<'DOCKERFILE'
FROM kuueri-standin/bookworm:base
ADD node.tar /
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/bin/npx \
  && groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/sh node
# No prebuilt native modules can be fetched here: node-gyp builds against these headers.
ENV npm_config_nodedir=/usr npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
DOCKERFILE
  docker build -q -t "$NODE_IMAGE" "$work/node" >/dev/null
fi

if ! have_image "$REDIS_IMAGE"; then
  stand_in_base
  say "no $REDIS_IMAGE to pull: a stand-in with Debian's redis-server"
  mkdir -p "$work/redis"
  cat >"$work/redis/Dockerfile" <<'DOCKERFILE'
FROM kuueri-standin/bookworm:base
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
  && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
DOCKERFILE
  docker build -q -t "$REDIS_IMAGE" "$work/redis" >/dev/null
fi

say 'docker build (the Dockerfile, both stages)'
docker build -q -t kuueri-tasks:latest . >/dev/null
docker run --rm kuueri-tasks:latest id -u | grep -qv '^0$' || fail 'the image runs as root'

api() { curl -fsS -H 'content-type: application/json' "$@"; }

wait_healthy() {
  local container=$1
  for _ in $(seq 1 60); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$container" 2>/dev/null)" = healthy ] && return 0
    sleep 2
  done
  docker logs "$container" | tail -20
  fail "$container did not become healthy"
}

prove() {
  local file=$1 store=$2
  say "docker-compose -f ./$file up -d"
  docker-compose -p "$PROJECT" -f "$file" up -d
  local server
  server=$(docker-compose -p "$PROJECT" -f "$file" ps -q tasks)
  wait_healthy "$server"
  api "http://127.0.0.1:$PORT/healthz" | grep -q "\"store\":\"$store\"" || fail "healthz does not name the $store store"
  local registered id token task
  registered=$(api -X POST "http://127.0.0.1:$PORT/v1beta/register" -d '{"email":"proof@example.com"}')
  id=$(node -pe 'JSON.parse(process.argv[1]).id' "$registered")
  token=$(node -pe 'JSON.parse(process.argv[1]).token' "$registered")
  task=$(api -X POST "http://127.0.0.1:$PORT/v1beta/subscribe" -H "authorization: Bearer $token" -H "x-kuueri-tasks-project: $id" \
    -d '{"httpRequest":{"url":"https://example.com/hook","method":"POST"},"config":{"executionDelay":"1h"}}')
  task=$(node -pe 'JSON.parse(process.argv[1]).id' "$task")
  say "restarting every container; task $task must survive"
  docker-compose -p "$PROJECT" -f "$file" restart
  wait_healthy "$server"
  api "http://127.0.0.1:$PORT/v1beta/queues/$task" -H "authorization: Bearer $token" -H "x-kuueri-tasks-project: $id" | grep -q '"state":"RUNNING"' ||
    fail "task $task was lost across the restart"
  docker-compose -p "$PROJECT" -f "$file" down -v
  say "$file: built, healthy, registered, subscribed, restarted (all containers), task kept"
}

prove docker-compose.yml redis
prove docker-compose.sqlite.yml sqlite
say 'all proven'
