"""Stopping and starting the compute fleet of the running cluster, as `pcluster update-compute-fleet`
does: site.yml's cluster stage with pcluster_compute_fleet, on the recipe's config (before test_80
changes it). Stopped, the queue takes no job and every node is powered down; a second run changes
nothing; started, a job runs again."""

import json

import pytest

from helpers import SITE_ARGS, failed_tasks, playbook, run, sinfo_nodes, task_results

pytestmark = pytest.mark.integration

RECORD = "/var/lib/hpc-parallelcluster/clusters/hpc-cluster.json"
TASK = "Create or update cluster hpc-cluster"


def _fleet(state):
    rc, data = playbook("site.yml", *SITE_ARGS, "--tags", "cluster", "-e", "pcluster_compute_fleet=" + state)
    assert rc == 0, failed_tasks(data)
    return task_results(data, TASK)["localhost"]


def _partition_availability():
    return run(["sinfo", "--noheader", "--format=%P %a"]).stdout.split()


def test_stop_and_start_the_compute_fleet(cluster):
    try:
        stopped = _fleet("stopped")
        assert stopped["changed"] is True
        assert stopped["compute_fleet_change"] == {"before": "RUNNING", "after": "STOPPED"}
        assert stopped["cluster"]["computeFleetStatus"] == "STOPPED"
        with open(RECORD) as handle:
            assert json.load(handle)["computeFleetStatus"] == "STOPPED"
        assert _partition_availability() == ["compute*", "inactive"]
        # Every node powered down or on its way there (Slurm holds "%" for SuspendTimeout).
        assert all(state.rstrip("*").endswith(("~", "%")) for state, _part in sinfo_nodes().values()), sinfo_nodes()
        refused = run(["sbatch", "--wrap", "hostname", "-N", "1"], user="ec2-user", check=False)
        assert refused.returncode != 0 and "inactive" in (refused.stdout + refused.stderr).lower()
        assert _fleet("stopped")["changed"] is False
    finally:
        started = _fleet("running")
    assert started["cluster"]["computeFleetStatus"] == "RUNNING"
    assert _partition_availability() == ["compute*", "up"]
    job = run(["sbatch", "--parsable", "--wait", "--chdir", "/tmp", "--output", "/dev/null", "--wrap", "hostname", "-N", "1"],
              user="ec2-user", timeout=300)
    assert job.stdout.strip().isdigit()
