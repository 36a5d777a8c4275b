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
  - With O(provider=aws) the head nodes are the running EC2 instances that ParallelCluster tagged
    C(parallelcluster:node-type=HeadNode), in every region of O(regions), and each belongs to the
    cluster named by its C(parallelcluster:cluster-name) tag; compute and login nodes are ignored.
    C(ansible_host) is the head node's public or private address (O(host_address)) and
    C(ansible_user) the default user of the cluster's OS (from the C(parallelcluster:attributes) tag).
    Credentials come from the usual AWS chain (environment, profile, instance role) or the AWS
    connection options; O(endpoint_url) points at another EC2 endpoint, an emulator for example.
  - With O(provider=local) the plugin reads the cluster records that the local provider of
    M(hpc.parallelcluster.pcluster_cluster) keeps, one JSON file per cluster in O(state_dir), each
    in the shape of C(pcluster describe-cluster). Head nodes are this machine, reached with
    C(ansible_connection=local) and the head node's own Python (C(/usr/bin/python3)), as on AWS;
    tasks that become the cluster's OS user never need the controller's virtualenv or checkout.
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
      - V(aws) finds the head nodes of a real AWS account by their EC2 tags, with the AWS
        connection options (O(regions), O(endpoint_url), O(access_key), O(profile), ...), which
        V(local) ignores.
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
      - Only clusters in these regions.
      - Empty (the default) means every region; with O(provider=aws) that is every region EC2's
        DescribeRegions lists for the account, as M(amazon.aws.aws_ec2) does.
      - E(HPC_REGION) is the region the example inventories' roles use too (C(hpc_region)), so one
        variable serves the roles, the inventory and the connection.
    type: list
    elements: str
    default: []
    env:
      - name: HPC_REGION
  filters:
    description:
      - With O(provider=aws), EC2 DescribeInstances filters as in M(amazon.aws.aws_ec2)
        (V(tag:Environment), V(vpc-id), V(instance-state-name), ...), added to the head node tag
        filter. Without an C(instance-state-name) filter only running head nodes are listed.
      - With O(provider=local), only clusters whose record matches every entry.
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
  host_address:
    description:
      - With O(provider=aws), the head node address that becomes C(ansible_host).
      - V(public-ip-address) falls back to the private address for a head node without a public one.
    type: str
    choices: ['public-ip-address', 'private-ip-address']
    default: public-ip-address
"""

EXAMPLES = r"""
# inventories/aws/pcluster.yml: head nodes of the ParallelCluster clusters of an AWS account
plugin: hpc.parallelcluster.pcluster
provider: aws
regions:
  - us-east-1
host_address: public-ip-address
keyed_groups:
  - key: pcluster_os
    prefix: os
  - key: pcluster_head_node.instanceType
    prefix: type

---
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
import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible.plugins.inventory import Cacheable
from ansible.plugins.inventory import Constructable
from ansible.utils.display import Display

from ansible_collections.hpc.parallelcluster.plugins.module_utils.ec2_head_nodes import head_node_records
from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_backend import BackendError
from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_backend import cluster_name_problem
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_records import RecordStore
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_records import record_problem
from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import OS_DEFAULT_USERS
from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import default_user

# The interpreter of a local head node: the host's own, which every account can run.
HEAD_NODE_PYTHON = "/usr/bin/python3"

try:
    import boto3
    import botocore.exceptions
    import botocore.parsers
except ImportError:
    boto3 = None

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
    """The describe-cluster records in state_dir (one <name>.json per cluster), sorted by file name.

    The local provider's own record store reads them: a file that is not a sound record (damaged,
    a link, a name that is not a cluster name, wrongly typed fields) is skipped with a warning
    naming it, so that it never hides the other clusters.
    """
    try:
        return RecordStore(state_dir).load_all(display.warning)
    except BackendError as e:
        raise AnsibleParserError(f"Cannot read the cluster records in {state_dir}: {to_native(e)}")
    except OSError as e:
        raise AnsibleParserError(f"Cannot list the cluster records in {state_dir}: {to_native(e)}")


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
        return self._fetch_aws_records()

    def _aws_session(self):
        if boto3 is None:
            raise AnsibleParserError(f"{self.NAME} with provider: aws needs boto3 and botocore")
        return boto3.session.Session(
            aws_access_key_id=self.get_option("access_key"),
            aws_secret_access_key=self.get_option("secret_key"),
            aws_session_token=self.get_option("session_token"),
            profile_name=self.get_option("profile"),
        )

    def _ec2_client(self, session, region):
        return session.client("ec2", region_name=region, endpoint_url=self.get_option("endpoint_url"))

    def _fetch_aws_records(self):
        """Head nodes by their ParallelCluster tags, region by region."""
        try:
            session = self._aws_session()
            regions = self.get_option("regions")
            if not regions:
                first = session.region_name or "us-east-1"
                described = self._ec2_client(session, first).describe_regions()["Regions"]
                regions = sorted(r["RegionName"] for r in described)
            records = []
            for region in regions:
                records.extend(head_node_records(self._ec2_client(session, region), region,
                                                 self.get_option("filters") or {}))
            return records
        except botocore.exceptions.NoCredentialsError:
            raise AnsibleParserError(f"{self.NAME}: no AWS credentials found; use the usual AWS chain "
                                     "(environment, profile, instance role) or the access_key/secret_key options")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
                botocore.parsers.ResponseParserError) as e:
            raise AnsibleParserError(f"{self.NAME}: listing ParallelCluster head nodes failed: {to_native(e)}")

    def _wanted(self, record):
        regions = self.get_option("regions")
        if regions and record.get("region") not in regions:
            return False
        if self.get_option("provider") == "aws":
            # filters are EC2 filters there, already applied by DescribeInstances.
            return is_live(record)
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
            # The local head node is this machine, driven with its own Python as a head node on AWS is:
            # the controller's virtualenv may sit in a folder that the cluster's users cannot read.
            host_vars["ansible_connection"] = "local"
            host_vars["ansible_python_interpreter"] = HEAD_NODE_PYTHON
        else:
            host_vars.update(self._aws_host_vars(record, head_node))
        return host_vars

    def _aws_host_vars(self, record, head_node):
        """How to reach a head node in AWS: its address by host_address, its OS's default user."""
        public, private = head_node.get("publicIpAddress"), head_node.get("privateIpAddress")
        address = private if self.get_option("host_address") == "private-ip-address" else (public or private)
        host_vars = {"pcluster_os": record.get("os"), "pcluster_architecture": record.get("architecture"),
                     "pcluster_tags": record.get("tags") or {},
                     "ansible_user": OS_DEFAULT_USERS.get(record.get("os"), "ec2-user")}
        host_vars["pcluster_default_user"] = host_vars["ansible_user"]
        if address:
            host_vars["ansible_host"] = address
        return host_vars

    def _sound(self, record):
        """A local record from the inventory cache passes the record store's checks again."""
        if self.get_option("provider") != "local":
            return True
        name = record.get("clusterName") if isinstance(record, dict) else None
        problem = cluster_name_problem(name) or record_problem(record, name)
        if problem:
            display.warning(f"Skipping a cached cluster record ({problem}); refresh the inventory cache (--flush-cache)")
        return not problem

    def _populate(self, records):
        strict = self.get_option("strict")
        for record in records:
            if not self._sound(record) or not self._wanted(record):
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
