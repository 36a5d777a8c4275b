"""The recipe's auto-scaling validation (playbooks/scale_test.yml) on the local cluster: five 2-node
jobs power up the whole queue, all complete, and every node powers down again."""

import pytest

from helpers import failed_tasks, playbook, sacct_jobs, sinfo_nodes, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"


def test_scale_test_powers_nodes_up_runs_every_job_and_powers_them_down(cluster):
    rc, data = playbook("scale_test.yml", "-e", "scale_test_sleep=5", timeout=1200)
    assert rc == 0, failed_tasks(data)
    tag = task_results(data, "Name this run's jobs")[HOST]["ansible_facts"]["scale_test_tag"]
    jobs = [j for j in sacct_jobs() if j["name"].startswith(tag + "-")]
    assert len(jobs) == 5 and {j["state"] for j in jobs} == {"COMPLETED"}, jobs
    assert all(j["nnodes"] == 2 and j["user"] == "ec2-user" for j in jobs), jobs
    # Each job started when the controller prolog saw its nodes answer, not at slurmctld's periodic
    # check of configuring jobs (which comes up to 30 s later).
    with open("/var/log/hpc-parallelcluster/slurmctld.log") as handle:
        log = handle.read()
    for job in jobs:
        assert "prolog_running_decr: Configuration for JobId=%s is complete" % job["id"] in log, job
        assert "job_time_limit: Configuration for JobId=%s complete" % job["id"] not in log, job
    # Five 2-node jobs at once need all ten nodes of the recipe's queue.
    used = task_results(data, "List the nodes the jobs ran on")[HOST]["stdout_lines"]
    assert len(used) == 10
    assert all(sinfo_nodes()[node][0].endswith("~") for node in used)
    figures = task_results(data, "Report the figures")[HOST]["msg"]
    assert figures[0] == "5 jobs of 2 nodes: COMPLETED on 10 nodes", figures
    assert figures[1].startswith("scale-up (submit to start) per job, seconds: ")
    assert "SuspendTime 60 s" in figures[3], figures
