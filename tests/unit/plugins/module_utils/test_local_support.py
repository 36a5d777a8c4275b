"""The local provider's verdict on every setting of ParallelCluster's schema (local_support.SUPPORT)."""

import copy

import pytest
from marshmallow import fields
from pcluster.schemas.cluster_schema import ClusterSchema

from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_support as ls


def _schema_leaves():
    """Every leaf of pcluster's ClusterSchema as a table pattern: list items ``[]``, a list of scalars or a
    free-form mapping one leaf (``HeadNode.Networking.SecurityGroups``, ``...CustomSlurmSettings``)."""
    leaves = []

    def walk_schema(schema, path, seen):
        for name, field in schema.fields.items():
            walk_field(field, "%s.%s" % (path, field.data_key or name) if path else (field.data_key or name), seen)

    def walk_field(field, path, seen):
        if isinstance(field, fields.Nested):
            schema = field.schema
            assert type(schema) not in seen, "recursive schema at %s" % path
            walk_schema(schema, path + "[]" if field.many else path, seen | {type(schema)})
        elif isinstance(field, fields.List):
            walk_field(field.inner, path + "[]", seen)
        else:
            leaves.append(path[:-2] if path.endswith("[]") else path)

    walk_schema(ClusterSchema(cluster_name="walk"), "", frozenset())
    return leaves


LEAVES = _schema_leaves()


def _covering_rows(leaf):
    return [row for row in ls.SUPPORT if row.path == leaf or leaf.startswith(row.path + ".")
            or leaf.startswith(row.path + "[]")]


def test_the_schema_walk_finds_the_known_settings():
    """The walk reaches deep leaves of every kind (so a broken walk cannot make the next test pass)."""
    assert len(LEAVES) > 200
    assert {"Region", "LoginNodes.Pools[].Name", "Scheduling.SlurmQueues[].ComputeResources[].Efa.Enabled",
            "Scheduling.SlurmQueues[].Networking.SubnetIds", "Scheduling.SlurmSettings.CustomSlurmSettings",
            "SharedStorage[].FsxLustreSettings.DataRepositoryAssociations[].AutoExportPolicy",
            "Scheduling.SlurmQueues[].JobExclusiveAllocation"} <= set(LEAVES)


@pytest.mark.parametrize("leaf", LEAVES)
def test_every_leaf_of_the_schema_has_a_verdict(leaf):
    """A pcluster upgrade that adds a setting fails here until the table decides it."""
    rows = _covering_rows(leaf)
    assert rows, "%s is in ParallelCluster's schema but not in local_support.SUPPORT: decide built, no_effect " \
                 "or refused" % leaf
    # Exactly one path covers it, and that path has one row for any other value.
    assert len({row.path for row in rows}) == 1, (leaf, [row.path for row in rows])
    assert len([row for row in rows if row.values is None]) == 1, (leaf, rows)


def test_every_row_names_a_setting_of_the_schema():
    for row in ls.SUPPORT:
        assert any(leaf == row.path or leaf.startswith(row.path + ".") or leaf.startswith(row.path + "[]")
                   for leaf in LEAVES), "%s is not in ParallelCluster's schema" % row.path


def test_every_row_has_a_verdict_and_a_reason():
    for row in ls.SUPPORT:
        assert row.verdict in ls.VERDICTS, row
        assert row.reason and "\n" not in row.reason, row
        if row.verdict == ls.REFUSED:
            assert "provider aws" in row.reason, row  # says what to do instead
    assert len(set((row.path, row.values) for row in ls.SUPPORT)) == len(ls.SUPPORT)


@pytest.mark.parametrize("path, verdict", [
    ("LoginNodes", ls.REFUSED),
    ("DirectoryService", ls.REFUSED),
    ("HeadNode.CustomActions", ls.REFUSED),
    ("Scheduling.SlurmQueues[].CustomActions", ls.REFUSED),
    ("Scheduling.SlurmQueues[].CapacityReservationTarget", ls.REFUSED),
    ("Scheduling.SlurmQueues[].ComputeResources[].CapacityReservationTarget", ls.REFUSED),
    ("Scheduling.SlurmSettings.ExternalSlurmdbd", ls.REFUSED),
    ("Scheduling.SlurmSettings.CustomSlurmSettingsIncludeFile", ls.REFUSED),
    ("SharedStorage[].EfsSettings", ls.REFUSED),
    ("Iam", ls.NO_EFFECT),
    ("Imds", ls.NO_EFFECT),
    ("Tags", ls.NO_EFFECT),
    ("Monitoring", ls.NO_EFFECT),
    ("Scheduling.ScalingStrategy", ls.NO_EFFECT),
    ("Scheduling.SlurmQueues[].JobExclusiveAllocation", ls.BUILT),
    ("Scheduling.SlurmQueues[].ComputeResources[].Efa.Enabled", ls.BUILT),
])
def test_the_verdicts_of_the_issue(path, verdict):
    assert ls.row_for(path, "any").verdict == verdict


