# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attributes shared by the collection's modules: what they run on and their action groups."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Use as C(hpc.parallelcluster.attributes) (POSIX targets), plus C(.aws_group) or C(.slurm_group)."""

    # Every module of the collection runs on a POSIX host.
    DOCUMENTATION = r"""
options: {}
attributes:
  platform:
    platforms: posix
"""

    # Modules that call AWS (or the local provider's emulator): one module_defaults entry sets the
    # connection for them and for amazon.aws's modules.
    AWS_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/hpc.parallelcluster.aws) in C(module_defaults) to set the AWS connection once.
    support: full
    membership:
      - hpc.parallelcluster.aws
notes:
  - C(module_defaults) on C(group/hpc.parallelcluster.aws) sets O(region), O(endpoint_url) and the
    credentials once for this module, the other AWS modules of this collection and every
    C(amazon.aws) module (the group extends C(amazon.aws.aws)). With the local provider,
    O(endpoint_url) is the emulator's, for example V(http://127.0.0.1:5000).
"""

    # Modules that run Slurm's commands on the head node.
    SLURM_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/hpc.parallelcluster.slurm) in C(module_defaults) to set shared options once.
    support: full
    membership:
      - hpc.parallelcluster.slurm
"""
