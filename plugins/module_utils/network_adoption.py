# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local cluster adopts the new network ids of a restarted emulator.

The local AWS API emulator keeps its state in memory. After it restarts (a crash, a reboot), the
vpc role makes a new VPC whose subnets have new ids, and the cluster config names those. The
local cluster does not live in that network, so refusing the change (ParallelCluster's policy for
a real head node's subnet) would leave ``site.yml`` failing for ever. When *every* subnet the
cluster's record names is gone from the emulator, the record takes the new ids and nothing else
changes. A subnet that still exists means a real change of network, which stays refused.
"""

from __future__ import annotations

import copy


def _queues(config):
    return (config.get("Scheduling") or {}).get("SlurmQueues") or []


def subnet_ids(config):
    """Every subnet id the config names: the head node's and each queue's."""
    ids = []
    head = ((config.get("HeadNode") or {}).get("Networking") or {}).get("SubnetId")
    if head:
        ids.append(head)
    for queue in _queues(config):
        ids += (queue.get("Networking") or {}).get("SubnetIds") or []
    return ids


def adopt_new_subnets(current, desired, subnet_exists):
    """``current`` with ``desired``'s subnet ids when none of current's still exists, else None.

    ``subnet_exists(id)`` asks the emulator. Queues are matched by name; a queue only in one of
    the configs is left to the normal update rules.
    """
    old = subnet_ids(current)
    if not old or old == subnet_ids(desired) or any(subnet_exists(s) for s in set(old)):
        return None
    adopted = copy.deepcopy(current)
    head = ((desired.get("HeadNode") or {}).get("Networking") or {}).get("SubnetId")
    if head and (adopted.get("HeadNode") or {}).get("Networking"):
        adopted["HeadNode"]["Networking"]["SubnetId"] = head
    wanted = {q.get("Name"): (q.get("Networking") or {}).get("SubnetIds") for q in _queues(desired)}
    for queue in _queues(adopted):
        if wanted.get(queue.get("Name")) and queue.get("Networking"):
            queue["Networking"]["SubnetIds"] = list(wanted[queue["Name"]])
    return adopted if adopted != current else None
