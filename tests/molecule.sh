#!/usr/bin/env bash
# Molecule scenarios of the roles (extensions/molecule/<role>/, shared settings in
# .config/molecule/config.yml): `molecule test` for each, with this machine as the test host.
#
#   tests/molecule.sh emulator    local_cloud, vpc, s3_repo, monitoring: each against its own AWS API
#                                 emulator on 127.0.0.1:5160-5163, started by create and stopped by
#                                 destroy; run side by side (MOLECULE_JOBS, default 4).
#   tests/molecule.sh cluster     pcluster, slurm_tuning, hpc_stack, job_tools, slurm_rest, one after the other, on
#                                 the running local cluster (make site): converge, idempotence and
#                                 verify; destroy leaves the cluster and its emulator (port 5000) up.
#   tests/molecule.sh vpc hpc_stack    the named scenarios (emulator ones side by side, then cluster ones)
#
# Logs go to tests/output/molecule/<scenario>.log; a failed scenario's log tail is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[[ -x $root/.venv/bin/molecule ]] || { echo "molecule: .venv/bin/molecule missing, run scripts/setup.sh first" >&2; exit 2; }
[[ -e $root/.collections/ansible_collections/hpc/parallelcluster ]] \
  || { echo "molecule: .collections/ansible_collections/hpc/parallelcluster missing, run scripts/setup.sh first" >&2; exit 2; }
export PATH=$root/.venv/bin:$PATH
# Molecule writes its own ansible.cfg per scenario; the checkout's one must not win over it.
unset ANSIBLE_CONFIG
export ANSIBLE_COLLECTIONS_PATH=$root/.collections
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0

emulator_scenarios=(local_cloud vpc s3_repo monitoring)
cluster_scenarios=(pcluster slurm_tuning hpc_stack job_tools slurm_rest)
jobs=${MOLECULE_JOBS:-4}

emulator=() cluster=()
[[ $# -gt 0 ]] || set -- emulator
for arg in "$@"; do
  case $arg in
    emulator) emulator+=("${emulator_scenarios[@]}") ;;
    cluster) cluster+=("${cluster_scenarios[@]}") ;;
    *)
      if [[ " ${emulator_scenarios[*]} " == *" $arg "* ]]; then emulator+=("$arg")
      elif [[ " ${cluster_scenarios[*]} " == *" $arg "* ]]; then cluster+=("$arg")
      else echo "molecule: unknown scenario $arg (emulator, cluster, ${emulator_scenarios[*]} ${cluster_scenarios[*]})" >&2; exit 2
      fi ;;
  esac
done

logs=$root/tests/output/molecule
mkdir -p "$logs"
failed=()

run_scenario() {
  local scenario=$1 start rc=0
  start=$(date +%s)
  molecule test -s "$scenario" > "$logs/$scenario.log" 2>&1 || rc=$?
  echo "$rc $(( $(date +%s) - start ))" > "$logs/$scenario.result"
}

report() {
  local scenario=$1 rc secs
  read -r rc secs < "$logs/$scenario.result"
  if [[ $rc -eq 0 ]]; then
    echo "molecule $scenario: passed in ${secs}s"
  else
    echo "molecule $scenario: FAILED (exit $rc) after ${secs}s; end of $logs/$scenario.log:"
    tail -n 40 "$logs/$scenario.log" | sed 's/^/  | /'
    failed+=("$scenario")
  fi
}

# Emulator scenarios have a port each: several at a time.
running=0
for scenario in "${emulator[@]}"; do
  run_scenario "$scenario" &
  running=$((running + 1))
  if [[ $running -ge $jobs ]]; then wait -n || true; running=$((running - 1)); fi
done
wait
for scenario in "${emulator[@]}"; do report "$scenario"; done

# Cluster scenarios share the one local cluster: one at a time, pcluster first.
for scenario in "${cluster[@]}"; do
  run_scenario "$scenario"
  report "$scenario"
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "molecule: FAILED: ${failed[*]}"
  exit 1
fi
