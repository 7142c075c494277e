#!/usr/bin/env bash
# The ansible-core matrix: ansible-test sanity (scripts/ci/sanity.sh) and the unit tests on each
# ansible-core release meta/runtime.yml's requires_ansible admits, then one Molecule scenario
# (molecule test: converge, idempotence, verify) with the newest one as the controller.
#   2.19  the project's .venv (requirements.txt, Python 3.11)
#   2.20  .cache/venv-core-2.20 (scripts/ci/requirements-core-2.20.txt, Python 3.13)
#   2.21  .cache/venv-core-2.21 (scripts/ci/requirements-core-2.21.txt, Python 3.13), and the
#         scenario $MATRIX_SCENARIO (default web2py_standalone) on $LAB_PLATFORM (default debian13)
# A venv of the matrix is made from its requirement file (pinned) with Python 3.13 and made anew
# only when that file or the interpreter changed (a stamp, as scripts/setup-venv.sh keeps).
#
# Usage: scripts/ci/matrix.sh [--setup] [2.19|2.20|2.21 ...]   (default: every version)
#   --setup  only create or update the venvs of the versions given
# Environment: MATRIX_PYTHON (a Python 3.13; default python3.13 if it runs, else pyenv's newest
#              3.13), MATRIX_SCENARIO, LAB_PLATFORM, MOLECULE_INSTANCE (default matrix),
#              MOLECULE_EPHEMERAL_DIRECTORY (default .cache/molecule/<scenario>@<platform>-core-2.21).
# Every step runs even when an earlier one failed; a PASS/FAIL line per step, the exit status
# is non-zero if any failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
log() { printf '[matrix] %s\n' "$*" >&2; }
base_path=$PATH

all_versions=(2.19 2.20 2.21)
newest=${all_versions[-1]}
setup_only=false
[ "${1:-}" = --setup ] && { setup_only=true; shift; }
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("${all_versions[@]}")
for v in "${versions[@]}"; do
  [[ " ${all_versions[*]} " == *" $v "* ]] || { echo "usage: $0 [--setup] [${all_versions[*]// /|} ...]" >&2; exit 2; }
done

# The Python 3.13 the newer columns run on (ansible-core 2.20 and 2.21 need Python >= 3.12).
python313() {
  local py
  for py in "${MATRIX_PYTHON:-}" python3.13; do
    [ -n "$py" ] && "$py" -c 'import sys, venv, ensurepip; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 \
      && { command -v "$py"; return 0; }
  done
  # pyenv's shim runs only where 3.13 is a selected version: take the interpreter itself.
  py=$(find "${PYENV_ROOT:-$HOME/.pyenv}/versions" -maxdepth 3 -path '*/3.13.*/bin/python3.13' 2>/dev/null | sort -V | tail -n 1)
  [ -n "$py" ] && "$py" -c 'import venv, ensurepip' >/dev/null 2>&1 && { echo "$py"; return 0; }
  log "no Python 3.13 with venv (set MATRIX_PYTHON, or install one with pyenv)"
  return 1
}

# The venv of version $1: prints its path, creating or updating it first.
venv_for() {
  local version=$1 venv req py stamp want
  if [ "$version" = 2.19 ]; then
    "$top/scripts/setup-venv.sh" >&2 || return 1
    echo "$top/.venv"; return 0
  fi
  venv="$top/.cache/venv-core-$version"
  req="$top/scripts/ci/requirements-core-$version.txt"
  py=$(PATH=$base_path python313) || return 1  # not the python3.13 of a venv put first on PATH below
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$req" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "creating $venv from $(basename "$req") with $py (a few minutes)"
    rm -rf "$venv"
    "$py" -m venv "$venv" || return 1
    # No byte-compiling at install: of the `ansible` package's 37,000 files few are ever imported
    # here, and Python compiles those when it first imports them (a quarter of the time).
    "$venv/bin/pip" install -q --no-compile --disable-pip-version-check -r "$req" || { rm -rf "$venv"; return 1; }
    echo "$want" >"$stamp"
  fi
  echo "$venv"
}

results=(); status=0
# A PASS or FAIL line for a step: record LABEL EXIT_STATUS START_SECONDS.
record() {
  if [ "$2" -eq 0 ]; then results+=("PASS  $1 ($((SECONDS - $3)) s)")
  else results+=("FAIL  $1 ($((SECONDS - $3)) s)"); status=1; fi
}

converge() {
  local scenario=$1 platform=${LAB_PLATFORM:-debian13}
  "$top/scripts/collection-link.sh" || return 1
  W2P_RELEASE_ZIP=$("$top/scripts/lab/release.sh") || return 1
  export W2P_RELEASE_ZIP
  LAB_PLATFORM=$platform "$top/scripts/lab/build-image.sh" || return 1
  log "molecule test -s $scenario on $platform with ansible-core $(python -c 'from ansible.release import __version__; print(__version__)')"
  LAB_PLATFORM=$platform MOLECULE_INSTANCE=${MOLECULE_INSTANCE:-matrix} \
    MOLECULE_EPHEMERAL_DIRECTORY=${MOLECULE_EPHEMERAL_DIRECTORY:-$top/.cache/molecule/$scenario@$platform-core-$newest} \
    molecule test -s "$scenario"
}

# Each column with its venv first on PATH, as `source <venv>/bin/activate` would put it; the
# rest as scripts/test.sh's activate: uncoloured output, which the scenarios' tests read (without
# these Molecule sets ANSIBLE_FORCE_COLOR and the playbook runs of the tests come out coloured).
export ANSIBLE_COLLECTIONS_PATH="$top/.cache/collections" ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
for version in "${versions[@]}"; do
  start=$SECONDS
  log "ansible-core $version: venv"
  venv=$(venv_for "$version"); rc=$?
  record "ansible-core $version: venv" "$rc" "$start"
  [ "$rc" -eq 0 ] || continue
  "$setup_only" && continue
  export VIRTUAL_ENV=$venv PATH="$venv/bin:$base_path"
  python=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

  start=$SECONDS
  log "ansible-core $version: sanity (ansible-test on Python $python)"
  VENV=$venv SANITY_PYTHON=$python "$top/scripts/ci/sanity.sh"; record "ansible-core $version: sanity" "$?" "$start"

  start=$SECONDS
  log "ansible-core $version: units"
  python -m pytest -q tests/unit; record "ansible-core $version: units" "$?" "$start"

  if [ "$version" = "$newest" ]; then
    scenario=${MATRIX_SCENARIO:-web2py_standalone}
    start=$SECONDS
    log "ansible-core $version: molecule test -s $scenario"
    converge "$scenario"; record "ansible-core $version: molecule test -s $scenario" "$?" "$start"
  fi
done

printf '%s\n' "${results[@]}"
exit "$status"
