"""The hpc.parallelcluster.pcluster inventory plugin (local provider) against real state dirs."""

import copy
import json
import os

import pytest

from ansible.errors import AnsibleError
from ansible.plugins.loader import inventory_loader

from inventory_runner import hosts_of, run_plugin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(ROOT, ".collections")

RECORD = {
    "clusterName": "hpc-cluster",
    "clusterStatus": "CREATE_COMPLETE",
    "computeFleetStatus": "RUNNING",
    "region": "us-east-1",
    "version": "3.15.1",
    "provider": "local",
    "scheduler": {"type": "slurm"},
    "headNode": {
        "instanceId": "i-0a1b2c3d4e5f60718",
        "instanceType": "m5.large",
        "privateIpAddress": "10.0.1.10",
        "publicIpAddress": "198.51.100.7",
        "state": "running",
        "launchTime": "2026-01-01T00:00:00.000Z",
    },
    "clusterConfiguration": {
        "Region": "us-east-1",
        "Scheduling": {
            "Scheduler": "slurm",
            "SlurmQueues": [{"Name": "compute"}, {"Name": "highmem"}],
        },
    },
    "creationTime": "2026-01-01T00:00:00.000Z",
    "lastUpdatedTime": "2026-01-01T00:10:00.000Z",
}


def record(name="hpc-cluster", **changes):
    """A describe-cluster record; changes given as dotted paths (headNode__state -> headNode.state)."""
    result = copy.deepcopy(RECORD)
    result["clusterName"] = name
    for key, value in changes.items():
        target = result
        parts = key.split("__")
        for part in parts[:-1]:
            target = target[part]
        if value is None:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value
    return result


@pytest.fixture
def state_dir(tmp_path):
    path = tmp_path / "clusters"
    path.mkdir()
    return path


def write_records(state_dir, *records):
    for rec in records:
        (state_dir / f"{rec['clusterName']}.json").write_text(json.dumps(rec))


def parse(tmp_path, state_dir, refresh=True, **options):
    """Run the real plugin on a config file in tmp_path and return the InventoryData."""
    config = {"plugin": "hpc.parallelcluster.pcluster", "provider": "local", "state_dir": str(state_dir)}
    config.update(options)
    return run_plugin(tmp_path / "test.pcluster.yml", config, refresh)


def test_missing_state_dir_gives_empty_inventory(tmp_path):
    inventory = parse(tmp_path, tmp_path / "does-not-exist")
    assert list(inventory.hosts) == []


def test_empty_state_dir_gives_empty_inventory(tmp_path, state_dir):
    inventory = parse(tmp_path, state_dir)
    assert list(inventory.hosts) == []
    assert hosts_of(inventory, "head_nodes") == []


def test_head_node_groups(tmp_path, state_dir):
    write_records(state_dir, record("hpc-cluster"), record("other.cluster-2"))
    inventory = parse(tmp_path, state_dir)
    assert hosts_of(inventory, "head_nodes") == ["hpc-cluster-head", "other.cluster-2-head"]
    assert hosts_of(inventory, "cluster_hpc_cluster") == ["hpc-cluster-head"]
    assert hosts_of(inventory, "cluster_other_cluster_2") == ["other.cluster-2-head"]


def test_host_vars(tmp_path, state_dir):
    write_records(state_dir, record())
    inventory = parse(tmp_path, state_dir)
    host_vars = inventory.get_host("hpc-cluster-head").vars
    assert host_vars["ansible_connection"] == "local"
    # The head node's own Python, which the cluster's OS user can run wherever the checkout lives.
    assert host_vars["ansible_python_interpreter"] == "/usr/bin/python3"
    assert host_vars["pcluster_cluster_name"] == "hpc-cluster"
    assert host_vars["pcluster_status"] == "CREATE_COMPLETE"
    assert host_vars["pcluster_compute_fleet_status"] == "RUNNING"
    assert host_vars["pcluster_version"] == "3.15.1"
    assert host_vars["pcluster_region"] == "us-east-1"
    assert host_vars["pcluster_scheduler"] == "slurm"
    assert host_vars["pcluster_queues"] == ["compute", "highmem"]
    assert host_vars["pcluster_head_node"] == RECORD["headNode"]
    assert host_vars["pcluster_provider"] == "local"
    assert host_vars["pcluster_cluster_configuration"] == RECORD["clusterConfiguration"]


def test_queues_without_configuration(tmp_path, state_dir):
    write_records(state_dir, record(clusterConfiguration=None))
    inventory = parse(tmp_path, state_dir)
    assert inventory.get_host("hpc-cluster-head").vars["pcluster_queues"] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"clusterStatus": "DELETE_IN_PROGRESS"},
        {"clusterStatus": "DELETE_FAILED"},
        {"clusterStatus": "DELETE_COMPLETE"},
        {"headNode__state": "stopped"},
        {"headNode__state": "pending"},
        {"headNode__state": None},
        {"headNode": None},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_skipped_clusters(tmp_path, state_dir, changes):
    write_records(state_dir, record("live"), record("gone", **changes))
    inventory = parse(tmp_path, state_dir)
    assert hosts_of(inventory, "head_nodes") == ["live-head"]
    assert "cluster_gone" not in inventory.groups


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED"])
def test_kept_statuses(tmp_path, state_dir, status):
    write_records(state_dir, record(clusterStatus=status))
    inventory = parse(tmp_path, state_dir)
    assert hosts_of(inventory, "head_nodes") == ["hpc-cluster-head"]


