#!/usr/bin/env bash
# Every test: static checks (ansible-test sanity, ansible-lint), unit tests (ansible-test units), the
# emulator roles' molecule scenarios, the roles' integration targets, then the end-to-end cluster
# lifecycle.
# `tests/run.sh sanity`, `tests/run.sh unit`, `tests/run.sh molecule` or `tests/run.sh integration`
# runs one layer.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg
export PATH=$PWD/.venv/bin:$PATH
layer=${1:-all}
failed=()

section() { printf '\n=== %s ===\n' "$*"; }

# Static checks first: they are quick and need no emulator or cluster.
if [[ $layer == all || $layer == sanity ]]; then
  section "ansible-test sanity"
  tests/sanity.sh || failed+=(sanity)
  section "ansible-lint"
  tests/lint.sh || failed+=(lint)
  section "collection tarball (offline install, ansible-doc, syntax check, execution environment)"
  tests/tarball.sh || failed+=(tarball)
fi

if [[ $layer == all || $layer == unit ]]; then
  section "unit tests (ansible-test units)"
  tests/units.sh || failed+=(unit)
fi

if [[ $layer == all || $layer == molecule ]]; then
  section "molecule scenarios of the emulator roles"
  tests/molecule.sh emulator || failed+=(molecule)
fi

if [[ $layer == all || $layer == integration ]]; then
  for target in tests/integration/targets/*/; do
    [[ -x $target/runme.sh ]] || continue
    section "integration target $(basename "$target")"
    if ! "$target/runme.sh"; then failed+=("target:$(basename "$target")"); fi
  done
  section "cluster lifecycle (site.yml, smoke test, scaling, teardown)"
  python -m pytest tests/integration -q -p no:cacheprovider -x || failed+=(lifecycle)
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test layers passed"