def _config():
    return {
        "Region": "us-east-1",
        "Image": {"Os": "alinux2"},
        "HeadNode": {"InstanceType": "m5.large", "Networking": {"SubnetId": "subnet-1"},
                     "Iam": {"AdditionalIamPolicies": [{"Policy": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}]}},
        "Scheduling": {"Scheduler": "slurm", "SlurmSettings": {"ScaledownIdletime": 5, "Database": None},
                       "SlurmQueues": [{"Name": "compute", "JobExclusiveAllocation": True,
                                        "Networking": {"SubnetIds": ["subnet-2"]},
                                        "ComputeResources": [{"Name": "cr", "InstanceType": "c5n.large",
                                                              "Efa": {"Enabled": False}}]}]},
        "SharedStorage": [{"Name": "shared", "MountDir": "/shared", "StorageType": "Ebs",
                           "EbsSettings": {"Size": 100, "DeletionPolicy": "Delete"}}],
    }


def test_a_config_that_the_local_provider_builds_has_no_refused_setting():
    config = _config()
    assert ls.refused(config) == []
    assert [item["path"] for item in ls.without_effect(config)] == [
        "HeadNode.InstanceType", "HeadNode.Networking", "HeadNode.Iam", "Scheduling.SlurmQueues[0].Networking",
        "SharedStorage[0].EbsSettings.Size", "SharedStorage[0].EbsSettings.DeletionPolicy"]
    assert all(item["reason"] for item in ls.without_effect(config))
    # A setting left null (YAML "Database:") is not set.
    assert "Scheduling.SlurmSettings.Database" not in [p for p, dummy in ls.classify(config)]


def test_every_refused_setting_is_named_with_its_index():
    config = _config()
    config["LoginNodes"] = {"Pools": [{"Name": "login", "InstanceType": "t3.small", "Count": 1}]}
    config["DirectoryService"] = {"DomainName": "corp.example.com"}
    queue = config["Scheduling"]["SlurmQueues"][0]
    queue["CustomActions"] = {"OnNodeConfigured": {"Script": "s3://bucket/setup.sh"}}
    config["Scheduling"]["SlurmQueues"].append(copy.deepcopy(queue))
    config["Scheduling"]["SlurmQueues"][1]["Name"] = "second"
    config["SharedStorage"].append({"Name": "efs", "MountDir": "/efs", "StorageType": "Efs",
                                    "EfsSettings": {"Encrypted": True}})
    found = ls.refused(config)
    assert [item["path"] for item in found] == [
        "Scheduling.SlurmQueues[0].CustomActions", "Scheduling.SlurmQueues[1].CustomActions",
        "SharedStorage[1].StorageType", "SharedStorage[1].EfsSettings", "LoginNodes", "DirectoryService"]
    message = ls.refusal_message(found)
    assert message.startswith("provider local cannot build 6 settings of this configuration; nothing was changed. "
                              "Remove them, or use provider aws:\n")
    for item in found:
        assert "- %s: %s" % (item["path"], item["reason"]) in message.splitlines()


@pytest.mark.parametrize("path, value, verdict", [
    ("SharedStorage[].StorageType", "Ebs", ls.BUILT),
    ("SharedStorage[].StorageType", "FsxLustre", ls.BUILT),
    ("SharedStorage[].StorageType", "FsxOntap", ls.REFUSED),
    ("SharedStorage[].StorageType", "SomeNewType", ls.REFUSED),
    ("SharedStorage[].EbsSettings.DeletionPolicy", "Delete", ls.NO_EFFECT),
    ("SharedStorage[].EbsSettings.DeletionPolicy", "Retain", ls.REFUSED),
    ("HeadNode.Dcv.Enabled", True, ls.REFUSED),
    ("HeadNode.Dcv.Enabled", False, ls.NO_EFFECT),
    ("AdditionalPackages.IntelSoftware.IntelHpcPlatform", 1, ls.NO_EFFECT),  # True only, not 1
    ("Scheduling.SlurmQueues[].CapacityType", "SPOT", ls.NO_EFFECT),
    ("Scheduling.SlurmQueues[].CapacityType", "CAPACITY_BLOCK", ls.REFUSED),
    ("Scheduling.Scheduler", "slurm", ls.BUILT),
    ("Scheduling.Scheduler", "awsbatch", ls.REFUSED),
])
def test_rows_limited_to_values(path, value, verdict):
    assert ls.row_for(path, value).verdict == verdict


def test_the_warning_names_each_setting_once():
    found = ls.without_effect(_config())
    text = ls.warning_message(found)
    assert text.startswith("provider local: 6 settings of this configuration change nothing on a local cluster")
    for item in found:
        assert text.count(item["path"] + " (") == 1
