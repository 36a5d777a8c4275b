# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a cluster update changes, judged by ParallelCluster's own update policies.

aws-parallelcluster's ConfigPatch compares two configurations through its schema, where every
field carries its update policy (SUPPORTED, COMPUTE_FLEET_STOP, QUEUE_UPDATE_STRATEGY,
UNSUPPORTED, ...), and checks each change against the running cluster. The policies ask the
cluster a few questions (is the compute fleet running, is the head node stopped); the local
provider answers them from its own record, so a change is allowed or refused exactly as
``pcluster update-cluster`` would.
"""

from __future__ import annotations

import contextlib
import os

try:
    from pcluster.config.config_patch import ConfigPatch
    HAS_CONFIG_PATCH = True
except ImportError:  # reported by cluster_config's HAS_PCLUSTER check before anything runs
    ConfigPatch = None
    HAS_CONFIG_PATCH = False

SUCCEEDED = "SUCCEEDED"
FLEET_STOP_STRATEGY = "COMPUTE_FLEET_STOP"


class _Stack:
    scheduler = "slurm"


class _HeadNode:
    def __init__(self, state):
        self.state = state


class ClusterView:
    """The questions ParallelCluster's update policies ask about the cluster being updated."""

    def __init__(self, name, fleet_running, head_node_state="running"):
        self.name = name
        self.stack_name = name
        self.stack = _Stack()
        self.head_node_instance = _HeadNode(head_node_state)
        self._fleet_running = fleet_running

    def has_running_capacity(self, updated_value=False):
        return self._fleet_running

    def has_running_login_nodes(self, pool_name=None):
        return False

    def get_running_capacity(self):
        return 0


def _path(path, key):
    return ".".join(list(path) + ([key] if key else []))


@contextlib.contextmanager
def _region_of(config):
    """Some policies ask pcluster's get_region() (a Tags change asks whether the region is an ADC
    one); ``pcluster update-cluster`` has the cluster's region in AWS_DEFAULT_REGION by then."""
    saved = os.environ.get("AWS_DEFAULT_REGION")
    if not saved and config.get("Region"):
        os.environ["AWS_DEFAULT_REGION"] = config["Region"]
    try:
        yield
    finally:
        if not saved:
            os.environ.pop("AWS_DEFAULT_REGION", None)


def _check(name, base, target, fleet_running):
    patch = ConfigPatch(ClusterView(name, fleet_running), base, target)
    with _region_of(target):
        allowed, rows = patch.check()
    header, body = rows[0], rows[1:]
    changes = []
    for row in body:
        item = dict(zip(header, row))
        changes.append({
            "parameter": _path(item["param_path"], item["parameter"]),
            "old_value": item["old value"],
            "new_value": item["new value"],
            "update_policy": item["update_policy"],
            "check": item["check"],
            "reason": None if item["reason"] in (None, "-") else item["reason"],
            "action_needed": item["action_needed"],
        })
    return allowed, changes


def plan_update(name, current, target, fleet_running):
    """The update's plan: every change with its policy, and whether the fleet has to stop.

    ``fleet_stop`` is True when the update is refused with the fleet running but allowed with
    it stopped (ParallelCluster's "ACTION NEEDED: stop the compute fleet"); ``blocked`` lists
    the changes that stay refused either way (UNSUPPORTED ones, for example).
    """
    allowed, changes = _check(name, current, target, fleet_running)
    plan = {"changes": changes, "fleet_stop": False, "blocked": []}
    if allowed:
        return plan
    if fleet_running:
        allowed_stopped, stopped_changes = _check(name, current, target, False)
        if allowed_stopped:
            plan["fleet_stop"] = True
            return plan
        changes = stopped_changes
    plan["blocked"] = [c for c in changes if c["check"] != SUCCEEDED]
    return plan


def queue_update_strategy(config):
    settings = ((config.get("Scheduling") or {}).get("SlurmSettings") or {})
    return settings.get("QueueUpdateStrategy") or FLEET_STOP_STRATEGY


def touched_node_prefixes(changes):
    """Node name prefixes (``<queue>-st-``/``<queue>-dy-``, or ``...-<cr>-``) of the nodes a plan changes.

    A change under ``SlurmQueues[q].ComputeResources[cr]`` touches that compute resource's nodes,
    any other change under ``SlurmQueues[q]`` the whole queue; the addition of a queue or compute
    resource touches no running node.
    """
    prefixes = set()
    for change in changes:
        parts = change["parameter"].split(".")
        queue = next((p[len("SlurmQueues["):-1] for p in parts if p.startswith("SlurmQueues[")), None)
        resource = next((p[len("ComputeResources["):-1] for p in parts if p.startswith("ComputeResources[")), None)
        if change["old_value"] is None and parts[-1] in ("SlurmQueues", "ComputeResources"):
            continue
        if queue is None and parts[-1] == "SlurmQueues" and isinstance(change["old_value"], dict):
            queue = change["old_value"].get("Name")
        if queue is None:
            continue
        if resource is None and parts[-1] == "ComputeResources" and isinstance(change["old_value"], dict):
            resource = change["old_value"].get("Name")
        if resource:
            prefixes.update(("%s-st-%s-" % (queue, resource), "%s-dy-%s-" % (queue, resource)))
        else:
            prefixes.update(("%s-st-" % queue, "%s-dy-" % queue))
    return sorted(prefixes)
