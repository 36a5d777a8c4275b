#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: local_image
short_description: The local provider's AMI - a cached Debian root filesystem that nodes boot from
version_added: 0.1.0
description:
  - Builds, once, a node image - a Debian root filesystem made with C(debootstrap) - carrying what
    an AWS ParallelCluster AMI carries - Slurm (slurmctld, slurmd, slurmdbd, slurmrestd with JWT,
    the client commands), munge, the MariaDB client and server, OpenMPI with PMIx, Environment
    Modules with the C(mpi/openmpi) modulefile (alias C(openmpi)), compilers, systemd,
    openssh-server, sudo and python3.
  - "ParallelCluster's paths hold in the image - C(/opt/slurm/etc) is Slurm's configuration folder
    (C(/etc/slurm) links to it), C(/opt/slurm/bin) and C(/opt/slurm/sbin) link to every Slurm
    program, C(/opt/slurm/lib/slurm) to the plugins and C(/etc/profile.d/slurm.sh) to
    C(/opt/slurm/etc/slurm.sh), as the cookbook lays them out."
  - The users are ParallelCluster's - C(slurm) (uid 401) and C(munge) (uid 402) - and the default OS
    user of O(os) (uid 1000, passwordless sudo as cloud-init gives it on EC2, no password, no key).
    The instance launcher installs the key pair's public key for that user, as EC2 does with C(KeyName).
  - The image's files are owned by ids moved by 1879048192 (0x70000000); each instance runs in a user
    namespace that maps them back to 0..65535, so the instance's root is no one on this machine.
  - Every cluster daemon (slurmctld, slurmd, slurmdbd, slurmrestd, munge, mariadb) is installed and
    disabled; the cluster's configuration enables what each node runs. The image has no munge key,
    SSH host keys or machine id - each instance makes its own, each cluster brings its munge key.
  - The image is keyed by a hash of its recipe (release, architecture, packages, users and the
    customisation) and rebuilt only when that changes. Its id looks like an AMI id
    (C(ami-) and 17 hex digits) so that C(Image.CustomAmi) can name it.
  - A build takes about a minute with a fast mirror (it needs the mirror and about 1.5 GB). It is
    made in a temporary folder of the cache and renamed into place whole; builds are serialised
    by a lock in the cache folder. The progress of each step is returned in RV(progress) and
    logged to the system log.
  - Runs as root on the machine that hosts the instances.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  release:
    description:
      - The Debian release. It sets the Slurm version - V(bookworm) (Debian 12) ships 22.05,
        V(trixie) (Debian 13) 24.11; V(forky) is Debian's testing release and its Slurm is not pinned.
      - A build fails when the mirror gives a Slurm of another series than the release is pinned to.
    type: str
    choices: [bookworm, trixie, forky]
    default: trixie
  os:
    description:
      - The ParallelCluster C(Image.Os) the image stands for; it decides the default OS user -
        C(ec2-user) for V(alinux2), V(alinux2023), V(rhel8) and V(rhel9), C(ubuntu) for the Ubuntu
        releases, C(rocky) for the Rocky releases (ParallelCluster's C(OS_MAPPING)).
      - The default matches the recipe's cluster configuration (C(Image.Os) V(alinux2)).
    type: str
    choices: [alinux2, alinux2023, rhel8, rhel9, rocky8, rocky9, ubuntu2004, ubuntu2204, ubuntu2404]
    default: alinux2
  arch:
    description: The Debian architecture; by default this machine's.
    type: str
    choices: [amd64, arm64]
  mirror:
    description:
      - The Debian mirror packages come from. It is not part of the recipe's hash - a mirror is
        where packages come from, not what they are; the manifest records the versions installed.
    type: str
    default: http://deb.debian.org/debian
  cache_dir:
    description:
      - The image cache, root's alone (mode 0700). Under /var/cache because an image can always
        be built again from its recipe; removing the folder removes every image.
    type: path
    default: /var/cache/hpc-parallelcluster/images
  state:
    description:
      - V(present) builds the image unless the cache has it; V(absent) removes it from the cache,
        unless an instance recorded by the launcher still runs from it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - hpc.parallelcluster.attributes
attributes:
  check_mode:
    support: full
    details: Reports the image id and whether it would be built or removed, without doing it.
  diff_mode:
    support: full
    details: The image id and whether the cache holds it, before and after.
notes:
  - Needs C(debootstrap) and util-linux's C(unshare) on the machine.
seealso:
  - name: AWS ParallelCluster cookbook
    description: How the official AMIs install Slurm under /opt/slurm.
    link: https://github.com/aws/aws-parallelcluster-cookbook
"""

EXAMPLES = r"""
- name: The default node image (Debian 13, Slurm 24.11, OS user ec2-user)
  hpc.parallelcluster.local_image:
  register: node_image

- name: A Debian 12 image (Slurm 22.05) whose OS user is ubuntu
  hpc.parallelcluster.local_image:
    release: bookworm
    os: ubuntu2204

- name: Remove the default image from the cache
  hpc.parallelcluster.local_image:
    state: absent
"""

RETURN = r"""
image_id:
  description: The image's id (C(ami-) and the first 17 digits of its recipe's hash).
  returned: always
  type: str
  sample: ami-f90ca4d25ef00bd73
