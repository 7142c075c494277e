#!/usr/bin/env bash
# The collection as a user gets it: built, installed next to ansible-core and only the
# collections galaxy.yml declares, used by FQCN from outside the repository.
#  1. ansible-galaxy collection build; every file of the tarball matches the allow-list
#     scripts/ci/tarball-contents.txt and every pattern there matches a file.
#  2. A virtualenv with ansible-core alone (.cache/venv-core-only, the pin of requirements.txt).
#  3. The declared dependencies, copied from the `ansible` package of .venv (Galaxy is not
#     reachable), into an empty collections path; `ansible-galaxy collection install --offline`
#     of the tarball resolves its dependencies against them: a version outside a declared range
#     fails the install.
#  4. Every collection the installed files name (namespace.collection.plugin) is ansible.builtin,
#     web2py.deploy or a declared dependency: a filter or a module from an undeclared collection
#     fails here even where a syntax check cannot see it (filters, templates, dynamic includes).
#  5. Syntax check, from a directory outside the repository: a playbook with every role and the
#     module web2py_password by FQCN, and the collection's own playbooks by FQCN
#     (web2py.deploy.site, ...) against its example inventories.
#  6. Converge in a fresh lab container: web2py.deploy.postgres, then web2py.deploy.web2py_standalone
#     with the probe on that database, and web2py.deploy.web2py_password; the probe answers and
#     writes a row. The container is reached with community.docker's connection, which only this
#     step sees (a separate collections path): the collection does not use community.docker,
#     and step 4 proves it.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
LAB_PLATFORM=${LAB_PLATFORM:-debian13}
IMAGE=web2py-deploy/$LAB_PLATFORM-systemd:latest
release=$("$top/scripts/lab/release.sh")
name=web2py-deploy-buildtest-$$
work=$(mktemp -d /var/tmp/web2py-deploy-build.XXXXXX)
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
log() { printf '[build] %s\n' "$*"; }

log "1. ansible-galaxy collection build"
ansible-galaxy collection build "$top" --output-path "$work/dist" --force >/dev/null
tarball=$(ls "$work"/dist/web2py-deploy-*.tar.gz)
tar -tzf "$tarball" >"$work/contents.txt"
python3 - "$top/scripts/ci/tarball-contents.txt" "$work/contents.txt" <<'PY'
import re, sys
patterns = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
entries = [l.rstrip("\n") for l in open(sys.argv[2])]
files = [e for e in entries if not e.endswith("/")]
dirs = [e for e in entries if e.endswith("/")]

def regex(pattern):
    """"**" matches across folders, "*" within one path segment, "?" one character of it."""
    out = ""
    for token in re.split(r"(\*\*|\*|\?)", pattern):
        out += {"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out + r"\Z")

compiled = {p: regex(p) for p in patterns}
bad = [f for f in files if not any(r.match(f) for r in compiled.values())]
bad += [d for d in dirs if not any(f.startswith(d) for f in files)]
unused = [p for p, r in compiled.items() if not any(r.match(f) for f in files)]
for f in bad:
    print(f"[build] not in the allow-list: {f}")
for p in unused:
    print(f"[build] allow-list pattern that matches no file (remove it): {p}")
print(f"[build] tarball: {len(files)} files, {len(bad)} outside the allow-list")
sys.exit(1 if bad or unused else 0)
PY

log "2. a virtualenv with ansible-core alone"
core_pin=$(grep -E '^ansible-core==' "$top/requirements.txt")
core_venv=$top/.cache/venv-core-only
if [ "$(cat "$core_venv/.pin" 2>/dev/null)" != "$core_pin" ]; then
  rm -rf "$core_venv"
  python3 -m venv "$core_venv"
  "$core_venv/bin/pip" install -q --disable-pip-version-check "$core_pin"
  echo "$core_pin" >"$core_venv/.pin"
fi
core=$core_venv/bin
"$core/ansible" --version >"$work/version.txt"
head -n 1 "$work/version.txt"
if "$core/python" -c 'import ansible_collections' 2>/dev/null; then
  echo "[build] $core_venv holds collections: it must hold ansible-core alone"; exit 1
fi

log "3. the declared dependencies from the ansible package, then the tarball (offline)"
# The `ansible` package's collections, in the tool chain's virtualenv (.venv, active).
bundled=$(python -c 'import ansible_collections.community.general as m, os; print(os.path.dirname(os.path.dirname(list(m.__path__)[0])))')
mkdir -p "$work/collections/ansible_collections" "$work/harness/ansible_collections/community"
tar -xzf "$tarball" -O MANIFEST.json >"$work/MANIFEST.json"
deps=$(python3 -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["collection_info"]["dependencies"]))' "$work/MANIFEST.json")
for dep in $deps; do
  src=$bundled/${dep//.//}
  [ -d "$src" ] || { echo "[build] $dep is not in the ansible package ($src)"; exit 1; }
  mkdir -p "$work/collections/ansible_collections/${dep%%.*}"
  cp -a "$src" "$work/collections/ansible_collections/${dep%%.*}/"
done
cp -a "$bundled/community/docker" "$work/harness/ansible_collections/community/"
export ANSIBLE_CONFIG="" ANSIBLE_COLLECTIONS_PATH="$work/collections"
(cd "$work" && "$core/ansible-galaxy" collection install --offline "$tarball" -p "$work/collections")
"$core/ansible-galaxy" collection list -p "$work/collections" 2>/dev/null | grep -E '^(community|web2py)\.'

log "4. every collection the installed files name is declared"
installed=$work/collections/ansible_collections/web2py/deploy
python3 - "$installed" "$deps" "$bundled" <<'PY'
import ast, pathlib, re, sys
root, bundled = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[3])
allowed = {"ansible.builtin", "ansible.legacy", "web2py.deploy"} | set(sys.argv[2].split())
# The collections a reference could name: ansible-core's own and every collection of the
# `ansible` package (a dotted name that is none of them is a file or unit name: web2py.service.d).
known = allowed | {f"{n.parent.name}.{n.name}" for n in bundled.glob("*/*") if n.is_dir()}
fqcn = re.compile(r"(?<![\w./-])([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.([a-z_][a-z0-9_]*)(?![\w-])")

