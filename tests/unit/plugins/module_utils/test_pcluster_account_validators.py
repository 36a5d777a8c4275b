"""The local provider's validation step without an emulator: the official image table, the local
answers, the suppressions, and how refusals and region conflicts reach the module. The same code
against a real emulator is tests/unit/plugins/test_pcluster_cluster_verdicts_emulator.py."""

import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import pcluster_account_validators as validators
from ansible_collections.hpc.parallelcluster.plugins.module_utils import pcluster_official_images
from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import ClusterConfigError


def test_one_official_image_per_published_os_and_architecture():
    from pcluster.aws.ec2 import Ec2Client
    from pcluster.constants import PRIVATE_OSES, SUPPORTED_ARCHITECTURES, SUPPORTED_OSES

    images = validators.official_images()
    published = [os_name for os_name in SUPPORTED_OSES if os_name not in PRIVATE_OSES]
    assert len(images) == len(published) * len(SUPPORTED_ARCHITECTURES)
    assert len({image["ImageId"] for image in images}) == len(images)
    for os_name in published:
        for architecture in SUPPORTED_ARCHITECTURES:
            prefix = Ec2Client._get_official_image_name_prefix(os_name, architecture)
            found = [image for image in images if image["Name"].startswith(prefix)]
            assert len(found) == 1, (os_name, architecture)
            assert found[0]["Architecture"] == architecture
            assert found[0]["OwnerId"] == "amazon"
            assert "AWS ParallelCluster AMI" in found[0]["Description"]  # what the NVIDIA OpenRM check reads
            assert found[0]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == pcluster_official_images.ROOT_VOLUME_GIB
    assert not [image for image in images if any(private in image["Description"] for private in PRIVATE_OSES)]


def test_the_table_answers_pclusters_image_look_ups(monkeypatch):
    """Without a network call: the client only needs a region to be made."""
    from pcluster.aws.common import AWSClientError

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    client = validators._LocalAnswersEc2(validators.official_images())
    image_id = client.get_official_image_id("alinux2", "arm64")
    info = client.describe_image(image_id)
    assert info.architecture == "arm64" and info.device_name == "/dev/xvda" and info.volume_size == 40
    assert client.describe_image(client.get_official_image_id("ubuntu2404", "x86_64")).device_name == "/dev/sda1"
    assert [i.id for i in client.describe_images([image_id], None, None)] == [image_id]
    with pytest.raises(AWSClientError, match="Cannot find official ParallelCluster AMI"):
        client.get_official_image_id("rocky9", "x86_64")  # ParallelCluster publishes none
    assert client.describe_placement_group("hpc-pg")["PlacementGroups"][0]["GroupName"] == "hpc-pg"


def _node_image_cache(tmp_path, mode=0o700):
    from ansible_collections.hpc.parallelcluster.plugins.module_utils import root_folders
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache

    cache = ImageCache(str(tmp_path / "images"), trusted=str(tmp_path))
    cache.ensure_root()
    image = "ami-0123456789abcdef0"
    os.makedirs(cache.rootfs(image))
    root_folders.write_json(cache.path(image), "manifest.json", {
        "image_id": image, "release": "bookworm", "debian": "12", "arch": "arm64", "os": "ubuntu2204",
        "slurm_version": "22.05.8", "created": "2026-11-30T00:00:00Z"})
    os.chmod(cache.root, mode)
    return cache, image


def test_local_node_images_are_answered_by_id_as_pcluster_built_custom_images(tmp_path, monkeypatch):
    from pcluster.utils import get_installed_version

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    cache, image = _node_image_cache(tmp_path)
    images = validators.node_images(cache)
    client = validators._LocalAnswersEc2(validators.official_images(), images)
    info = client.describe_image(image)
    assert info.architecture == "arm64" and info.device_name == "/dev/sda1" and info.volume_size == 40
    assert {t["Key"]: t["Value"] for t in info.tags} == {
        "parallelcluster:os": "ubuntu2204", "parallelcluster:version": get_installed_version(),
        "parallelcluster:build_status": "available"}
    assert [i.id for i in client.describe_images([image], None, None)] == [image]
    # Found by id only: never taken for an official image.
    assert client.get_official_image_id("ubuntu2204", "arm64") != image


def test_a_node_image_cache_that_others_may_write_is_not_read(tmp_path):
    """Its manifests could be anyone's: no image is answered from it (a CustomAmi naming one is then refused
    as the emulator refuses an unknown image)."""
    cache, dummy = _node_image_cache(tmp_path, mode=0o777)
    assert validators.node_images(cache) == []


@pytest.mark.parametrize("arn, known", [
    ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", True),
    ("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", True),
    ("arn:aws:iam::aws:policy/service-role/AmazonEC2RoleforSSM", True),
    ("arn:aws:iam::aws:policy/AmazonEC2RoleforSSM", False),  # the right name on the wrong path
    ("arn:aws:iam::aws:policy/NoSuchManagedPolicy", False),
    ("arn:aws:iam::123456789012:policy/mine", None),  # the account's own: the emulator answers
    ("not an arn", None),
])
def test_aws_managed_policies_come_from_the_emulators_list(arn, known):
    assert validators.aws_managed_policy_known(arn) is known


