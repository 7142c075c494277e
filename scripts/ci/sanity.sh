#!/usr/bin/env bash
# ansible-test sanity for the collection, without containers or the internet beyond PyPI:
# runs from a copy of the working tree at <tmp>/ansible_collections/web2py/deploy (a git repo,
# as ansible-test wants), with a local stand-in for the get-pip script ansible-test would
# download from a host the lab cannot reach.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$top/.venv}
ansible_test="$venv/bin/ansible-test"
python_version=${SANITY_PYTHON:-3.11}

# ansible-test bootstraps each sanity venv with get-pip-<pinned pip>.py; it looks in this cache
# first. The stand-in installs pip from the interpreter's bundled wheel, then the requested pip.
pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cat >"$cache" <<'PY'
# Stand-in for get-pip.py (written by web2py.deploy's scripts/ci/sanity.sh).
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PY

work=$(mktemp -d /var/tmp/web2py-deploy-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/web2py/deploy"
mkdir -p "$dest"
tar -C "$top" --exclude=./.venv --exclude=./.cache --exclude=./.git --exclude=./.ansible \
  --exclude='*.tar.gz' --exclude=./tests/output --exclude='__pycache__' -cf - . | tar -C "$dest" -xf -
git -C "$dest" init -q
git -C "$dest" add -A
git -C "$dest" -c user.name=sanity -c user.email=sanity@example.invalid commit -qm sanity

cd "$dest"
"$ansible_test" sanity --local --python "$python_version" --requirements --color no "$@"
