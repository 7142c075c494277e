#!/usr/bin/env bash
# The local lab, a newcomer's first contact:
#   ./scripts/lab.sh up     build the lab image, start a Debian 12 container, deploy
#                           playbooks/site.yml into it, smoke-check it, print the URL to open
#   ./scripts/lab.sh down   remove the lab container
#   ./scripts/lab.sh status show what runs
# Ports are published on 127.0.0.1 only (HTTP 8080, HTTPS 8443; LAB_HTTP_PORT/LAB_HTTPS_PORT).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
NAME=web2py-deploy-lab
IMAGE=${LAB_IMAGE:-web2py-deploy/debian12-systemd:latest}
HTTP_PORT=${LAB_HTTP_PORT:-8080}
HTTPS_PORT=${LAB_HTTPS_PORT:-8443}
step() { printf '\n\033[1m[lab %s] %s\033[0m\n' "$1" "$2"; }
die() { printf '\n[lab] ERROR: %s\n' "$*" >&2; exit 1; }

up() {
  if [ "$(id -u)" -ne 0 ] && ! docker info >/dev/null 2>&1 && ! command -v sudo >/dev/null; then
    die "Docker is not usable by this user and there is no sudo: run as root or join the docker group"
  fi
  step 1/5 "Docker engine and base tools"; scripts/lab/ensure-docker.sh
  step 2/5 "Python virtualenv with Ansible (pinned, .venv)"; scripts/setup-venv.sh; scripts/collection-link.sh
  step 3/5 "Debian 12 systemd image (built from Debian packages, cached)"; scripts/lab/build-image.sh
  step 4/5 "Container $NAME"
  if ! docker inspect "$NAME" >/dev/null 2>&1; then
    docker run -d --name "$NAME" --hostname "$NAME" --cap-add SYS_ADMIN \
      --security-opt seccomp=unconfined --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --tmpfs /run --tmpfs /run/lock -v "$top/.cache/apt-archives:/var/cache/apt/archives:rw" \
      -p "127.0.0.1:$HTTP_PORT:80" -p "127.0.0.1:$HTTPS_PORT:443" "$IMAGE" >/dev/null \
      || die "could not start the container (is port $HTTP_PORT or $HTTPS_PORT taken?)"
  else
    docker start "$NAME" >/dev/null
  fi
  step 5/5 "Deploying playbooks/site.yml (inventories/lab)"
  # shellcheck disable=SC1091
  source .venv/bin/activate
  ANSIBLE_COLLECTIONS_PATH="$top/.cache/collections" ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml \
    || die "the deployment failed (see above); fix and re-run ./scripts/lab.sh up"
  printf '\n[lab] smoke check: '
  for _ in $(seq 1 20); do
    if [ "$(curl -sk --max-time 5 "https://127.0.0.1:$HTTPS_PORT/probe/default/ping")" = pong ]; then
      echo "the probe app answers over HTTPS"
      cat <<MSG

  Open  https://127.0.0.1:$HTTPS_PORT/probe/default/counter   (self-signed certificate)
        http://127.0.0.1:$HTTP_PORT/probe/default/host
  Admin https://127.0.0.1:$HTTPS_PORT/admin/default/index accepts the login (password:
        \$LAB_ADMIN_PASSWORD, default "lab-admin"), but its pages cannot render in the lab: the
        web2py-gluon wheel the lab installs has no views (no full web2py release is reachable).
  Tear down with ./scripts/lab.sh down
MSG
      return 0
    fi
    sleep 1
  done
  die "the probe app did not answer on https://127.0.0.1:$HTTPS_PORT/probe/default/ping"
}

case "${1:-}" in
  up) up ;;
  down) docker rm -f "$NAME" >/dev/null 2>&1 && echo "[lab] $NAME removed" || echo "[lab] nothing to remove" ;;
  status) docker ps --filter "name=$NAME" ;;
  *) echo "usage: $0 up|down|status"; exit 2 ;;
esac
