# shellcheck shell=bash
# Sourced by each integration target's runme.sh: where things are, a scratch directory, and `play`.
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
root=$(cd "$here/../../../.." && pwd)
venv=${HPC_VENV:-$root/.venv}
work=$(mktemp -d)
export ANSIBLE_CONFIG=$root/ansible.cfg
cd "$root" || exit

play() { "$venv/bin/ansible-playbook" -e "test_work_dir=$work" "$@"; }

# A role target: setup.yml starts an emulator, check.yml runs under --check on the fresh
# emulator, runme.yml runs the role for real, cleanup.yml always runs and stops the emulator.
run_role_target() {
  trap _role_target_cleanup EXIT
  play "$here/setup.yml"
  play --check "$here/check.yml"
  play "$here/runme.yml"
}

_role_target_cleanup() {
  local rc=$?
  play "$here/cleanup.yml" || rc=1
  rm -rf "$work"
  exit "$rc"
}
