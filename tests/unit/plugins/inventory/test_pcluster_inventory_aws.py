"""The hpc.parallelcluster.pcluster inventory plugin with provider aws, against an EC2 API emulator
holding instances tagged the way ParallelCluster tags them: the head nodes and compute nodes of
two clusters, and an instance of no cluster."""

import boto3
import pytest
from ansible.errors import AnsibleError

from emulator import moto_endpoint
from inventory_runner import hosts_of, run_plugin

REGION = "us-east-1"
OTHER_REGION = "eu-west-1"


def _tags(cluster, node_type, os_name="alinux2"):
    return [
        {"Key": "parallelcluster:cluster-name", "Value": cluster},
        {"Key": "parallelcluster:node-type", "Value": node_type},
        {"Key": "parallelcluster:version", "Value": "3.15.1"},
        {"Key": "parallelcluster:attributes", "Value": "%s, slurm, 3.15.1, x86_64" % os_name},
        {"Key": "Name", "Value": node_type},
    ]


def _launch(ec2, tags, instance_type="t3.micro", count=1):
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    answer = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count, InstanceType=instance_type,
                               TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    return [i["InstanceId"] for i in answer["Instances"]]


@pytest.fixture(scope="module")
def account(monkeypatch_module):
    with moto_endpoint() as endpoint:
        monkeypatch_module.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch_module.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch_module.delenv("AWS_PROFILE", raising=False)
        ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
        ids = {
            "alpha": _launch(ec2, _tags("alpha", "HeadNode"), "m5.large")[0],
            "beta": _launch(ec2, _tags("beta", "HeadNode", "ubuntu2204"))[0],
        }
        _launch(ec2, _tags("alpha", "Compute"), "c5n.large", count=3)
        _launch(ec2, _tags("beta", "Compute"), count=2)
        _launch(ec2, _tags("beta", "LoginNode"))
        _launch(ec2, [{"Key": "Name", "Value": "not-a-cluster"}])
        stopped = _launch(ec2, _tags("gamma", "HeadNode"))[0]
        ec2.stop_instances(InstanceIds=[stopped])
        other = boto3.client("ec2", region_name=OTHER_REGION, endpoint_url=endpoint)
        ids["delta"] = _launch(other, _tags("delta", "HeadNode", "rocky9"))[0]
        yield {"endpoint": endpoint, "ids": ids, "ec2": ec2}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def parse(tmp_path, account, refresh=True, **options):
    config = {"plugin": "hpc.parallelcluster.pcluster", "provider": "aws", "regions": [REGION],
              "endpoint_url": account["endpoint"]}
    config.update(options)
    return run_plugin(tmp_path / "aws.pcluster.yml", config, refresh)


def test_head_nodes_of_two_clusters_compute_nodes_ignored(tmp_path, account):
    inventory = parse(tmp_path, account)
    assert sorted(inventory.hosts) == ["alpha-head", "beta-head"]
    assert hosts_of(inventory, "head_nodes") == ["alpha-head", "beta-head"]
    assert hosts_of(inventory, "cluster_alpha") == ["alpha-head"]
    assert hosts_of(inventory, "cluster_beta") == ["beta-head"]
    assert "cluster_gamma" not in inventory.groups  # its head node is stopped


def test_host_vars_from_the_tags(tmp_path, account):
    inventory = parse(tmp_path, account)
    alpha = inventory.get_host("alpha-head").vars
    assert alpha["pcluster_head_node"]["instanceId"] == account["ids"]["alpha"]
    assert alpha["pcluster_head_node"]["instanceType"] == "m5.large"
    assert alpha["pcluster_version"] == "3.15.1"
    assert alpha["pcluster_region"] == REGION
    assert alpha["pcluster_scheduler"] == "slurm"
    assert alpha["pcluster_provider"] == "aws"
    assert alpha["pcluster_os"] == "alinux2"
    assert alpha["ansible_user"] == "ec2-user"
    assert alpha["ansible_host"] == alpha["pcluster_head_node"]["publicIpAddress"]
    assert "ansible_connection" not in alpha
    beta = inventory.get_host("beta-head").vars
    assert beta["ansible_user"] == beta["pcluster_default_user"] == "ubuntu"


def test_ansible_host_from_the_private_address_by_option(tmp_path, account):
    inventory = parse(tmp_path, account, host_address="private-ip-address")
    alpha = inventory.get_host("alpha-head").vars
    assert alpha["ansible_host"] == alpha["pcluster_head_node"]["privateIpAddress"]
    assert alpha["ansible_host"] != alpha["pcluster_head_node"]["publicIpAddress"]


def test_regions_and_ec2_filters(tmp_path, account):
    both = parse(tmp_path, account, regions=[REGION, OTHER_REGION])
    assert hosts_of(both, "head_nodes") == ["alpha-head", "beta-head", "delta-head"]
    assert both.get_host("delta-head").vars["ansible_user"] == "rocky"
    assert both.get_host("delta-head").vars["pcluster_region"] == OTHER_REGION
    by_type = parse(tmp_path, account, filters={"instance-type": "m5.large"})
    assert hosts_of(by_type, "head_nodes") == ["alpha-head"]
    stopped_too = parse(tmp_path, account, filters={"instance-state-name": ["running", "stopped"]})
    assert hosts_of(stopped_too, "head_nodes") == ["alpha-head", "beta-head"]  # gamma is not live


def test_compose_keyed_groups_and_hostnames(tmp_path, account):
    inventory = parse(tmp_path, account, hostnames=["instance-id"],
                      compose={"login": "ansible_user ~ '@' ~ ansible_host"},
                      keyed_groups=[{"key": "pcluster_os", "prefix": "os"},
                                    {"key": "pcluster_head_node.instanceType", "prefix": "type"}],
                      groups={"alinux": "pcluster_os.startswith('alinux')"})
    alpha_id, beta_id = account["ids"]["alpha"], account["ids"]["beta"]
    assert sorted(inventory.hosts) == sorted([alpha_id, beta_id])
    assert hosts_of(inventory, "os_alinux2") == [alpha_id]
    assert hosts_of(inventory, "os_ubuntu2204") == [beta_id]
    assert hosts_of(inventory, "type_m5_large") == [alpha_id]
    assert hosts_of(inventory, "alinux") == [alpha_id]
    assert inventory.get_host(alpha_id).vars["login"].startswith("ec2-user@")


def test_cache(tmp_path, account):
    options = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile",
               "cache_connection": str(tmp_path / "cache")}
    assert hosts_of(parse(tmp_path, account, refresh=False, **options), "head_nodes") == ["alpha-head", "beta-head"]
    extra = _launch(account["ec2"], _tags("epsilon", "HeadNode"))
    try:
        assert hosts_of(parse(tmp_path, account, refresh=False, **options), "head_nodes") == ["alpha-head",
                                                                                              "beta-head"]
        assert "epsilon-head" in hosts_of(parse(tmp_path, account, refresh=True, **options), "head_nodes")
    finally:
        account["ec2"].terminate_instances(InstanceIds=extra)


def test_emulator_errors_are_parser_errors(tmp_path, account):
    with pytest.raises(AnsibleError, match="listing ParallelCluster head nodes failed"):
        parse(tmp_path, account, filters={"no-such-filter": "x"})
