"""pcluster_cluster with provider aws and the real pcluster.lib against a private AWS API emulator.

Creating a cluster needs CloudFormation and CDK for real, but ParallelCluster's dry run stops
after its validators, which only read EC2 (subnets, images, key pairs, instance types): check
mode returns their messages and creates nothing.
"""

import json

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpc.parallelcluster.plugins.modules import pcluster_cluster
from emulator import moto_endpoint

REGION = "us-east-1"

# pcluster.lib's create_cluster checks for Node.js even for a dry run: scripts/setup.sh installs it.


@pytest.fixture(scope="module")
def endpoint():
    with moto_endpoint() as url:
        yield url


@pytest.fixture
def account(endpoint, monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION), ("AWS_ENDPOINT_URL", endpoint)):
        monkeypatch.setenv(name, value)  # the module sets some of these too: restored after the test
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from pcluster.aws.aws_api import AWSApi
    monkeypatch.setattr(AWSApi, "_instance", None)
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint)
    return {"endpoint": endpoint, "ec2": ec2, "subnet": subnet, "cfn": cfn}


def _config(subnet, ami):
    return {
        "Region": REGION,
        "Image": {"Os": "alinux2", "CustomAmi": ami},
        "HeadNode": {"InstanceType": "t3.micro", "Networking": {"SubnetId": subnet}, "Ssh": {"KeyName": "no-such-key"}},
        "Scheduling": {"Scheduler": "slurm", "SlurmQueues": [{
            "Name": "compute", "ComputeResources": [{"Name": "cr", "InstanceType": "t3.micro", "MaxCount": 2}],
            "Networking": {"SubnetIds": [subnet]}}]},
    }


def run(capsys, account, config, **args):
    args.update(name="emulated", provider="aws", region=REGION, endpoint_url=account["endpoint"],
                access_key="testing", secret_key="testing", config=config, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            pcluster_cluster.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_returns_pclusters_validation_messages_and_creates_nothing(capsys, account):
    ami = account["ec2"].describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    result = run(capsys, account, _config(account["subnet"], ami))
    assert result["failed"] is True
    by_type = {m["type"]: m for m in result["validation_messages"]}
    assert by_type["KeyPairValidator"]["level"] == "ERROR"
    assert "no-such-key" in by_type["KeyPairValidator"]["message"]
    assert "CustomAmiTagValidator" in by_type
    assert "KeyPairValidator" in result["msg"]
    assert account["cfn"].list_stacks()["StackSummaries"] == []
    assert account["ec2"].describe_instances()["Reservations"] == []


def test_check_mode_with_a_missing_custom_ami_names_it(capsys, account):
    result = run(capsys, account, _config(account["subnet"], "ami-12345678"))
    assert result["failed"] is True
    assert "ami-12345678" in result["msg"] and "does not exist" in result["msg"]
    assert account["cfn"].list_stacks()["StackSummaries"] == []


def test_suppressed_validators_leave_a_passing_dry_run(capsys, account):
    ami = account["ec2"].describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    result = run(capsys, account, _config(account["subnet"], ami), suppress_validators=["ALL"])
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    assert account["cfn"].list_stacks()["StackSummaries"] == []