path:
  description: The image's root filesystem.
  returned: always
  type: str
  sample: /var/cache/hpc-parallelcluster/images/ami-f90ca4d25ef00bd73/rootfs
built:
  description: Whether this run built the image (or in check mode would have).
  returned: always
  type: bool
manifest:
  description:
    - What the image is - release, OS, OS user and uid, package versions (Slurm in C(slurm_version)),
      build time in seconds and the recipe's full hash.
  returned: when the image exists after the run
  type: dict
  sample:
    image_id: ami-f90ca4d25ef00bd73
    release: trixie
    os: alinux2
    os_user: ec2-user
    os_user_uid: 1000
    slurm_version: 24.11.5-4+deb13u1
    build_seconds: 64
progress:
  description: The build's progress messages, in order (empty when nothing was built).
  returned: always
  type: list
  elements: str
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe as recipes
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_store import InstanceStore
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_build import Builder
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache
from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import OS_DEFAULT_USERS


def argument_spec():
    return dict(
        release=dict(type="str", default=recipes.DEFAULT_RELEASE, choices=list(recipes.RELEASES)),
        os=dict(type="str", default=recipes.DEFAULT_OS, choices=sorted(OS_DEFAULT_USERS)),
        arch=dict(type="str", choices=sorted(recipes.ARCHITECTURES)),
        mirror=dict(type="str", default=recipes.DEFAULT_MIRROR),
        cache_dir=dict(type="path", default="/var/cache/hpc-parallelcluster/images"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )


def users_of(image_id, store):
    """Instances recorded as running from ``image_id``."""
    return [r["instance_id"] for r in store.records() if r.get("image_id") == image_id]


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if os.geteuid() != 0:
        module.fail_json(msg="local_image builds and removes root's node images: run it as root (become: true)")
    try:
        recipe = recipes.make_recipe(params["release"], params["os"], params["arch"], platform.machine(),
                                     params["mirror"])
    except recipes.RecipeError as exc:
        module.fail_json(msg=str(exc))
    image_id = recipes.image_id(recipe)
    cache = ImageCache(params["cache_dir"])
    progress = []

    def report(message):
        progress.append(message)
        module.log("local_image: %s" % message)

    try:
        before = cache.manifest(image_id)
        result = dict(changed=False, image_id=image_id, path=cache.rootfs(image_id), built=False, progress=progress)
        if params["state"] == "present":
            result["changed"] = result["built"] = before is None
            if before is None and not module.check_mode:
                manifest, result["built"] = Builder(cache, progress=report).ensure(recipe)
                result["changed"] = result["built"]
            else:
                manifest = before
            if manifest:
                result["manifest"] = manifest
        else:
            result["changed"] = before is not None
            if before is not None:
                running = users_of(image_id, InstanceStore())
                if running:
                    module.fail_json(msg="image %s is used by instances %s; terminate them first"
                                     % (image_id, ", ".join(running)), **result)
                if not module.check_mode:
                    cache.remove(image_id)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="node image %s: %s" % (image_id, exc), image_id=image_id, progress=progress)
    after_present = params["state"] == "present"
    result["diff"] = {"before": {"image_id": image_id, "present": before is not None},
                      "after": {"image_id": image_id, "present": after_present}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
