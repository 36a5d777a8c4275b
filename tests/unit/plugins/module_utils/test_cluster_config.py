"""The cluster config model: loading, pcluster-schema validation, our own checks, defaults."""

import copy
import os
import textwrap

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_config as cc
from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import (
    ClusterConfigError,
    load_cluster_config,
    validate_cluster_config,
)
from recipe_config import RECIPE_YAML, recipe, valid_recipe

QUEUE = "Scheduling.SlurmQueues[0]"
CR = QUEUE + ".ComputeResources[0]"


def errors_of(config, cluster_name="hpc-cluster", **kwargs):
    with pytest.raises(ClusterConfigError) as info:
        validate_cluster_config(config, cluster_name, **kwargs)
    return info.value.errors


def fields_of(errors):
    return [field for field, dummy in errors]


# ------------------------------------------------------------------ the recipe


def test_recipe_monitoring_dashboard_name_is_not_a_pcluster_3_15_key():
    errors = errors_of(recipe())
    assert fields_of(errors) == ["Monitoring.CloudWatch"]
    assert "Unknown field" in errors[0][1]


def test_recipe_with_pcluster_dashboards_section_validates():
    assert validate_cluster_config(valid_recipe(), "hpc-cluster") is None


def test_recipe_validates_for_the_aws_provider_too():
    assert validate_cluster_config(valid_recipe(), "hpc-cluster", provider="aws") is None


def test_validation_does_not_modify_the_config():
    config = valid_recipe()
    del config["Scheduling"]["SlurmQueues"][0]["ComputeResources"]
    before = copy.deepcopy(config)
    errors_of(config)
    assert config == before


# ------------------------------------------------------------------ schema errors as field paths


def test_unknown_key_is_reported_at_its_path_with_the_queue_name():
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["Foo"] = 1
    errors = errors_of(config)
    assert fields_of(errors) == [QUEUE + ".Foo"]
    assert "Unknown field" in errors[0][1]
    assert "queue 'compute'" in errors[0][1]


def test_schema_type_errors_name_the_compute_resource():
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["MinCount"] = "two"
    errors = errors_of(config)
    assert fields_of(errors) == [CR + ".MinCount"]
    assert "compute resource 'compute-nodes' of queue 'compute'" in errors[0][1]
    assert "integer" in errors[0][1]


def test_list_indexes_outside_queues_are_kept():
    config = valid_recipe()
    config["SharedStorage"][1]["FsxLustreSettings"]["Bogus"] = True
    assert fields_of(errors_of(config)) == ["SharedStorage[1].FsxLustreSettings.Bogus"]


def test_all_problems_are_reported_together():
    config = valid_recipe()
    config["HeadNode"]["Bar"] = 2
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["MinCount"] = 11
    config["Scheduling"]["SlurmQueues"][0]["CustomSlurmSettings"] = {"State": "DOWN"}
    errors = errors_of(config, cluster_name="9lives")
    assert set(fields_of(errors)) == {
        "HeadNode.Bar",
        CR + ".MaxCount",
        QUEUE + ".CustomSlurmSettings.State",
        "ClusterName",
    }


def test_error_string_has_one_field_message_line_per_problem():
    error = ClusterConfigError([("A.B", "fix b"), ("C[0].D", "fix d")])
    assert str(error) == "A.B: fix b\nC[0].D: fix d"
    assert error.errors == [("A.B", "fix b"), ("C[0].D", "fix d")]


def test_root_level_schema_error():
    errors = errors_of({"Region": "us-east-1"})
    assert {"Image", "HeadNode", "Scheduling"} <= set(fields_of(errors))
    assert dict(errors)["HeadNode"] == "required field is missing; add it"


def test_a_crash_inside_the_schema_is_reported_not_raised(monkeypatch):
    class CrashingSchema(object):
        def __init__(self, cluster_name):
            pass

        def load(self, data):
            raise TypeError("boom")

    monkeypatch.setattr(cc, "_ClusterSchema", CrashingSchema)
    errors = errors_of(valid_recipe())
    assert fields_of(errors) == ["config"]
    assert "TypeError: boom" in errors[0][1]


def test_unknown_field_message_names_the_installed_pcluster_version():
    from importlib.metadata import version

    message = errors_of(recipe())[0][1]
    assert "ParallelCluster %s has no such key" % version("aws-parallelcluster") in message