def test_the_launch_template_validators_are_always_suppressed_and_user_suppressions_add_to_them():
    from pcluster.validators.cluster_validators import HeadNodeLaunchTemplateValidator
    from pcluster.validators.ec2_validators import KeyPairValidator

    def suppressed(expressions, validator):
        return any(s.suppress_validator(validator) for s in validators._suppressors(expressions))

    assert suppressed([], HeadNodeLaunchTemplateValidator())
    assert not suppressed([], KeyPairValidator())
    assert suppressed(["type:KeyPairValidator"], KeyPairValidator())
    assert suppressed(["ALL"], KeyPairValidator())
    assert [s["type"] for s in validators.suppressed_validators()] == sorted(validators.LOCAL_SUPPRESSED)
    assert all(s["reason"] for s in validators.suppressed_validators() + validators.local_answers())


class FakeRun:
    def __init__(self, outcome):
        self.outcome = outcome
        self.calls = []

    def __call__(self, name, config, **kwargs):
        self.calls.append((name, kwargs))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


CONFIG = {"Region": "eu-west-1", "Scheduling": {"SlurmQueues": [{"Name": "q", "ComputeResources": [{"Name": "c"}]}]}}


def test_a_refusal_names_every_message_and_keeps_them_for_the_result():
    refused = validators.ValidationRefused("Invalid cluster configuration.", [
        {"level": "ERROR", "type": "EfaValidator", "message": "Instance type 'c5n.large' does not support EFA."},
        {"level": "INFO", "type": "DeletionPolicyValidator", "message": "..."}])
    regions = []
    check = validators.AccountValidator(regions.append, region="eu-west-1", failure_level="WARNING",
                                        suppress_validators=["type:KeyPairValidator"], run=FakeRun(refused))
    with pytest.raises(cb.BackendError) as caught:
        check("hpc", CONFIG, creating=False, head_node_instance_id="local-hpc-head")
    text = str(caught.value)
    assert "nothing was changed" in text and "at or above WARNING" in text
    assert "ERROR EfaValidator: Instance type 'c5n.large' does not support EFA." in text
    assert caught.value.details["validation_messages"] == refused.validation_messages
    assert caught.value.details["suppressed_validators"] == validators.suppressed_validators()
    assert caught.value.details["locally_answered"] == validators.local_answers()
    assert regions == ["eu-west-1"]
    assert check.run.calls == [("hpc", {"failure_level": "WARNING", "suppress_validators": ["type:KeyPairValidator"],
                                        "updating": True, "head_node_instance_id": "local-hpc-head"})]


def test_an_accepted_config_returns_its_messages_and_the_local_lists():
    messages = [{"level": "WARNING", "type": "SharedEbsPerformanceBottleNeckValidator", "message": "..."}]
    regions = []
    check = validators.AccountValidator(regions.append, run=FakeRun(messages))
    result = check("hpc", CONFIG)
    assert result == {"validation_messages": messages, "suppressed_validators": validators.suppressed_validators(),
                      "locally_answered": validators.local_answers()}
    assert regions == ["eu-west-1"]  # the config's Region when the module gives none
    assert check.run.calls[0][1]["updating"] is False


def test_a_region_that_conflicts_with_the_configs_is_refused_as_parallelclusters_api_refuses_it():
    check = validators.AccountValidator(lambda region: None, region="us-east-1", run=FakeRun([]))
    with pytest.raises(cb.BackendError, match="region is set in both parameter and configuration and conflicts"):
        check("hpc", CONFIG)
    assert check.run.calls == []


def test_what_the_emulator_cannot_hold_is_refused_before_pcluster_runs():
    config = {"Region": "eu-west-1", "Scheduling": {"SlurmQueues": [
        {"Name": "q", "CapacityType": "CAPACITY_BLOCK",
         "ComputeResources": [{"Name": "c", "CapacityReservationTarget": {"CapacityReservationId": "cr-1"}}]}]},
        "SharedStorage": [{"Name": "cache", "StorageType": "FileCache"}]}
    check = validators.AccountValidator(lambda region: None, run=FakeRun([]))
    with pytest.raises(ClusterConfigError) as caught:
        check("hpc", config)
    assert [field for field, dummy in caught.value.errors] == [
        "Scheduling.SlurmQueues[0].CapacityType", "Scheduling.SlurmQueues[0].ComputeResources[0].CapacityReservationTarget",
        "SharedStorage[0].StorageType"]
    assert check.run.calls == []


def test_a_run_leaves_pclusters_clients_as_it_found_them(monkeypatch):
    """Even when pcluster refuses: no local answer outlives the run (the aws provider shares the process in tests)."""
    from pcluster.aws.aws_api import AWSApi
    from pcluster.models.cluster import Cluster, ConfigValidationError
    from pcluster.validators import iam_validators
    from pcluster.validators.common import FailureLevel, ValidationResult

    seen = {}

    def refuse(self, suppressors, level, config_text=None, context=None):
        seen["iam"] = iam_validators.IamClient
        seen["ec2"] = type(AWSApi.instance().ec2)
        raise ConfigValidationError("Invalid cluster configuration.", validation_failures=[
            ValidationResult("no", FailureLevel.ERROR, "KeyPairValidator")])
    monkeypatch.setattr(Cluster, "_validate_and_parse_config", refuse)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    original = iam_validators.IamClient
    with pytest.raises(validators.ValidationRefused) as caught:
        validators.run_validators("hpc", {"Region": "us-east-1"})
    assert caught.value.validation_messages == [{"level": "ERROR", "type": "KeyPairValidator", "message": "no"}]
    assert seen == {"iam": validators._LocalAnswersIam, "ec2": validators._LocalAnswersEc2}
    assert iam_validators.IamClient is original
    assert AWSApi._instance is None


def test_an_unknown_failure_level_is_refused():
    with pytest.raises(ValueError, match="validation_failure_level"):
        validators.run_validators("hpc", {}, failure_level="FATAL")
