"""ParallelCluster's verdict and ours, side by side, on the same shared storage and naming settings.

ParallelCluster's verdict is its own: its schema, then its whole validator tree
(``SlurmClusterConfig.validate``) with AWS answered by a mock that says every resource exists,
keeping the validators about shared storage, names and sizes. Ours is ``validate_cluster_config``
for each provider. They must agree, except where a case says why the project refuses more:
the local provider makes every MountDir a world-writable folder on this machine, and some values
would be read otherwise by Slurm or by the code that renders its files.
"""

import copy
import os
from unittest import mock

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import (
    ClusterConfigError,
    validate_cluster_config,
)

from recipe_config import valid_recipe

COMPARED = frozenset([
    "SharedStorageMountDirValidator", "SharedStorageNameValidator", "DuplicateNameValidator",
    "DuplicateMountDirValidator", "OverlappingMountDirValidator", "NumberOfStorageValidator", "S3BucketUriValidator",
    "FsxS3Validator", "FsxStorageCapacityValidator", "SharedFileCacheNotHomeValidator", "ClusterNameValidator",
    "NameValidator", "ComputeResourceSizeValidator", "MaxCountValidator", "CustomSlurmSettingsValidator",
    "CustomSlurmNodeNamesValidator",
])

LOCAL_1777 = "local provider: the MountDir becomes a world-writable folder on this machine"
LOCAL_PATH = "local provider: a relative MountDir would be created under the working directory"
LOCAL_NESTED = ("local provider: a MountDir inside another (world-writable) one; pcluster 3.15 means to refuse it "
                "but hands OverlappingMountDirValidator the storage names")
SLURM_LINE = "slurm.conf would read the value as a second setting"
ONE_LINE = "a control character in a path or name"
WHOLE_NUMBER = "pcluster's schema reads 2.5 as 2; the Slurm layout reads the value as written"


def pcluster_verdict(config, cluster_name):
    """ParallelCluster's own refusals: schema errors, or ERROR-level failures of the compared validators."""
    from marshmallow import ValidationError
    from pcluster.aws.aws_api import AWSApi
    from pcluster.schemas.cluster_schema import ClusterSchema
    from pcluster.validators.common import FailureLevel, ValidatorContext

    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": config.get("Region", "us-east-1")}), \
            mock.patch.object(AWSApi, "instance"):
        try:
            loaded = ClusterSchema(cluster_name=cluster_name).load(copy.deepcopy(config))
        except ValidationError as exc:
            return ["schema: %s" % exc.messages]
        failures = loaded.validate(context=ValidatorContext())
    return ["%s: %s" % (f.validator_type, f.message) for f in failures
            if f.level == FailureLevel.ERROR and f.validator_type in COMPARED]


def our_verdict(config, cluster_name, provider):
    try:
        validate_cluster_config(copy.deepcopy(config), cluster_name, provider=provider)
    except ClusterConfigError as exc:
        return exc.errors
    return []


def _mount(index, value):
    return lambda c: c["SharedStorage"][index].update(MountDir=value)


def _name(index, value):
    return lambda c: c["SharedStorage"][index].update(Name=value)


def _fsx(**settings):
    return lambda c: c["SharedStorage"][1]["FsxLustreSettings"].update(settings)


def _queue(**settings):
    return lambda c: c["Scheduling"]["SlurmQueues"][0].update(settings)


