#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io (and debootstrap,
# which builds the lab's base image) when missing, and start dockerd when it is not running.
# Needs root (or sudo) on a Debian-like machine. Idempotent: does nothing when `docker info` works.
set -euo pipefail

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: the lab needs root to install and start Docker"
  SUDO="sudo"
fi

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl ca-certificates)
# (the unit tests of the ACME hook's OCSP stapling run it with openssl, flock and timeout)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
# (the firewall scenario reaches a container over SSH, through its firewall)
command -v ssh >/dev/null 2>&1 || need_pkgs+=(openssh-client)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${need_pkgs[*]} and no apt-get to install them"
  log "installing ${need_pkgs[*]} from Debian packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# The web2py hosts of the lab and of the shared_storage scenario mount the shared uploads and
# tickets with sshfs: their containers get this machine's FUSE device.
if [ ! -c /dev/fuse ]; then
  $SUDO modprobe fuse 2>/dev/null || true
  [ -c /dev/fuse ] || die "no /dev/fuse: the lab's web2py hosts mount their shared folders with sshfs (FUSE); load the fuse module (modprobe fuse)"
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

log "starting dockerd (log: /var/log/web2py-deploy-dockerd.log)"
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl start docker || true
fi
if ! docker info >/dev/null 2>&1; then
  # No systemd on this machine: run the engine in the background ourselves.
  $SUDO sh -c 'nohup dockerd >/var/log/web2py-deploy-dockerd.log 2>&1 &'
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { log "Docker engine is up"; exit 0; }
  sleep 1
done
tail -20 /var/log/web2py-deploy-dockerd.log >&2 || true
die "dockerd did not answer within 60 s"
