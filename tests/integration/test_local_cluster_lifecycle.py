"""The walking skeleton end to end on the local provider: site.yml builds a real Slurm cluster,
runs the MPI smoke test on two powered-up nodes, converges on a re-run, scales back down, and
teardown.yml leaves nothing behind. Tests run in file order and share the one cluster."""

import os

import boto3
import pytest

from helpers import (
    EMULATOR,
    ROOT,
    changed_tasks,
    failed_tasks,
    playbook,
    processes,
    run,
    sacct_jobs,
    sinfo_nodes,
    task_results,
    wait_until,
)

pytestmark = pytest.mark.integration

RECORDS = "/var/lib/hpc-parallelcluster/clusters"
FAST_IDLE = ["-e", "hpc_scaledown_idletime=1"]
MULTI_QUEUE = ["-e", "pcluster_config_file=%s/tests/integration/files/multi-queue.yaml" % ROOT]
KEEP_EMULATOR = ["-e", "local_cloud_keep_running=true"]

RECIPE_CR = {"Name": "compute-nodes", "InstanceType": "c5n.large", "MinCount": 0, "MaxCount": 10}


def _config(queues):
    return {
        "Region": "us-east-1",
        "Image": {"Os": "alinux2"},
        "HeadNode": {"InstanceType": "m5.large", "Networking": {"SubnetId": "subnet-0123456789abcdef0"},
                     "Ssh": {"KeyName": "kp"}},
        "Scheduling": {"Scheduler": "slurm", "SlurmQueues": queues},
    }


def _queue(**overrides):
    queue = {"Name": "compute", "ComputeResources": [dict(RECIPE_CR)],
             "Networking": {"SubnetIds": ["subnet-0123456789abcdef1"]}}
    queue.update(overrides)
    return queue


BAD_CONFIGS = {
    "unknown key": (_config([_queue(Colour="blue")]), "Scheduling.SlurmQueues[0].Colour"),
    "MaxCount below MinCount": (
        _config([_queue(ComputeResources=[dict(RECIPE_CR, MinCount=5, MaxCount=2)])]),
        "Scheduling.SlurmQueues[0].ComputeResources[0].MaxCount"),
    "queue without compute resources": (_config([_queue(ComputeResources=[])]),
                                        "Scheduling.SlurmQueues[0].ComputeResources"),
}


def _emulator():
    kwargs = dict(endpoint_url=EMULATOR, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    return boto3.client("ec2", **kwargs), boto3.client("s3", **kwargs)


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_invalid_config_fails_naming_the_field_before_anything_is_created(case, tmp_path):
    import json

    config, field = BAD_CONFIGS[case]
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"bad_config": config}))
    rc, data = playbook(os.path.join(ROOT, "tests/integration/playbooks/cluster_config_error.yml"), "-e", "@%s" % extra)
    assert rc == 0, failed_tasks(data)
    result = task_results(data, "Create cluster")["localhost"]
    assert result["failed"] is True
    assert field in result["msg"], result["msg"]
    assert not os.path.exists(os.path.join(RECORDS, "badcluster.json"))
    assert not [p for p in processes(("slurmctld", "slurmdbd", "mariadbd")) if p]


def test_site_builds_the_cluster_and_runs_the_mpi_smoke_test():
    rc, data = playbook("site.yml", *FAST_IDLE)
    assert rc == 0, failed_tasks(data)


def test_partition_lists_the_recipes_dynamic_nodes_powered_down_at_rest():
    nodes = sinfo_nodes()
    expected = {"compute-dy-compute-nodes-%d" % i for i in range(1, 11)}
    assert set(nodes) == expected
    assert {partition for _state, partition in nodes.values()} == {"compute"}
    # The smoke test used two nodes; the other eight never powered up.
    powered_down = [n for n, (state, _p) in nodes.items() if state.endswith("~")]
    assert len(powered_down) >= 8, nodes
    # CPUs come from the instance type: c5n.large has 2 vCPUs, 1 without SMT.
    config = run(["scontrol", "show", "node", "compute-dy-compute-nodes-5", "--oneliner"]).stdout
    assert "CPUTot=1 " in config, config


