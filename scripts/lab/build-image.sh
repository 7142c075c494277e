#!/usr/bin/env bash
# Build (once) the lab's systemd image of one Debian release from Debian packages: debootstrap a
# minimal rootfs, import it, and add systemd + python3 with scripts/lab/Dockerfile. No container
# registry is needed. The image is cached by tag; LAB_REBUILD=1 rebuilds it.
#   LAB_PLATFORM=debian13 (default, trixie) | debian12 (bookworm) | all (both)
#   -> image web2py-deploy/<platform>-systemd:latest
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${LAB_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
log() { printf '[lab] %s\n' "$*" >&2; }

"$here/ensure-docker.sh"

build() {
  local platform=$1 suite
  case "$platform" in
    debian13) suite=trixie ;;
    debian12) suite=bookworm ;;
    *) log "unknown LAB_PLATFORM '$platform' (debian13, debian12 or all)"; return 2 ;;
  esac
  local image="web2py-deploy/$platform-systemd:latest" rootfs_image="web2py-deploy/$platform-rootfs:latest"
  if [ "${LAB_REBUILD:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
    log "image $image is cached"
    return 0
  fi
  local work
  work=$(mktemp -d /var/tmp/web2py-deploy-image.XXXXXX)
  # shellcheck disable=SC2064  # expand now: $work is local to this call
  trap "rm -rf '$work'" RETURN
  if [ "${LAB_REBUILD:-0}" = 1 ] || ! docker image inspect "$rootfs_image" >/dev/null 2>&1; then
    log "debootstrap $suite (minbase) from $MIRROR"
    debootstrap --variant=minbase "$suite" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
      || { tail -30 "$work/debootstrap.log" >&2; return 1; }
    # apt sources for updates and security fixes, as a real server of this release has.
    cat >"$work/rootfs/etc/apt/sources.list" <<SRC
deb $MIRROR $suite main
deb $MIRROR $suite-updates main
deb $SECURITY_MIRROR $suite-security main
SRC
    tar -C "$work/rootfs" -c . | docker import - "$rootfs_image" >/dev/null
    rm -rf "$work/rootfs"
  fi
  mkdir -p "$work/ctx/extra-ca"
  cp "$here/Dockerfile" "$work/ctx/"
  for ca in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$ca" ] && cp "$ca" "$work/ctx/extra-ca/"
  done
  log "building $image"
  docker build -q --build-arg BASE="$rootfs_image" -t "$image" "$work/ctx" >/dev/null
  log "image $image is ready ($(docker run --rm "$image" cat /etc/debian_version), $(docker run --rm "$image" python3 -V))"
}

platform=${LAB_PLATFORM:-debian13}
if [ "$platform" = all ]; then
  build debian13
  build debian12
else
  build "$platform"
fi