def test_bad_records_are_skipped_with_a_warning(tmp_path, state_dir, capsys):
    write_records(state_dir, record("good"))
    (state_dir / "broken.json").write_text("{not json")
    (state_dir / "list.json").write_text("[1, 2]")
    (state_dir / "notes.txt").write_text("ignored: not a .json file")
    (state_dir / "subdir.json").mkdir()
    inventory = parse(tmp_path, state_dir)
    assert hosts_of(inventory, "head_nodes") == ["good-head"]
    err = capsys.readouterr().err
    assert "broken.json" in err
    assert "list.json" in err


def test_compose_keyed_groups_and_groups(tmp_path, state_dir):
    write_records(
        state_dir,
        record("alpha"),
        record("beta", computeFleetStatus="STOPPED", clusterStatus="UPDATE_COMPLETE"),
    )
    inventory = parse(
        tmp_path,
        state_dir,
        compose={"ansible_host": "pcluster_head_node.privateIpAddress", "queue_count": "pcluster_queues | length"},
        keyed_groups=[
            {"key": "pcluster_queues", "prefix": "queue"},
            {"key": "pcluster_compute_fleet_status | lower", "prefix": "fleet"},
        ],
        groups={"fresh": "pcluster_status == 'CREATE_COMPLETE'"},
    )
    alpha = inventory.get_host("alpha-head").vars
    assert alpha["ansible_host"] == "10.0.1.10"
    assert alpha["queue_count"] == 2
    assert hosts_of(inventory, "queue_compute") == ["alpha-head", "beta-head"]
    assert hosts_of(inventory, "queue_highmem") == ["alpha-head", "beta-head"]
    assert hosts_of(inventory, "fleet_running") == ["alpha-head"]
    assert hosts_of(inventory, "fleet_stopped") == ["beta-head"]
    assert hosts_of(inventory, "fresh") == ["alpha-head"]


def test_strict_compose_error(tmp_path, state_dir):
    write_records(state_dir, record())
    # Not strict: a broken expression is ignored.
    inventory = parse(tmp_path, state_dir, compose={"x": "no_such_variable.attr"})
    assert "x" not in inventory.get_host("hpc-cluster-head").vars
    with pytest.raises(AnsibleError):
        parse(tmp_path, state_dir, strict=True, compose={"x": "no_such_variable.attr"})


def test_filters_and_regions(tmp_path, state_dir):
    write_records(
        state_dir,
        record("hpc-a"),
        record("hpc-b", region="eu-west-1"),
        record("lab-c", headNode__instanceType="c5n.large"),
    )
    by_name = parse(tmp_path, state_dir, filters={"clusterName": "hpc-*"})
    assert hosts_of(by_name, "head_nodes") == ["hpc-a-head", "hpc-b-head"]
    by_list = parse(tmp_path, state_dir, filters={"headNode.instanceType": ["c5n.*", "r5.*"]})
    assert hosts_of(by_list, "head_nodes") == ["lab-c-head"]
    by_missing_field = parse(tmp_path, state_dir, filters={"no.such.field": "*"})
    assert hosts_of(by_missing_field, "head_nodes") == []
    by_region = parse(tmp_path, state_dir, regions=["eu-west-1"])
    assert hosts_of(by_region, "head_nodes") == ["hpc-b-head"]


def test_hostnames_preferences(tmp_path, state_dir):
    write_records(state_dir, record("with-ip"), record("no-public", headNode__publicIpAddress=None))
    inventory = parse(tmp_path, state_dir, hostnames=["public-ip-address", "instance-id"])
    assert sorted(inventory.hosts) == ["198.51.100.7", "i-0a1b2c3d4e5f60718"]
    by_field = parse(tmp_path, state_dir, hostnames=["headNode.privateIpAddress"])
    assert sorted(by_field.hosts) == ["10.0.1.10"]


def test_verify_file(tmp_path):
    plugin = inventory_loader.get("hpc.parallelcluster.pcluster")
    for name, expected in [
        ("pcluster.yml", True),
        ("site.pcluster.yaml", True),
        ("hosts.yml", False),
        ("pcluster.json", False),
    ]:
        path = tmp_path / name
        path.write_text("plugin: hpc.parallelcluster.pcluster\n")
        assert plugin.verify_file(str(path)) is expected, name
    assert not plugin.verify_file(str(tmp_path / "missing.pcluster.yml"))


def test_cache(tmp_path, state_dir):
    cache_dir = tmp_path / "cache"
    options = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(cache_dir)}
    write_records(state_dir, record("first"))
    assert hosts_of(parse(tmp_path, state_dir, refresh=False, **options), "head_nodes") == ["first-head"]
    write_records(state_dir, record("second"))
    # Served from the cache while it is valid ...
    assert hosts_of(parse(tmp_path, state_dir, refresh=False, **options), "head_nodes") == ["first-head"]
    # ... and refreshed (and rewritten) when the caller asks for fresh data.
    assert hosts_of(parse(tmp_path, state_dir, refresh=True, **options), "head_nodes") == ["first-head", "second-head"]
    assert hosts_of(parse(tmp_path, state_dir, refresh=False, **options), "head_nodes") == ["first-head", "second-head"]
