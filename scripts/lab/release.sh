#!/usr/bin/env bash
# Stage the web2py release the tests, the lab and the benchmarks deploy (web2py_source: archive):
# .cache/fixtures/web2py_src-<version>.zip, checked against its known sha256. No release is
# downloadable from the lab's machines; the file comes from the first of
#   $W2P_RELEASE_ZIP, <repo>/../shared/fixtures/, <origin clone>/../shared/fixtures/, /work/shared/fixtures/
# Prints the staged path.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=3.3.3
SHA256=3c1cd5a1d920680a867f68c9bc88b2ca9e053ca15c11ec6392f539472efe173c
name="web2py_src-$VERSION.zip"
dest="$top/.cache/fixtures/$name"
log() { printf '[release] %s\n' "$*" >&2; }

sum() { sha256sum "$1" | cut -d' ' -f1; }
if [ -f "$dest" ] && [ "$(sum "$dest")" = "$SHA256" ]; then
  echo "$dest"
  exit 0
fi
candidates=()
[ -n "${W2P_RELEASE_ZIP:-}" ] && candidates+=("$W2P_RELEASE_ZIP")
candidates+=("$top/../shared/fixtures/$name")
origin=$(git -C "$top" remote get-url origin 2>/dev/null || true)
[ -d "$origin" ] && candidates+=("$origin/../shared/fixtures/$name")
candidates+=("/work/shared/fixtures/$name")
for src in "${candidates[@]}"; do
  [ -f "$src" ] || continue
  if [ "$(sum "$src")" != "$SHA256" ]; then
    log "ignoring $src: its sha256 is not web2py $VERSION's ($SHA256)"
    continue
  fi
  mkdir -p "$(dirname "$dest")"
  cp "$src" "$dest.tmp" && mv "$dest.tmp" "$dest"
  log "staged web2py $VERSION from $src"
  echo "$dest"
  exit 0
done
log "web2py $VERSION release ($name, sha256 $SHA256) not found; set W2P_RELEASE_ZIP to its path"
exit 1
