# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ParallelCluster's whole validator set, run as ``pcluster create-cluster --dryrun`` runs it,
against the account that the AWS environment points at (for the local provider, its emulator).

The local provider has no CloudFormation stack and no ParallelCluster API, but its AWS API
emulator holds the account's data: subnets, security groups, key pairs, buckets, secrets and EC2's
instance types. pcluster's own ``Cluster._validate_and_parse_config`` (what create-cluster and
update-cluster call before anything changes) runs here on that data, so that both providers give
the same verdict with the same validator names, levels and messages, and read
``validation_failure_level`` and ``suppress_validators`` the same way.

Where the emulator cannot answer as AWS would, the handling is decided one validator at a time and
reported in every result (docs/validation.md lists the same):
- ``LOCAL_ANSWERS``: calls answered here instead of by the emulator (ParallelCluster's official
  images come from ``pcluster_official_images``);
- ``LOCAL_SUPPRESSED``: validators skipped, with the reason;
- ``local_emulator_gaps``: settings refused before pcluster runs, because the emulator cannot hold
  what they name and the local provider cannot provide it.
"""

from __future__ import annotations

import json
import re

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import pcluster_official_images
from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import ClusterConfigError
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_emulator_gaps import emulator_gaps
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache

try:
    from pcluster.aws.aws_api import AWSApi
    from pcluster.aws.aws_resources import ImageInfo
    from pcluster.aws.common import AWSClientError, Cache
    from pcluster.aws.ec2 import Ec2Client
    from pcluster.aws.iam import IamClient
    from pcluster.validators import iam_validators
    from pcluster.config.common import AllValidatorsSuppressor, TypeMatchValidatorsSuppressor
    from pcluster.constants import (
        OS_TO_IMAGE_NAME_PART_MAP,
        PRIVATE_OSES,
        SUPPORTED_ARCHITECTURES,
        SUPPORTED_OSES,
    )
    from pcluster.models.cluster import Cluster, ConfigValidationError
    from pcluster.utils import get_installed_version
    from pcluster.validators.common import FailureLevel, ValidatorContext
except ImportError:
    HAS_PCLUSTER = False
    Ec2Client = IamClient = object
else:
    HAS_PCLUSTER = True

LEVELS = ("INFO", "WARNING", "ERROR")

# Validators the local provider skips, each with the reason the result gives.
LOCAL_SUPPRESSED = {
    "HeadNodeLaunchTemplateValidator": (
        "a dry-run RunInstances of the head node's launch template: the AWS API emulator refuses the instance-store "
        "mappings ParallelCluster always sends ('The request must contain the parameter ebs') and checks nothing else "
        "(capacity, limits, Availability Zone offerings), so its answer means nothing for the local provider"),
    "ComputeResourceLaunchTemplateValidator": (
        "a dry-run RunInstances of the first queue's launch templates: the AWS API emulator refuses the instance-store "
        "mappings ParallelCluster always sends ('The request must contain the parameter ebs') and checks nothing else "
        "(capacity, limits, Availability Zone offerings), so its answer means nothing for the local provider"),
}

# Look-ups answered here instead of by the emulator; the validators that read them run as usual.
LOCAL_ANSWERS = {
    "ParallelCluster's official images": (
        "the AWS API emulator publishes none: the official image of each OS and architecture comes from a table "
        "(pcluster_official_images: its name, architecture, root device and %d GiB root volume), for "
        "InstanceTypeBaseAMICompatibleValidator, RootVolumeSizeValidator and every other validator that reads the "
        "image of a config without Image.CustomAmi" % pcluster_official_images.ROOT_VOLUME_GIB),
    "local node images": (
        "the images of the local_image module (ami- ids of this machine's node image cache) are not in the AWS API "
        "emulator: each is answered as a custom image of the account, tagged with its OS and ParallelCluster version "
        "as pcluster build-image tags one, with its architecture and a %d GiB root volume, so that Image.CustomAmi "
        "can name it" % pcluster_official_images.ROOT_VOLUME_GIB),
    "IamPolicyValidator, AdditionalIamPolicyValidator": (
        "AWS managed policies (arn:aws:iam::aws:policy/...) exist in every account, but the AWS API emulator holds "
        "them only when started with MOTO_IAM_LOAD_MANAGED_POLICIES: such a policy is looked up in the emulator's "
        "own list of AWS managed policies (moto's aws_managed_policies); the account's own policies are asked of the "
        "emulator as usual"),
    "PlacementGroupNamingValidator": (
        "the AWS API emulator cannot create or describe placement groups (it answers DescribePlacementGroups with an "
        "internal error) and the local provider places no node in one: a named placement group is taken as existing; "
        "the validator's own checks (Id with Name, a Name with Enabled: false) still run"),
}


class ValidationRefused(Exception):
    """pcluster's validators refuse the config at or above the failure level (or pcluster could not load it)."""

    def __init__(self, message, validation_messages):
        super().__init__(message)
        self.validation_messages = validation_messages


