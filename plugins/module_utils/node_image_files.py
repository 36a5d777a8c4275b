# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The customisation a node image gets after its packages: users, files and unit states, as data.

It is what makes a Debian tree look like a ParallelCluster AMI: ParallelCluster's ids for slurm
and munge, the OS user of the image's ``Image.Os`` with passwordless sudo (as cloud-init gives
it on EC2), Slurm's profile at ``/opt/slurm/etc/slurm.sh``, the OpenMPI modulefile, sshd without
passwords, and every cluster daemon installed but disabled: the cluster's configuration enables
what each node runs, as ParallelCluster's cookbook does at boot. Secrets and per-machine
identities (munge key, SSH host keys, machine id) are removed: each instance makes its own, and
each cluster brings its munge key. This data is hashed into the image's recipe. No I/O here.
"""

from __future__ import annotations

from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_layout as layout

# ParallelCluster's reserved ids (cookbook attributes users.rb: reserved_base_uid 400) and the
# first ordinary id, which the default OS user gets on an AMI.
SLURM_UID = 401
MUNGE_UID = 402
OS_USER_UID = 1000
# Where the image's ids 0..65535 live on the machine (id_shift): an instance's user namespace maps
# them back to 0..65535, so the instance's root is no one on the machine.
ID_BASE = 0x70000000

# Cluster daemons: installed, not started at boot until the cluster's configuration says so.
DISABLED_UNITS = ("slurmctld.service", "slurmd.service", "slurmdbd.service", "slurmrestd.service",
                  "munge.service", "mariadb.service")
# Units that cannot work in an instance (no kernel modules, no consoles).
MASKED_UNITS = ("systemd-modules-load.service", "getty@tty1.service", "console-getty.service",
                "serial-getty@ttyS0.service", "sys-kernel-config.mount", "sys-kernel-debug.mount",
                "sys-kernel-tracing.mount")
# Per-machine identities and secrets a package (or debootstrap: the host name) made during the build.
REMOVED = ("/etc/munge/munge.key", "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_rsa_key.pub",
           "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ecdsa_key.pub", "/etc/ssh/ssh_host_ed25519_key",
           "/etc/ssh/ssh_host_ed25519_key.pub", "/var/lib/dbus/machine-id", "/etc/hostname")
EMPTIED = ("/etc/machine-id",)

SLURM_PROFILE = """\
# ParallelCluster's Slurm environment (cookbook template slurm.sh).
PATH=$PATH:/opt/slurm/bin
MANPATH=$MANPATH:/opt/slurm/share/man

export PATH MANPATH
"""

HOSTKEYS_UNIT = """\
[Unit]
Description=SSH host keys of this instance (an image carries none)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

SSHD_CONFIG = """\
# As on an EC2 image: keys only, no root login.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
"""

# An instance's journal lives in its layer, on the machine's disk: bounded.
JOURNALD_CONFIG = """\
[Journal]
SystemMaxUse=64M
RuntimeMaxUse=32M
"""

OPENMPI_MODULEFILE = """\
#%%Module1.0
proc ModulesHelp { } {
    puts stderr "OpenMPI MPI implementation"
}
module-whatis "OpenMPI MPI implementation"

set root /usr/lib/%(multiarch)s/openmpi
prepend-path PATH /usr/bin
prepend-path LD_LIBRARY_PATH $root/lib
prepend-path MANPATH /usr/share/man
setenv MPI_HOME $root
"""

MODULERC = """\
#%Module1.0
module-alias openmpi mpi/openmpi
"""


def users(os_user):
    """Commands (in the tree) that create ParallelCluster's users before the packages would."""
    return [
        ["groupadd", "--system", "--gid", str(SLURM_UID), "slurm"],
        ["useradd", "--system", "--uid", str(SLURM_UID), "--gid", "slurm", "--home-dir", "/home/slurm",
         "--no-create-home", "--shell", "/bin/bash", "--comment", "slurm user", "slurm"],
        ["groupadd", "--system", "--gid", str(MUNGE_UID), "munge"],
        ["useradd", "--system", "--uid", str(MUNGE_UID), "--gid", "munge", "--home-dir", "/nonexistent",
         "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "munge user", "munge"],
        ["useradd", "--uid", str(OS_USER_UID), "--user-group", "--create-home", "--shell", "/bin/bash",
         "--comment", "default OS user", os_user],
    ]


def files(os_user, multiarch):
    """Files (path, content, mode) and links (path, target) the image gets after its packages."""
    return [
        {"path": layout.SLURM_PROFILE, "content": SLURM_PROFILE, "mode": 0o644},
        {"path": "/etc/profile.d/slurm.sh", "link": layout.SLURM_PROFILE},
        {"path": "/etc/sudoers.d/90-cloud-init-users", "content": "%s ALL=(ALL) NOPASSWD:ALL\n" % os_user,
         "mode": 0o440},
        {"path": "/etc/systemd/system/hpc-ssh-hostkeys.service", "content": HOSTKEYS_UNIT, "mode": 0o644},
        {"path": "/etc/ssh/sshd_config.d/hpc-parallelcluster.conf", "content": SSHD_CONFIG, "mode": 0o644},
        {"path": "/etc/environment-modules/modules/mpi/openmpi",
         "content": OPENMPI_MODULEFILE % {"multiarch": multiarch}, "mode": 0o644},
        {"path": "/etc/environment-modules/modules/.modulerc", "content": MODULERC, "mode": 0o644},
        # systemd's default (0 to 2147483647) names groups an instance's user namespace does not
        # map, which the kernel refuses: the instance's own range lets every user ping.
        {"path": "/etc/sysctl.d/60-hpc-parallelcluster-ping.conf", "content": "net.ipv4.ping_group_range = 0 65535\n",
         "mode": 0o644},
        {"path": "/etc/systemd/journald.conf.d/hpc-parallelcluster.conf", "content": JOURNALD_CONFIG,
         "mode": 0o644},
        {"path": "/etc/hosts", "content": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
         "mode": 0o644},
        {"path": "/etc/resolv.conf", "content": "", "mode": 0o644},
    ]


def commands():
    """Commands (in the tree) after the files: unit states."""
    return [
        ["systemctl", "enable", "hpc-ssh-hostkeys.service", "ssh.service"],
        ["systemctl", "disable"] + list(DISABLED_UNITS),
        ["systemctl", "mask"] + list(MASKED_UNITS),
        # Built once here rather than by every instance at its first boot.
        ["journalctl", "--update-catalog"],
    ]


def customisation(os_user, multiarch):
    """All of it, as data (hashed into the recipe)."""
    return {"users": users(os_user), "files": files(os_user, multiarch), "commands": commands(),
            "removed": list(REMOVED), "emptied": list(EMPTIED), "layout": layout.describe(), "id_base": ID_BASE}
