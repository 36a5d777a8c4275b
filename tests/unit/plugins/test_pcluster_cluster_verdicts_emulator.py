"""The same config through both providers' check modes, against one private AWS API emulator.

provider aws is ParallelCluster's own dry run (pcluster.lib's create-cluster --dryrun); provider
local runs pcluster's validators with the emulator's data (pcluster_account_validators). The
emulator plays an AWS account: a VPC, subnets, a security group, an RSA key pair, a bucket, a
secret, and what every account sees: ParallelCluster's official images (and AWS's managed policies
where a config names one). Both providers must
give the same verdict with the same messages (level, validator, text); the validators the local
provider skips (LOCAL_SUPPRESSED, which the emulator cannot answer) are skipped on the aws side too,
so that the comparison covers everything else. Each case also states the verdict ParallelCluster
gives, so that both providers being wrong the same way fails too.
"""

import copy
import json
import os

import boto3
import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpc.parallelcluster.plugins.module_utils import backend_factory
from ansible_collections.hpc.parallelcluster.plugins.module_utils import pcluster_account_validators as validators
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths
from ansible_collections.hpc.parallelcluster.plugins.modules import pcluster_cluster
from emulator import aws_managed_policies_loaded, moto_endpoint, official_images_published
from recipe_config import recipe

REGION = "us-east-1"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
AWS_SIDE_SUPPRESSED = ["type:%s" % name for name in sorted(validators.LOCAL_SUPPRESSED)]


