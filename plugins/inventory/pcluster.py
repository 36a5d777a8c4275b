# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: pcluster
short_description: Head nodes of AWS ParallelCluster-style clusters
version_added: 0.1.0
description:
  - Adds one host per cluster, the cluster's head node, so that configuration roles (Slurm
    tuning, software stack, job tools) can target head nodes without knowing their addresses.
  - Each host is in the groups C(head_nodes) and C(cluster_<name>) (the cluster name with every
    character that is not a letter, digit or underscore replaced by C(_)), and gets the cluster's
    status, version, region, scheduler, queue names and head node description as host variables.
  - Clusters whose status starts with C(DELETE_) and clusters whose head node is not C(running)
    are left out.
  - With O(provider=local) the plugin reads the cluster records that the local provider of
    M(hpc.parallelcluster.pcluster_cluster) keeps, one JSON file per cluster in O(state_dir), each
    in the shape of C(pcluster describe-cluster). Head nodes are this machine, reached with
    C(ansible_connection=local) and the controller's Python.
  - The configuration file must end with C(pcluster.yml) or C(pcluster.yaml).
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - amazon.aws.common.plugins
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    type: str
    choices: ['hpc.parallelcluster.pcluster', 'pcluster']
  provider:
    description:
      - Where the clusters are found.
      - V(local) reads the local provider's cluster records from O(state_dir).
      - V(aws) is reserved for clusters of a real AWS account and is not implemented in this
        version; the AWS connection options (O(regions), O(endpoint_url), O(access_key), ...)
        exist for it and are ignored by V(local).
    type: str
    choices: ['local', 'aws']
    default: local
    env:
      - name: HPC_PROVIDER
  state_dir:
    description:
      - Directory of the local provider's cluster records (C(<cluster name>.json)).
      - A missing or empty directory gives an empty inventory.
    type: path
    default: /var/lib/hpc-parallelcluster/clusters
    env:
      - name: HPC_PCLUSTER_STATE_DIR
  regions:
    description:
      - Only clusters in these regions. Empty (the default) means every region.
    type: list
    elements: str
    default: []
  filters:
    description:
      - Only clusters whose record matches every entry.
      - A key is a field of the C(describe-cluster) record, with dots for nested fields
        (V(clusterStatus), V(version), V(headNode.instanceType),
        V(clusterConfiguration.Scheduling.Scheduler)).
      - A value is a shell-style pattern (V(hpc-*)) or a list of patterns, any of which may match.
    type: dict
    default: {}
  hostnames:
    description:
      - Name of each host, in order of preference; the first one that gives a non-empty value wins.
      - V(head-node-name) is C(<clusterName>-head). V(instance-id), V(private-ip-address),
        V(public-ip-address) and V(cluster-name) are the head node's instance id and addresses and
        the cluster name. Anything else is a dotted field of the C(describe-cluster) record.
    type: list
    elements: str
    default: ['head-node-name']
"""

EXAMPLES = r"""
# inventories/local/pcluster.yml: head nodes of the clusters of the local provider
plugin: hpc.parallelcluster.pcluster
provider: local

---
# Only complete clusters, named by the head node's address, grouped by queue and by fleet status
plugin: hpc.parallelcluster.pcluster
provider: local
state_dir: /var/lib/hpc-parallelcluster/clusters
filters:
  clusterStatus: [CREATE_COMPLETE, UPDATE_COMPLETE]
hostnames:
  - private-ip-address
  - head-node-name
compose:
  ansible_host: pcluster_head_node.privateIpAddress
keyed_groups:
  - key: pcluster_queues
    prefix: queue
  - key: pcluster_compute_fleet_status | lower
    prefix: fleet
groups:
  updatable: pcluster_status.endswith('_COMPLETE')
"""

import fnmatch
import json
import os
import re
import sys

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible.plugins.inventory import Cacheable
from ansible.plugins.inventory import Constructable
from ansible.utils.display import Display

from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import default_user

display = Display()

HEAD_NODES_GROUP = "head_nodes"
CLUSTER_GROUP_PREFIX = "cluster_"

# Short hostname preferences in the style of amazon.aws.aws_ec2; anything else is a record field.
HOSTNAME_FIELDS = {
    "instance-id": "headNode.instanceId",
    "private-ip-address": "headNode.privateIpAddress",
    "public-ip-address": "headNode.publicIpAddress",
    "cluster-name": "clusterName",
}


def record_field(record, path):
    """Value of a dotted field of a describe-cluster record, or None when any part is missing."""
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def cluster_group_name(cluster_name):
    """cluster_<name> with every character that is not valid in a group name replaced by _."""
    return CLUSTER_GROUP_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", cluster_name)


def queue_names(record):
    """Names of the Slurm queues of the cluster's configuration, in configuration order."""
    queues = record_field(record, "clusterConfiguration.Scheduling.SlurmQueues")
    if not isinstance(queues, list):
        return []
    return [queue["Name"] for queue in queues if isinstance(queue, dict) and queue.get("Name")]


