#!/usr/bin/env bash
# The whole test suite, as CI runs it (the README's test command):
#   ./scripts/test.sh                 everything: lint, units, sanity, build, all scenarios
#                                     (W2P_TEST_JOBS scenarios at a time, default 2)
#   ./scripts/test.sh molecule NAME   one Molecule scenario (molecule test -s NAME)
#   ./scripts/test.sh lint|units|sanity|build|lab
# Installs what it needs on a fresh Debian machine: Docker engine, debootstrap, the lab image,
# the Python virtualenv. Prints a summary line "summary: N passed, N failed" at the end.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

log() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

setup() {
  scripts/lab/ensure-docker.sh || return 1
  scripts/setup-venv.sh || return 1
  scripts/collection-link.sh || return 1
  scripts/lab/build-image.sh || return 1
}

# shellcheck disable=SC1091
activate() {
  source "$top/.venv/bin/activate"
  export ANSIBLE_COLLECTIONS_PATH="$top/.cache/collections"
  export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
}

stage_lint() {
  yamllint -s . && ansible-lint --offline --profile production && python scripts/role-docs.py --check \
    && syntax_check_inventories
}
# Every playbook against every shipped inventory (lab and examples).
syntax_check_inventories() {
  local inventory playbook
  for inventory in inventories/*/hosts.yml; do
    for playbook in playbooks/*.yml; do
      ansible-playbook --syntax-check -i "$inventory" "$playbook" >/dev/null \
        || { echo "syntax check failed: $playbook with $inventory"; return 1; }
    done
  done
}
# The README's first command: the lab comes up, passes its smoke check, and goes away.
stage_lab() {
  local rc=0
  scripts/lab.sh up || rc=$?
  scripts/lab.sh down || rc=1
  return "$rc"
}
stage_units() { python -m pytest -q tests/unit; }
stage_sanity() { scripts/ci/sanity.sh; }
stage_build() { scripts/ci/collection-build-test.sh; }
stage_molecule() {
  local name=$1
  molecule test -s "$name"
}

passed=0; failed=0; results=()
run_stage() {
  local label=$1; shift
  local start=$SECONDS
  log "$label"
  if "$@"; then
    passed=$((passed + 1)); results+=("PASS  $label ($((SECONDS - start)) s)")
  else
    failed=$((failed + 1)); results+=("FAIL  $label ($((SECONDS - start)) s)")
  fi
}

# Molecule scenarios, up to $1 at a time. Each runs in a slot whose number names its
# containers (MOLECULE_INSTANCE=ci-<slot>; apt's download cache is per slot, so it is reused by
# the scenarios that run in it), its output goes to .cache/logs/molecule-<name>.log and is
# printed when it ends.
run_scenarios() {
  local jobs=$1; shift
  local -a queue=("$@") free=() slot_name=() slot_start=()
  local -A slot_of=()
  local i pid slot name rc
  for ((i = 1; i <= jobs; i++)); do free+=("$i"); done
  mkdir -p .cache/logs
  while ((${#queue[@]} > 0 || ${#slot_of[@]} > 0)); do
    while ((${#queue[@]} > 0 && ${#free[@]} > 0)); do
      slot=${free[0]}; free=("${free[@]:1}")
      name=${queue[0]}; queue=("${queue[@]:1}")
      log "$name (started in slot $slot)"
      if [ "$name" = lab ]; then
        stage_lab >".cache/logs/molecule-$name.log" 2>&1 &
      else
        MOLECULE_INSTANCE="ci-$slot" molecule test -s "$name" >".cache/logs/molecule-$name.log" 2>&1 &
      fi
      slot_of[$!]=$slot; slot_name[slot]=$name; slot_start[slot]=$SECONDS
    done
    wait -n -p pid; rc=$?
    slot=${slot_of[$pid]}; unset "slot_of[$pid]"
    name=${slot_name[slot]}
    log "$name: output"
    cat ".cache/logs/molecule-$name.log"
    if [ "$rc" -eq 0 ]; then
      passed=$((passed + 1)); results+=("PASS  $name ($((SECONDS - slot_start[slot])) s)")
    else
      failed=$((failed + 1)); results+=("FAIL  $name ($((SECONDS - slot_start[slot])) s)")
    fi
    free+=("$slot")
  done
}

log "setup: Docker engine, virtualenv, lab image"
setup || { echo "setup failed"; echo "summary: 0 passed, 1 failed"; exit 1; }
activate

what=${1:-all}
case "$what" in
  all)
    run_stage lint stage_lint
    run_stage units stage_units
    run_stage sanity stage_sanity
    run_stage "collection build + install" stage_build
    # The longest first (the cluster scenario and the lab), then the roles' scenarios.
    scenarios=(cluster lab)
    for dir in molecule/*/; do
      [ -f "$dir/molecule.yml" ] && [ "$(basename "$dir")" != cluster ] && scenarios+=("$(basename "$dir")")
    done
    run_scenarios "${W2P_TEST_JOBS:-2}" "${scenarios[@]}"
    ;;
  molecule)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 molecule SCENARIO..."; exit 2; }
    for name in "$@"; do run_stage "molecule $name" stage_molecule "$name"; done
    ;;
  lint|units|sanity|build|lab)
    run_stage "$what" "stage_$what"
    ;;
  *) echo "usage: $0 [all|lint|units|sanity|build|lab|molecule SCENARIO...]"; exit 2 ;;
esac

log "results"
printf '%s\n' "${results[@]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
