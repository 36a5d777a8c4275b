# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the local provider keeps things on the head node.

Slurm's configuration lives where ParallelCluster puts it (``/opt/slurm/etc``), so tuning, job
scripts and tools are the same on both providers. Everything else the local cluster owns sits
under directories of its own, which is what lets a delete leave nothing behind.

The run and log directories are root's alone (0755): root writes PID files and logs there, and
the Slurm daemons open theirs as root before dropping to SlurmUser. Only MariaDB's socket
directory under the run directory belongs to mysql, and root writes nothing in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class LocalPaths:
    slurm_etc: str = "/opt/slurm/etc"
    node_package: str = "/opt/parallelcluster/local"
    state: str = "/var/lib/hpc-parallelcluster"
    spool: str = "/var/spool/hpc-parallelcluster"
    run: str = "/run/hpc-parallelcluster"
    log: str = "/var/log/hpc-parallelcluster"
    sudoers: str = "/etc/sudoers.d/hpc-parallelcluster"
    etc_slurm_link: str = "/etc/slurm/slurm.conf"
    profile: str = "/etc/profile.d/hpc-parallelcluster.sh"

    @classmethod
    def under(cls, root):
        """Every path below ``root``, laid out as on a head node: a cluster's files in a scratch folder,
        which is how the tests run the backend without touching this machine's own folders."""
        return cls(**{field.name: os.path.join(str(root), field.default.lstrip("/")) for field in fields(cls)})

    @property
    def slurm_conf(self):
        return os.path.join(self.slurm_etc, "slurm.conf")

    @property
    def slurmd_spool_mount(self):
        """Where each node's own spool directory is bind-mounted in the node's mount namespace."""
        return os.path.join(self.spool, "node")

    @property
    def tuning_include(self):
        """The slurm_settings module's include file (slurm_tuning role), included last when it exists."""
        return os.path.join(self.slurm_etc, "slurm_tuning.conf")

    @property
    def rest_include(self):
        """The slurm_rest role's include file (JWT settings), included after the tuning file when it exists."""
        return os.path.join(self.slurm_etc, "slurm_rest.conf")

    @property
    def slurmdbd_conf(self):
        return os.path.join(self.slurm_etc, "slurmdbd.conf")

    @property
    def clusters(self):
        """One JSON record per cluster, in the describe-cluster shape (read by the inventory)."""
        return os.path.join(self.state, "clusters")

    def record(self, name):
        return os.path.join(self.clusters, "%s.json" % name)

    @property
    def mariadb_dir(self):
        return os.path.join(self.state, "mariadb")

    @property
    def mariadb_cnf(self):
        return os.path.join(self.state, "mariadb.cnf")

    @property
    def mariadb_run(self):
        """MariaDB drops privileges to mysql: its socket and PID file need a directory of its own."""
        return os.path.join(self.run, "mariadb")

    @property
    def mariadb_socket(self):
        return os.path.join(self.mariadb_run, "mariadb.sock")

    @property
    def mariadb_pid(self):
        return os.path.join(self.mariadb_run, "mariadb.pid")

    @property
    def power_program(self):
        return os.path.join(self.node_package, "bin", "pcluster-local-power")

    @property
    def power_plan(self):
        return os.path.join(self.node_package, "power-plan.json")

    def bin(self, name):
        return os.path.join(self.node_package, "bin", name)

    @property
    def instance_metadata(self):
        """Each compute node's instance metadata (%n: the node), where a Spot notice is posted."""
        return os.path.join(self.run, "instance-metadata", "%n")

    @property
    def power_lock(self):
        """Each compute node's power lock (%n: the node): a resume waits for the suspend of the node."""
        return os.path.join(self.run, "power-locks", "%n.lock")

    def pid(self, name):
        return os.path.join(self.run, "%s.pid" % name)

    def logfile(self, name):
        return os.path.join(self.log, "%s.log" % name)
