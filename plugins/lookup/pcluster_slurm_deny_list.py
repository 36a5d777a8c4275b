# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: pcluster_slurm_deny_list
short_description: The slurm.conf settings ParallelCluster manages and refuses in custom settings
version_added: 0.1.0
description:
  - Returns the lower-case slurm.conf parameter names of aws-parallelcluster's deny list for
    C(CustomSlurmSettings) (cluster level), read from the installed C(pcluster) package, so that
    tuning is refused exactly where ParallelCluster would refuse it.
  - Without aws-parallelcluster on the controller (a Slurm cluster that is not ParallelCluster's),
    the list of the release this collection pins is used; it is the same list.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  accounting:
    description: Include the accounting settings, denied when the cluster has Slurm accounting.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Refuse what ParallelCluster owns
  hpc.parallelcluster.slurm_settings:
    settings: {DefMemPerCPU: 1000}
    denied: "{{ query('hpc.parallelcluster.pcluster_slurm_deny_list') }}"
"""

RETURN = r"""
_raw:
  description: Lower-case parameter names.
  type: list
  elements: str
  sample: [epilog, prolog, resumeprogram, suspendtime, accountingstoragetype]
"""

from ansible.plugins.lookup import LookupBase
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_deny_list import cluster_level_keys


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return cluster_level_keys(accounting=self.get_option("accounting"))