def test_not_a_mapping():
    assert fields_of(errors_of(["x"])) == ["config"]


# ------------------------------------------------------------------ our own checks


def test_pcluster_schema_alone_accepts_max_count_below_min_count():
    from pcluster.schemas.cluster_schema import ClusterSchema

    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MinCount=5, MaxCount=2)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    ClusterSchema(cluster_name="hpc").load(config)  # no error: pcluster checks it in a create-time validator


def test_max_count_below_min_count():
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MinCount=5, MaxCount=2)
    errors = errors_of(config)
    assert fields_of(errors) == [CR + ".MaxCount"]
    assert "compute resource 'compute-nodes' of queue 'compute'" in errors[0][1]
    assert "at least 5" in errors[0][1]


def test_min_count_above_default_max_count():
    config = valid_recipe()
    cr = config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]
    del cr["MaxCount"]
    cr["MinCount"] = 12
    assert fields_of(errors_of(config)) == [CR + ".MaxCount"]


def test_pcluster_schema_alone_accepts_an_empty_queue_and_crashes_without_compute_resources():
    from pcluster.schemas.cluster_schema import ClusterSchema

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"] = []
    ClusterSchema(cluster_name="hpc").load(config)
    del config["Scheduling"]["SlurmQueues"][0]["ComputeResources"]
    with pytest.raises(TypeError):
        ClusterSchema(cluster_name="hpc").load(config)


@pytest.mark.parametrize("missing", [True, False], ids=["key-missing", "empty-list"])
def test_queue_without_compute_resources(missing):
    config = valid_recipe()
    queue = config["Scheduling"]["SlurmQueues"][0]
    if missing:
        del queue["ComputeResources"]
    else:
        queue["ComputeResources"] = []
    config["HeadNode"]["Typo"] = 1
    errors = errors_of(config)
    assert fields_of(errors) == ["HeadNode.Typo", QUEUE + ".ComputeResources"]
    assert "queue 'compute'" in errors[1][1]
    assert "add at least one" in errors[1][1]


@pytest.mark.parametrize("name", ["1cluster", "my_cluster", "-x", "", "a" * 61, "has space"])
def test_bad_cluster_name(name):
    errors = errors_of(valid_recipe(), cluster_name=name)
    assert fields_of(errors) == ["ClusterName"]
    assert "start with a letter" in errors[0][1]
    assert "60" in errors[0][1]


def test_cluster_name_limits():
    validate_cluster_config(valid_recipe(), "a" * 60)
    validate_cluster_config(valid_recipe(), "Hpc-Cluster-2")
    errors = errors_of(valid_recipe(), cluster_name="a" * 41, accounting=True)
    assert fields_of(errors) == ["ClusterName"]
    assert "40" in errors[0][1]
    validate_cluster_config(valid_recipe(), "a" * 40, accounting=True)


def test_duplicate_queue_and_compute_resource_names():
    config = valid_recipe()
    queues = config["Scheduling"]["SlurmQueues"]
    queues[0]["ComputeResources"].append(dict(queues[0]["ComputeResources"][0]))
    queues.append(copy.deepcopy(queues[0]))
    errors = errors_of(config)
    assert fields_of(errors) == [
        "Scheduling.SlurmQueues[1].Name",
        QUEUE + ".ComputeResources[1].Name",
        "Scheduling.SlurmQueues[1].ComputeResources[1].Name",
    ]
    assert "queue name 'compute' is already used by Scheduling.SlurmQueues[0]" in errors[0][1]
    assert "compute resource name 'compute-nodes'" in errors[1][1]


def test_same_compute_resource_name_in_two_queues_is_fine():
    config = valid_recipe()
    queues = config["Scheduling"]["SlurmQueues"]
    queues.append(copy.deepcopy(queues[0]))
    queues[1]["Name"] = "other"
    validate_cluster_config(config, "hpc")


@pytest.mark.parametrize("name,why", [("Compute", "lowercase"), ("q_1", "lowercase"), ("default", "reserved"),
                                      ("q" * 26, "at most 25")])
def test_queue_and_compute_resource_name_rules(name, why):
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["Name"] = name
    errors = errors_of(config)
    assert QUEUE + ".Name" in fields_of(errors)
    assert any(why in message for dummy, message in errors)
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["Name"] = name
    assert CR + ".Name" in fields_of(errors_of(config))


