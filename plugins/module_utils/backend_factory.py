# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that picks a cluster backend from a module's ``provider``, so that
pcluster_cluster and pcluster_cluster_info talk to a cluster the same way."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.hpc.parallelcluster.plugins.module_utils import accounting_database
from ansible_collections.hpc.parallelcluster.plugins.module_utils.aws_cluster import AwsClusterBackend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.aws_cluster import apply_environment
from ansible_collections.hpc.parallelcluster.plugins.module_utils.aws_cluster import aws_environment
from ansible_collections.hpc.parallelcluster.plugins.module_utils.aws_cluster import load_pcluster_lib
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_types import describe_instance_types
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.pcluster_account_validators import AccountValidator


def aws_backend(module):
    """pcluster.lib, with the module's AWS connection options handed to its boto3 clients."""
    params = module.params
    apply_environment(aws_environment(dict(params, region=module.region)))
    return AwsClusterBackend(load_pcluster_lib(), region=module.region, wait=params.get("wait", True),
                             wait_timeout=params.get("wait_timeout", 1800),
                             validation_failure_level=params.get("validation_failure_level") or "ERROR",
                             suppress_validators=params.get("suppress_validators"))


def account_validator(module):
    """ParallelCluster's validators against the account the module's AWS options point at (the emulator)."""
    params = module.params

    def environment(region):
        apply_environment(aws_environment(dict(params, region=region)))

    return AccountValidator(environment, region=module.region,
                            failure_level=params.get("validation_failure_level") or "ERROR",
                            suppress_validators=params.get("suppress_validators"))


def local_backend(module, paths=None):
    """The local cluster; instance types, S3, the accounting database and ParallelCluster's validators'
    account data come from the (emulated) AWS API, clients made on first use. ``paths`` is for tests."""
    ec2 = {}

    def instance_types(names):
        if "client" not in ec2:
            ec2["client"] = module.client("ec2")
        return describe_instance_types(ec2["client"], names)

    def s3_client():
        return module.client("s3")

    def subnet_exists(subnet_id):
        if "client" not in ec2:
            ec2["client"] = module.client("ec2")
        try:
            return bool(ec2["client"].describe_subnets(SubnetIds=[subnet_id])["Subnets"])
        except is_boto3_error_code("InvalidSubnetID.NotFound"):
            return False

    def secret_exists(arn):
        try:
            module.client("secretsmanager").describe_secret(SecretId=arn)
            return True
        except is_boto3_error_code("ResourceNotFoundException"):
            return False

    def database(settings, cluster_name):
        return accounting_database.resolve(settings, cluster_name, module.client("secretsmanager"), module.client("rds"))

    return LocalClusterBackend(run=module.run_command, instance_types=instance_types, s3_client_factory=s3_client,
                               paths=paths, node_network=module.params.get("local_node_network") or "10.253.0.0/22",
                               warn=module.warn, subnet_exists=subnet_exists, validator=account_validator(module),
                               database_resolver=database, secret_exists=secret_exists)


def cluster_backend(module):
    if module.params["provider"] == "aws":
        return aws_backend(module)
    return local_backend(module)
