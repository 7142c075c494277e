#!/usr/bin/env bash
# Build the collection tarball, install it into a temporary collections path, and run a
# playbook from outside the repository that uses web2py.deploy.web2py by FQCN against a fresh
# lab container; the probe app must answer through the built-in server.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
LAB_PLATFORM=${LAB_PLATFORM:-debian13}
IMAGE=web2py-deploy/$LAB_PLATFORM-systemd:latest
release=$("$top/scripts/lab/release.sh")
name=web2py-deploy-buildtest
work=$(mktemp -d /var/tmp/web2py-deploy-build.XXXXXX)
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

echo "[build] ansible-galaxy collection build"
ansible-galaxy collection build "$top" --output-path "$work/dist" --force
tarball=$(ls "$work"/dist/web2py-deploy-*.tar.gz)
echo "[build] installing $(basename "$tarball") into $work/collections"
# From outside the checkout, with only the temporary path configured (the checkout's own
# .cache/collections link must not count as "already installed").
(cd "$work" && ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_CONFIG="" \
  ansible-galaxy collection install "$tarball" -p "$work/collections" --no-deps)
test -f "$work/collections/ansible_collections/web2py/deploy/roles/web2py/tasks/main.yml"
# Nothing of the checkout may leak into the tarball.
if tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.cache|\.git)/' >/dev/null; then
  echo "[build] tarball contains .venv/.cache/.git"; exit 1
fi

docker rm -f "$name" >/dev/null 2>&1 || true
docker run -d --name "$name" --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
  --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
  -v "$top/.cache/apt-archives-$LAB_PLATFORM-buildtest:/var/cache/apt/archives:rw" "$IMAGE" >/dev/null

mkdir -p "$work/outside"
cat >"$work/outside/inventory.yml" <<INV
all:
  hosts:
    $name:
      ansible_connection: community.docker.docker
INV
cat >"$work/outside/play.yml" <<PLAY
---
- name: Use the installed collection by FQCN
  hosts: all
  vars:
    web2py_source: archive
    web2py_archive_src: "$release"
    web2py_probe_app: true
  roles:
    - role: web2py.deploy.web2py_standalone
  post_tasks:
    - name: The probe answers through the built-in server
      ansible.builtin.uri:
        url: http://127.0.0.1:8000/probe/default/ping
        return_content: true
      register: ping
      retries: 10
      delay: 2
      until: ping.status == 200
      failed_when: ping.content != 'pong'
PLAY
echo "[build] running a playbook outside the repo"
cd "$work/outside"
printf "[defaults]\ninterpreter_python = auto_silent\n" >ansible.cfg
env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$work/collections" \
  ansible-playbook -i inventory.yml play.yml
echo "[build] ok"
