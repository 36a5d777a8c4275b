"""ParallelCluster's documented Slurm examples through the validation both providers share.

Every example is accepted for provider aws and provider local; each invalid variant is refused,
for both providers, with the offending field named by its path in the configuration, as
ParallelCluster names it.
"""

import copy
import os

import pytest
import yaml

from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import (
    ClusterConfigError,
    validate_cluster_config,
)

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "pcluster_examples")
FILES = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".yaml"))


def _load(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_examples_are_there():
    assert len(FILES) >= 8


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("provider", ["aws", "local"])
def test_documented_example_is_accepted(name, provider):
    validate_cluster_config(_load(name), "example", provider=provider)


def _queue(config):
    return config["Scheduling"]["SlurmQueues"][0]


def _cr(config):
    return _queue(config)["ComputeResources"][0]


INVALID = [
    ("head node instance type missing", lambda c: c["HeadNode"].pop("InstanceType"), "HeadNode.InstanceType"),
    ("misspelt key", lambda c: _cr(c).update(InstanceTyp=_cr(c).pop("InstanceType")),
     "Scheduling.SlurmQueues[0].ComputeResources[0].InstanceTyp"),
    ("unknown capacity type", lambda c: _queue(c).update(CapacityType="CHEAP"), "Scheduling.SlurmQueues[0].CapacityType"),
    ("unsupported OS", lambda c: c["Image"].update(Os="windows2022"), "Image.Os"),
    ("MaxCount below MinCount", lambda c: _cr(c).update(MinCount=5, MaxCount=2),
     "Scheduling.SlurmQueues[0].ComputeResources[0].MaxCount"),
    ("uppercase queue name", lambda c: _queue(c).update(Name="Queue1"), "Scheduling.SlurmQueues[0].Name"),
    ("idle time not a number", lambda c: c["Scheduling"].update(SlurmSettings={"ScaledownIdletime": "ten"}),
     "Scheduling.SlurmSettings.ScaledownIdletime"),
    ("setting ParallelCluster owns", lambda c: c["Scheduling"].update(
        SlurmSettings={"CustomSlurmSettings": [{"SuspendTime": 60}]}),
     "Scheduling.SlurmSettings.CustomSlurmSettings[0].SuspendTime"),
    ("malformed subnet id", lambda c: c["HeadNode"]["Networking"].update(SubnetId="subnet-xyz"),
     "HeadNode.Networking.SubnetId"),
    ("EFA flag not a boolean", lambda c: _cr(c).update(Efa={"Enabled": "sometimes"}),
     "Scheduling.SlurmQueues[0].ComputeResources[0].Efa.Enabled"),
    ("unknown queue update strategy", lambda c: c["Scheduling"].update(
        SlurmSettings={"QueueUpdateStrategy": "REBOOT"}), "Scheduling.SlurmSettings.QueueUpdateStrategy"),
    ("shared storage without a type", lambda c: c.update(SharedStorage=[{"Name": "s", "MountDir": "/s"}]),
     "SharedStorage[0].StorageType"),
    ("login pool key name, gone in 3.15", lambda c: c.update(LoginNodes={"Pools": [{
        "Name": "login", "InstanceType": "t3.medium", "Count": 1,
        "Networking": {"SubnetIds": ["subnet-1234567890abcdef0"]}, "Ssh": {"KeyName": "my-key"}}]}),
     "LoginNodes.Pools[0].Ssh.KeyName"),
]


@pytest.mark.parametrize("edit, field", [(e, f) for dummy, e, f in INVALID], ids=[d for d, dummy, dummy2 in INVALID])
@pytest.mark.parametrize("provider", ["aws", "local"])
def test_invalid_variant_is_refused_with_the_field_named(edit, field, provider):
    config = copy.deepcopy(_load("01-minimal.yaml"))
    edit(config)
    with pytest.raises(ClusterConfigError) as caught:
        validate_cluster_config(config, "example", provider=provider)
    fields = [f for f, dummy in caught.value.errors]
    assert field in fields, caught.value.errors


def test_the_aws_inventorys_cluster_config_validates():
    import jinja2
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(EXAMPLES)))))
    with open(os.path.join(root, "inventories", "aws", "cluster-config.yaml.j2"), encoding="utf-8") as handle:
        template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(handle.read())
    text = template.render(hpc_region="us-east-1", hpc_public_subnet_id="subnet-1234567890abcdef0",
                           hpc_private_subnet_id="subnet-0abcdef1234567890", hpc_key_name="hpc-key",
                           hpc_s3_bucket="hpc-data-123456789012", hpc_security_group_id="sg-0123456789abcdef0",
                           hpc_vpc_cidr="10.0.0.0/16")
    validate_cluster_config(yaml.safe_load(text), "hpc-cluster", provider="aws")
