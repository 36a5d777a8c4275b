# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that run Slurm's commands (sbatch, squeue, scontrol, sacct)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Use as C(hpc.parallelcluster.slurm)."""

    DOCUMENTATION = r"""
options:
  slurm_conf:
    description:
      - Slurm configuration file used by the commands (C(SLURM_CONF)). Defaults to the
        C(SLURM_CONF) environment variable, then C(/opt/slurm/etc/slurm.conf).
    type: path
"""
