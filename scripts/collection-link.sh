#!/usr/bin/env bash
# Make this checkout resolvable as the collection web2py.deploy:
# .cache/collections/ansible_collections/web2py/deploy -> the repository root.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/.cache/collections/ansible_collections/web2py"
mkdir -p "$dir" "$top/.cache/apt-archives/partial"
[ "$(readlink "$dir/deploy" 2>/dev/null)" = "$top" ] || ln -sfn "$top" "$dir/deploy"