def texts(path):
    """YAML and templates whole; in Python only string constants (task names, docs, module
    names) and imports from ansible_collections: `from ansible.utils...` is ansible-core."""
    source = path.read_text(errors="replace")
    if path.suffix != ".py":
        yield source
        return
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "ansible_collections" and len(parts) >= 4:
                    yield ".".join(parts[1:4])

found = {}
for path in root.rglob("*"):
    if path.suffix not in {".yml", ".yaml", ".j2", ".py"} or not path.is_file():
        continue
    if "files" in path.relative_to(root).parts:
        continue  # copied to the hosts as they are (the probe app, scripts): no Ansible names
    for text in texts(path):
        for m in fqcn.finditer(text):
            name = f"{m.group(1)}.{m.group(2)}"
            if name in known:
                found.setdefault(name, set()).add(str(path.relative_to(root)))
missing = {c: p for c, p in found.items() if c not in allowed}
for c, paths in sorted(found.items()):
    print(f"[build]   {c}: {len(paths)} files{'  <- NOT DECLARED' if c in missing else ''}")
for c, paths in sorted(missing.items()):
    print(f"[build] {c} is used ({', '.join(sorted(paths)[:5])}) but not a dependency in galaxy.yml")
sys.exit(1 if missing else 0)
PY

log "5. syntax check of every role, the module and the collection's playbooks, by FQCN"
mkdir -p "$work/outside"
cd "$work/outside"
printf "[defaults]\ninterpreter_python = auto_silent\n" >ansible.cfg
roles=$(find "$installed/roles" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
{
  echo "---"
  for role in $roles; do
    printf -- '- name: Role %s by FQCN\n  hosts: all\n  roles:\n    - role: web2py.deploy.%s\n' "$role" "$role"
  done
  cat <<'PLAY'
- name: The module by FQCN
  hosts: all
  tasks:
    - name: Admin password file
      web2py.deploy.web2py_password:
        path: /tmp
        port: 8000
        password: x
PLAY
} >syntax.yml
printf 'all:\n  hosts:\n    h1:\n      ansible_connection: local\n' >local.yml
"$core/ansible-playbook" --syntax-check -i local.yml syntax.yml >"$work/syntax.log" 2>&1 \
  || { cat "$work/syntax.log"; echo "[build] syntax check failed: the roles and the module by FQCN"; exit 1; }
echo "[build]   roles: $(echo "$roles" | wc -l), and web2py.deploy.web2py_password: syntax ok"
for playbook in "$installed"/playbooks/*.yml; do
  playbook=$(basename "$playbook" .yml)
  for inventory in "$installed"/inventories/*/hosts.yml; do
    "$core/ansible-playbook" --syntax-check -i "$inventory" "web2py.deploy.$playbook" >"$work/syntax.log" 2>&1 \
      || { cat "$work/syntax.log"; echo "[build] syntax check failed: web2py.deploy.$playbook with $inventory"; exit 1; }
  done
  echo "[build]   web2py.deploy.$playbook: syntax ok with the example inventories"
done

log "6. converge in a fresh $LAB_PLATFORM container: postgres, web2py_standalone, web2py_password"
docker rm -f "$name" >/dev/null 2>&1 || true
docker run -d --name "$name" --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
  --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
  -v "$top/.cache/apt-archives-$LAB_PLATFORM-buildtest:/var/cache/apt/archives:rw" "$IMAGE" >/dev/null
cat >inventory.yml <<INV
all:
  hosts:
    $name:
      ansible_connection: community.docker.docker
      postgres_db_password: "build 50% ;#=: 'q' ü"
      web2py_source: archive
      web2py_archive_src: "$release"
      web2py_probe_app: true
      web2py_probe_db_uri: "postgres://web2py:{{ postgres_db_password }}@127.0.0.1:5432/web2py"
INV
cat >play.yml <<'PLAY'
---
- name: PostgreSQL by FQCN (community.postgresql's modules)
  hosts: all
  roles:
    - role: web2py.deploy.postgres

- name: Web2py's own server by FQCN, the probe on that database
  hosts: all
  roles:
    - role: web2py.deploy.web2py_standalone
  tasks:
    - name: An admin password file by the module's FQCN
      web2py.deploy.web2py_password:
        path: /srv/web2py/web2py
        port: 8001
        password: "build-test password"
        owner: root
        group: web2py
        mode: "0640"
      register: password_file
      failed_when: password_file is not changed
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
    - name: The probe writes a row in PostgreSQL and reads it back
      ansible.builtin.uri:
        url: http://127.0.0.1:8000/probe/default/dbrw
        return_content: true
      register: dbrw
      failed_when: dbrw.status != 200 or dbrw.json.read != dbrw.json.wrote or dbrw.json.engine != 'postgres'
PLAY
ANSIBLE_COLLECTIONS_PATH="$work/collections:$work/harness" "$core/ansible-playbook" -i inventory.yml play.yml
log "ok"
