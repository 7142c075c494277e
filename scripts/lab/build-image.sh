#!/usr/bin/env bash
# Build (once) the lab's Debian 12 systemd image from Debian packages: debootstrap a minimal
# rootfs, import it, and add systemd + python3 with scripts/lab/Dockerfile. The image is cached
# by tag; set LAB_REBUILD=1 to rebuild. No container registry is needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
IMAGE=${LAB_IMAGE:-web2py-deploy/debian12-systemd:latest}
ROOTFS_IMAGE=web2py-deploy/debian12-rootfs:latest
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[lab] %s\n' "$*" >&2; }

"$here/ensure-docker.sh"

if [ "${LAB_REBUILD:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE is cached"
  exit 0
fi

work=$(mktemp -d /var/tmp/web2py-deploy-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ "${LAB_REBUILD:-0}" = 1 ] || ! docker image inspect "$ROOTFS_IMAGE" >/dev/null 2>&1; then
  log "debootstrap bookworm (minbase) from $MIRROR"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
  # apt sources for updates and security fixes, as a real Debian 12 server has.
  cat >"$work/rootfs/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
  tar -C "$work/rootfs" -c . | docker import - "$ROOTFS_IMAGE" >/dev/null
  rm -rf "$work/rootfs"
fi

mkdir -p "$work/ctx/extra-ca"
cp "$here/Dockerfile" "$work/ctx/"
for ca in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$ca" ] && cp "$ca" "$work/ctx/extra-ca/"
done
log "building $IMAGE"
docker build -q --build-arg BASE="$ROOTFS_IMAGE" -t "$IMAGE" "$work/ctx" >/dev/null
log "image $IMAGE is ready"
