#!/usr/bin/env bash
# The local lab, a newcomer's first contact: the "cluster" topology as Debian 13 containers
# (LAB_PLATFORM=debian12 for Debian 12) running the web2py 3.3.3 release.
#   ./scripts/lab.sh up      install what is missing (Docker engine, virtualenv, lab image),
#                            start the containers on a private network, deploy
#                            playbooks/site.yml (inventories/lab), smoke-check, print the URL
#   ./scripts/lab.sh check   the smoke check again (HTTPS through HAProxy, both app hosts,
#                            a session across them, a scheduler task stored in PostgreSQL)
#   ./scripts/lab.sh down    remove the containers and the network
#   ./scripts/lab.sh status  what runs
# Only HAProxy's ports are published, on 127.0.0.1 (LAB_HTTP_PORT 8080, LAB_HTTPS_PORT 8443).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export LAB_PLATFORM=${LAB_PLATFORM:-debian13}
case "$LAB_PLATFORM" in debian13|debian12) ;; *) echo "LAB_PLATFORM is debian13 or debian12" >&2; exit 2 ;; esac
IMAGE=web2py-deploy/$LAB_PLATFORM-systemd:latest
NETWORK=web2py-lab
HTTP_PORT=${LAB_HTTP_PORT:-8080}
HTTPS_PORT=${LAB_HTTPS_PORT:-8443}
NODES=(web2py-lab-lb web2py-lab-app1 web2py-lab-app2 web2py-lab-db web2py-lab-worker)
step() { printf '\n\033[1m[lab %s] %s\033[0m\n' "$1" "$2"; }
say() { printf '[lab] %s\n' "$*"; }
die() { printf '\n[lab] ERROR: %s\n' "$*" >&2; exit 1; }

start_node() {
  local name=$1; shift
  if docker inspect "$name" >/dev/null 2>&1; then
    docker start "$name" >/dev/null
    return
  fi
  local cache="$top/.cache/apt-archives-$LAB_PLATFORM-$name"
  mkdir -p "$cache"
  docker run -d --name "$name" --hostname "$name" --network "$NETWORK" --cap-add SYS_ADMIN \
    --security-opt seccomp=unconfined --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock -v "$cache:/var/cache/apt/archives:rw" \
    "$@" "$IMAGE" >/dev/null
}

# curl through HAProxy from this machine (self-signed certificate), with a cookie jar.
fetch() { curl -sk --max-time 10 -b "$jar" -c "$jar" "https://127.0.0.1:$HTTPS_PORT$1"; }

check() {
  jar=$(mktemp); trap 'rm -f "$jar"' RETURN
  say "waiting for HAProxy to see the app hosts up"
  local i seen="" answer
  for i in $(seq 1 60); do
    [ "$(fetch /probe/default/ping)" = pong ] && break
    [ "$i" -eq 60 ] && die "no answer on https://127.0.0.1:$HTTPS_PORT/probe/default/ping"
    sleep 1
  done
  for i in $(seq 1 8); do
    answer=$(curl -sk --max-time 10 "https://127.0.0.1:$HTTPS_PORT/probe/default/host")
    seen="$seen $(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["host"])')"
  done
  for node in web2py-lab-app1 web2py-lab-app2; do
    case "$seen" in *"$node"*) ;; *) die "HAProxy never sent a request to $node (seen:$seen)" ;; esac
  done
  say "balanced over both app hosts:$seen"
  rm -f "$jar"
  seen=""
  for i in 1 2 3 4; do
    answer=$(fetch /probe/default/visit)
    seen="$seen $(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["host"])')"
  done
  case "$answer" in '{"counter": 4,'*) ;; *) die "the session was not kept: $answer" ;; esac
  case "$seen" in *web2py-lab-app1*web2py-lab-app2*|*web2py-lab-app2*web2py-lab-app1*) ;;
    *) die "the session's requests did not go to both app hosts:$seen" ;; esac
  say "one session, counted to 4 by both app hosts (sessions in Redis):$seen"
  answer=$(fetch /probe/default/dbrw)
  case "$answer" in *'"engine": "postgres"'*) ;; *) die "the probe did not write to PostgreSQL: $answer" ;; esac
  say "the probe writes to PostgreSQL: $answer"
  local task
  task=$(fetch /probe/default/queue | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for i in $(seq 1 60); do
    answer=$(fetch "/probe/default/task?id=$task")
    case "$answer" in *COMPLETED*) break ;; esac
    [ "$i" -eq 60 ] && die "scheduler task $task did not complete: $answer"
    sleep 1
  done
  say "the scheduler worker ran task $task: $answer"
}

up() {
  if [ "$(id -u)" -ne 0 ] && ! docker info >/dev/null 2>&1 && ! command -v sudo >/dev/null; then
    die "Docker is not usable by this user and there is no sudo: run as root or join the docker group"
  fi
  step 1/6 "Docker engine and base tools"; scripts/lab/ensure-docker.sh
  step 2/6 "Python virtualenv with Ansible (pinned, .venv)"; scripts/setup-venv.sh; scripts/collection-link.sh
  step 3/6 "$LAB_PLATFORM systemd image (built from Debian packages, cached) and the web2py release"
  scripts/lab/build-image.sh
  W2P_RELEASE_ZIP=$(scripts/lab/release.sh) || die "the web2py release is missing (see above)"
  export W2P_RELEASE_ZIP
  step 4/6 "Containers on the private network $NETWORK: ${NODES[*]}"
  docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null
  start_node web2py-lab-lb -p "127.0.0.1:$HTTP_PORT:80" -p "127.0.0.1:$HTTPS_PORT:443" \
    || die "could not start web2py-lab-lb (is port $HTTP_PORT or $HTTPS_PORT taken?)"
  for node in "${NODES[@]:1}"; do start_node "$node" || die "could not start $node"; done
  step 5/6 "Deploying playbooks/site.yml (inventories/lab)"
  # shellcheck disable=SC1091
  source .venv/bin/activate
  ANSIBLE_COLLECTIONS_PATH="$top/.cache/collections" ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml \
    || die "the deployment failed (see above); fix and re-run ./scripts/lab.sh up"
  step 6/6 "Smoke check through HAProxy"
  check
  cat <<MSG

  Open  https://127.0.0.1:$HTTPS_PORT/probe/default/host      (self-signed certificate; reload:
        the answering app host changes) and /probe/default/visit (a session in Redis)
        http://127.0.0.1:$HTTP_PORT/ redirects to HTTPS
  Stats docker exec web2py-lab-lb curl -su stats:\$LAB_STATS_PASSWORD http://127.0.0.1:8404/
        (default password "lab-stats-Passw0rd")
  Admin web2py's admin and appadmin are never served over plain HTTP, and HAProxy talks plain
        HTTP to the app hosts: through it they answer 403. Use an app host's own HTTPS, e.g.
        docker exec web2py-lab-app1 curl -sk https://127.0.0.1/admin/default/index
        (admin password "lab-admin"; LAB_ADMIN_PASSWORD overrides it)
  Tear down with ./scripts/lab.sh down
MSG
}

down() {
  local node removed=0
  for node in "${NODES[@]}"; do
    docker rm -f "$node" >/dev/null 2>&1 && removed=$((removed + 1))
  done
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  say "removed $removed container(s) and the network $NETWORK"
}

case "${1:-}" in
  up) up ;;
  check) check ;;
  down) down ;;
  status) docker ps --filter "network=$NETWORK" ;;
  *) echo "usage: $0 up|check|down|status"; exit 2 ;;
esac