def test_node_ranges_longer_than_slurm_reads():
    config = valid_recipe()
    cr = config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]
    cr.update(MinCount=0, MaxCount=65537)
    errors = errors_of(config)
    assert fields_of(errors) == [CR + ".MaxCount"]
    assert "65537 dynamic nodes" in errors[0][1] and "at most 65536" in errors[0][1]
    cr.update(MinCount=65537, MaxCount=65537)
    assert fields_of(errors_of(config)) == [CR + ".MinCount"]
    cr.update(MinCount=10 ** 9, MaxCount=10 ** 9)
    assert fields_of(errors_of(config)) == [CR + ".MinCount"]
    cr.update(MinCount=65536, MaxCount=131072)
    validate_cluster_config(config, "hpc")


def test_the_longest_names_and_ranges_fit_slurms_node_names():
    config = valid_recipe()
    queue = config["Scheduling"]["SlurmQueues"][0]
    queue["Name"] = "q" * 25
    queue["ComputeResources"][0].update(Name="c" * 25, MinCount=65536, MaxCount=131072)
    validate_cluster_config(config, "hpc")  # q-dy-c-65536: 60 characters, below the 63 allowed


def test_local_provider_runs_slurm_only():
    config = valid_recipe()
    scheduling = config["Scheduling"]
    scheduling["Scheduler"] = "awsbatch"
    scheduling["AwsBatchQueues"] = [{
        "Name": "batch",
        "Networking": {"SubnetIds": ["subnet-0123456789abcdef1"]},
        "ComputeResources": [{"Name": "cr", "InstanceTypes": ["optimal"], "MaxvCpus": 4}],
    }]
    del scheduling["SlurmQueues"]
    errors = errors_of(config)
    assert fields_of(errors) == ["Scheduling.Scheduler"]
    assert "set Scheduler: slurm" in errors[0][1]
    validate_cluster_config(config, "hpc", provider="aws")


def test_unknown_scheduler_is_reported_once():
    config = valid_recipe()
    config["Scheduling"]["Scheduler"] = "pbs"
    assert fields_of(errors_of(config)).count("Scheduling.Scheduler") == 1


def test_unknown_provider_is_a_programming_error():
    with pytest.raises(ValueError):
        validate_cluster_config(valid_recipe(), "hpc", provider="gcp")


# ------------------------------------------------------------------ CustomSlurmSettings deny list


def test_deny_list_is_pclusters_own():
    from pcluster.validators.slurm_settings_validator import SLURM_SETTINGS_DENY_LIST

    assert cc.SLURM_SETTINGS_DENY_LIST is SLURM_SETTINGS_DENY_LIST
    assert "suspendtime" in SLURM_SETTINGS_DENY_LIST["SlurmConf"]["Global"]


def test_denied_custom_settings_at_every_level():
    config = valid_recipe()
    scheduling = config["Scheduling"]
    scheduling["SlurmSettings"] = {"CustomSlurmSettings": [{"MaxJobCount": 5000}, {"SuspendTime": 5}]}
    scheduling["SlurmQueues"][0]["CustomSlurmSettings"] = {"GraceTime": 10, "nodes": "x"}
    scheduling["SlurmQueues"][0]["ComputeResources"][0]["CustomSlurmSettings"] = {"Port": 2000, "CPUs": 8}
    errors = errors_of(config)
    assert fields_of(errors) == [
        "Scheduling.SlurmSettings.CustomSlurmSettings[1].SuspendTime",
        QUEUE + ".CustomSlurmSettings.nodes",
        CR + ".CustomSlurmSettings.CPUs",
    ]
    messages = dict(errors)
    assert "ScaledownIdletime" in messages["Scheduling.SlurmSettings.CustomSlurmSettings[1].SuspendTime"]
    assert "at Queue level" in messages[QUEUE + ".CustomSlurmSettings.nodes"]
    assert "queue 'compute'" in messages[QUEUE + ".CustomSlurmSettings.nodes"]
    assert "compute resource 'compute-nodes'" in messages[CR + ".CustomSlurmSettings.CPUs"]


