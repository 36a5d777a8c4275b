"""Bad cluster configurations are refused with the field named, never a crash and never accepted.

Each case edits the recipe's (valid) configuration in one place and names the field the refusal
must be reported under, for both providers unless the case says otherwise.
"""

import copy
import datetime
import os

import pytest
import yaml

from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import (
    ClusterConfigError,
    load_cluster_config,
    validate_cluster_config,
)

from recipe_config import valid_recipe

Q = "Scheduling.SlurmQueues[0]"
CR = Q + ".ComputeResources[0]"
CLUSTER_CUSTOM = "Scheduling.SlurmSettings.CustomSlurmSettings[0]"


def _q(c):
    return c["Scheduling"]["SlurmQueues"][0]


def _cr(c):
    return _q(c)["ComputeResources"][0]


def _storage(index):
    return lambda c: c["SharedStorage"][index]


def _mount(index, value):
    return lambda c: _storage(index)(c).update(MountDir=value)


def _fsx(**settings):
    return lambda c: c["SharedStorage"][1]["FsxLustreSettings"].update(settings)


def _cluster_custom(**settings):
    return lambda c: c["Scheduling"].update(SlurmSettings={"CustomSlurmSettings": [settings]})


def _queue_custom(**settings):
    return lambda c: _q(c).update(CustomSlurmSettings=settings)


def _cr_custom(settings=None, **named):
    return lambda c: _cr(c).update(CustomSlurmSettings=dict(settings or {}, **named))


BOTH = ("aws", "local")
LOCAL = ("local",)

