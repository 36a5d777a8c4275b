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


# Where the local base file differs from the one ParallelCluster's cookbook writes (slurm.conf.erb,
# checked setting by setting against it in the unit tests), and why. docs/slurm-conf.md lists them.
_LOCAL_PATHS = "the local cluster's own path: its head node is this machine"
_NO_CGROUPS = "the local compute nodes are network namespaces of this machine, without cgroups of their own"
DIFFERENCES = {
    "StateSaveLocation": _LOCAL_PATHS,
    "SlurmdSpoolDir": (_LOCAL_PATHS + "; one short path per node, bind-mounted in its mount namespace (socket "
                       "names hold the node name and job id, and a Unix socket path has at most 108 bytes)"),
    "SlurmctldPidFile": _LOCAL_PATHS,
    "SlurmdPidFile": _LOCAL_PATHS,
    "SlurmctldLogFile": _LOCAL_PATHS,
    "SlurmdLogFile": _LOCAL_PATHS,
    "SuspendProgram": _LOCAL_PATHS,
    "ResumeProgram": _LOCAL_PATHS,
    "ResumeFailProgram": (_LOCAL_PATHS + "; a program of its own that stops the node, as ParallelCluster's "
                          "slurm_suspend does"),
    "SwitchType": "left out: switch/none is Slurm's default (no switch plugin)",
    "SlurmctldParameters": "power saving checked every second (power_save_interval=1, power_save_min_interval=0, "
                           "ParallelCluster: 30 s), so local nodes start and stop within a second of Slurm's "
                           "decision; cloud_reg_addrs: a node's address is the one it registers from",
    "RebootProgram": "left out: the local compute nodes share this machine's kernel, /sbin/reboot would restart it",
    "SuspendTimeout": "2 s instead of 120 s: Slurm keeps a node 'powering down' for SuspendTimeout (and until its "
                      "next power-saving check) before it may start again and shows it idle~; a local node stops in a "
                      "second or two (the nodes of one call side by side), and a resume that comes while the node's "
                      "suspend still runs waits for it (a lock per node)",
    "Prolog": "left out: ParallelCluster's prolog.d holds its own node scripts, which the local provider "
              "does not install",
    "Epilog": "left out: ParallelCluster's epilog.d holds its own node scripts, which the local provider "
              "does not install",
    "ProctrackType": "proctrack/linuxproc: " + _NO_CGROUPS,
    "TaskPlugin": "task/none: " + _NO_CGROUPS,
    "ReturnToService": "2 instead of 1: on AWS, ParallelCluster's clustermgtd replaces a node that went down; "
                       "the local provider has no clustermgtd, so a node that registers again is back in service",
    # Settings the local file has and ParallelCluster's does not.
    "TmpFS": "added: each local node's /tmp is a folder of its own on this machine",
    "AccountingStoreFlags": "added (job_comment): slurm_job finds its earlier submissions by their comment",
    "SlurmdParameters": "added (config_overrides): nodes keep the resources their instance type gives them, "
                        "whatever this machine has",
    "PrologSlurmctld": "added: starts a job the moment its powered-up nodes answer instead of at slurmctld's "
                       "next periodic check, up to 30 s later (Slurm 22.05)",
    "CommunicationParameters": "added (NoAddrCache): a local node gets its address when it is powered up",
}


def base_settings(cluster_name, paths):
    """The base file's settings in the cookbook's order, as (key, value) pairs."""
    p = paths
    return [
        ("ClusterName", cluster_name),
        ("SlurmUser", "slurm"),
        ("SlurmctldPort", "6820-6829"),
        ("SlurmdPort", "6818"),
        ("AuthType", "auth/munge"),
        ("StateSaveLocation", "%s/slurmctld" % p.spool),
        ("SlurmdSpoolDir", p.slurmd_spool_mount),
        ("TmpFS", "%s/tmp/%%n" % p.spool),
        ("SlurmctldPidFile", p.pid("slurmctld")),
        ("SlurmdPidFile", p.pid("slurmd-%n")),
        ("ReconfigFlags", "KeepPartState"),
        ("SlurmctldParameters", "idle_on_node_suspend,power_save_interval=1,power_save_min_interval=0,"
                                "node_reg_mem_percent=75,cloud_reg_addrs"),
        ("TreeWidth", "30"),
        ("SuspendProgram", p.bin("slurm_suspend")),
        ("ResumeProgram", p.bin("slurm_resume")),
        ("ResumeFailProgram", p.bin("slurm_resume_fail")),
        ("SuspendTimeout", "2"),
        ("PrivateData", "cloud"),
        ("ResumeRate", "0"),
        ("SuspendRate", "0"),
        ("PrologSlurmctld", p.bin(PROLOG_NAME)),
        ("SchedulerParameters", "nohold_on_prolog_fail"),
        ("BatchStartTimeout", "180"),
        ("SlurmctldTimeout", "300"),
        ("SlurmdTimeout", "180"),
        ("UnkillableStepTimeout", "180"),
        ("InactiveLimit", "0"),
        ("MinJobAge", "300"),
        ("KillWait", "30"),
        ("Waittime", "0"),
        ("MessageTimeout", "60"),
        ("AuthInfo", "cred_expire=70"),
        ("CommunicationParameters", "NoAddrCache"),
        ("EnforcePartLimits", "ALL"),
        ("SchedulerType", "sched/backfill"),
        ("ProctrackType", "proctrack/linuxproc"),
        ("MpiDefault", "none"),
        ("ReturnToService", "2"),
        ("TaskPlugin", "task/none"),
        ("SlurmdParameters", "config_overrides"),
        ("AccountingStoreFlags", "job_comment"),
        ("GresTypes", "gpu"),
        ("SelectType", "select/cons_tres"),
        ("SlurmctldDebug", "verbose"),
        ("SlurmctldLogFile", p.logfile("slurmctld")),
        ("SlurmdDebug", "info"),
        ("SlurmdLogFile", p.logfile("slurmd-%n")),
        ("DebugFlags", "Power"),
        ("JobCompType", "jobcomp/none"),
    ]


def render_slurm_conf(cluster_name, paths, slurm_etc_include="slurm_parallelcluster.conf", extra_includes=()):
    """The base file; ``extra_includes`` come last, so their settings win (the tuning file)."""
    lines = [
        "# Managed by hpc.parallelcluster (local provider), after ParallelCluster's base slurm.conf; where it",
        "# differs, docs/slurm-conf.md says why. Changes are overwritten: use the cluster config's",
        "# CustomSlurmSettings or the slurm_tuning role instead.",
    ]
    lines += ["%s=%s" % pair for pair in base_settings(cluster_name, paths)]
    lines.append("include %s/%s" % (paths.slurm_etc, slurm_etc_include))
    lines += ["include %s" % path for path in extra_includes]
    lines.append("")
    return "\n".join(lines)


# Settings slurmdbd.conf shares with slurm.conf (the slurm_rest role's JWT authentication).
SLURMDBD_SHARED_KEYS = ("AuthAltTypes", "AuthAltParameters")


def render_slurmdbd_conf(hostname, paths, db_port, database, extra_settings=None):
    """slurmdbd.conf carries the database password: write it 0600, owned by slurm.

    ``database`` is the config's accounting_database.DatabaseTarget: its user, password and database
    name, served by the head node's MariaDB on ``db_port``.

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
        "StorageUser=%s" % database.user,
        "StoragePass=%s" % database.password,
        "StorageLoc=%s" % database.name,
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