def test_accounting_keys_are_denied_only_with_accounting():
    config = valid_recipe()
    config["Scheduling"]["SlurmSettings"] = {"CustomSlurmSettings": [{"AccountingStorageHost": "db"}]}
    validate_cluster_config(config, "hpc")
    errors = errors_of(config, accounting=True)
    assert fields_of(errors) == ["Scheduling.SlurmSettings.CustomSlurmSettings[0].AccountingStorageHost"]
    config["Scheduling"]["SlurmSettings"]["Database"] = {
        "Uri": "db.example.com:3306", "UserName": "admin",
        "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-pass"}
    assert fields_of(errors_of(config)) == ["Scheduling.SlurmSettings.CustomSlurmSettings[0].AccountingStorageHost"]


def test_custom_node_definitions_skip_the_deny_list_but_not_reserved_names():
    config = valid_recipe()
    config["Scheduling"]["SlurmSettings"] = {"CustomSlurmSettings": [
        {"NodeName": "burst[1-2]", "CPUs": 4, "State": "FUTURE"},
        {"NodeName": "x-st-y-[1-2]", "CPUs": 4},
    ]}
    errors = errors_of(config)
    assert fields_of(errors) == ["Scheduling.SlurmSettings.CustomSlurmSettings[1].NodeName"]
    assert "reserved" in errors[0][1]


def test_custom_settings_values_cannot_smuggle_lines():
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["CustomSlurmSettings"] = {"GraceTime": "10\nSuspendTime=1"}
    assert fields_of(errors_of(config)) == [QUEUE + ".CustomSlurmSettings.GraceTime"]


def test_custom_settings_with_include_file():
    config = valid_recipe()
    config["Scheduling"]["SlurmSettings"] = {"CustomSlurmSettings": [{"MaxJobCount": 5000}],
                                             "CustomSlurmSettingsIncludeFile": "s3://bucket/slurm.conf"}
    assert fields_of(errors_of(config)) == ["Scheduling.SlurmSettings.CustomSlurmSettingsIncludeFile"]


# ------------------------------------------------------------------ region handling