# (id, edit, field the refusal names, providers that refuse it, words the message holds)
BAD = [
    # shared storage mount points: ParallelCluster's own SharedStorageMountDirValidator and friends
    ("mountdir-etc", _mount(0, "/etc"), "SharedStorage[0].MountDir", BOTH, "reserved"),
    ("mountdir-tmp", _mount(0, "/tmp"), "SharedStorage[0].MountDir", BOTH, "reserved"),
    ("mountdir-etc-relative", _mount(0, "etc"), "SharedStorage[0].MountDir", BOTH, "reserved"),
    ("mountdir-opt-slurm", _mount(0, "/opt/slurm"), "SharedStorage[0].MountDir", BOTH, "reserved"),
    ("mountdir-opt-parallelcluster", _mount(0, "/opt/parallelcluster"), "SharedStorage[0].MountDir", BOTH,
     "reserved"),
    ("mountdir-var", _mount(0, "/var"), "SharedStorage[0].MountDir", BOTH, "reserved"),
    ("mountdir-run", _mount(0, "/run"), "SharedStorage[0].MountDir", BOTH, "reserved"),
    ("mountdir-root", _mount(0, "/root"), "SharedStorage[0].MountDir", BOTH, "reserved"),
    ("mountdir-trailing-slash", _mount(0, "/etc/"), "SharedStorage[0].MountDir", BOTH, "pattern"),
    ("mountdir-double-slash", _mount(0, "//etc"), "SharedStorage[0].MountDir", BOTH, "pattern"),
    ("mountdir-dot-dot", _mount(0, "/shared/../etc"), "SharedStorage[0].MountDir", BOTH, "pattern"),
    ("mountdir-NONE", _mount(0, "NONE"), "SharedStorage[0].MountDir", BOTH, "cannot be used"),
    ("mountdir-duplicate", _mount(1, "/shared"), "SharedStorage[1].MountDir", BOTH, "unique"),
    ("mountdir-overlap", _mount(1, "/shared/fsx"), "SharedStorage[1].MountDir", LOCAL, "overlaps /shared"),
    ("mountdir-newline", _mount(0, "/data\n/etc"), "SharedStorage[0].MountDir", BOTH, "control character"),
    ("mountdir-nul", _mount(0, "/da\0ta"), "SharedStorage[0].MountDir", BOTH, "control character"),
    ("mountdir-not-a-string", _mount(0, 5), "SharedStorage[0].MountDir", BOTH, "string"),
    # ... and what the local provider alone must not turn into a world-writable folder
    ("mountdir-sudoers-d", _mount(0, "/etc/sudoers.d"), "SharedStorage[0].MountDir", LOCAL, "under /etc"),
    ("mountdir-slurm-etc", _mount(0, "/opt/slurm/etc"), "SharedStorage[0].MountDir", LOCAL, "under /opt/slurm"),
    ("mountdir-state-folder", _mount(0, "/var/lib/hpc-parallelcluster"), "SharedStorage[0].MountDir", LOCAL,
     "1777"),
    ("mountdir-run-folder", _mount(0, "/run/hpc-parallelcluster"), "SharedStorage[0].MountDir", LOCAL, "1777"),
    ("mountdir-node-package", _mount(0, "/opt/parallelcluster/local"), "SharedStorage[0].MountDir", LOCAL,
     "under /opt/parallelcluster"),
    ("mountdir-home", _mount(0, "/home"), "SharedStorage[0].MountDir", LOCAL, "1777"),
    ("mountdir-user-home", _mount(0, "/home/alice"), "SharedStorage[0].MountDir", LOCAL, "under /home"),
    ("mountdir-usr-local-bin", _mount(0, "/usr/local/bin"), "SharedStorage[0].MountDir", LOCAL, "under /usr"),
    ("mountdir-under-tmp", _mount(0, "/tmp/shared"), "SharedStorage[0].MountDir", LOCAL, "under /tmp"),
    ("mountdir-relative", _mount(0, "data"), "SharedStorage[0].MountDir", LOCAL, "'/data'"),
    # shared storage names and settings: SharedStorageNameValidator, DuplicateNameValidator, S3 URIs, capacity
    ("storage-name-semicolon", lambda c: _storage(0)(c).update(Name="a;b"), "SharedStorage[0].Name", BOTH,
     "not valid"),
    ("storage-name-default", lambda c: _storage(0)(c).update(Name="default"), "SharedStorage[0].Name", BOTH,
     "forbidden"),
    ("storage-name-too-long", lambda c: _storage(0)(c).update(Name="s" * 31), "SharedStorage[0].Name", BOTH,
     "at most 30"),
    ("storage-name-duplicate", lambda c: _storage(1)(c).update(Name="shared-storage"), "SharedStorage[1].Name", BOTH,
     "unique"),
    ("storage-name-not-a-string", lambda c: _storage(0)(c).update(Name=["x"]), "SharedStorage[0].Name", BOTH,
     "string"),
    ("import-path-not-s3", _fsx(ImportPath="http://bucket/x"), "SharedStorage[1].FsxLustreSettings.ImportPath", BOTH,
     "S3 URI"),
    ("export-path-not-s3", _fsx(ExportPath="bucket/output"), "SharedStorage[1].FsxLustreSettings.ExportPath", BOTH,
     "S3 URI"),
    ("export-path-without-import", lambda c: c["SharedStorage"][1]["FsxLustreSettings"].pop("ImportPath"),
     "SharedStorage[1].FsxLustreSettings", BOTH, "import path"),
    ("fsx-capacity", _fsx(StorageCapacity=1000), "SharedStorage[1].FsxLustreSettings", BOTH, "1,200"),
    ("ebs-size-float", lambda c: _storage(0)(c)["EbsSettings"].update(Size=100.5), "SharedStorage[0].EbsSettings.Size",
     BOTH, "whole number"),
    ("storage-list-is-a-map", lambda c: c.update(SharedStorage={"a": 1}), "SharedStorage", BOTH, "type"),
    ("storage-item-is-a-string", lambda c: c.update(SharedStorage=["x"]), "SharedStorage[0]", BOTH, "type"),
    # CustomSlurmSettings: a value that slurm.conf would read as more than itself, at every level
    ("cluster-custom-smuggled", _cluster_custom(MaxJobCount="1 SlurmUser=root ResumeProgram=/tmp/x"),
     CLUSTER_CUSTOM + ".MaxJobCount", BOTH, "SlurmUser"),
    ("cluster-custom-node-smuggled", lambda c: c["Scheduling"].update(SlurmSettings={"CustomSlurmSettings": [
        {"NodeName": "burst1", "Features": "a SlurmUser=root"}]}), CLUSTER_CUSTOM + ".Features", BOTH, "SlurmUser"),
    ("queue-custom-smuggled", _queue_custom(GraceTime="1 SlurmUser=root"), Q + ".CustomSlurmSettings.GraceTime", BOTH,
     "second setting"),
    ("queue-custom-operator", _queue_custom(GraceTime="1 ResumeProgram+=/tmp/x"), Q + ".CustomSlurmSettings.GraceTime",
     BOTH, "ResumeProgram"),
    ("cr-custom-smuggled", _cr_custom(Features="a Weight=1"), CR + ".CustomSlurmSettings.Features", BOTH, "Weight"),
    ("custom-newline", _queue_custom(GraceTime="10\nSuspendTime=1"), Q + ".CustomSlurmSettings.GraceTime", BOTH,
     "control character"),
    ("custom-carriage-return", _queue_custom(GraceTime="10\rSuspendTime=1"), Q + ".CustomSlurmSettings.GraceTime",
     BOTH, "control character"),
    ("custom-nul", _cr_custom(Features="a\0b"), CR + ".CustomSlurmSettings.Features", BOTH, "control character"),
    ("custom-tab", _queue_custom(GraceTime="1\tSlurmUser=root"), Q + ".CustomSlurmSettings.GraceTime", BOTH,
     "control character"),
    ("custom-blank-unquoted", _queue_custom(GraceTime="1 2"), Q + ".CustomSlurmSettings.GraceTime", BOTH,
     "double quotes"),
    ("custom-comment", _queue_custom(GraceTime="10#x"), Q + ".CustomSlurmSettings.GraceTime", BOTH, "comment"),
    ("custom-continuation", _queue_custom(GraceTime="10\\"), Q + ".CustomSlurmSettings.GraceTime", BOTH,
     "continuation"),
    ("custom-empty", _queue_custom(GraceTime=""), Q + ".CustomSlurmSettings.GraceTime", BOTH, "empty"),
    ("custom-none", _queue_custom(GraceTime=None), Q + ".CustomSlurmSettings.GraceTime", BOTH, "no value"),
    ("custom-list", _queue_custom(Features=["a", "b"]), Q + ".CustomSlurmSettings.Features", BOTH, "comma-separated"),
    ("custom-key-newline", _queue_custom(**{"GraceTime\nSlurmUser": "root"}),
     Q + ".CustomSlurmSettings.GraceTime\\nSlurmUser", BOTH, "control character"),
    ("custom-key-blank", _cr_custom(**{"Features x": "a"}), CR + ".CustomSlurmSettings.Features x", BOTH,
     "parameter name"),
    ("custom-key-equals", _cr_custom(**{"Features=a SlurmUser": "root"}), CR + ".CustomSlurmSettings.Features=a "
                                                                               "SlurmUser", BOTH, "parameter name"),
    ("custom-key-not-a-string", _cr_custom({5: "a"}), CR + ".CustomSlurmSettings.5", BOTH, "parameter name"),
    ("custom-denied", _queue_custom(State="UP"), Q + ".CustomSlurmSettings.State", BOTH, "managed by ParallelCluster"),
    # crashes once: odd types and sizes
    ("region-nul", lambda c: c.update(Region="us-east-1\0"), "Region", BOTH, "control character"),
    ("region-number", lambda c: c.update(Region=5), "Region", BOTH, "string"),
    ("max-count-fraction", lambda c: _cr(c).update(MaxCount=2.5), CR + ".MaxCount", BOTH, "whole number"),
    ("min-count-quoted", lambda c: _cr(c).update(MinCount="1"), CR + ".MinCount", BOTH, "whole number"),
    ("max-count-huge", lambda c: _cr(c).update(MaxCount=10 ** 30), CR + ".MaxCount", BOTH, "2**63"),
    ("max-count-beyond-slurm-range", lambda c: _cr(c).update(MaxCount=10 ** 6), CR + ".MaxCount", BOTH, "65536"),
    ("max-count-below-min", lambda c: _cr(c).update(MinCount=5, MaxCount=2), CR + ".MaxCount", BOTH, "at least 5"),
    ("scaledown-fraction", lambda c: c["Scheduling"].update(SlurmSettings={"ScaledownIdletime": 2.5}),
     "Scheduling.SlurmSettings.ScaledownIdletime", BOTH, "whole number"),
    ("timeout-huge", lambda c: c.update(DevSettings={"Timeouts": {"ComputeNodeBootstrapTimeout": 10 ** 40}}),
     "DevSettings.Timeouts.ComputeNodeBootstrapTimeout", BOTH, "2**63"),
    ("timeout-beyond-slurm", lambda c: c.update(DevSettings={"Timeouts": {"ComputeNodeBootstrapTimeout": 65536}}),
     "DevSettings.Timeouts.ComputeNodeBootstrapTimeout", BOTH, "65535"),
    ("smt-quoted-false", lambda c: _cr(c).update(DisableSimultaneousMultithreading="false"),
     CR + ".DisableSimultaneousMultithreading", BOTH, "true or false"),
    ("efa-yes", lambda c: _cr(c).update(Efa={"Enabled": "yes"}), CR + ".Efa.Enabled", BOTH, "true or false"),
    ("spot-price-quoted", lambda c: _cr(c).update(SpotPrice="0.5"), CR + ".SpotPrice", BOTH, "number"),
    ("queue-name-number", lambda c: _q(c).update(Name=5), Q + ".Name", BOTH, "string"),
    ("queue-name-list", lambda c: _q(c).update(Name=["a"]), Q + ".Name", BOTH, "string"),
    ("queue-name-uppercase", lambda c: _q(c).update(Name="Compute"), Q + ".Name", BOTH, "lowercase"),
    ("queue-name-default", lambda c: _q(c).update(Name="default"), Q + ".Name", BOTH, "reserved"),
    ("cr-name-null", lambda c: _cr(c).update(Name=None), CR + ".Name", BOTH, "null"),
    ("queues-a-map", lambda c: c["Scheduling"].update(SlurmQueues={"a": 1}), "Scheduling.SlurmQueues", BOTH, "type"),
    ("compute-resources-a-map", lambda c: _q(c).update(ComputeResources={"a": 1}), Q + ".ComputeResources", BOTH,
     "type"),
    ("head-node-a-string", lambda c: c.update(HeadNode="x"), "HeadNode", BOTH, "type"),
    ("instance-type-nul", lambda c: _cr(c).update(InstanceType="c5n.large\0"), CR + ".InstanceType", BOTH,
     "control character"),
    ("tag-value-nul", lambda c: c.update(Tags=[{"Key": "a", "Value": "b\0"}]), "Tags[0].Value", BOTH,
     "control character"),
    ("key-nul", lambda c: c["HeadNode"].update({"Foo\0": 1}), "HeadNode.Foo\\x00", BOTH, "control character"),
    ("mountdir-binary", _mount(0, b"/shared"), "SharedStorage[0].MountDir", BOTH, "!!binary"),
    ("storage-name-date", lambda c: _storage(0)(c).update(Name=datetime.date(2024, 1, 1)), "SharedStorage[0].Name",
     BOTH, "date"),
    ("custom-not-a-number", _queue_custom(GraceTime=float("nan")), Q + ".CustomSlurmSettings.GraceTime", BOTH,
     "finite"),
    ("ebs-size-zero", lambda c: _storage(0)(c)["EbsSettings"].update(Size=0), "SharedStorage[0].EbsSettings", BOTH,
     "EbsVolumeIopsValidator"),
    ("nested-too-deep", lambda c: c.update(Tags=[{"Key": "a", "Value": _deep(100)}]), "Tags[0].Value[0]...", BOTH,
     "64 levels"),
]


