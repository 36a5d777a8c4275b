# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local cluster adopts the ids a restarted emulator gives its network and its database secret.

The local AWS API emulator keeps its state in memory. After it restarts (a crash, a reboot), the
vpc role makes a new VPC whose subnets have new ids, the accounting_database role a new password
secret with a new ARN, and the cluster config names those. The local cluster does not live in
that network, so refusing the change (ParallelCluster's policy for a real head node's subnet, and
a fleet stop for a new Database secret) would leave ``site.yml`` failing for ever. When *every*
subnet the cluster's record names is gone from the emulator, the record takes the new ids; when
the record's secret is gone, it takes the new ARN; nothing else changes. A subnet or secret that
still exists means a real change, which follows the update policies.
"""

from __future__ import annotations

import copy

from ansible_collections.hpc.parallelcluster.plugins.module_utils.accounting_database import database_settings


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


def adopt_new_secret(current, desired, secret_exists):
    """``current`` with ``desired``'s Database.PasswordSecretArn when current's secret is gone, else None.

    ``secret_exists(arn)`` asks the emulator. The rest of the Database section is left to the
    normal update rules.
    """
    old = (database_settings(current) or {}).get("PasswordSecretArn")
    new = (database_settings(desired) or {}).get("PasswordSecretArn")
    if not old or not new or old == new or secret_exists(old):
        return None
    adopted = copy.deepcopy(current)
    adopted["Scheduling"]["SlurmSettings"]["Database"]["PasswordSecretArn"] = new
    return adopted
