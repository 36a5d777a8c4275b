#!/usr/bin/env bash
# shellcheck disable=SC2154  # here, work and venv come from target_lib.sh
# slurm_job and slurm_job_info against a real Slurm without slurmdbd (AccountingStorageType=
# accounting_storage/none), started from the host's Debian packages in a network namespace of this
# run's own: munged with its own key and socket, slurmctld, one slurmd and (when installed)
# slurmrestd with the slurmctld plugin only, every file under the run's scratch directory. Needs
# root. The namespace, the daemons and the files are removed on exit, whatever happened.
set -euo pipefail
source "$(dirname "$0")/../../target_lib.sh"
source "$here/live_slurm.sh"

# The host's Slurm from Debian's packages (a fresh machine has none before make site installs them).
missing=()
for tool in munged slurmctld slurmd scontrol slurmrestd; do command -v "$tool" > /dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq munge slurmctld slurmd slurm-client \
    slurmrestd > /dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y -qq munge slurmctld slurmd slurm-client slurmrestd > /dev/null; }
fi

netns=hpct-noacct-$$
slurm_dir=$work/slurm
# slurmrestd runs as nobody and must reach slurm.conf and the munge socket below $work.
chmod 0755 "$work"

cleanup() {
  local rc=$?
  live_slurm_down "$slurm_dir" || rc=1
  ip netns del "$netns" 2> /dev/null || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

in_netns() { nsenter --net="/run/netns/$netns" "$@"; }

live_netns_up "$netns"
# MinJobAge 30 s: jobs are purged 30 s to a minute and a half after their end, long enough for a job
# that just ended to be found on a loaded machine, short enough to watch slurmctld forget it.
export LIVE_MIN_JOB_AGE=30
in_netns bash -c "source '$here/live_slurm.sh'; live_slurm_up '$slurm_dir'"

rest=false
if [ -s "$slurm_dir/slurmrestd.pid" ]; then rest=true; fi
SLURM_CONF=$slurm_dir/slurm.conf in_netns "$venv/bin/ansible-playbook" -i localhost, -c local \
  -e "ansible_python_interpreter=$venv/bin/python" -e "test_work_dir=$work" -e "slurm_dir=$slurm_dir" -e "with_rest=$rest" \
  -e "ctld_plugin=$(live_ctld_plugin)" \
  -e "rest_url=http://127.0.0.1:$LIVE_REST_PORT" "$here/runme.yml"
