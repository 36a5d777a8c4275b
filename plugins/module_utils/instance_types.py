# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EC2 instance type facts that size Slurm nodes, read from ``ec2:DescribeInstanceTypes``.

ParallelCluster derives each node's CPUs, memory and GPUs from the instance type rather than from
the cluster config; reading them from the EC2 API (or the local emulator) keeps both providers'
Slurm nodes identical and rejects a misspelt instance type before anything is created.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import ClusterConfigError

try:
    from botocore.exceptions import ClientError
except ImportError:
    HAS_BOTOCORE = False
    BOTOCORE_IMPORT_ERROR = traceback.format_exc()

    class ClientError(Exception):  # type: ignore[no-redef]
        """Placeholder so that ``except ClientError`` stays valid without botocore."""

else:
    HAS_BOTOCORE = True
    BOTOCORE_IMPORT_ERROR = None

# DescribeInstanceTypes accepts at most 100 names in one request.
_MAX_NAMES_PER_REQUEST = 100


@dataclass(frozen=True)
class InstanceTypeInfo:
    """What Slurm needs to know about one instance type.

    ``gpu_type`` is the GPU name as ParallelCluster writes it in ``Gres=gpu:<type>:<n>`` (spaces
    removed, lower case, e.g. ``t4``); ``gpu_count`` counts every GPU, whatever its manufacturer.
    """

    vcpus: int
    default_cores: int
    threads_per_core: int
    memory_mib: int
    gpu_count: int = 0
    gpu_type: str | None = None
    gpu_manufacturer: str | None = None
    efa_supported: bool = False

    @classmethod
    def from_ec2(cls, data):
        """Build from one ``InstanceTypes`` item of a DescribeInstanceTypes answer."""
        vcpu_info = data.get("VCpuInfo") or {}
        vcpus = vcpu_info.get("DefaultVCpus") or 1
        threads = vcpu_info.get("DefaultThreadsPerCore")
        if not threads:
            # ParallelCluster's rule when EC2 does not say: x86_64 has two threads per core.
            architectures = (data.get("ProcessorInfo") or {}).get("SupportedArchitectures") or []
            threads = 2 if "x86_64" in architectures else 1
        cores = vcpu_info.get("DefaultCores") or max(1, vcpus // threads)
        gpus = (data.get("GpuInfo") or {}).get("Gpus") or []
        gpu_count = sum(int(gpu.get("Count") or 0) for gpu in gpus)
        first_gpu = gpus[0] if gpus else {}
        gpu_name = first_gpu.get("Name")
        return cls(
            vcpus=int(vcpus),
            default_cores=int(cores),
            threads_per_core=int(threads),
            memory_mib=int((data.get("MemoryInfo") or {}).get("SizeInMiB") or 1),
            gpu_count=gpu_count,
            gpu_type=gpu_name.replace(" ", "").lower() if gpu_name else None,
            gpu_manufacturer=first_gpu.get("Manufacturer") if gpus else None,
            efa_supported=bool((data.get("NetworkInfo") or {}).get("EfaSupported")),
        )


def node_cpus(info, disable_smt):
    """Slurm ``CPUs`` of a node: its vCPUs, or one per core when multithreading is disabled."""
    if disable_smt:
        return info.vcpus // info.threads_per_core
    return info.vcpus


def _describe(ec2_client, names):
    paginator = ec2_client.get_paginator("describe_instance_types")
    found = {}
    for page in paginator.paginate(InstanceTypes=names):
        for item in page.get("InstanceTypes", []):
            found[item["InstanceType"]] = InstanceTypeInfo.from_ec2(item)
    return found


def _existing(ec2_client, names):
    """The subset of ``names`` that EC2 knows, without failing on the unknown ones."""
    paginator = ec2_client.get_paginator("describe_instance_types")
    found = {}
    for page in paginator.paginate(Filters=[{"Name": "instance-type", "Values": names}]):
        for item in page.get("InstanceTypes", []):
            if item["InstanceType"] in names:
                found[item["InstanceType"]] = InstanceTypeInfo.from_ec2(item)
    return found


def describe_instance_types(ec2_client, names):
    """Return ``{name: InstanceTypeInfo}`` for every instance type in ``names``.

    ``names`` is an iterable of instance type names, or a mapping from each name to the config
    field paths that use it (as ``cluster_config.instance_type_fields`` returns), so that an
    unknown type is reported as ClusterConfigError under those fields. Other API errors propagate.
    """
    if isinstance(names, Mapping):
        fields = {name: list(paths) for name, paths in names.items()}
    else:
        fields = {name: [] for name in names}
    wanted = sorted(fields)
    found = {}
    for start in range(0, len(wanted), _MAX_NAMES_PER_REQUEST):
        chunk = wanted[start:start + _MAX_NAMES_PER_REQUEST]
        try:
            found.update(_describe(ec2_client, chunk))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidInstanceType":
                raise
            found.update(_existing(ec2_client, chunk))
    missing = [name for name in wanted if name not in found]
    if missing:
        region = getattr(getattr(ec2_client, "meta", None), "region_name", None) or "this region"
        errors = []
        for name in missing:
            message = ("instance type '%s' is not offered in %s (DescribeInstanceTypes does not know it); check its "
                       "spelling or choose another instance type" % (name, region))
            for field in fields[name] or ["InstanceType"]:
                errors.append((field, message))
        raise ClusterConfigError(errors)
    return found
