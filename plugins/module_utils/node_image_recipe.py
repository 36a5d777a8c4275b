# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a node image (the local provider's AMI) is made of, and the key it is cached under.

An image is a Debian root filesystem carrying what ParallelCluster's AMI carries. Everything that
decides its content is in the recipe: the release, the architecture, the packages, the OS user of
its ``Image.Os`` and the customisation (files and commands, node_image_files). The recipe's hash
names the image, so an image is rebuilt exactly when its recipe changes. No I/O here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import OS_DEFAULT_USERS
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_files

# Bumped when the build's own steps change what an image holds (not its data, which is hashed).
RECIPE_FORMAT = 1

# Debian releases an image may be built from, with the Slurm series each one ships. A release
# whose Slurm is not pinned (a testing release moves) is built with what the mirror has.
RELEASES = {
    "bookworm": {"debian": "12", "slurm": "22.05"},
    "trixie": {"debian": "13", "slurm": "24.11"},
    "forky": {"debian": "14", "slurm": None},
}
DEFAULT_RELEASE = "trixie"
DEFAULT_OS = "alinux2"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# Debian architecture -> multiarch triplet (where OpenMPI's libraries live).
ARCHITECTURES = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
MACHINE_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64"}

# ParallelCluster's AMI, from Debian packages (names hold from bookworm to forky).
SLURM_PACKAGES = ("slurmctld", "slurmd", "slurmdbd", "slurm-client", "slurmrestd", "slurm-wlm-jwt-plugin",
                  "slurm-wlm-mysql-plugin", "libslurm-dev")
PACKAGES = SLURM_PACKAGES + (
    "munge", "mariadb-client", "mariadb-server",
    "openmpi-bin", "libopenmpi-dev", "libpmix-dev", "environment-modules",
    "systemd", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server", "sudo", "python3", "python3-boto3",
    "iproute2", "iputils-ping", "procps", "less", "ca-certificates", "build-essential", "gfortran",
)
# The programs whose versions an image's manifest records.
VERSIONED_PACKAGES = ("slurmctld", "munge", "mariadb-server", "openmpi-bin", "libpmix-dev", "systemd",
                      "openssh-server", "environment-modules", "python3")

_MIRROR = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")


class RecipeError(ValueError):
    """A recipe option that cannot make an image; the message names the option and the fix."""


@dataclass(frozen=True)
class Recipe:
    release: str
    os: str
    arch: str
    mirror: str = DEFAULT_MIRROR

    @property
    def os_user(self):
        return OS_DEFAULT_USERS[self.os]

    @property
    def multiarch(self):
        return ARCHITECTURES[self.arch]

    @property
    def slurm_series(self):
        return RELEASES[self.release]["slurm"]

    def content(self):
        """What decides the image's bytes (the mirror is where packages come from, not what they are)."""
        return {
            "format": RECIPE_FORMAT,
            "release": self.release,
            "arch": self.arch,
            "packages": sorted(PACKAGES),
            "os": self.os,
            "customisation": node_image_files.customisation(self.os_user, self.multiarch),
        }


def make_recipe(release=DEFAULT_RELEASE, os=DEFAULT_OS, arch=None, machine="x86_64", mirror=DEFAULT_MIRROR):
    """A checked Recipe; RecipeError names the option that is wrong and what it may be."""
    if release not in RELEASES:
        raise RecipeError("release %r is not a Debian release an image can be built from; use one of %s"
                          % (release, ", ".join(RELEASES)))
    if os not in OS_DEFAULT_USERS:
        raise RecipeError("os %r is not a ParallelCluster Image.Os; use one of %s" % (os, ", ".join(OS_DEFAULT_USERS)))
    if arch is None:
        arch = MACHINE_ARCHITECTURES.get(machine)
        if arch is None:
            raise RecipeError("this machine's architecture %r has no Debian image here; set arch to one of %s"
                              % (machine, ", ".join(ARCHITECTURES)))
    if arch not in ARCHITECTURES:
        raise RecipeError("arch %r is not supported; use one of %s" % (arch, ", ".join(ARCHITECTURES)))
    if not isinstance(mirror, str) or not _MIRROR.match(mirror):
        raise RecipeError("mirror %r is not an http(s) URL of a Debian mirror (for example %s)" % (mirror, DEFAULT_MIRROR))
    return Recipe(release=release, os=os, arch=arch, mirror=mirror)


def recipe_hash(recipe):
    """sha256 of the recipe's content as canonical JSON."""
    data = json.dumps(recipe.content(), sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def image_id(recipe):
    """The image's id, shaped like an AMI id (``ami-`` and 17 characters) so that ``Image.CustomAmi``
    can name it and pass ParallelCluster's schema."""
    return "ami-" + recipe_hash(recipe)[:17]


IMAGE_ID = re.compile(r"^ami-[0-9a-f]{17}$")


def check_image_id(value):
    """``value`` if it is an image id this module makes, else RecipeError (ids become paths)."""
    if not isinstance(value, str) or not IMAGE_ID.match(value):
        raise RecipeError("image id %r is not one of a local node image (ami- and 17 hex digits)" % (value,))
    return value
