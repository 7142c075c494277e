#!/usr/bin/env bash
# ansible-test sanity for the collection, without containers and without any host but PyPI:
# runs from a copy of the working tree at <tmp>/ansible_collections/web2py/deploy (a git repo,
# as ansible-test wants), with a local stand-in for the get-pip script ansible-test would
# download from a host this lab cannot reach.
#
# Usage: scripts/ci/sanity.sh [extra ansible-test sanity arguments, e.g. --test validate-modules]
# Environment: VENV (default <repo>/.venv, holds ansible-test), SANITY_PYTHON (default 3.11),
#              TMPDIR (where the temporary copy goes, default /var/tmp). scripts/ci/matrix.sh
#              runs it with each ansible-core of the matrix (VENV=.cache/venv-core-2.21
#              SANITY_PYTHON=3.13, ...).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$top/.venv}
ansible_test="$venv/bin/ansible-test"
python_version=${SANITY_PYTHON:-3.11}
[[ -x "$ansible_test" ]] || { echo "sanity: $ansible_test not found (run scripts/setup-venv.sh)" >&2; exit 2; }

# ansible-test bootstraps each sanity venv with get-pip for its pinned pip, looking first at
# ~/.ansible/test/cache/get_pip_<version with underscores>.py (get_pip_24_2.py for ansible-core
# 2.19, get_pip_25_2.py for 2.20 and 2.21: the version is read from the venv's ansible-test). The stand-in installs pip from the interpreter's bundled wheel (ensurepip), then the
# pip ansible-test asked for from PyPI. A real get-pip script already there is left alone.
pip_version=$("$venv/bin/python" - <<'PY'
import pathlib, re, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
marker="# Stand-in for get-pip.py (written by web2py.deploy's scripts/ci/sanity.sh)."
if [[ ! -s "$cache" ]] || grep -qxF "$marker" "$cache"; then
  mkdir -p "$(dirname "$cache")"
  cat >"$cache.new" <<PY
$marker
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PY
  mv -f "$cache.new" "$cache"
fi

# ansible-test skips its shellcheck test (with only a warning) when the program is missing:
# install it from Debian packages so every script in the tree is checked.
if ! command -v shellcheck >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "sanity: shellcheck is missing and there is no apt-get to install it" >&2; exit 2; }
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "sanity: installing shellcheck from Debian packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/web2py-deploy-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/web2py/deploy"
mkdir -p "$dest"
# The working tree as it is (uncommitted changes included), less environments, caches and
# build output.
tar -C "$top" \
  --exclude=./.venv --exclude=./.cache --exclude=./.git --exclude=./.ansible \
  --exclude=./tests/output --exclude=./build --exclude=./dist \
  --exclude=.molecule --exclude=.pytest_cache --exclude=__pycache__ --exclude='*.pyc' \
  --exclude='*.tar.gz' \
  -cf - . | tar -C "$dest" -xf -
if [[ ! -f "$dest/galaxy.yml" ]]; then
  # Only in the copy: ansible-test needs to know the collection.
  printf '%s\n' 'namespace: web2py' 'name: deploy' 'version: 0.1.0' 'readme: README.md' \
    'authors: [web2py.deploy maintainers]' 'license: [GPL-3.0-or-later]' >"$dest/galaxy.yml"
fi
git -C "$dest" -c init.defaultBranch=main init -q
git -C "$dest" add -A
git -C "$dest" -c user.name=sanity -c user.email=sanity@example.invalid -c commit.gpgsign=false \
  commit -qm "sanity snapshot"

cd "$dest"
echo "sanity: ansible-test $("$ansible_test" --version | awk '{print $NF}') in $dest"
status=0
"$ansible_test" sanity --local --python "$python_version" --requirements --color no "$@" || status=$?

# ansible-test's shellcheck test only reads *.sh files: the shell scripts the roles install
# (files without an extension, and templates) are checked here with the same program. In a
# template every Jinja expression becomes "$J2" when it ends with the quote filter, else an
# unquoted $J2, so a templated value used unquoted is reported as shellcheck reports a
# variable; a template with {% %} statements is refused (render it in a task instead).
cd "$top"
mapfile -t scripts < <(grep -rlE '^#!(/usr/bin/env |/bin/)(ba)?sh' roles molecule playbooks | sort)
for script in "${scripts[@]}"; do
  case $script in
    *.sh) continue ;;  # ansible-test checked it
    *.j2)
      if grep -q '{%' "$script"; then echo "$script: {% %} in a shell script template" >&2; false
      else
        # shellcheck disable=SC2016  # $J2 is for shellcheck to read, not to expand here
        sed -E 's/\{\{[^}]*\|[[:space:]]*quote[[:space:]]*\}\}/"$J2"/g; s/\{\{[^}]*\}\}/$J2/g' "$script" \
          | shellcheck -f gcc - | sed "s|^-:|$script:|"
      fi ;;
    *) shellcheck -f gcc "$script" ;;
  esac || { echo "sanity: shellcheck found problems in $script" >&2; status=1; }
done
echo "sanity: shellcheck read ${#scripts[@]} installed shell scripts"

if [[ $status -eq 0 ]]; then
  echo "sanity: passed"
else
  echo "sanity: FAILED (see the errors above)" >&2
fi
exit "$status"
