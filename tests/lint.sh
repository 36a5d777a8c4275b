#!/usr/bin/env bash
# ansible-lint (production profile, offline; settings in .ansible-lint) over the whole collection,
# after checking that the role READMEs' variable tables match their argument specs (scripts/role_docs.py)
# and that docs/validation.md's local support table matches local_support.py (scripts/local_support_table.py).
# Extra arguments go to ansible-lint, e.g. `tests/lint.sh roles/vpc`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[[ -x $root/.venv/bin/ansible-lint ]] || { echo "lint: .venv/bin/ansible-lint missing, run scripts/setup.sh first" >&2; exit 2; }
export PATH=$root/.venv/bin:$PATH
export ANSIBLE_CONFIG=$root/ansible.cfg
# This checkout as hpc.parallelcluster (setup.sh makes the link); amazon.aws comes with the ansible package.
export ANSIBLE_COLLECTIONS_PATH=$root/.collections
[[ -e $root/.collections/ansible_collections/hpc/parallelcluster ]] \
  || { echo "lint: .collections/ansible_collections/hpc/parallelcluster missing, run scripts/setup.sh first" >&2; exit 2; }
# The role READMEs' variable tables are generated from meta/argument_specs.yml: they must be current.
python "$root/scripts/role_docs.py" --check
# So is docs/validation.md's table of what the local provider builds (scripts/local_support_table.py).
python "$root/scripts/local_support_table.py" --check
exec ansible-lint --nocolor "$@"