def _cr(**settings):
    return lambda c: c["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(settings)


def _ebs_volumes(count):
    def edit(config):
        config["SharedStorage"] = [{"Name": "ebs%d" % i, "StorageType": "Ebs", "MountDir": "/ebs%d" % i}
                                   for i in range(count)]
    return edit


def _two_queues_named(name):
    def edit(config):
        queues = config["Scheduling"]["SlurmQueues"]
        queues.append(copy.deepcopy(queues[0]))
        queues[1]["Name"] = name
    return edit


def _database(config):
    config["Scheduling"].setdefault("SlurmSettings", {})["Database"] = {
        "Uri": "accounting.example.com:3306", "UserName": "admin",
        "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:accounting-AbCdEf"}


def _nothing(config):
    return config


# (id, edit, cluster name, field our refusal names or None, why the project refuses more: {provider: reason})
CASES = [
    ("recipe", _nothing, "hpc", None, {}),
    ("mountdir-shared", _mount(0, "/data"), "hpc", None, {}),
    ("mountdir-with-blank", _mount(0, "/my data"), "hpc", None, {}),
    ("mountdir-etc", _mount(0, "/etc"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-etc-relative", _mount(0, "etc"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-tmp", _mount(0, "/tmp"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-usr", _mount(0, "/usr"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-bin", _mount(0, "/bin"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-root", _mount(0, "/root"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-var", _mount(0, "/var"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-run", _mount(0, "/run"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-opt", _mount(0, "/opt"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-opt-slurm", _mount(0, "/opt/slurm"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-opt-parallelcluster", _mount(0, "/opt/parallelcluster"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-NONE", _mount(0, "NONE"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-trailing-slash", _mount(0, "/data/"), "hpc", "SharedStorage[0].MountDir", {}),
    ("mountdir-duplicate", _mount(1, "/shared"), "hpc", "SharedStorage[1].MountDir", {}),
    ("mountdir-overlap", _mount(1, "/shared/fsx"), "hpc", "SharedStorage[1].MountDir", {"local": LOCAL_NESTED}),
    ("storage-name-overlap", lambda c: (_name(0, "data")(c), _name(1, "data/fsx")(c)), "hpc", "SharedStorage[1].Name",
     {}),
    ("mountdir-home", _mount(0, "/home"), "hpc", "SharedStorage[0].MountDir", {"local": LOCAL_1777}),
    ("mountdir-sudoers-d", _mount(0, "/etc/sudoers.d"), "hpc", "SharedStorage[0].MountDir", {"local": LOCAL_1777}),
    ("mountdir-slurm-etc", _mount(0, "/opt/slurm/etc"), "hpc", "SharedStorage[0].MountDir", {"local": LOCAL_1777}),
    ("mountdir-state-folder", _mount(0, "/var/lib/hpc-parallelcluster"), "hpc", "SharedStorage[0].MountDir",
     {"local": LOCAL_1777}),
    ("mountdir-run-folder", _mount(0, "/run/hpc-parallelcluster"), "hpc", "SharedStorage[0].MountDir",
     {"local": LOCAL_1777}),
    ("mountdir-under-tmp", _mount(0, "/tmp/shared"), "hpc", "SharedStorage[0].MountDir", {"local": LOCAL_1777}),
    ("mountdir-relative", _mount(0, "data"), "hpc", "SharedStorage[0].MountDir", {"local": LOCAL_PATH}),
    ("mountdir-newline", _mount(0, "/data\n/etc"), "hpc", "SharedStorage[0].MountDir",
     {"aws": ONE_LINE, "local": ONE_LINE}),
    ("storage-name-semicolon", _name(0, "a;b"), "hpc", "SharedStorage[0].Name", {}),
    ("storage-name-blank", _name(0, "my storage"), "hpc", "SharedStorage[0].Name", {}),
    ("storage-name-default", _name(0, "default"), "hpc", "SharedStorage[0].Name", {}),
    ("storage-name-31", _name(0, "s" * 31), "hpc", "SharedStorage[0].Name", {}),
    ("storage-name-30", _name(0, "s" * 30), "hpc", None, {}),
    ("storage-name-duplicate", _name(1, "shared-storage"), "hpc", "SharedStorage[1].Name", {}),
    ("import-path-http", _fsx(ImportPath="http://bucket/x"), "hpc", "SharedStorage[1].FsxLustreSettings.ImportPath",
     {}),
    ("export-path-bare", _fsx(ExportPath="bucket/output"), "hpc", "SharedStorage[1].FsxLustreSettings.ExportPath", {}),
    ("fsx-capacity-1000", _fsx(StorageCapacity=1000), "hpc", "SharedStorage[1].FsxLustreSettings", {}),
    ("fsx-capacity-4800", _fsx(StorageCapacity=4800), "hpc", None, {}),
    ("five-ebs-volumes", _ebs_volumes(5), "hpc", None, {}),
    ("six-ebs-volumes", _ebs_volumes(6), "hpc", "SharedStorage", {}),
    ("cluster-name-digit-first", _nothing, "9lives", "ClusterName", {}),
    ("cluster-name-underscore", _nothing, "my_cluster", "ClusterName", {}),
    ("cluster-name-61", _nothing, "c" * 61, "ClusterName", {}),
    ("cluster-name-41", _nothing, "c" * 41, None, {}),
    ("cluster-name-41-accounting", _database, "c" * 41, "ClusterName", {}),
    ("cluster-name-40", _nothing, "c" * 40, None, {}),
    ("queue-name-uppercase", _queue(Name="Compute"), "hpc", "Scheduling.SlurmQueues[0].Name", {}),
    ("queue-name-default", _queue(Name="default"), "hpc", "Scheduling.SlurmQueues[0].Name", {}),
    ("queue-name-26", _queue(Name="q" * 26), "hpc", "Scheduling.SlurmQueues[0].Name", {}),
    ("queue-name-duplicate", _two_queues_named("compute"), "hpc", "Scheduling.SlurmQueues[1].Name", {}),
    ("queue-name-second", _two_queues_named("other"), "hpc", None, {}),
    ("cr-name-underscore", _cr(Name="c_1"), "hpc", "Scheduling.SlurmQueues[0].ComputeResources[0].Name", {}),
    ("max-count-below-min", _cr(MinCount=5, MaxCount=2), "hpc",
     "Scheduling.SlurmQueues[0].ComputeResources[0].MaxCount", {}),
    ("max-count-fraction", _cr(MaxCount=2.5), "hpc", "Scheduling.SlurmQueues[0].ComputeResources[0].MaxCount",
     {"aws": WHOLE_NUMBER, "local": WHOLE_NUMBER}),
    ("custom-denied", _queue(CustomSlurmSettings={"State": "UP"}), "hpc",
     "Scheduling.SlurmQueues[0].CustomSlurmSettings.State", {}),
    ("custom-smuggled", _queue(CustomSlurmSettings={"GraceTime": "1 SlurmUser=root"}), "hpc",
     "Scheduling.SlurmQueues[0].CustomSlurmSettings.GraceTime", {"aws": SLURM_LINE, "local": SLURM_LINE}),
]


def _params():
    for case_id, edit, cluster_name, field, stricter in CASES:
        for provider in ("aws", "local"):
            yield pytest.param(edit, cluster_name, field, provider, stricter.get(provider),
                               id="%s-%s" % (case_id, provider))


@pytest.mark.parametrize("edit, cluster_name, field, provider, reason", list(_params()))
def test_verdicts_side_by_side(edit, cluster_name, field, provider, reason):
    config = valid_recipe()
    edit(config)
    theirs = pcluster_verdict(config, cluster_name)
    ours = our_verdict(config, cluster_name, provider)
    if reason:
        assert not theirs, "ParallelCluster refuses it too (%s): drop the reason" % theirs
        assert ours, "the project accepts what it should refuse: %s" % reason
    else:
        assert bool(ours) == bool(theirs), "ParallelCluster: %s; ours (%s): %s" % (theirs, provider, ours)
    if ours:
        assert field in [found for found, dummy in ours], ours


def test_the_comparison_covers_both_verdicts():
    refused = [case for case in CASES if case[3] is not None and not case[4]]
    accepted = [case for case in CASES if case[3] is None]
    stricter = [case for case in CASES if case[4]]
    assert len(refused) >= 30 and len(accepted) >= 8 and len(stricter) >= 8


def test_every_kind_of_shared_storage_is_checked_without_asking_aws(monkeypatch):
    """The validators that look an ID, bucket, key or snapshot up in AWS stay with pcluster: nothing is asked here."""
    import botocore.client

    asked = []

    def refuse(self, operation, params):
        asked.append(operation)
        raise AssertionError("AWS was asked for %s" % operation)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    config = valid_recipe()
    config["SharedStorage"][0]["EbsSettings"].update(SnapshotId="snap-0123456789abcdef0", KmsKeyId="key")
    config["SharedStorage"][1]["FsxLustreSettings"]["AutoImportPolicy"] = "NEW"
    config["SharedStorage"] += [
        {"Name": "efs", "StorageType": "Efs", "MountDir": "/efs", "EfsSettings": {"Encrypted": True, "KmsKeyId": "k"}},
        {"Name": "efs-old", "StorageType": "Efs", "MountDir": "/efs-old",
         "EfsSettings": {"FileSystemId": "fs-0123456789abcdef0"}},
        {"Name": "zfs", "StorageType": "FsxOpenZfs", "MountDir": "/zfs",
         "FsxOpenZfsSettings": {"VolumeId": "fsvol-0123456789abcdef0"}},
        {"Name": "ontap", "StorageType": "FsxOntap", "MountDir": "/ontap",
         "FsxOntapSettings": {"VolumeId": "fsvol-0123456789abcdef1"}},
        {"Name": "cache", "StorageType": "FileCache", "MountDir": "/cache",
         "FileCacheSettings": {"FileCacheId": "fc-0123456789abcdef0"}},
        {"Name": "ebs-old", "StorageType": "Ebs", "MountDir": "/ebs-old", "EbsSettings": {"VolumeId": "vol-0123456789abcdef0"}},
    ]
    assert our_verdict(config, "hpc", "aws") == []
    # The local provider's emulator has no File Cache API (local_emulator_gaps): refused by name.
    assert [field for field, dummy in our_verdict(config, "hpc", "local")] == ["SharedStorage[6].StorageType"]
    config["SharedStorage"][4]["FsxOpenZfsSettings"]["VolumeId"] = config["SharedStorage"][5]["FsxOntapSettings"]["VolumeId"]
    assert [field for field, dummy in our_verdict(config, "hpc", "aws")] == ["SharedStorage[5]"]
    assert asked == []