def _deep(levels):
    value = "x"
    for dummy in range(levels):
        value = [value]
    return value


def _cases():
    for case_id, edit, field, providers, words in BAD:
        for provider in BOTH:
            yield pytest.param(edit, field, provider, provider in providers, words, id="%s-%s" % (case_id, provider))


def test_there_are_forty_and_more_distinct_bad_inputs():
    assert len({case_id for case_id, dummy, dummy2, dummy3, dummy4 in BAD}) == len(BAD) >= 40


@pytest.mark.parametrize("edit, field, provider, refused, words", list(_cases()))
def test_bad_input_is_refused_with_the_field_named(edit, field, provider, refused, words):
    config = copy.deepcopy(valid_recipe())
    edit(config)
    accounting = True if provider == "local" else None
    if not refused:
        validate_cluster_config(config, "hpc", provider=provider, accounting=accounting)
        return
    with pytest.raises(ClusterConfigError) as caught:
        validate_cluster_config(config, "hpc", provider=provider, accounting=accounting)
    messages = [message for found, message in caught.value.errors if found == field]
    assert messages, caught.value.errors
    assert any(words in message for message in messages), caught.value.errors


def test_a_mount_dir_through_a_symbolic_link_is_refused_for_the_local_provider(monkeypatch):
    real = os.path.realpath
    monkeypatch.setattr(os.path, "realpath", lambda path: "/etc" if path == "/data/link" else real(path))
    config = valid_recipe()
    config["SharedStorage"][0]["MountDir"] = "/data/link"
    with pytest.raises(ClusterConfigError) as caught:
        validate_cluster_config(config, "hpc", provider="local")
    assert "symbolic link" in dict(caught.value.errors)["SharedStorage[0].MountDir"]
    validate_cluster_config(config, "hpc", provider="aws")


