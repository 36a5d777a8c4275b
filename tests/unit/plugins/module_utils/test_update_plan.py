"""Cluster updates judged by aws-parallelcluster's own update policies (its ConfigPatch)."""

import copy
import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import update_plan as up


def _queue(name, max_count=10, min_count=0, instance_type="c5n.large", cr="cr"):
    return {"Name": name, "ComputeResources": [{"Name": cr, "InstanceType": instance_type, "MinCount": min_count,
                                                "MaxCount": max_count}],
            "Networking": {"SubnetIds": ["subnet-12345678"]}}


BASE = {
    "Region": "us-east-1",
    "Image": {"Os": "alinux2"},
    "HeadNode": {"InstanceType": "m5.large", "Networking": {"SubnetId": "subnet-12345678"}, "Ssh": {"KeyName": "k"}},
    "Scheduling": {"Scheduler": "slurm", "SlurmSettings": {"ScaledownIdletime": 10}, "SlurmQueues": [_queue("compute")]},
}


def _changed(edit):
    config = copy.deepcopy(BASE)
    edit(config)
    return config


def _params(plan):
    return sorted(c["parameter"] for c in plan["changes"])


def test_max_count_increase_is_applied_with_the_fleet_running():
    target = _changed(lambda c: c["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MaxCount=20))
    plan = up.plan_update("c", BASE, target, fleet_running=True)
    assert _params(plan) == ["Scheduling.SlurmQueues[compute].ComputeResources[cr].MaxCount"]
    change = plan["changes"][0]
    assert (change["old_value"], change["new_value"], change["check"]) == (10, 20, "SUCCEEDED")
    assert change["update_policy"] == "RESIZE_UPDATE_STRATEGY_ON_REMOVE"
    assert plan["fleet_stop"] is False and plan["blocked"] == []
    assert up.touched_node_prefixes(plan["changes"]) == ["compute-dy-cr-", "compute-st-cr-"]


def test_scaledown_idletime_needs_the_fleet_stopped():
    target = _changed(lambda c: c["Scheduling"]["SlurmSettings"].update(ScaledownIdletime=5))
    plan = up.plan_update("c", BASE, target, fleet_running=True)
    assert plan["changes"][0]["update_policy"] == "COMPUTE_FLEET_STOP"
    assert plan["changes"][0]["check"] == "ACTION NEEDED"
    assert plan["fleet_stop"] is True and plan["blocked"] == []
    stopped = up.plan_update("c", BASE, target, fleet_running=False)
    assert stopped["fleet_stop"] is False and stopped["changes"][0]["check"] == "SUCCEEDED"


@pytest.mark.parametrize("strategy, fleet_stop", [(None, True), ("DRAIN", True), ("TERMINATE", False)])
def test_queue_removal_follows_the_queue_update_strategy(strategy, fleet_stop):
    base = _changed(lambda c: c["Scheduling"]["SlurmQueues"].append(_queue("extra", max_count=2)))

    def edit(config):
        config["Scheduling"]["SlurmQueues"].pop()
        if strategy:
            config["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = strategy
            base["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = strategy

    target = copy.deepcopy(base)
    edit(target)
    plan = up.plan_update("c", base, target, fleet_running=True)
    assert plan["fleet_stop"] is fleet_stop and plan["blocked"] == []
    assert up.queue_update_strategy(target) == (strategy or "COMPUTE_FLEET_STOP")
    assert up.touched_node_prefixes(plan["changes"]) == ["extra-dy-", "extra-st-"]


def test_a_new_queue_touches_no_running_node():
    target = _changed(lambda c: c["Scheduling"]["SlurmQueues"].append(_queue("gpu", max_count=2)))
    plan = up.plan_update("c", BASE, target, fleet_running=True)
    assert plan["fleet_stop"] is False and plan["changes"][0]["check"] == "SUCCEEDED"
    assert up.touched_node_prefixes(plan["changes"]) == []


def test_unsupported_changes_are_blocked_even_with_the_fleet_stopped():
    target = _changed(lambda c: c["Image"].update(Os="ubuntu2204"))
    plan = up.plan_update("c", BASE, target, fleet_running=True)
    assert plan["fleet_stop"] is False
    assert [c["parameter"] for c in plan["blocked"]] == ["Image.Os"]
    assert plan["blocked"][0]["update_policy"] == "UNSUPPORTED"


def test_a_tags_change_is_judged_in_the_configs_region(monkeypatch):
    """Tags are SUPPORTED_UNLESS_ADC: the policy asks pcluster for the region, which the config names."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    target = _changed(lambda c: c.update(Tags=[{"Key": "team", "Value": "cfd"}]))
    plan = up.plan_update("c", BASE, target, fleet_running=True)
    assert [(c["parameter"], c["update_policy"], c["check"]) for c in plan["changes"]] == [
        ("Tags", "SUPPORTED_UNLESS_ADC", "SUCCEEDED")]
    assert "AWS_DEFAULT_REGION" not in os.environ
