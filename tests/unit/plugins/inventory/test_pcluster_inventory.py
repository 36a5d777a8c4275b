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
    write_records(state_dir, record("hpc-cluster"), record("Other-cluster-2"))
    inventory = parse(tmp_path, state_dir)
    assert hosts_of(inventory, "head_nodes") == ["Other-cluster-2-head", "hpc-cluster-head"]
    assert hosts_of(inventory, "cluster_hpc_cluster") == ["hpc-cluster-head"]
    assert hosts_of(inventory, "cluster_Other_cluster_2") == ["Other-cluster-2-head"]


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
    write_records(state_dir, record(clusterConfiguration={"Region": "us-east-1"}))
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


def _without(key):
    result = record("victim")
    del result[key]
    return result


# Records that the local provider's store refuses, with what the warning says about each.
DAMAGED_RECORDS = [
    pytest.param('{"clusterName": "victim", "clusterSta', "not complete JSON", id="truncated"),
    pytest.param("", "it is empty", id="empty-file"),
    pytest.param("[1, 2]", "not a JSON object", id="list"),
    pytest.param(record("victim", clusterName=7), "clusterName is a number", id="name-number"),
    pytest.param(record("victim", clusterName=["victim"]), "clusterName is an array", id="name-list"),
    pytest.param(record("victim", clusterName={"n": 1}), "clusterName is an object", id="name-object"),
    pytest.param(record("victim", clusterName=True), "clusterName is a boolean", id="name-bool"),
    pytest.param(record("intruder"), "is not its file name", id="name-differs"),
    pytest.param(record("victim", clusterStatus=["CREATE_COMPLETE"]), "clusterStatus is an array", id="status-list"),
    pytest.param(record("victim", headNode="running"), "headNode is a string", id="headnode-string"),
    pytest.param(record("victim", headNode__state=1), "headNode.state is a number", id="state-number"),
    pytest.param(record("victim", clusterConfiguration=["x"]), "clusterConfiguration is an array", id="config-list"),
    pytest.param(record("victim", clusterConfiguration={"Image": ["alinux2"]}), "Image is an array", id="image-list"),
    pytest.param(record("victim", region=["us-east-1"]), "region is an array", id="region-list"),
    pytest.param(_without("clusterName"), "clusterName is missing", id="missing-name"),
    pytest.param(_without("headNode"), "headNode is missing", id="missing-headnode"),
    pytest.param(_without("clusterConfiguration"), "clusterConfiguration is missing", id="missing-config"),
]


@pytest.mark.parametrize("content, says", DAMAGED_RECORDS)
def test_damaged_record_is_skipped_with_a_warning_naming_the_file(tmp_path, state_dir, capsys, content, says):
    write_records(state_dir, record("good"))
    path = state_dir / "victim.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    inventory = parse(tmp_path, state_dir)
    assert hosts_of(inventory, "head_nodes") == ["good-head"]
    err = " ".join(capsys.readouterr().err.split())
    assert str(path) in err and says in err and "remove or repair" in err


def test_symlinked_record_is_not_followed(tmp_path, state_dir, capsys):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(record("victim")))
    os.symlink(str(elsewhere), str(state_dir / "victim.json"))
    write_records(state_dir, record("good"))
    assert hosts_of(parse(tmp_path, state_dir), "head_nodes") == ["good-head"]
    assert "symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize("file_name", ["other.cluster-2", "1st", "under_score", "x"])
def test_record_whose_file_name_is_not_a_cluster_name_is_skipped(tmp_path, state_dir, capsys, file_name):
    write_records(state_dir, record("good"), record(file_name))
    assert hosts_of(parse(tmp_path, state_dir), "head_nodes") == ["good-head"]
    assert "not a cluster name" in capsys.readouterr().err


def test_state_dir_writable_by_others_is_refused(tmp_path, state_dir):
    write_records(state_dir, record("good"))
    os.chmod(str(state_dir), 0o777)
    with pytest.raises(AnsibleError, match="only root may write there"):
        parse(tmp_path, state_dir)


def test_damaged_cached_record_is_skipped(tmp_path, state_dir, capsys):
    write_records(state_dir, record("good"), record("second"))
    options = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    parse(tmp_path, state_dir, **options)
    for cached in (tmp_path / "cache").iterdir():
        data = json.loads(cached.read_text())
        records = json.loads(data["__payload__"])
        records[1]["clusterName"] = 7
        data["__payload__"] = json.dumps(records)
        cached.write_text(json.dumps(data))
    inventory = parse(tmp_path, state_dir, refresh=False, **options)
    assert hosts_of(inventory, "head_nodes") == ["good-head"]
    assert "cached cluster record" in capsys.readouterr().err


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
