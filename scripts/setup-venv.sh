#!/usr/bin/env bash
# Create or update the project virtualenv (.venv) from requirements.txt (pinned versions).
# Re-installs only when requirements.txt changed. Needs Python >= 3.10 with venv.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$top/.venv}
py=${PYTHON:-python3}
log() { printf '[setup] %s\n' "$*" >&2; }

if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  log "installing python3-venv"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$top/requirements.txt" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
log "installing the pinned tool chain into $venv (a few minutes the first time)"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip wheel
"$venv/bin/pip" install -q -r "$top/requirements.txt"
echo "$want" >"$stamp"
log "virtualenv ready"