def is_live(record):
    """A cluster is inventoried unless it is being deleted or its head node is not running."""
    status = str(record.get("clusterStatus") or "")
    head_state = record_field(record, "headNode.state")
    return not status.startswith("DELETE_") and head_state == "running"


def matches_filters(record, filters):
    """Every filter must match; a filter matches when any of its patterns matches the field."""
    for path, patterns in filters.items():
        value = record_field(record, path)
        if value is None:
            return False
        if not isinstance(patterns, list):
            patterns = [patterns]
        if not any(fnmatch.fnmatchcase(str(value), str(pattern)) for pattern in patterns):
            return False
    return True


def load_local_records(state_dir):
    """The describe-cluster records in state_dir (one <name>.json per cluster), sorted by file name."""
    try:
        names = sorted(os.listdir(state_dir))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise AnsibleParserError(f"Cannot list the cluster records in {state_dir}: {to_native(e)}")

    records = []
    for name in names:
        path = os.path.join(state_dir, name)
        if not name.endswith(".json") or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError) as e:
            # A record being rewritten or damaged must not hide the other clusters.
            display.warning(f"Skipping cluster record {path}: {to_native(e)}")
            continue
        if not isinstance(record, dict) or not record.get("clusterName"):
            display.warning(f"Skipping {path}: not a cluster record (no clusterName)")
            continue
        records.append(record)
    return records


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "hpc.parallelcluster.pcluster"

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        return path.endswith(("pcluster.yml", "pcluster.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)

        # Standard Cacheable flow: read the cache unless told to refresh, write it when it was
        # refreshed or missing.
        use_cache = self.get_option("cache")
        cache_key = self.get_cache_key(path)
        records = None
        update_cache = use_cache and not cache
        if use_cache and cache:
            try:
                records = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if records is None:
            records = self._fetch_records()
        if update_cache:
            self._cache[cache_key] = records

        self._populate(records)

    def _fetch_records(self):
        provider = self.get_option("provider")
        if provider == "local":
            return load_local_records(self.get_option("state_dir"))
        raise AnsibleParserError(
            f"provider '{provider}' is not supported by this version of {self.NAME}; use provider: local"
        )

    def _wanted(self, record):
        regions = self.get_option("regions")
        if regions and record.get("region") not in regions:
            return False
        return is_live(record) and matches_filters(record, self.get_option("filters") or {})

    def _hostname(self, record):
        for preference in self.get_option("hostnames"):
            if preference == "head-node-name":
                return f"{record['clusterName']}-head"
            value = record_field(record, HOSTNAME_FIELDS.get(preference, preference))
            if value not in (None, ""):
                return str(value)
        return None

    def _host_vars(self, record):
        head_node = record.get("headNode") or {}
        host_vars = {
            "pcluster_cluster_name": record["clusterName"],
            "pcluster_status": record.get("clusterStatus"),
            "pcluster_compute_fleet_status": record.get("computeFleetStatus"),
            "pcluster_version": record.get("version"),
            "pcluster_region": record.get("region"),
            "pcluster_provider": record.get("provider", self.get_option("provider")),
            "pcluster_scheduler": record_field(record, "scheduler.type"),
            "pcluster_queues": queue_names(record),
            "pcluster_head_node": head_node,
            "pcluster_creation_time": record.get("creationTime"),
            "pcluster_last_updated_time": record.get("lastUpdatedTime"),
            "pcluster_cluster_configuration": record.get("clusterConfiguration") or {},
            "pcluster_default_user": default_user(record.get("clusterConfiguration") or {}),
        }
        if self.get_option("provider") == "local":
            # The local head node is this machine: no SSH, and the Python that runs Ansible.
            host_vars["ansible_connection"] = "local"
            host_vars["ansible_python_interpreter"] = sys.executable
        return host_vars

    def _populate(self, records):
        strict = self.get_option("strict")
        for record in records:
            if not self._wanted(record):
                continue
            hostname = self._hostname(record)
            if not hostname:
                display.warning(
                    f"Skipping cluster {record['clusterName']}: none of the hostnames preferences has a value"
                )
                continue

            cluster_group = cluster_group_name(record["clusterName"])
            self.inventory.add_group(HEAD_NODES_GROUP)
            self.inventory.add_group(cluster_group)
            self.inventory.add_host(hostname, group=HEAD_NODES_GROUP)
            self.inventory.add_host(hostname, group=cluster_group)

            host_vars = self._host_vars(record)
            for name, value in host_vars.items():
                self.inventory.set_variable(hostname, name, value)

            self._set_composite_vars(self.get_option("compose"), host_vars, hostname, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, hostname, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, hostname, strict=strict)