@pytest.fixture(scope="module")
def endpoint():
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def account(endpoint):
    """The emulated account both providers read, as the vpc and s3_repo roles leave it."""
    clients = {name: boto3.client(name, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                                  aws_secret_access_key="testing")
               for name in ("ec2", "s3", "secretsmanager")}
    ec2 = clients["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="hpc-ssh", Description="ssh", VpcId=vpc)["GroupId"]
    ec2.create_key_pair(KeyName="hpc-cluster-keypair", KeyType="rsa")
    clients["s3"].create_bucket(Bucket="hpc-data")
    secret = clients["secretsmanager"].create_secret(Name="hpc-db", SecretString="pw")["ARN"]
    with official_images_published(REGION, validators.official_images()):
        yield {"endpoint": endpoint, "vpc_cidr": "10.0.0.0/16", "public": public, "private": private,
               "group": group, "key": "hpc-cluster-keypair", "bucket": "hpc-data", "secret": secret, "ec2": ec2}


@pytest.fixture
def env(account, monkeypatch):
    """pcluster's clients read the AWS environment, which the module sets: restored after each test."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION), ("AWS_ENDPOINT_URL", account["endpoint"])):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from pcluster.aws.aws_api import AWSApi
    monkeypatch.setattr(AWSApi, "_instance", None)
    return account


@pytest.fixture
def managed_policies(account):
    """AWS's managed policies in the emulated account, as in every real one (slow to load: only where needed)."""
    with aws_managed_policies_loaded():
        yield


@pytest.fixture
def paths(tmp_path):
    made = LocalPaths.under(tmp_path)
    os.makedirs(made.clusters)
    return made


@pytest.fixture
def run_module(capsys, env, paths, monkeypatch):
    """pcluster_cluster as Ansible runs it; the local provider keeps its files under tmp_path."""
    def factory(module):
        if module.params["provider"] == "local":
            return backend_factory.local_backend(module, paths=paths)
        return backend_factory.cluster_backend(module)
    monkeypatch.setattr(pcluster_cluster, "cluster_backend", factory)

    def run(provider, config, check_mode=True, name="verdicts", **args):
        args.update(name=name, provider=provider, region=REGION, endpoint_url=env["endpoint"], access_key="testing",
                    secret_key="testing", config=config, _ansible_check_mode=check_mode)
        if provider == "aws":
            args["suppress_validators"] = list(args.get("suppress_validators") or []) + AWS_SIDE_SUPPRESSED
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                pcluster_cluster.main()
        return json.loads(capsys.readouterr().out)
    return run


def rendered(inventory, account, **extra):
    """An inventory's cluster-config.yaml.j2 with the emulated account's ids, as site.yml renders it."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    with open(os.path.join(ROOT, "inventories", inventory, "cluster-config.yaml.j2"), encoding="utf-8") as handle:
        text = handle.read()
    values = dict(hpc_region=REGION, hpc_public_subnet_id=account["public"], hpc_private_subnet_id=account["private"],
                  hpc_key_name=account["key"], hpc_s3_bucket=account["bucket"],
                  hpc_security_group_id=account["group"], hpc_vpc_cidr=account["vpc_cidr"])
    values.update(extra)
    return yaml.safe_load(Templar(loader=DataLoader(), variables=values).template(trust_as_template(text)))


def recipe_in(account):
    """The recipe's config verbatim (EFA on c5n.large), with the account's ids."""
    config = recipe()
    config["Monitoring"] = {"Dashboards": {"CloudWatch": {"Enabled": True}}}  # the recipe's own is refused by the schema
    config["HeadNode"]["Networking"]["SubnetId"] = account["public"]
    config["HeadNode"]["Ssh"]["KeyName"] = account["key"]
    config["Scheduling"]["SlurmQueues"][0]["Networking"]["SubnetIds"] = [account["private"]]
    for key in ("ImportPath", "ExportPath"):
        settings = config["SharedStorage"][1]["FsxLustreSettings"]
        settings[key] = settings[key].replace("s3://bucket/", "s3://%s/" % account["bucket"])
    return config


def default_in(account):
    """The config make site deploys: the local inventory's template."""
    return rendered("local", account)


def _queue(config):
    return config["Scheduling"]["SlurmQueues"][0]


def _cr(config):
    return _queue(config)["ComputeResources"][0]


def efa_on(instance_type, placement_group):
    def edit(config, account):
        _cr(config).update(InstanceType=instance_type, Efa={"Enabled": True})
        if placement_group:
            _queue(config)["Networking"]["PlacementGroup"] = {"Enabled": True}
    return edit


def arm_behind_x86(config, account):
    _cr(config).update(InstanceType="c6gn.large")


def flexible_vcpus(config, account):
    cr = _cr(config)
    cr.pop("InstanceType")
    cr["Instances"] = [{"InstanceType": "c5.large"}, {"InstanceType": "c5.xlarge"}]


def schedulable_memory(config, account):
    config["Scheduling"].setdefault("SlurmSettings", {})["EnableMemoryBasedScheduling"] = True
    _cr(config)["SchedulableMemory"] = 6000  # c5n.large has 5376 MiB


def database_and_external_slurmdbd(config, account):
    config["Scheduling"].setdefault("SlurmSettings", {}).update(
        Database={"Uri": "db.example.com:3306", "UserName": "admin", "PasswordSecretArn": account["secret"]},
        ExternalSlurmdbd={"Host": "dbd.example.com"})


def nodes(count, head=None):
    def edit(config, account):
        _cr(config)["MaxCount"] = count
        if head:
            config["HeadNode"]["InstanceType"] = head
    return edit


def second_queue_with_static_nodes(config, account):
    """The queue that the cluster update tests add (tests/integration/test_80_cluster_updates.py)."""
    queue = {"Name": "extra", "Networking": copy.deepcopy(_queue(config)["Networking"]),
             "ComputeResources": [{"Name": "big", "InstanceType": "c5n.xlarge", "MinCount": 2, "MaxCount": 3}]}
    config["Scheduling"]["SlurmQueues"].append(queue)


def missing_key_pair(config, account):
    config["HeadNode"]["Ssh"]["KeyName"] = "no-such-key"


def nothing(config, account):
    return config


REFUSED = "refused"
ACCEPTED = "accepted"

# (id, base config, edit, module options, ParallelCluster's verdict, the validators of its ERROR and
# WARNING messages).
CASES = [
    ("default-config", default_in, nothing, {}, ACCEPTED, []),
    ("recipe-efa-on-c5n-large", recipe_in, nothing, {}, REFUSED,
     [("ERROR", "EfaValidator"), ("ERROR", "EfaPlacementGroupValidator")]),
    ("efa-without-placement-group", default_in, efa_on("c5n.18xlarge", False), {}, REFUSED,
     [("ERROR", "EfaPlacementGroupValidator")]),
    ("efa-with-placement-group", default_in, efa_on("c5n.18xlarge", True), {}, ACCEPTED, []),
    ("arm-compute-behind-x86-head", default_in, arm_behind_x86, {}, REFUSED,
     [("ERROR", "InstanceArchitectureCompatibilityValidator"), ("ERROR", "InstanceTypeBaseAMICompatibleValidator")]),
    ("flexible-vcpus-differ", default_in, flexible_vcpus, {}, REFUSED, [("ERROR", "InstancesCPUValidator")]),
    ("schedulable-memory-above-instance", default_in, schedulable_memory, {}, REFUSED,
     [("ERROR", "SchedulableMemoryValidator")]),
    ("database-and-external-slurmdbd", default_in, database_and_external_slurmdbd, {}, REFUSED,
     [("ERROR", "ExternalSlurmdbdVsDatabaseIncompatibility"), ("ERROR", "ExternalSlurmdbdRequiresCustomMungeKey"),
      ("WARNING", "ExternalSlurmdbdTrafficNotEncrypted")]),
    ("1000-nodes-behind-m5-large", default_in, nodes(1000), {}, REFUSED,
     [("ERROR", "HeadNodeMemorySizeValidator"), ("WARNING", "SharedEbsPerformanceBottleNeckValidator")]),
    ("1000-nodes-behind-m5-4xlarge", default_in, nodes(1000, "m5.4xlarge"), {}, ACCEPTED,
     [("WARNING", "SharedEbsPerformanceBottleNeckValidator")]),
    ("warning-at-failure-level-warning", default_in, nodes(1000, "m5.4xlarge"),
     {"validation_failure_level": "WARNING"}, REFUSED, [("WARNING", "SharedEbsPerformanceBottleNeckValidator")]),
    ("1000-nodes-suppressed-by-type", default_in, nodes(1000),
     {"suppress_validators": ["type:HeadNodeMemorySizeValidator"]}, ACCEPTED,
     [("WARNING", "SharedEbsPerformanceBottleNeckValidator")]),
    ("recipe-all-suppressed", recipe_in, nothing, {"suppress_validators": ["ALL"]}, ACCEPTED, []),
    ("missing-key-pair", default_in, missing_key_pair, {}, REFUSED, [("ERROR", "KeyPairValidator")]),
    ("second-queue-with-static-nodes", default_in, second_queue_with_static_nodes, {}, ACCEPTED, []),
]


def _messages(result):
    return sorted((m["level"], m["type"], m["message"]) for m in result.get("validation_messages") or [])


@pytest.mark.parametrize("base, edit, options, verdict, expected",
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_both_providers_give_parallelclusters_verdict(run_module, env, base, edit, options, verdict, expected):
    config = base(env)
    edit(config, env)
    aws = run_module("aws", copy.deepcopy(config), **copy.deepcopy(options))
    local = run_module("local", copy.deepcopy(config), **copy.deepcopy(options))
    for provider, result in (("aws", aws), ("local", local)):
        assert bool(result.get("failed")) == (verdict == REFUSED), (provider, result.get("msg"))
        found = sorted({(m["level"], m["type"]) for m in result.get("validation_messages") or []
                        if m["level"] in ("ERROR", "WARNING")})
        assert found == sorted(expected), (provider, result.get("validation_messages"), result.get("msg"))
    assert _messages(local) == _messages(aws)
    assert [s["type"] for s in local["suppressed_validators"]] == sorted(validators.LOCAL_SUPPRESSED)
    if verdict == ACCEPTED:
        assert local["cluster"]["clusterStatus"] == aws["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    else:
        assert "nothing was changed" in local["msg"]
        for level, name in expected:
            if level == "ERROR" or options.get("validation_failure_level") == "WARNING":
                assert name in local["msg"] and name in aws["msg"]


def test_the_matrix_covers_the_cases_of_the_issue():
    ids = {case[0] for case in CASES}
    assert {"recipe-efa-on-c5n-large", "efa-without-placement-group", "arm-compute-behind-x86-head",
            "flexible-vcpus-differ", "schedulable-memory-above-instance", "database-and-external-slurmdbd",
            "1000-nodes-behind-m5-large", "default-config"} <= ids
    assert len([c for c in CASES if c[4] == ACCEPTED]) >= 4 and len([c for c in CASES if c[4] == REFUSED]) >= 8


@pytest.mark.parametrize("inventory, overlay", [
    pytest.param("local", None, id="local-default"),
    pytest.param("local", "recipe-efa.yml", id="local-efa-overlay"),
    pytest.param("local", "recipe-step9-scaling.yml", id="local-step9-overlay"),
    pytest.param("aws", None, id="aws-default"),
])
def test_the_inventories_configs_pass_parallelclusters_dry_run(run_module, env, managed_policies, inventory, overlay):
    """What make site (and its EFA overlay, and the aws inventory) deploys is accepted by pcluster's dry run."""
    extra = {}
    if overlay:
        with open(os.path.join(ROOT, "inventories", inventory, "overlays", overlay), encoding="utf-8") as handle:
            extra = {k: v for k, v in yaml.safe_load(handle).items() if k.startswith("hpc_")}
    config = rendered(inventory, env, **extra)
    for provider in ("aws", "local"):
        result = run_module(provider, copy.deepcopy(config))
        assert not result.get("failed"), (provider, result.get("msg"))
        assert [m for m in result["validation_messages"] if m["level"] != "INFO"] == [], (provider, result)


def test_a_refused_create_changes_nothing(run_module, env, paths):
    """Not in check mode: the local provider refuses before it writes a record, a file or runs a command."""
    result = run_module("local", recipe_in(env), check_mode=False)
    assert result["failed"] is True
    assert "EfaValidator" in result["msg"]
    assert {m["type"] for m in result["validation_messages"]} >= {"EfaValidator", "EfaPlacementGroupValidator"}
    assert os.listdir(paths.clusters) == []
    assert not os.path.exists(paths.slurm_etc) and not os.path.exists(paths.run)


def test_an_update_is_validated_before_anything_changes(run_module, env, paths):
    """An update's check mode and the update itself run the validators as update-cluster does."""
    name = "updated"
    config = default_in(env)
    record = {"clusterName": name, "clusterStatus": "CREATE_COMPLETE", "computeFleetStatus": "RUNNING",
              "headNode": {"instanceId": "local-%s-head" % name, "state": "running"},
              "clusterConfiguration": copy.deepcopy(config), "region": REGION, "version": "3", "failures": []}
    with open(paths.record(name), "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    bigger = copy.deepcopy(config)
    _cr(bigger)["MaxCount"] = 1000  # allowed with the fleet running; refused by HeadNodeMemorySizeValidator
    for check_mode in (True, False):
        result = run_module("local", copy.deepcopy(bigger), check_mode=check_mode, name=name)
        assert result["failed"] is True, result
        assert "HeadNodeMemorySizeValidator" in result["msg"]
        with open(paths.record(name), encoding="utf-8") as handle:
            assert json.load(handle) == record
    fine = copy.deepcopy(config)
    _cr(fine)["MaxCount"] = 20
    result = run_module("local", fine, check_mode=True, name=name)
    assert not result.get("failed"), result.get("msg")
    assert result["update_plan"]["changes"] and result["cluster"]["clusterStatus"] == "UPDATE_IN_PROGRESS"


def test_a_named_placement_group_is_answered_locally(run_module, env):
    """The emulator cannot describe placement groups: the local provider takes a named one as existing
    (listed in locally_answered), and still refuses what the validator refuses without asking AWS."""
    config = default_in(env)
    efa_on("c5n.18xlarge", True)(config, env)
    _queue(config)["Networking"]["PlacementGroup"]["Name"] = "hpc-pg"
    local = run_module("local", copy.deepcopy(config))
    assert not local.get("failed"), local.get("msg")
    assert "PlacementGroupNamingValidator" in [a["type"] for a in local["locally_answered"]]
    aws = run_module("aws", copy.deepcopy(config))
    assert aws["failed"] is True and "PlacementGroupNamingValidator" in aws["msg"]  # the emulator's internal error
    _queue(config)["Networking"]["PlacementGroup"]["Enabled"] = False
    for provider in ("aws", "local"):
        result = run_module(provider, copy.deepcopy(config))
        assert result["failed"] is True
        assert [m["type"] for m in result["validation_messages"] if m["level"] == "ERROR"] == \
            ["PlacementGroupNamingValidator"], (provider, result)


@pytest.mark.parametrize("edit, field", [
    pytest.param(lambda c: _queue(c).update(CapacityReservationTarget={"CapacityReservationId": "cr-0123456789abcdef0"}),
                 "Scheduling.SlurmQueues[0].CapacityReservationTarget", id="capacity-reservation"),
    pytest.param(lambda c: c["SharedStorage"].append({"Name": "cache", "StorageType": "FileCache", "MountDir": "/cache",
                                                      "FileCacheSettings": {"FileCacheId": "fc-0123456789abcdef0"}}),
                 "SharedStorage[2].StorageType", id="file-cache"),
])
def test_what_the_emulator_cannot_hold_is_refused_by_name(run_module, env, edit, field):
    config = default_in(env)
    edit(config)
    result = run_module("local", config)
    assert result["failed"] is True
    assert field in [error["field"] for error in result["errors"]], result
    assert "provider aws" in result["msg"]


def test_check_mode_before_the_network_exists_warns_and_the_real_run_refuses(run_module, env, paths):
    """site.yml --check on an empty account: the vpc role hands placeholder subnets (subnet-planning),
    which pcluster could only refuse. Check mode says the validators wait for the real run, which refuses."""
    config = default_in(env)
    config["HeadNode"]["Networking"]["SubnetId"] = "subnet-planning"
    _queue(config)["Networking"]["SubnetIds"] = ["subnet-planning"]
    checked = run_module("local", copy.deepcopy(config))
    assert not checked.get("failed"), checked.get("msg")
    assert "subnet subnet-planning" in checked["validation_skipped"]
    assert any("were not run" in str(w) for w in checked.get("warnings", []))
    created = run_module("local", copy.deepcopy(config), check_mode=False)
    assert created["failed"] is True and "nothing was changed" in created["msg"]
    assert "subnet-planning" in created["msg"], created["msg"]
    assert os.listdir(paths.clusters) == []


# ------------------------------------------------------------------ what the local provider builds (local_support)


def _emulated_account(account):
    """What a create would leave in the emulated account: instances, volumes, file systems, buckets, secrets."""
    ec2 = account["ec2"]
    clients = {name: boto3.client(name, region_name=REGION, endpoint_url=account["endpoint"],
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
               for name in ("s3", "secretsmanager", "fsx", "cloudformation")}
    return {
        "instances": [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]],
        "volumes": [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]],
        "file_systems": [f["FileSystemId"] for f in clients["fsx"].describe_file_systems()["FileSystems"]],
        "buckets": sorted(b["Name"] for b in clients["s3"].list_buckets()["Buckets"]),
        "secrets": sorted(s["ARN"] for s in clients["secretsmanager"].list_secrets()["SecretList"]),
        "stacks": [s["StackName"] for s in clients["cloudformation"].list_stacks()["StackSummaries"]],
    }


def _unbuildable(config, account):
    """Sections a local cluster cannot honour, as ParallelCluster's schema and validators accept them."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=account["endpoint"], aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    for key in ("setup.sh", "slurm.conf"):
        s3.put_object(Bucket=account["bucket"], Key=key, Body=b"# empty\n")
    config["LoginNodes"] = {"Pools": [{"Name": "login", "InstanceType": "t3.small", "Count": 1,
                                       "Networking": {"SubnetIds": [account["public"]]}}]}
    config["HeadNode"]["CustomActions"] = {"OnNodeStart": {"Script": "s3://%s/setup.sh" % account["bucket"]}}
    _queue(config)["CustomActions"] = {"OnNodeConfigured": {"Script": "s3://%s/setup.sh" % account["bucket"]}}
    config["Scheduling"]["SlurmSettings"]["CustomSlurmSettingsIncludeFile"] = "s3://%s/slurm.conf" % account["bucket"]


@pytest.fixture
def dns_hostnames(env):
    """DNS host names on in the account's VPC, as ParallelCluster's SubnetsValidator wants them with login
    nodes (the vpc role turns them on); off again afterwards, as the other cases expect."""
    ec2 = env["ec2"]
    vpc = ec2.describe_subnets(SubnetIds=[env["public"]])["Subnets"][0]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    yield
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": False})


UNBUILDABLE = ["HeadNode.CustomActions", "Scheduling.SlurmSettings.CustomSlurmSettingsIncludeFile",
               "Scheduling.SlurmQueues[0].CustomActions", "LoginNodes"]


def test_a_refused_section_fails_in_check_mode_and_changes_nothing(run_module, env, paths, dns_hostnames):
    """Settings that a local cluster cannot honour fail the task in check mode and before a create, each named
    with the way out, and nothing is created in the emulated account or on this machine."""
    config = default_in(env)
    _unbuildable(config, env)
    before = _emulated_account(env)
    for check_mode in (True, False):
        result = run_module("local", copy.deepcopy(config), check_mode=check_mode)
        assert result["failed"] is True, result
        assert [item["path"] for item in result.get("refused", [])] == UNBUILDABLE, (result["msg"], result.get("validation_messages"))
        assert "nothing was changed" in result["msg"] and "provider aws" in result["msg"]
        for path in UNBUILDABLE:
            assert "\n- %s: " % path in result["msg"]
        assert [m for m in result["validation_messages"] if m["level"] == "ERROR"] == []
        assert _emulated_account(env) == before
        assert os.listdir(paths.clusters) == []
        assert not os.path.exists(paths.slurm_etc) and not os.path.exists(paths.run)
    # provider aws builds them: ParallelCluster's dry run takes the same config.
    aws = run_module("aws", copy.deepcopy(config))
    assert not aws.get("failed"), aws.get("msg")
    assert "refused" not in aws and "without_effect" not in aws


def test_parallelclusters_verdict_comes_before_the_local_refusal(run_module, env, dns_hostnames):
    """A config that ParallelCluster refuses is refused with its messages, as on aws, whatever else it sets."""
    config = default_in(env)
    _unbuildable(config, env)
    missing_key_pair(config, env)
    result = run_module("local", config)
    assert result["failed"] is True
    assert "KeyPairValidator" in result["msg"] and "refused" not in result
    assert "KeyPairValidator" in [m["type"] for m in result["validation_messages"] if m["level"] == "ERROR"]


def test_settings_without_effect_are_returned_and_warned_once(run_module, env):
    result = run_module("local", default_in(env))
    assert not result.get("failed"), result.get("msg")
    paths = [item["path"] for item in result["without_effect"]]
    assert paths == [
        "HeadNode.InstanceType", "HeadNode.Networking", "HeadNode.Ssh.KeyName", "HeadNode.Ssh.AllowedIps",
        "HeadNode.LocalStorage", "Scheduling.SlurmQueues[0].Networking",
        "Scheduling.SlurmQueues[0].ComputeSettings.LocalStorage", "SharedStorage[0].EbsSettings.Size",
        "SharedStorage[0].EbsSettings.VolumeType", "SharedStorage[0].EbsSettings.Encrypted",
        "SharedStorage[1].FsxLustreSettings.StorageCapacity", "SharedStorage[1].FsxLustreSettings.DeploymentType",
        "Monitoring"]
    warnings = [w for w in result.get("warnings", []) if "change nothing on a local cluster" in w]
    assert len(warnings) == 1 and all(path in warnings[0] for path in paths)
    aws = run_module("aws", default_in(env))
    assert "without_effect" not in aws


@pytest.fixture
def node_image(tmp_path, monkeypatch):
    """A local node image in a cache of its own, as the local_image module leaves one (its manifest)."""
    from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe, root_folders
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache

    cache = ImageCache(str(tmp_path / "images"), trusted=str(tmp_path))
    image = node_image_recipe.image_id(node_image_recipe.make_recipe())
    cache.ensure_root()
    os.makedirs(cache.rootfs(image))
    root_folders.write_json(cache.path(image), "manifest.json", {
        "image_id": image, "release": "trixie", "debian": "13", "arch": "amd64", "os": "alinux2",
        "os_user": "ec2-user", "slurm_version": "24.11.5", "created": "2026-11-30T00:00:00Z"})
    monkeypatch.setattr(validators, "ImageCache", lambda: cache)
    return image


def test_a_local_node_image_is_a_custom_ami_the_local_provider_accepts(run_module, env, node_image):
    """Image.CustomAmi (and a queue's) may name an image of the local_image module: the emulator does not hold
    it, the local provider answers for it as a custom image of the account."""
    config = default_in(env)
    config["Image"]["CustomAmi"] = node_image
    _queue(config)["Image"] = {"CustomAmi": node_image}
    result = run_module("local", copy.deepcopy(config))
    assert not result.get("failed"), result.get("msg")
    assert [m for m in result["validation_messages"] if m["level"] != "INFO"] == []
    assert "local node images" in [a["type"] for a in result["locally_answered"]]
    assert {"Image.CustomAmi", "Scheduling.SlurmQueues[0].Image.CustomAmi"} <= {
        item["path"] for item in result["without_effect"]}
    # An ami- id that is neither a node image nor in the account is refused, as ParallelCluster refuses it.
    config["Image"]["CustomAmi"] = "ami-0123456789abcdef0"
    for provider in ("local", "aws"):
        refused = run_module(provider, copy.deepcopy(config))
        assert refused["failed"] is True
        assert "The image id '[ami-0123456789abcdef0]' does not exist" in refused["msg"], (provider, refused["msg"])
