#!/usr/bin/env bash
# The changelog (antsibull-changelog): the fragments in changelogs/fragments/ and
# changelogs/changelog.yaml pass the tool's lint, and CHANGELOG.md is exactly what the tool
# generates from changelogs/changelog.yaml (nobody edits it by hand).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
work=$(mktemp -d /var/tmp/web2py-deploy-changelog.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/changelogs"
cp galaxy.yml "$work/"
cp changelogs/config.yaml changelogs/changelog.yaml "$work/changelogs/"
(cd "$work" && antsibull-changelog generate >/dev/null)
if ! cmp -s "$work/CHANGELOG.md" CHANGELOG.md; then
  diff -u CHANGELOG.md "$work/CHANGELOG.md" | head -n 40 || true
  echo "changelog: CHANGELOG.md is not what antsibull-changelog generates (add a fragment to changelogs/fragments/ and run antsibull-changelog release; never edit CHANGELOG.md)"
  exit 1
fi
echo "changelog: lint ok, CHANGELOG.md generated from changelogs/changelog.yaml"
