# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a cluster's ``Image.Os`` implies on its nodes. Kept free of heavy imports: the inventory
plugin reads it for every cluster it lists."""

from __future__ import annotations


# The OS user each ParallelCluster image comes with (what users SSH in as and submit jobs with).
OS_DEFAULT_USERS = {
    "alinux2": "ec2-user",
    "alinux2023": "ec2-user",
    "rhel8": "ec2-user",
    "rhel9": "ec2-user",
    "rocky8": "rocky",
    "rocky9": "rocky",
    "ubuntu2004": "ubuntu",
    "ubuntu2204": "ubuntu",
    "ubuntu2404": "ubuntu",
}


def default_user(config):
    """The cluster's default OS user, from ``Image.Os``."""
    image = config.get("Image") if isinstance(config, dict) else None
    return OS_DEFAULT_USERS.get((image or {}).get("Os"), "ec2-user")
