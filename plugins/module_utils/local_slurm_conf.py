# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The head node's own Slurm files on the local provider: base ``slurm.conf`` and ``slurmdbd.conf``.

ParallelCluster's AMI ships a base ``slurm.conf`` that ends by including
``slurm_parallelcluster.conf`` (rendered from the cluster config by slurm_layout). This is
that base file for a machine without cgroups or systemd, where compute nodes are network
namespaces powered up and down by the local power program.
"""

from __future__ import annotations


# The controller prolog that waits for a job's nodes to power up (see render_wait_for_nodes_prolog).
PROLOG_NAME = "slurmctld_prolog_wait_nodes"

# sinfo's compact states of a node that is still coming up for a job: powering up (#), not yet
# resumed (~) or not responding (*) while allocated.
_COMING_UP = r"^(alloc|mix|comp)[~*]$|#$"


def render_wait_for_nodes_prolog(slurm_conf, sinfo="/usr/bin/sinfo", timeout_s=600):
    """PrologSlurmctld program: return once every node of the job answers.

    Slurm 22.05 launches a job on nodes it powered up only when its background loop next checks
    configuring jobs (every 30 s), or when a controller prolog ends. This prolog ends as soon as
    the nodes have registered, so jobs start within a second of their nodes. It always exits 0:
    a node that never comes up is handled by Slurm's own ResumeTimeout, as without the prolog.
    """
    polls = int(timeout_s * 4)
    return "\n".join([
        "#!/bin/sh",
        "# Managed by hpc.parallelcluster (local provider): PrologSlurmctld, run by slurmctld as SlurmUser.",
        "export SLURM_CONF=%s" % slurm_conf,
        '[ -n "$SLURM_JOB_NODELIST" ] || exit 0',
        "i=0",
        'while [ "$i" -lt %d ]; do' % polls,
        '  %s --noheader --Node --nodes="$SLURM_JOB_NODELIST" --format=%%t | grep -Eq \'%s\' || exit 0' % (sinfo, _COMING_UP),
        "  sleep 0.25",
        "  i=$((i + 1))",
        "done",
        "exit 0",
        "",
    ])


def render_slurm_conf(cluster_name, paths, slurm_etc_include="slurm_parallelcluster.conf", extra_includes=()):
    """The base file; ``extra_includes`` come last, so their settings win (the tuning file)."""
    p = paths
    lines = [
        "# Managed by hpc.parallelcluster (local provider). Changes are overwritten;",
        "# use the cluster config's CustomSlurmSettings or the slurm_tuning role instead.",
        "ClusterName=%s" % cluster_name,
        "SlurmUser=slurm",
        "SlurmctldPort=6817",
        "SlurmdPort=6818",
        "AuthType=auth/munge",
        "CryptoType=crypto/munge",
        "StateSaveLocation=%s/slurmctld" % p.spool,
        # One short path, bind-mounted per node in its own mount namespace: slurmstepd's socket
        # names hold the node name and job id, and a Unix socket path is limited to 108 bytes.
        "SlurmdSpoolDir=%s" % p.slurmd_spool_mount,
        "TmpFS=%s/tmp/%%n" % p.spool,
        "SlurmctldPidFile=%s" % p.pid("slurmctld"),
        "SlurmdPidFile=%s" % p.pid("slurmd-%n"),
        "SlurmctldLogFile=%s" % p.logfile("slurmctld"),
        "SlurmdLogFile=%s" % p.logfile("slurmd-%n"),
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        "# No cgroups on the nodes: track processes from /proc (accounting gathers there too).",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherFrequency=30",
        "# Keep job comments in accounting: slurm_job finds its earlier submissions by them.",
        "AccountingStoreFlags=job_comment",
        "MpiDefault=pmix",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "# Nodes keep the resources their instance type gives them, whatever this machine has.",
        "SlurmdParameters=config_overrides",
        "# ParallelCluster's scaling: nodes are powered up by ResumeProgram, down after SuspendTime.",
        "ResumeProgram=%s" % p.bin("slurm_resume"),
        "SuspendProgram=%s" % p.bin("slurm_suspend"),
        "ResumeFailProgram=%s" % p.bin("slurm_resume_fail"),
        "# Starts a job the moment its powered-up nodes answer, instead of at slurmctld's next periodic",
        "# check (up to 30 s later). Read at slurmctld start: changing it needs a restart.",
        "PrologSlurmctld=%s" % p.bin(PROLOG_NAME),
        "ResumeRate=0",
        "SuspendRate=0",
        "SuspendTimeout=60",
        "ReturnToService=2",
        "SlurmctldParameters=idle_on_node_suspend,power_save_interval=1,power_save_min_interval=0,cloud_reg_addrs",
        "PrivateData=cloud",
        "TreeWidth=65533",
        "CommunicationParameters=NoAddrCache",
        "MessageTimeout=30",
        "SlurmctldTimeout=300",
        "SlurmdTimeout=180",
        "KillWait=10",
        "InactiveLimit=0",
        "MinJobAge=300",
        "include %s/%s" % (p.slurm_etc, slurm_etc_include),
    ]
    lines += ["include %s" % path for path in extra_includes]
    lines.append("")
    return "\n".join(lines)


# Settings slurmdbd.conf shares with slurm.conf (the slurm_rest role's JWT authentication).
SLURMDBD_SHARED_KEYS = ("AuthAltTypes", "AuthAltParameters")


def render_slurmdbd_conf(hostname, paths, db_port, db_password, extra_settings=None):
    """slurmdbd.conf carries the database password: write it 0600, owned by slurm.

    ``extra_settings`` ({key: value}, only SLURMDBD_SHARED_KEYS are used) come last, one line each,
    in SLURMDBD_SHARED_KEYS order: the lines the slurm_rest role adds to an existing file.
    """
    p = paths
    extra = ["%s=%s" % (key, extra_settings[key]) for key in SLURMDBD_SHARED_KEYS if key in (extra_settings or {})]
    return "\n".join([
        "# Managed by hpc.parallelcluster (local provider).",
        "AuthType=auth/munge",
        "DbdHost=%s" % hostname,
        "DbdPort=6819",
        "SlurmUser=slurm",
        "PidFile=%s" % p.pid("slurmdbd"),
        "LogFile=%s" % p.logfile("slurmdbd"),
        "DebugLevel=info",
        "StorageType=accounting_storage/mysql",
        "StorageHost=127.0.0.1",
        "StoragePort=%d" % db_port,
        "StorageUser=slurm",
        "StoragePass=%s" % db_password,
        "StorageLoc=slurm_acct_db",
    ] + extra + [""])


def accounting_settings(hostname):
    """What slurm_parallelcluster.conf gets when the cluster has accounting (as ParallelCluster)."""
    return {
        "AccountingStorageType": "accounting_storage/slurmdbd",
        "AccountingStorageHost": hostname,
        "AccountingStoragePort": "6819",
        # No cgroups on the local nodes: gather from /proc instead of ParallelCluster's cgroup plugin.
        "JobAcctGatherType": "jobacct_gather/linux",
    }
