"""Cluster updates on the local provider with ParallelCluster's update rules: the recipe's step 9
through site.yml and its overlay, then a second queue, static nodes and a queue removed under a
running job. Every step asserts what Slurm reports, that a re-run changes nothing, and that the
accounting history is kept."""

import copy
import json
import os

import pytest

from helpers import LIVE_STATES, ROOT, failed_tasks, playbook, run, sacct_jobs, sinfo_nodes, task_results, wait_until

pytestmark = pytest.mark.integration

RECORD = "/var/lib/hpc-parallelcluster/clusters/hpc-cluster.json"
OVERLAY = os.path.join(ROOT, "inventories/local/overlays/recipe-step9-scaling.yml")
UPDATE = os.path.join(ROOT, "tests/integration/playbooks/cluster_update.yml")
EXTRA_QUEUE = {"Name": "extra",
               "ComputeResources": [{"Name": "big", "InstanceType": "c5n.xlarge", "MinCount": 0, "MaxCount": 2}]}


def current_config():
    with open(RECORD) as handle:
        return json.load(handle)["clusterConfiguration"]


def show_config(key):
    for line in run(["scontrol", "show", "config"]).stdout.splitlines():
        name, _sep, value = line.partition("=")
        if name.strip() == key:
            return value.strip()
    raise AssertionError("%s not in scontrol show config" % key)


def update(config, tmp_path, *extra):
    path = tmp_path / ("config-%d.json" % len(list(tmp_path.iterdir())))
    path.write_text(json.dumps({"new_config": config}))
    rc, data = playbook(UPDATE, "-e", "@%s" % path, *extra)
    return rc, data, task_results(data, "Update cluster")["localhost"]


def with_extra_queue(config, **resource):
    config = copy.deepcopy(config)
    queue = copy.deepcopy(EXTRA_QUEUE)
    queue["Networking"] = copy.deepcopy(config["Scheduling"]["SlurmQueues"][0]["Networking"])
    queue["ComputeResources"][0].update(resource)
    config["Scheduling"]["SlurmQueues"].append(queue)
    return config


@pytest.fixture(scope="module")
def history(cluster):
    """The accounting history before the updates; every test checks it is still there."""
    return {job["id"] for job in sacct_jobs()}


def assert_history_kept(history):
    assert history <= {job["id"] for job in sacct_jobs()}


def test_step9_needs_the_fleet_stopped_and_is_refused_without_it(history):
    rc, data = playbook("site.yml", "-e", "@" + OVERLAY, "-e", "pcluster_allow_fleet_stop=false")
    assert rc != 0
    failure = task_results(data, "Create or update cluster hpc-cluster")["localhost"]
    assert "needs the compute fleet stopped" in failure["msg"], failure["msg"]
    assert "Scheduling.SlurmSettings.ScaledownIdletime" in failure["msg"] and "COMPUTE_FLEET_STOP" in failure["msg"]
    assert len(sinfo_nodes()) == 10 and show_config("SuspendTime") == "60 sec"
    assert_history_kept(history)


