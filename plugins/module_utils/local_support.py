# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the local provider does with each setting of ParallelCluster's cluster configuration.

ParallelCluster's schema accepts far more than the local provider builds. Nothing may be dropped
in silence: every leaf of the schema (``pcluster.schemas.cluster_schema.ClusterSchema`` of the
pinned aws-parallelcluster) is covered by one row of ``SUPPORT``, with a verdict:

- ``built``: the local provider renders or acts on the value (Slurm files, nodes, folders, records);
- ``no_effect``: accepted, and nothing on a local cluster depends on it (IAM, tags, CloudWatch);
  a config that sets it gets the path in the module's ``without_effect`` result and one warning;
- ``refused``: a local cluster cannot honour it; the module fails before anything changes, naming
  the path, why, and what to do instead.

A row's path is a pattern: list items are written ``[]`` (``SharedStorage[].MountDir``), a list of
scalars or a free-form mapping is one leaf (``Networking.SubnetIds``, ``CustomSlurmSettings``), and
a row may cover a whole section (``LoginNodes``) when every setting in it gets the same verdict. A
row with ``values`` applies only when the setting holds one of them; the row of the same path
without ``values`` applies otherwise. ``tests/unit`` walks the schema and fails on a leaf that no
row covers, so a pcluster upgrade that adds a setting must be decided here. docs/validation.md
shows the table (``scripts/local_support_table.py`` writes it).