class _LocalAnswersEc2(Ec2Client):
    """pcluster's EC2 client with LOCAL_ANSWERS; every other call goes to the account as pcluster makes it."""

    def __init__(self, images, node_images=()):
        super().__init__()
        self._official = {image["ImageId"]: image for image in images}
        # Answered by id only: official images are also found by name, node images never are.
        self._answered = dict(self._official, **{image["ImageId"]: image for image in node_images})

    def get_official_image_id(self, os, architecture, filters=None):  # pylint: disable=redefined-builtin
        if filters is not None and (filters.owner or filters.tags or filters.name_prefix):
            # DevSettings.AmiSearchFilters: the user's own images, which the account holds.
            return super().get_official_image_id(os, architecture, filters)
        prefix = self._get_official_image_name_prefix(os, architecture)
        for image in self._official.values():
            if image["Name"].startswith(prefix):
                return image["ImageId"]
        raise AWSClientError(function_name="describe_images", message="Cannot find official ParallelCluster AMI")

    def describe_image(self, ami_id):
        if ami_id in self._answered:
            return ImageInfo(self._answered[ami_id])
        return super().describe_image(ami_id)

    def describe_images(self, ami_ids, filters, owners):
        if ami_ids and all(ami_id in self._answered for ami_id in ami_ids):
            return [ImageInfo(self._answered[ami_id]) for ami_id in ami_ids]
        return super().describe_images(ami_ids, filters, owners)

    def describe_placement_group(self, group_name):
        return {"PlacementGroups": [{"GroupName": group_name, "State": "available", "Strategy": "cluster"}]}


_AWS_MANAGED_POLICY = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy(/(?:[^/]+/)*)([^/]+)$")
_MANAGED_POLICIES = {}


def aws_managed_policy_known(arn):
    """True when ``arn`` names an AWS managed policy of the emulator's list, False when it names another
    one of the ``aws`` account, None when it is the account's own (or the list is not installed)."""
    match = _AWS_MANAGED_POLICY.match(arn or "")
    if not match:
        return None
    if "paths" not in _MANAGED_POLICIES:
        try:
            from moto.iam.aws_managed_policies import aws_managed_policies_data  # pylint: disable=import-outside-toplevel
        except ImportError:
            return None
        _MANAGED_POLICIES["paths"] = {name: data.get("Path", "/")
                                      for name, data in json.loads(aws_managed_policies_data).items()}
    return _MANAGED_POLICIES["paths"].get(match.group(2)) == match.group(1)


class _LocalAnswersIam(IamClient):
    """pcluster's IAM client, answering for AWS managed policies from the emulator's list."""

    def get_policy(self, iam_policy):
        known = aws_managed_policy_known(iam_policy)
        if known is True:
            return {"Policy": {"Arn": iam_policy, "PolicyName": iam_policy.rsplit("/", 1)[-1]}}
        return super().get_policy(iam_policy)


class _NoStack:
    """What an update reads from the cluster's CloudFormation stack: the local provider has none, so
    no managed security groups, and the official image is looked up as for a create."""

    official_ami = None

    @staticmethod
    def get_resource_physical_id(logical_id):  # pylint: disable=unused-argument
        return None


def official_images():
    """The table of official images for the installed aws-parallelcluster (none for the OSes it does not publish)."""
    oses = [os_name for os_name in SUPPORTED_OSES if os_name not in PRIVATE_OSES]
    return pcluster_official_images.official_images(get_installed_version(), oses, OS_TO_IMAGE_NAME_PART_MAP,
                                                    SUPPORTED_ARCHITECTURES)


def node_images(cache=None):
    """DescribeImages items of the local node images of this machine (none when the cache cannot be read,
    for example by a user other than root: then a CustomAmi naming one is refused as the emulator refuses it)."""
    cache = cache or ImageCache()
    try:
        manifests = cache.images()
    except (OSError, ValueError):
        return []
    return [pcluster_official_images.node_image(manifest, get_installed_version()) for manifest in manifests
            if manifest.get("os") and manifest.get("arch")]


def suppressed_validators():
    """The validators the local provider skips, as the result lists them."""
    return [{"type": name, "reason": reason} for name, reason in sorted(LOCAL_SUPPRESSED.items())]


def local_answers():
    """The look-ups answered without the emulator, as the result lists them."""
    return [{"type": name, "reason": reason} for name, reason in sorted(LOCAL_ANSWERS.items())]