def test_smoke_test_completed_on_two_nodes_as_the_cluster_user():
    jobs = sacct_jobs("mpi-smoke-test")
    assert len(jobs) == 1, jobs
    job = jobs[0]
    assert job["state"] == "COMPLETED" and job["exit"] == "0:0", job
    assert job["nnodes"] == 2 and job["user"] == "ec2-user", job
    with open("/shared/jobs/mpi-smoke-test-%s.out" % job["id"]) as handle:
        output = handle.read()
    assert "rank 0 of 2" in output and "rank 1 of 2" in output, output
    assert "allreduce sum 1 (expected 1)" in output


def test_second_site_run_changes_nothing_and_does_not_resubmit():
    rc, data = playbook("site.yml", *FAST_IDLE)
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []
    assert all(stats["changed"] == 0 for stats in data["stats"].values()), data["stats"]
    assert len(sacct_jobs("mpi-smoke-test")) == 1


def test_nodes_power_down_after_the_idle_time():
    # ScaledownIdletime=1 gives SuspendTime=60; then SuspendTimeout before the node reads idle~.
    assert "SuspendTime=60" in open("/opt/slurm/etc/slurm_parallelcluster.conf").read()
    wait_until(lambda: all(state.endswith("~") for state, _p in sinfo_nodes().values()), 240,
               what="every node to power down")
    assert run(["ip", "netns", "list"]).stdout.strip() == ""


def test_teardown_then_site_with_two_queues_and_static_nodes():
    rc, data = playbook("teardown.yml", *KEEP_EMULATOR)
    assert rc == 0, failed_tasks(data)
    rc, data = playbook("site.yml", *MULTI_QUEUE)
    assert rc == 0, failed_tasks(data)
    nodes = sinfo_nodes()
    assert {n for n, (_s, p) in nodes.items() if p == "compute"} == {
        "compute-dy-small-1", "compute-dy-small-2", "compute-dy-small-3", "compute-dy-large-1", "compute-dy-large-2"}
    assert {n for n, (_s, p) in nodes.items() if p == "highmem"} == {
        "highmem-st-r5-1", "highmem-st-r5-2", "highmem-dy-r5-1", "highmem-dy-r5-2"}
    wait_until(lambda: all(not sinfo_nodes()[n][0].endswith(("~", "#")) for n in ("highmem-st-r5-1", "highmem-st-r5-2")),
               60, what="static nodes to be up")
    large = run(["scontrol", "show", "node", "compute-dy-large-1", "--oneliner"]).stdout
    assert "CPUTot=4 " in large, large  # c5n.xlarge, SMT kept
    run(["sbatch", "--wait", "--partition=highmem", "--nodes=2", "--job-name=highmem-check",
         "--output=/shared/highmem-check-%j.out", "--wrap=hostname"], user="ec2-user", timeout=180)
    job = sacct_jobs("highmem-check")[-1]
    assert job["state"] == "COMPLETED" and job["partition"] == "highmem", job
    assert job["nodes"] == "highmem-st-r5-[1-2]", job


def test_static_nodes_stay_up_past_the_idle_time():
    wait_until(lambda: all(sinfo_nodes()[n][0].endswith("~") for n in ("compute-dy-small-1", "compute-dy-small-2")),
               240, what="the smoke test's dynamic nodes to power down")
    for node in ("highmem-st-r5-1", "highmem-st-r5-2"):
        state = sinfo_nodes()[node][0]
        assert not state.endswith(("~", "%")), (node, state)


def test_teardown_leaves_nothing_behind_and_is_idempotent():
    rc, data = playbook("teardown.yml", *KEEP_EMULATOR)
    assert rc == 0, failed_tasks(data)
    assert processes(("slurmctld", "slurmdbd", "slurmd", "mariadbd")) == []
    assert run(["ip", "netns", "list"]).stdout.strip() == ""
    assert "hpcbr0" not in run(["ip", "link"]).stdout
    for path in ("/opt/slurm/etc", "/opt/parallelcluster", "/var/lib/hpc-parallelcluster/clusters", "/shared",
                 "/etc/sudoers.d/hpc-parallelcluster", "/etc/slurm/slurm.conf"):
        assert not os.path.exists(path), path
    ec2, s3 = _emulator()
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert s3.list_buckets()["Buckets"] == []

    rc, data = playbook("teardown.yml", *KEEP_EMULATOR)
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []

    rc, data = playbook("teardown.yml")
    assert rc == 0, failed_tasks(data)
    assert processes(("moto_server",)) == []
    assert not os.path.exists("/var/lib/hpc-parallelcluster")