def test_step9_check_mode_shows_the_plan_and_changes_nothing(history, tmp_path):
    target = copy.deepcopy(current_config())
    target["Scheduling"]["SlurmSettings"].update(ScaledownIdletime=5, QueueUpdateStrategy="TERMINATE")
    target["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["MaxCount"] = 20
    rc, data, result = update(target, tmp_path, "--check", "-e", "allow_fleet_stop=true")
    assert rc == 0, failed_tasks(data)
    plan = result["update_plan"]
    policies = {c["parameter"]: c["update_policy"] for c in plan["changes"]}
    assert policies["Scheduling.SlurmSettings.ScaledownIdletime"] == "COMPUTE_FLEET_STOP"
    assert policies["Scheduling.SlurmQueues[compute].ComputeResources[compute-nodes].MaxCount"] == \
        "RESIZE_UPDATE_STRATEGY_ON_REMOVE"
    assert plan["fleet_stop"] is True and plan["queue_update_strategy"] == "TERMINATE"
    assert len(sinfo_nodes()) == 10 and current_config()["Scheduling"]["SlurmSettings"]["ScaledownIdletime"] == 1


def test_step9_overlay_through_site_applies_the_recipes_scaling(history):
    rc, data = playbook("site.yml", "-e", "@" + OVERLAY)
    assert rc == 0, failed_tasks(data)
    result = task_results(data, "Create or update cluster hpc-cluster")["localhost"]
    assert result["changed"] and result["update_plan"]["fleet_stop"] is True
    nodes = sinfo_nodes()
    assert sorted(nodes) == sorted("compute-dy-compute-nodes-%d" % i for i in range(1, 21))
    assert show_config("SuspendTime") == "300 sec"
    assert result["cluster"]["computeFleetStatus"] == "RUNNING"
    partitions = run(["sinfo", "--noheader", "--format=%R|%a"]).stdout.split()
    assert partitions == ["compute|up"], partitions
    rc, data = playbook("site.yml", "-e", "@" + OVERLAY)
    assert rc == 0, failed_tasks(data)
    assert all(stats["changed"] == 0 for stats in data["stats"].values()), data["stats"]
    assert_history_kept(history)


def test_a_second_queue_becomes_a_partition_where_jobs_run(history, tmp_path):
    target = with_extra_queue(current_config())
    rc, data, result = update(target, tmp_path)
    assert rc == 0, failed_tasks(data)
    assert result["update_plan"]["fleet_stop"] is False
    nodes = sinfo_nodes()
    assert {n for n, (_s, p) in nodes.items() if p == "extra"} == {"extra-dy-big-1", "extra-dy-big-2"}
    cpus = run(["scontrol", "show", "node", "extra-dy-big-1", "--oneliner"]).stdout
    assert "CPUTot=4 " in cpus, cpus
    job = run(["sbatch", "--parsable", "--wait", "--partition=extra", "--output=/dev/null", "--wrap", "hostname"],
              user="ec2-user", timeout=240).stdout.strip()
    row = wait_until(lambda: [j for j in sacct_jobs() if j["id"] == job and j["state"] not in LIVE_STATES], 60,
                     what="accounting to record the job's end")[0]
    assert row["state"] == "COMPLETED" and row["partition"] == "extra" and row["nodes"].startswith("extra-dy-big-")
    rc, data, again = update(target, tmp_path)
    assert rc == 0 and again["changed"] is False
    assert_history_kept(history)


def test_min_count_starts_static_nodes_that_stay_up(history, tmp_path):
    target = with_extra_queue(_without_extra(current_config()), MinCount=2, MaxCount=3)
    rc, data, result = update(target, tmp_path)
    assert rc == 0, failed_tasks(data)
    static = ["extra-st-big-1", "extra-st-big-2"]
    wait_until(lambda: all(not sinfo_nodes()[n][0].endswith(("~", "#", "%")) for n in static), 120,
               what="the static nodes to power up")
    assert "extra-dy-big-1" in sinfo_nodes()
    assert "extra-st-big-[1-2]" in show_config("SuspendExcNodes") or "extra-st-big-1" in show_config("SuspendExcNodes")
    rc, data, again = update(target, tmp_path)
    assert rc == 0 and again["changed"] is False
    assert all(not sinfo_nodes()[n][0].endswith("~") for n in static)
    assert_history_kept(history)


def _without_extra(config):
    config = copy.deepcopy(config)
    config["Scheduling"]["SlurmQueues"] = [q for q in config["Scheduling"]["SlurmQueues"] if q["Name"] != "extra"]
    return config


def test_removing_a_queue_with_a_running_job_follows_terminate(history, tmp_path):
    job = run(["sbatch", "--parsable", "--partition=extra", "--nodes=1", "--output=/dev/null", "--wrap", "sleep 600"],
              user="ec2-user").stdout.strip()
    wait_until(lambda: run(["squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip() == "RUNNING", 180,
               what="the job in the extra queue to run")
    target = _without_extra(current_config())
    assert target["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] == "TERMINATE"
    rc, data, result = update(target, tmp_path)
    assert rc == 0, failed_tasks(data)
    assert result["update_plan"]["fleet_stop"] is False
    assert not [n for n in sinfo_nodes() if n.startswith("extra-")]
    assert run(["sinfo", "--noheader", "--format=%R"]).stdout.split() == ["compute"]
    assert not [ns for ns in run(["ip", "netns", "list"]).stdout.split() if ns.startswith("extra-")]
    wait_until(lambda: run(["squeue", "-h", "-j", job, "-o", "%T"], check=False).stdout.strip() == "", 60,
               what="the terminated job to leave the queue")
    live = ("RUNNING", "PENDING", "REQUEUED")
    row = wait_until(lambda: [j for j in sacct_jobs() if j["id"] == job and j["state"] not in live],
                     60, what="the job's final state in accounting")[0]
    assert row["state"] != "COMPLETED", row
    rc, data, again = update(target, tmp_path)
    assert rc == 0 and again["changed"] is False
    assert_history_kept(history)