def test_region_environment_is_restored(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    validate_cluster_config(valid_recipe(), "hpc")
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    errors_of(recipe())
    assert "AWS_DEFAULT_REGION" not in os.environ


def test_config_without_region_validates(monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    config = valid_recipe()
    del config["Region"]
    validate_cluster_config(config, "hpc", region="eu-west-1")
    validate_cluster_config(config, "hpc")
    assert "AWS_DEFAULT_REGION" not in os.environ


# ------------------------------------------------------------------ loading


def test_load_from_dict_returns_a_copy():
    source = valid_recipe()
    loaded = load_cluster_config(config=source)
    assert loaded == source
    loaded["Scheduling"]["SlurmQueues"][0]["Name"] = "changed"
    assert source["Scheduling"]["SlurmQueues"][0]["Name"] == "compute"


def test_load_from_file_and_text(tmp_path):
    path = tmp_path / "cluster-config.yaml"
    path.write_text(RECIPE_YAML)
    assert load_cluster_config(config_file=str(path)) == recipe()
    assert load_cluster_config(config=RECIPE_YAML) == recipe()


def test_yaml_error_names_file_and_line(tmp_path):
    path = tmp_path / "cluster-config.yaml"
    path.write_text("Region: us-east-1\nScheduling:\n  Scheduler: [slurm\n")
    with pytest.raises(ClusterConfigError) as info:
        load_cluster_config(config_file=str(path))
    (field, message), = info.value.errors
    assert field == "config_file"
    assert str(path) in message
    assert "line 4" in message


def test_duplicate_yaml_key_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("Region: us-east-1\nImage: {Os: alinux2}\nRegion: eu-west-1\n")
    with pytest.raises(ClusterConfigError) as info:
        load_cluster_config(config_file=str(path))
    message = info.value.errors[0][1]
    assert "duplicate key 'Region'" in message
    assert "line 3" in message and "line 1" in message


def test_yaml_anchors_and_merge_keys_are_supported():
    text = textwrap.dedent("""\
        base: &base {MinCount: 0, MaxCount: 4, InstanceType: c5n.large}
        list:
          - <<: *base
            Name: a
            MaxCount: 8
        """)
    assert load_cluster_config(config=text)["list"] == [
        {"MinCount": 0, "MaxCount": 8, "InstanceType": "c5n.large", "Name": "a"}]


def test_yaml_rules_hold_after_pcluster_changed_safeloader_in_the_same_process():
    """pcluster's yaml_load swaps yaml.SafeLoader's mapping constructor for one without merge keys."""
    from pcluster.utils import yaml_load

    yaml_load("a: 1\n")
    test_yaml_anchors_and_merge_keys_are_supported()
    with pytest.raises(ClusterConfigError) as info:
        load_cluster_config(config="a: 1\na: 2\n")
    assert "found duplicate key 'a' (first defined on line 1)" in str(info.value)


@pytest.mark.parametrize("kwargs", [{}, {"config": {}, "config_file": "x"}])
def test_exactly_one_source(kwargs):
    with pytest.raises(ClusterConfigError) as info:
        load_cluster_config(**kwargs)
    assert info.value.errors[0][0] == "config"


def test_unreadable_empty_and_non_mapping_files(tmp_path):
    with pytest.raises(ClusterConfigError) as info:
        load_cluster_config(config_file=str(tmp_path / "missing.yaml"))
    assert "missing.yaml" in str(info.value)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(ClusterConfigError, match="is empty"):
        load_cluster_config(config_file=str(empty))
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ClusterConfigError, match="mapping"):
        load_cluster_config(config_file=str(listing))
    with pytest.raises(ClusterConfigError, match="mapping"):
        load_cluster_config(config=42)


# ------------------------------------------------------------------ defaults for the layout


def test_defaults_match_parallelcluster():
    from pcluster import constants
    from pcluster.config.cluster_config import SlurmComputeResource, SlurmSettings

    cr = SlurmComputeResource(name="cr", instance_type="c5n.large")
    assert cc.DEFAULT_MIN_COUNT == constants.DEFAULT_MIN_COUNT == cr.min_count
    assert cc.DEFAULT_MAX_COUNT == constants.DEFAULT_MAX_COUNT == cr.max_count
    assert cc.DEFAULT_STATIC_NODE_PRIORITY == cr.static_node_priority
    assert cc.DEFAULT_DYNAMIC_NODE_PRIORITY == cr.dynamic_node_priority
    assert cr.disable_simultaneous_multithreading is False
    assert not cr.efa.enabled
    assert cc.DEFAULT_SCALEDOWN_IDLETIME == SlurmSettings().scaledown_idletime
    assert cc.DEFAULT_COMPUTE_NODE_BOOTSTRAP_TIMEOUT == constants.NODE_BOOTSTRAP_TIMEOUT


def test_queues_with_defaults_applied():
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"].append({"Name": "small", "InstanceType": "t2.micro"})
    queues = cc.slurm_queues(config)
    small = queues[0]["ComputeResources"][1]
    assert small["MinCount"] == 0 and small["MaxCount"] == 10
    assert small["DisableSimultaneousMultithreading"] is False
    assert small["Efa"] == {"Enabled": False, "GdrSupport": False}
    assert small["CustomSlurmSettings"] == {}
    recipe_cr = queues[0]["ComputeResources"][0]
    assert recipe_cr["DisableSimultaneousMultithreading"] is True and recipe_cr["Efa"]["Enabled"] is True
    assert "MinCount" not in config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][1]
    assert [(qi, ci, cr["Name"]) for qi, dummy, ci, cr in cc.iter_compute_resources(config)] == [
        (0, 0, "compute-nodes"), (0, 1, "small")]


def test_slurm_settings_defaults():
    settings = cc.slurm_settings(valid_recipe())
    assert settings["ScaledownIdletime"] == 10
    assert settings["EnableMemoryBasedScheduling"] is False
    assert settings["CustomSlurmSettings"] == []
    assert cc.compute_node_bootstrap_timeout(valid_recipe()) == 2100
    config = valid_recipe()
    config["DevSettings"] = {"Timeouts": {"ComputeNodeBootstrapTimeout": 300}}
    assert cc.compute_node_bootstrap_timeout(config) == 300


def test_instance_type_fields():
    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"].append(
        {"Name": "flex", "Instances": [{"InstanceType": "c5n.large"}, {"InstanceType": "m5.large"}]})
    assert cc.instance_type_fields(config) == {
        "m5.large": ["HeadNode.InstanceType", QUEUE + ".ComputeResources[1].Instances[1].InstanceType"],
        "c5n.large": [CR + ".InstanceType", QUEUE + ".ComputeResources[1].Instances[0].InstanceType"],
    }