@pytest.mark.parametrize("text, words", [
    ("Region: " + "[" * 5000 + "]" * 5000, "nested deeper than a YAML reader can follow"),
    ("Region: " + "[" * 100 + "]" * 100, "64 levels"),
    ("a: &a [*a]\n", "64 levels"),
    ("a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + "".join(
        "%s: &%s [%s]\n" % (name, name, ", ".join(["*" + prev] * 10))
        for prev, name in zip("abcde", "bcdef")), "100000 values"),
], ids=["5000-deep", "100-deep", "self-alias", "alias-bomb"])
def test_yaml_that_would_crash_the_reader_is_refused_naming_the_file(tmp_path, text, words):
    path = tmp_path / "cluster-config.yaml"
    path.write_text(text)
    with pytest.raises(ClusterConfigError) as caught:
        load_cluster_config(config_file=str(path))
    assert words in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_deep_mapping_given_as_data_is_refused_before_it_is_copied():
    with pytest.raises(ClusterConfigError, match="64 levels"):
        load_cluster_config(config={"Region": _deep(5000)})
    with pytest.raises(ClusterConfigError, match="64 levels"):
        validate_cluster_config({"Region": _deep(5000)}, "hpc")


def test_region_with_nul_in_yaml_text_is_refused_and_the_environment_kept(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    config = load_cluster_config(config=yaml.safe_dump(dict(valid_recipe(), Region="us-east-1\0")))
    with pytest.raises(ClusterConfigError) as caught:
        validate_cluster_config(config, "hpc")
    assert "Region" in dict(caught.value.errors)
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_a_report_never_carries_a_raw_control_character():
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["CustomSlurmSettings"] = {"Grace\nTime": "1\r"}
    with pytest.raises(ClusterConfigError) as caught:
        validate_cluster_config(config, "hpc")
    text = str(caught.value)
    assert "\r" not in text and all("\n" not in field + message for field, message in caught.value.errors)


@pytest.mark.parametrize("mount_dir", ["/shared", "/lustre", "/efs", "/data/projects", "/opt/data", "/scratch"])
def test_ordinary_mount_dirs_are_accepted_by_both_providers(mount_dir):
    config = valid_recipe()
    config["SharedStorage"][0]["MountDir"] = mount_dir
    for provider in BOTH:
        validate_cluster_config(config, "hpc", provider=provider)


@pytest.mark.parametrize("value", ["10", 10, True, "bf_interval=30,bf_continue", '"two words"', "a=b,c=d",
                                   "node[1-2]", "/opt/slurm/etc/prolog.d/*"])
def test_ordinary_custom_slurm_values_are_accepted(value):
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["CustomSlurmSettings"] = {"Comment": value}
    validate_cluster_config(config, "hpc")
