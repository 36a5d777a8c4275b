#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pcluster_cluster_info
short_description: List AWS ParallelCluster clusters or describe one
version_added: 0.1.0
description:
  - Without O(name), lists the clusters the way C(pcluster list-clusters) does.
  - With O(name), describes that cluster the way C(pcluster describe-cluster) does, with its
    configuration as a dictionary; the result is empty when the cluster does not exist.
  - With O(provider=aws) the clusters are those of an AWS account, through aws-parallelcluster's
    C(pcluster.lib); with O(provider=local), those of the local provider on the target host.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  name:
    description:
      - Name of the cluster to describe. Without it, every cluster is listed.
      - ParallelCluster's rule applies - 2 to 60 characters, letters, digits and hyphens only,
        starting with a letter; any other name is refused before anything is read.
    type: str
    aliases: [cluster_name]
  provider:
    description:
      - Where the clusters live, as for M(hpc.parallelcluster.pcluster_cluster).
    type: str
    choices: [local, aws]
    default: local
  cluster_status:
    description:
      - When listing, only clusters in one of these ParallelCluster statuses.
    type: list
    elements: str
    choices: [CREATE_IN_PROGRESS, CREATE_FAILED, CREATE_COMPLETE, DELETE_IN_PROGRESS, DELETE_FAILED,
              UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED]
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: N/A
  platform:
    platforms: posix
requirements:
  - aws-parallelcluster
  - boto3
"""

EXAMPLES = r"""
- name: Every cluster of the account's region that is ready
  hpc.parallelcluster.pcluster_cluster_info:
    provider: aws
    region: us-east-1
    cluster_status: [CREATE_COMPLETE, UPDATE_COMPLETE]
  register: clusters

- name: One cluster, with its configuration
  hpc.parallelcluster.pcluster_cluster_info:
    provider: aws
    name: hpc-cluster
  register: hpc

- name: Show its head node
  ansible.builtin.debug:
    msg: "{{ hpc.cluster.headNode.publicIpAddress }}"
  when: hpc.cluster
"""

RETURN = r"""
clusters:
  description:
    - Without O(name), the clusters in C(pcluster list-clusters)'s shape (clusterName,
      clusterStatus, cloudformationStackStatus, region, version, scheduler).
  returned: when name is not given
  type: list
  elements: dict
cluster:
  description:
    - With O(name), the cluster in C(pcluster describe-cluster)'s shape, with
      C(clusterConfiguration) as a dictionary; empty when it does not exist.
  returned: when name is given
  type: dict
  sample: {"clusterName": "hpc-cluster", "clusterStatus": "CREATE_COMPLETE", "computeFleetStatus": "RUNNING"}
exists:
  description: With O(name), whether the cluster exists.
  returned: when name is given
  type: bool
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils.backend_factory import cluster_backend

STATUSES = ["CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED",
            "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED"]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", aliases=["cluster_name"]),
            provider=dict(type="str", default="local", choices=["local", "aws"]),
            cluster_status=dict(type="list", elements="str", default=[], choices=STATUSES),
        ),
        supports_check_mode=True,
    )
    name = module.params["name"]
    try:
        if name is not None:
            cb.check_cluster_name(name)
        backend = cluster_backend(module)
        if name is not None:
            cluster = backend.describe(name) or {}
            module.exit_json(changed=False, cluster=cluster, exists=bool(cluster))
        wanted = module.params["cluster_status"]
        clusters = [c for c in backend.list_clusters() if not wanted or c.get("clusterStatus") in wanted]
        module.exit_json(changed=False, clusters=clusters)
    except ImportError as exc:
        module.fail_json(msg="provider %s needs aws-parallelcluster: %s" % (module.params["provider"], exc))
    except cb.BackendError as exc:
        module.fail_json(msg=str(exc), failures=exc.failures, **exc.details)


if __name__ == "__main__":
    main()
