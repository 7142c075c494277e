#!/usr/bin/env bash
# The local lab, a newcomer's first contact: the "cluster" topology as Debian 13 containers
# (LAB_PLATFORM=debian12 for Debian 12) running the web2py 3.3.3 release.
#   ./scripts/lab.sh up      install what is missing (Docker engine, virtualenv, lab image),
#                            start the containers on a private network and deploy
#                            playbooks/site.yml (the Molecule scenario molecule/cluster's create
#                            and converge), smoke-check, print the URL
#   ./scripts/lab.sh check   the smoke check again (HTTPS through HAProxy, both app hosts,
#                            a session across them, a scheduler task stored in PostgreSQL)
#   ./scripts/lab.sh down    remove the containers and the network (the scenario's destroy)
#   ./scripts/lab.sh status  what runs
# Only HAProxy's ports are published, on 127.0.0.1 (LAB_HTTP_PORT 8080, LAB_HTTPS_PORT 8443; 0 takes
# any free port). LAB_NAME (web2py-lab) prefixes the containers' names: the suite's cluster jobs
# run this script with their own names and free ports, next to a lab that is up.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export LAB_PLATFORM=${LAB_PLATFORM:-debian13}
bad() { printf '[lab] ERROR: %s=%q: %s\n' "$1" "${!1}" "$2" >&2; exit 2; }
case "$LAB_PLATFORM" in debian13|debian12) ;; *) bad LAB_PLATFORM "debian13 or debian12" ;; esac
LAB_NAME=${LAB_NAME:-web2py-lab}
[[ $LAB_NAME =~ ^[a-z0-9][a-z0-9-]{0,39}$ ]] || bad LAB_NAME "1-40 of a-z, 0-9 and -, starting with a letter or digit"
# Names other tools own: the suite's slots (ci-<n>, its cluster job runs `lab.sh down` on them),
# a hand-run scenario's default (instance) and the benchmark's containers (bench-*).
if [[ $LAB_NAME =~ ^(instance|bench(-.*)?)$ ]] || { [[ $LAB_NAME =~ ^ci-[0-9]+$ ]] && [ -z "${W2P_CLUSTER_JOB:-}" ]; }; then
  bad LAB_NAME "taken by scripts/test.sh's slots, Molecule's default name or scripts/bench.sh"
fi
export LAB_HTTP_PORT=${LAB_HTTP_PORT:-8080} LAB_HTTPS_PORT=${LAB_HTTPS_PORT:-8443}
for var in LAB_HTTP_PORT LAB_HTTPS_PORT; do
  if ! [[ ${!var} =~ ^(0|[1-9][0-9]{0,4})$ ]] || [ "${!var}" -gt 65535 ]; then bad "$var" "a TCP port, 0-65535 (0: any free port)"; fi
