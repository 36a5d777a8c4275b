# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ParallelCluster's deny list of Slurm settings (the keys its CustomSlurmSettings refuse), from the
installed aws-parallelcluster, or from a copy of the pinned release's list where it is not installed.

The slurm_tuning role runs on any Slurm cluster, not only ParallelCluster's: a controller without
aws-parallelcluster still gets the same list. A unit test keeps the copy equal to the pinned
release's ``pcluster.validators.slurm_settings_validator.SLURM_SETTINGS_DENY_LIST``.
"""

from __future__ import annotations

# aws-parallelcluster 3.15.1, pcluster/validators/slurm_settings_validator.py.
PINNED_DENY_LIST = {
    "SlurmConf": {
        "Global": ["epilog", "grestypes", "launchparameters", "prolog", "reconfigflags", "resumefailprogram",
                   "resumeprogram", "resumetimeout", "slurmctldhost", "slurmctldlogfile", "slurmctldparameters",
                   "slurmdlogfile", "slurmuser", "suspendexcnodes", "suspendprogram", "suspendtime", "taskplugin",
                   "treewidth"],
        "Accounting": ["accountingstoragetype", "accountingstoragehost", "accountingstorageport",
                       "accountingstorageuser", "jobacctgathertype"],
    },
    "Queue": {"Global": ["nodes", "partitionname", "resumetimeout", "state", "suspendtime", "oversubscribe"]},
    "ComputeResource": {"Global": ["cpus", "gres", "nodeaddr", "nodehostname", "nodename", "state", "weight"]},
}


def deny_list():
    """The installed aws-parallelcluster's list, else the pinned release's copy."""
    try:
        from pcluster.validators.slurm_settings_validator import SLURM_SETTINGS_DENY_LIST
    except ImportError:
        return PINNED_DENY_LIST
    return SLURM_SETTINGS_DENY_LIST


def cluster_level_keys(accounting=False):
    """The lower-case keys denied at the cluster level (slurm.conf), with the accounting ones if asked."""
    denied = deny_list()["SlurmConf"]
    keys = list(denied["Global"]) + (list(denied["Accounting"]) if accounting else [])
    return sorted(set(key.lower() for key in keys))