This file is data and a walk over a config: it imports nothing of the collection, so that the
documentation script can load it alone.
"""

from __future__ import annotations

import re
from collections import namedtuple

BUILT = "built"
NO_EFFECT = "no_effect"
REFUSED = "refused"
VERDICTS = (BUILT, NO_EFFECT, REFUSED)


class Support(namedtuple("Support", "path verdict reason values")):
    """One row: a config path pattern, its verdict on the local provider, why (and for ``refused``,
    what to do instead), and the values it is limited to (None: any value)."""

    __slots__ = ()


def _row(path, verdict, reason, values=None):
    return Support(path, verdict, reason, tuple(values) if values is not None else None)


# Reasons shared by many rows.
_IAM = "IAM roles and policies of EC2 instances; local nodes make no AWS call that needs them"
_HEAD_HOST = "the head node is the target host as it is; nothing is launched or resized"
_NET = ("checked against the AWS API emulator by ParallelCluster's validators; local nodes take their addresses "
        "from local_node_network on one bridge")
_VOLUME = "EC2 volume settings; local storage is a folder on the target host"
_TAGS = "EC2 tags; the local provider launches no EC2 instance to tag"
_IMAGE = ("checked by ParallelCluster's validators against the AWS API emulator; the local cluster runs on the "
          "target host, not on an image")
_ACTIONS = ("the local provider runs no custom action scripts; remove it and run the script with an Ansible task "
            "on the head node, or use provider aws")
_SPOT = "EC2 Spot pricing and allocation; local nodes are never interrupted"
_LAUNCH = "how EC2 instances are launched; local nodes are network namespaces on the target host"
_FSX = "an FSx file system property; the local file system is a folder on the target host"
_MONITOR = "CloudWatch; the local cluster sends nothing to CloudWatch (the monitoring role makes the dashboard)"
_DEV = "replaces a part of ParallelCluster's AWS deployment; the local provider deploys none of it"
_NO_SUCH_STORAGE = ("the local provider builds shared storage of types Ebs and FsxLustre only (a folder on the "
                    "target host); remove it or use one of those types, or use provider aws")
_CAPACITY = ("the local provider reserves no capacity and the AWS API emulator has no capacity reservations; "
             "remove it, or use provider aws")
_RETAIN = ("the local provider deletes the folder it made when the cluster is deleted; keep a copy of the data "
           "yourself and remove the setting (or set Delete), or use provider aws")

SUPPORT = (
    _row("Region", BUILT, "the region of every AWS API call and of the cluster's record"),
    _row("Image.Os", BUILT, "sets the cluster's default OS user, created on the target host"),
    _row("Image.CustomAmi", NO_EFFECT, _IMAGE),
    _row("CustomS3Bucket", NO_EFFECT, "ParallelCluster's own bucket for its stack; the local provider uploads nothing"),
    _row("AdditionalResources", REFUSED, "a CloudFormation template of extra resources; the local provider has no "
                                         "CloudFormation to create them with; remove it and create them with Ansible "
                                         "tasks, or use provider aws"),
    _row("Tags", NO_EFFECT, _TAGS),
    _row("Iam", NO_EFFECT, "IAM of ParallelCluster's Lambda functions and resource names; the local provider "
                           "creates no IAM resource"),
    _row("Imds", NO_EFFECT, "the EC2 instance metadata service version; local nodes have no metadata service"),
    _row("DirectoryService", REFUSED, "the local provider joins no directory (no SSSD, no AD/LDAP users); remove "
                                      "it and create the users on the target host, or use provider aws"),
    _row("LoginNodes", REFUSED, "the local provider builds no login nodes; remove it and log in to the head node "
                                "(submit from there), or use provider aws"),
    _row("Monitoring", NO_EFFECT, _MONITOR),
    _row("AdditionalPackages.IntelSoftware.IntelHpcPlatform", REFUSED,
         "the Intel HPC Platform packages are not installed on a local cluster; set it to false or remove it, or "
         "use provider aws", values=[True]),
    _row("AdditionalPackages.IntelSoftware.IntelHpcPlatform", NO_EFFECT, "false: nothing to install"),
    _row("DeploymentSettings.LambdaFunctionsVpcConfig", NO_EFFECT, "ParallelCluster's Lambda functions; the local "
                                                                   "provider runs none"),
    _row("DeploymentSettings.DisableSudoAccessForDefaultUser", NO_EFFECT,
         "the local provider gives the default user no sudo access either way"),
    _row("DeploymentSettings.DefaultUserHome", NO_EFFECT, "the default user's home is a folder of the target host "
                                                          "either way"),
    _row("DevSettings.Timeouts.ComputeNodeBootstrapTimeout", BUILT, "becomes Slurm's ResumeTimeout"),
    _row("DevSettings.Timeouts.HeadNodeBootstrapTimeout", NO_EFFECT, "CloudFormation's wait for the head node; "
                                                                     "the local head node is the target host"),
    _row("DevSettings.Cookbook", NO_EFFECT, _DEV),
    _row("DevSettings.NodePackage", NO_EFFECT, _DEV),
    _row("DevSettings.AwsBatchCliPackage", NO_EFFECT, _DEV),
    _row("DevSettings.ClusterTemplate", NO_EFFECT, _DEV),
    _row("DevSettings.AmiSearchFilters", NO_EFFECT, "read by ParallelCluster's validators to find an image; the "
                                                    "local cluster runs on no image"),
    _row("DevSettings.InstanceTypesData", NO_EFFECT, "the local provider reads instance types from the EC2 API "
                                                     "(the emulator)"),
    _row("DevSettings.ComputeStartupTimeMetricEnabled", NO_EFFECT, _MONITOR),
    _row("DevSettings.EfaInterfaceType", NO_EFFECT, "EC2 network interface type; local nodes have no EFA device"),

    # HeadNode
    _row("HeadNode.InstanceType", NO_EFFECT, "checked against the emulator's instance types and reported in "
                                             "headNode.instanceType; " + _HEAD_HOST),
    _row("HeadNode.DisableSimultaneousMultithreading", NO_EFFECT, _HEAD_HOST),
    _row("HeadNode.Networking", NO_EFFECT, _NET),
    _row("HeadNode.Ssh.KeyName", NO_EFFECT, "checked against the emulator's key pairs; users reach the head node "
                                            "as they reach the target host"),
    _row("HeadNode.Ssh.AllowedIps", NO_EFFECT, "a security group rule; the local provider makes no security group"),
    _row("HeadNode.LocalStorage", NO_EFFECT, _VOLUME),
    _row("HeadNode.SharedStorageType", NO_EFFECT, "how the head node shares /home and /opt/slurm on AWS; local "
                                                  "nodes share the target host's folders"),
    _row("HeadNode.SharedStorageEfsSettings", NO_EFFECT, "the EFS of HeadNode.SharedStorageType; local nodes share "
                                                         "the target host's folders"),
    _row("HeadNode.Dcv.Enabled", REFUSED, "the local provider runs no NICE DCV server; set it to false or remove "
                                          "Dcv, or use provider aws", values=[True]),
    _row("HeadNode.Dcv.Enabled", NO_EFFECT, "false: no DCV server"),
    _row("HeadNode.Dcv.Port", NO_EFFECT, "no DCV server runs locally"),
    _row("HeadNode.Dcv.AllowedIps", NO_EFFECT, "no DCV server runs locally"),
    _row("HeadNode.CustomActions", REFUSED, _ACTIONS),
    _row("HeadNode.Iam", NO_EFFECT, _IAM),
    _row("HeadNode.Imds", NO_EFFECT, "the EC2 instance metadata service; the local head node has none"),
    _row("HeadNode.Image.CustomAmi", NO_EFFECT, _IMAGE),

    # Scheduling
    _row("Scheduling.Scheduler", BUILT, "the local provider runs Slurm", values=["slurm"]),
    _row("Scheduling.Scheduler", REFUSED, "the local provider runs Slurm only; set Scheduler: slurm, or use "
                                          "provider aws"),
    _row("Scheduling.ScalingStrategy", NO_EFFECT, "how ParallelCluster's resume program batches EC2 launches; "
                                                  "local nodes start one by one without capacity errors"),
    _row("Scheduling.AwsBatchQueues", REFUSED, "AWS Batch queues; the local provider runs Slurm only; use "
                                               "SlurmQueues, or use provider aws"),
    _row("Scheduling.SlurmSettings.ScaledownIdletime", BUILT, "becomes Slurm's SuspendTime (minutes * 60)"),
    _row("Scheduling.SlurmSettings.Dns", NO_EFFECT, "Route 53 names of the nodes; local nodes are reached at the "
                                                    "addresses Slurm records"),
    _row("Scheduling.SlurmSettings.QueueUpdateStrategy", BUILT, "what an update does to running nodes it changes"),
    _row("Scheduling.SlurmSettings.EnableMemoryBasedScheduling", BUILT, "SelectTypeParameters=CR_CPU_Memory"),
    _row("Scheduling.SlurmSettings.Database", BUILT,
         "Slurm accounting: slurmdbd on the head node, its user, password (from the secret) and database served by "
         "the head node's MariaDB in place of the RDS endpoint the Uri names, which the AWS API must have; a "
         "cluster without it keeps no accounting"),
    _row("Scheduling.SlurmSettings.ExternalSlurmdbd", REFUSED,
         "the local provider runs slurmdbd on the head node and cannot point slurmctld at an external one; use "
         "Database instead, or use provider aws"),
    _row("Scheduling.SlurmSettings.CustomSlurmSettings", BUILT, "written to slurm_parallelcluster.conf"),
    _row("Scheduling.SlurmSettings.CustomSlurmSettingsIncludeFile", REFUSED,
         "the local provider does not fetch and include the file; move its settings to CustomSlurmSettings, or use "
         "provider aws"),
    _row("Scheduling.SlurmSettings.MungeKeySecretArn", REFUSED,
         "the local provider generates its own munge key and does not read one from Secrets Manager; remove it, "
         "or use provider aws"),

    # Scheduling.SlurmQueues[]
    _row("Scheduling.SlurmQueues[].Name", BUILT, "the partition and node names"),
    _row("Scheduling.SlurmQueues[].CapacityType", REFUSED, "CAPACITY_BLOCK: " + _CAPACITY, values=["CAPACITY_BLOCK"]),
    _row("Scheduling.SlurmQueues[].CapacityType", NO_EFFECT, _SPOT),
    _row("Scheduling.SlurmQueues[].ComputeSettings.LocalStorage", NO_EFFECT, _VOLUME),
    _row("Scheduling.SlurmQueues[].CustomActions", REFUSED, _ACTIONS),
    _row("Scheduling.SlurmQueues[].Iam", NO_EFFECT, _IAM),
    _row("Scheduling.SlurmQueues[].Image.CustomAmi", NO_EFFECT, _IMAGE),
    _row("Scheduling.SlurmQueues[].CapacityReservationTarget", REFUSED, _CAPACITY),
    _row("Scheduling.SlurmQueues[].AllocationStrategy", NO_EFFECT, _SPOT),
    _row("Scheduling.SlurmQueues[].Networking", NO_EFFECT, _NET + "; a placement group places EC2 instances, and "
                                                                  "every local node is on the target host"),
    _row("Scheduling.SlurmQueues[].HealthChecks", NO_EFFECT, "GPU health checks; local nodes have no GPU driver"),
    _row("Scheduling.SlurmQueues[].CustomSlurmSettings", BUILT, "added to the queue's PartitionName line"),
    _row("Scheduling.SlurmQueues[].Tags", NO_EFFECT, _TAGS),
    _row("Scheduling.SlurmQueues[].JobExclusiveAllocation", BUILT, "OverSubscribe=EXCLUSIVE on the partition"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].Name", BUILT, "node names and the node feature"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].InstanceType", BUILT, "the nodes' CPUs, memory and GPUs"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].Instances", BUILT, "the nodes' CPUs, memory and GPUs (the "
                                                                         "smallest of the types)"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].MinCount", BUILT, "static nodes"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].MaxCount", BUILT, "dynamic nodes (MaxCount - MinCount)"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].SpotPrice", NO_EFFECT, _SPOT),
    _row("Scheduling.SlurmQueues[].ComputeResources[].Efa.Enabled", BUILT, "the efa node feature"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].Efa.GdrSupport", NO_EFFECT, "GPUDirect RDMA; local nodes have "
                                                                                  "no EFA device"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].DisableSimultaneousMultithreading", BUILT, "the nodes' CPUs"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].SchedulableMemory", BUILT, "the nodes' RealMemory"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].CapacityReservationTarget", REFUSED, _CAPACITY),
    _row("Scheduling.SlurmQueues[].ComputeResources[].Networking.PlacementGroup", NO_EFFECT,
         "EC2 placement; every local node is on the target host"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].HealthChecks", NO_EFFECT, "GPU health checks; local nodes "
                                                                                "have no GPU driver"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].CustomSlurmSettings", BUILT, "added to the NodeName lines"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].Tags", NO_EFFECT, _TAGS),
    _row("Scheduling.SlurmQueues[].ComputeResources[].StaticNodePriority", BUILT, "Weight of the static nodes"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].DynamicNodePriority", BUILT, "Weight of the dynamic nodes"),
    _row("Scheduling.SlurmQueues[].ComputeResources[].LaunchTemplateOverrides", NO_EFFECT, _LAUNCH),

    # SharedStorage[]
    _row("SharedStorage[].MountDir", BUILT, "a folder on the target host, shared by the nodes"),
    _row("SharedStorage[].Name", BUILT, "names the storage in the cluster's record and FSx data tasks"),
    _row("SharedStorage[].StorageType", BUILT, "a folder on the target host", values=["Ebs", "FsxLustre"]),
    _row("SharedStorage[].StorageType", REFUSED, _NO_SUCH_STORAGE),
    _row("SharedStorage[].EbsSettings.VolumeId", REFUSED,
         "the local provider makes an empty folder and cannot attach an existing EBS volume; remove it and copy "
         "the data in, or use provider aws"),
    _row("SharedStorage[].EbsSettings.SnapshotId", REFUSED,
         "the local provider makes an empty folder and cannot restore an EBS snapshot; remove it and copy the data "
         "in, or use provider aws"),
    _row("SharedStorage[].EbsSettings.DeletionPolicy", NO_EFFECT, "Delete: the folder goes with the cluster",
         values=["Delete"]),
    _row("SharedStorage[].EbsSettings.DeletionPolicy", REFUSED, _RETAIN),
    _row("SharedStorage[].EbsSettings.VolumeType", NO_EFFECT, _VOLUME),
    _row("SharedStorage[].EbsSettings.Iops", NO_EFFECT, _VOLUME),
    _row("SharedStorage[].EbsSettings.Size", NO_EFFECT, _VOLUME),
    _row("SharedStorage[].EbsSettings.KmsKeyId", NO_EFFECT, _VOLUME),
    _row("SharedStorage[].EbsSettings.Throughput", NO_EFFECT, _VOLUME),
    _row("SharedStorage[].EbsSettings.Encrypted", NO_EFFECT, _VOLUME),
    _row("SharedStorage[].EbsSettings.Raid", NO_EFFECT, _VOLUME),
    _row("SharedStorage[].EfsSettings", REFUSED, _NO_SUCH_STORAGE),
    _row("SharedStorage[].FsxOpenZfsSettings", REFUSED, _NO_SUCH_STORAGE),
    _row("SharedStorage[].FsxOntapSettings", REFUSED, _NO_SUCH_STORAGE),
    _row("SharedStorage[].FileCacheSettings", REFUSED, _NO_SUCH_STORAGE),
    _row("SharedStorage[].FsxLustreSettings.ImportPath", BUILT, "the folder is filled from this S3 path at create"),
    _row("SharedStorage[].FsxLustreSettings.ExportPath", BUILT, "where fsx_data_repository_task exports to"),
    _row("SharedStorage[].FsxLustreSettings.AutoImportPolicy", REFUSED,
         "the local folder is filled from ImportPath once, at create, and does not follow the bucket; remove it and "
         "run hpc.parallelcluster.fsx_data_repository_task with type import, or use provider aws"),
    _row("SharedStorage[].FsxLustreSettings.DataRepositoryAssociations", REFUSED,
         "the local provider imports ImportPath only; use ImportPath and ExportPath instead, or use provider aws"),
    _row("SharedStorage[].FsxLustreSettings.FileSystemId", REFUSED,
         "the local provider makes a new, empty folder and cannot mount an existing FSx file system; remove it (use "
         "ImportPath to fill it from S3), or use provider aws"),
    _row("SharedStorage[].FsxLustreSettings.BackupId", REFUSED,
         "the local provider cannot restore an FSx backup; remove it (use ImportPath to fill the folder from S3), "
         "or use provider aws"),
    _row("SharedStorage[].FsxLustreSettings.DeletionPolicy", NO_EFFECT, "Delete: the folder goes with the cluster",
         values=["Delete"]),
    _row("SharedStorage[].FsxLustreSettings.DeletionPolicy", REFUSED, _RETAIN),
    _row("SharedStorage[].FsxLustreSettings.StorageCapacity", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.DeploymentType", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.ImportedFileChunkSize", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.WeeklyMaintenanceStartTime", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.AutomaticBackupRetentionDays", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.CopyTagsToBackups", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.DailyAutomaticBackupStartTime", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.PerUnitStorageThroughput", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.KmsKeyId", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.DriveCacheType", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.DataCompressionType", NO_EFFECT, _FSX),
    _row("SharedStorage[].FsxLustreSettings.StorageType", NO_EFFECT, _FSX),
)

_INDEX = re.compile(r"\[\d+\]")


def pattern_of(path):
    """The table's pattern of a concrete config path: ``SharedStorage[1].Name`` -> ``SharedStorage[].Name``."""
    return _INDEX.sub("[]", path)


