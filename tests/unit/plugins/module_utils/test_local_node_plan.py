"""The power plan gives every compute node its place on the node network (address and host-side
interface). A node keeps its place through an update, so that a node still running under the old
plan never shares an address or an interface name with a node started under the new one."""

import json
import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_layout
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend, stable_indexes
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths


def queue(name, min_count, max_count):
    return {"Name": name, "ComputeResources": [{"Name": "big", "InstanceType": "c5n.xlarge",
                                                "MinCount": min_count, "MaxCount": max_count}]}


def config(*queues):
    return {"Scheduling": {"Scheduler": "slurm", "SlurmQueues": list(queues)}}


@pytest.fixture
def backend(tmp_path):
    paths = LocalPaths.under(tmp_path)
    return LocalClusterBackend(run=None, instance_types=None, paths=paths, node_network="10.253.0.0/28")


def save(backend, plan):
    os.makedirs(os.path.dirname(backend.paths.power_plan), exist_ok=True)
    with open(backend.paths.power_plan, "w") as handle:
        json.dump(plan, handle)


def test_known_nodes_keep_their_index_and_new_ones_take_the_lowest_free():
    previous = {"a": 0, "b": 1, "c": 2, "gone": 3}
    assert stable_indexes(["new-1", "c", "a", "new-2", "new-3"], previous) == \
        {"a": 0, "c": 2, "new-1": 1, "new-2": 3, "new-3": 4}


def test_a_duplicated_index_on_disk_is_given_once():
    assert stable_indexes(["a", "b"], {"a": 0, "b": 0}) == {"a": 0, "b": 1}


def test_an_update_that_turns_dynamic_nodes_static_keeps_the_running_nodes_addresses(backend):
    before = backend._node_plan(config(queue("compute", 0, 2), queue("extra", 0, 2)))
    save(backend, before)
    after = backend._node_plan(config(queue("compute", 0, 2), queue("extra", 2, 3)))
    for node in ("compute-dy-big-1", "compute-dy-big-2", "extra-dy-big-1"):
        assert after["nodes"][node] == before["nodes"][node]
    # extra-dy-big-2 is gone; the static nodes take its place and the next free one.
    kept = {before["nodes"][n]["addr"] for n in ("compute-dy-big-1", "compute-dy-big-2", "extra-dy-big-1")}
    new = {after["nodes"][n]["addr"] for n in ("extra-st-big-1", "extra-st-big-2")}
    assert not kept & new and len(new) == 2
    assert len({info["addr"] for info in after["nodes"].values()}) == len(after["nodes"])
    assert len({info["index"] for info in after["nodes"].values()}) == len(after["nodes"])


def test_a_plan_without_a_file_on_disk_numbers_nodes_in_config_order(backend):
    cfg = config(queue("compute", 1, 3))
    plan = backend._node_plan(cfg)
    assert [(plan["nodes"][n]["index"], plan["nodes"][n]["addr"]) for n in slurm_layout.all_node_names(cfg)] == [
        (0, "10.253.0.2"), (1, "10.253.0.3"), (2, "10.253.0.4")]


def test_indexes_on_disk_beyond_the_network_are_not_kept(backend):
    save(backend, {"nodes": {"compute-dy-big-1": {"index": 200, "addr": "10.253.0.202"}}})
    plan = backend._node_plan(config(queue("compute", 0, 1)))
    assert plan["nodes"]["compute-dy-big-1"] == {"index": 0, "addr": "10.253.0.2"}


def test_a_damaged_plan_on_disk_is_not_a_failure(backend):
    os.makedirs(os.path.dirname(backend.paths.power_plan), exist_ok=True)
    with open(backend.paths.power_plan, "w") as handle:
        handle.write("{not json")
    assert backend._node_plan(config(queue("compute", 0, 1)))["nodes"]["compute-dy-big-1"]["index"] == 0


def test_the_network_size_is_checked_against_the_node_count(backend):
    with pytest.raises(Exception, match="holds 13"):
        backend._node_plan(config(queue("compute", 0, 14)))