def _suppressors(suppress_validators):
    """pcluster's suppressors for ``suppress_validators`` (read as its get_validator_suppressors
    reads them: ALL or type:<Name>), plus LOCAL_SUPPRESSED."""
    suppressors = set()
    types = set(LOCAL_SUPPRESSED)
    for expression in suppress_validators or ():
        if expression == "ALL":
            suppressors.add(AllValidatorsSuppressor())
        elif expression.startswith("type:"):
            types.add(expression[len("type:"):])
    suppressors.add(TypeMatchValidatorsSuppressor(types))
    return suppressors


def _messages(failures):
    """Validation failures in the shape of ParallelCluster's API (ConfigValidationMessage)."""
    return [{"level": failure.level.name, "type": failure.validator_type, "message": failure.message}
            for failure in failures or ()]


def run_validators(cluster_name, config, failure_level="ERROR", suppress_validators=None, updating=False,
                   head_node_instance_id=None):
    """Run pcluster's validators on ``config`` (a dict) and return the messages below ``failure_level``.

    Raises ValidationRefused when a message reaches ``failure_level`` or pcluster cannot load the
    config, as create-cluster and update-cluster refuse. pcluster's clients reach the account
    through the AWS environment (region, endpoint, credentials), which the caller sets.
    """
    if failure_level not in LEVELS:
        raise ValueError("validation_failure_level must be one of %s, not %r" % (", ".join(LEVELS), failure_level))
    # A fresh client and empty caches: a run must not reuse answers of another endpoint or account.
    AWSApi.reset()
    Cache.clear_all()
    AWSApi.instance()._ec2 = _LocalAnswersEc2(official_images(), node_images())  # pylint: disable=protected-access
    # IamPolicyValidator makes its own client rather than asking AWSApi.
    iam_client = iam_validators.IamClient
    iam_validators.IamClient = _LocalAnswersIam
    cluster = Cluster(cluster_name, yaml.safe_dump(config, default_flow_style=False),
                      stack=_NoStack() if updating else None)
    if updating:
        context = ValidatorContext(head_node_instance_id=head_node_instance_id, during_update=True)
    else:
        context = ValidatorContext()
    try:
        dummy, failures = cluster._validate_and_parse_config(  # pylint: disable=protected-access
            _suppressors(suppress_validators), FailureLevel[failure_level], context=context)
    except ConfigValidationError as exc:
        raise ValidationRefused(str(exc), _messages(exc.validation_failures)) from None
    finally:
        iam_validators.IamClient = iam_client
        AWSApi.reset()
        Cache.clear_all()
    return _messages(failures)


class AccountValidator:
    """The local provider's validation step: the emulator's gaps, then pcluster's validators.

    ``environment`` applies the AWS connection (endpoint, credentials, region) for pcluster's
    clients; ``region`` is the module's, which must agree with the config's ``Region`` as
    ParallelCluster's API requires.
    """

    def __init__(self, environment, region=None, failure_level="ERROR", suppress_validators=None, run=None):
        self.environment = environment
        self.region = region
        self.failure_level = failure_level
        self.suppress_validators = list(suppress_validators or [])
        self.run = run or run_validators

    def __call__(self, name, config, creating=True, head_node_instance_id=None):
        """A result dict (validation_messages, suppressed_validators, locally_answered); raises
        ClusterConfigError for the emulator's gaps and BackendError when pcluster refuses."""
        gaps = emulator_gaps(config)
        if gaps:
            raise ClusterConfigError(gaps)
        report = {"suppressed_validators": suppressed_validators(), "locally_answered": local_answers()}
        config_region = config.get("Region")
        if self.region and config_region and self.region != config_region:
            # ParallelCluster's API refuses the same (configure_aws_region_from_config).
            raise cb.BackendError("region is set in both parameter and configuration and conflicts.",
                                  failures=[{"failureCode": "BadRequestException",
                                             "failureReason": "region %s, configuration Region %s"
                                                              % (self.region, config_region)}],
                                  details=dict(report, validation_messages=[]))
        self.environment(self.region or config_region)
        try:
            messages = self.run(name, config, failure_level=self.failure_level,
                                suppress_validators=self.suppress_validators, updating=not creating,
                                head_node_instance_id=head_node_instance_id)
        except ValidationRefused as exc:
            lines = ["  %s %s: %s" % (m["level"], m["type"], m["message"]) for m in exc.validation_messages]
            message = ("ParallelCluster's validators refuse the configuration of %s (at or above %s); nothing was "
                       "changed: %s" % (name, self.failure_level, exc))
            raise cb.BackendError("\n".join([message] + lines),
                                  failures=[{"failureCode": "ConfigValidationError", "failureReason": str(exc)}],
                                  details=dict(report, validation_messages=exc.validation_messages)) from None
        return dict(report, validation_messages=messages)