def _by_path():
    rows = {}
    for row in SUPPORT:
        rows.setdefault(row.path, []).append(row)
    return rows


_ROWS = _by_path()


def _matches(row, value):
    # bool is an int in Python: True must not match a row of 1, nor 1 a row of True.
    return any(type(value) is type(item) and value == item for item in row.values)


def row_for(pattern, value):
    """The row that decides ``value`` at ``pattern``, or None when no row has that exact path."""
    rows = _ROWS.get(pattern)
    if not rows:
        return None
    for row in rows:
        if row.values is not None and _matches(row, value):
            return row
    return next((row for row in rows if row.values is None), None)


def _walk(value, path, found):
    if value is None:
        return
    row = row_for(pattern_of(path), value) if path else None
    if row is not None:
        found.append((path, row))
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, "%s.%s" % (path, key) if path else str(key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, "%s[%d]" % (path, index), found)


def classify(config):
    """``(path, Support)`` for every setting ``config`` holds that a row decides, in config order."""
    found = []
    _walk(config if isinstance(config, dict) else {}, "", found)
    return found


def refused(config):
    """``[{"path", "reason"}]`` of the settings of ``config`` that the local provider cannot honour."""
    return [{"path": path, "reason": row.reason} for path, row in classify(config) if row.verdict == REFUSED]


def without_effect(config):
    """``[{"path", "reason"}]`` of the settings of ``config`` that change nothing on a local cluster."""
    return [{"path": path, "reason": row.reason} for path, row in classify(config) if row.verdict == NO_EFFECT]


def refusal_message(found):
    """One message for every refused setting of a config: each path with its reason, and the way out."""
    one = len(found) == 1
    lines = "\n".join("- %s: %s" % (item["path"], item["reason"]) for item in found)
    return ("provider local cannot build %d setting%s of this configuration; nothing was changed. Remove %s, or use "
            "provider aws:\n%s" % (len(found), "" if one else "s", "it" if one else "them", lines))


def warning_message(found):
    """One warning for every setting of a config that has no effect on a local cluster."""
    one = len(found) == 1
    names = "; ".join("%s (%s)" % (item["path"], item["reason"]) for item in found)
    return ("provider local: %d setting%s of this configuration change%s nothing on a local cluster (see "
            "without_effect): %s" % (len(found), "" if one else "s", "s" if one else "", names))