done
[ "$LAB_HTTP_PORT" = 0 ] || [ "$LAB_HTTP_PORT" != "$LAB_HTTPS_PORT" ] || bad LAB_HTTPS_PORT "the same port as LAB_HTTP_PORT"
# How to address this lab again in the messages below.
again=./scripts/lab.sh; [ "$LAB_NAME" = web2py-lab ] || again="LAB_NAME=$LAB_NAME $again"
# The scenario's containers are $MOLECULE_INSTANCE-lb, -app1, -app2, -db, -worker on the network
# $MOLECULE_INSTANCE-net; Molecule keeps the lab's state (created, converged) in its own folder.
export MOLECULE_INSTANCE=$LAB_NAME
export MOLECULE_EPHEMERAL_DIRECTORY=${MOLECULE_EPHEMERAL_DIRECTORY:-$top/.cache/molecule/lab-$LAB_NAME}
NETWORK=$LAB_NAME-net
NODES=("$LAB_NAME-lb" "$LAB_NAME-app1" "$LAB_NAME-app2" "$LAB_NAME-db" "$LAB_NAME-worker")
step() { printf '\n\033[1m[lab %s] %s\033[0m\n' "$1" "$2"; }
say() { printf '[lab] %s\n' "$*"; }
die() { printf '\n[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# curl through HAProxy from this machine (self-signed certificate), with a cookie jar.
fetch() { curl -sk --max-time 10 -b "$jar" -c "$jar" "https://127.0.0.1:$https_port$1"; }

# The loopback port HAProxy's HTTPS is published on (LAB_HTTPS_PORT, or the one Docker chose).
published_port() {
  local mapping
  mapping=$(docker port "$LAB_NAME-lb" "$1/tcp" 2>/dev/null | head -n 1) || true
  [ -n "$mapping" ] || die "$LAB_NAME-lb publishes no port for $1 (is the lab up? $again status, $again up)"
  printf '%s' "${mapping##*:}"
}

check() {
  https_port=$(published_port 443)
  jar=$(mktemp); trap 'rm -f "$jar"' RETURN
  say "waiting for HAProxy to see the app hosts up"
  local i seen="" answer
  for i in $(seq 1 60); do
    [ "$(fetch /probe/default/ping)" = pong ] && break
    [ "$i" -eq 60 ] && die "no answer on https://127.0.0.1:$https_port/probe/default/ping"
    sleep 1
  done
  for i in $(seq 1 8); do
    answer=$(curl -sk --max-time 10 "https://127.0.0.1:$https_port/probe/default/host")
    seen="$seen $(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["host"])')"
  done
  for node in "$LAB_NAME-app1" "$LAB_NAME-app2"; do
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
  case "$seen" in *"$LAB_NAME-app1"*"$LAB_NAME-app2"*|*"$LAB_NAME-app2"*"$LAB_NAME-app1"*) ;;
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
  step 1/5 "Docker engine and base tools"; scripts/lab/ensure-docker.sh
  step 2/5 "Python virtualenv with Ansible (pinned, .venv)"; scripts/setup-venv.sh; scripts/collection-link.sh
  step 3/5 "$LAB_PLATFORM systemd image (built from Debian packages, cached) and the web2py release"
  scripts/lab/build-image.sh
  W2P_RELEASE_ZIP=$(scripts/lab/release.sh) || die "the web2py release is missing (see above)"
  export W2P_RELEASE_ZIP
  # shellcheck disable=SC1091
  source .venv/bin/activate
  step 4/5 "Containers on the private network $NETWORK (${NODES[*]}), deployed with playbooks/site.yml (inventories/lab's group_vars)"
  # Molecule skips its create step once it has created the containers: start those a reboot or a
  # Docker restart stopped, and forget a lab of which some are gone (removed by hand, a failed up).
  local image
  image=$(docker inspect -f '{{.Config.Image}}' "$LAB_NAME-lb" 2>/dev/null) || image=
  case "$image" in
    ''|"web2py-deploy/$LAB_PLATFORM-systemd:latest") ;;
    *) die "the lab $LAB_NAME runs $image, not $LAB_PLATFORM: $again down first" ;;
  esac
  if docker inspect "${NODES[@]}" >/dev/null 2>&1; then
    docker start "${NODES[@]}" >/dev/null
  else
    molecule destroy -s cluster >/dev/null 2>&1 || true
  fi
  molecule converge -s cluster \
    || die "the containers could not start or the deployment failed (see above; is port $LAB_HTTP_PORT or $LAB_HTTPS_PORT taken?); fix and re-run $again up, or remove what started with $again down"
  step 5/5 "Smoke check through HAProxy"
  check
  cat <<MSG

  Open  https://127.0.0.1:$https_port/probe/default/host      (self-signed certificate; reload:
        the answering app host changes) and /probe/default/visit (a session in Redis)
        http://127.0.0.1:$(published_port 80)/ redirects to HTTPS
  Stats docker exec $LAB_NAME-lb curl -su stats:\$LAB_STATS_PASSWORD http://127.0.0.1:8404/
        (default password "lab-stats-Passw0rd")
  Admin web2py's admin and appadmin are never served over plain HTTP, and HAProxy talks plain
        HTTP to the app hosts: through it they answer 403. Use an app host's own HTTPS, e.g.
        docker exec $LAB_NAME-app1 curl -sk https://127.0.0.1/admin/default/index
        (admin password "lab-admin"; LAB_ADMIN_PASSWORD overrides it)
  Tear down with $again down
MSG
}

down() {
  # shellcheck disable=SC1091
  [ -f .venv/bin/activate ] && source .venv/bin/activate
  if command -v molecule >/dev/null; then
    local out
    out=$(molecule destroy -s cluster 2>&1) || { printf '%s\n' "$out" | tail -n 30 >&2; die "molecule destroy -s cluster failed (above)"; }
  else  # no virtualenv (never set up, or removed): the containers and network by name
    docker rm -f "${NODES[@]}" >/dev/null 2>&1 || true
    docker network rm "$NETWORK" >/dev/null 2>&1 || true
  fi
  say "removed the containers ${NODES[*]} and the network $NETWORK"
}

case "${1:-}" in
  up) up ;;
  check) check ;;
  down) down ;;
  status) docker ps -a --filter "name=^$LAB_NAME-(lb|app1|app2|db|worker)\$" --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}' ;;
  *) echo "usage: $0 up|check|down|status"; exit 2 ;;
esac
