"""Instance type facts read from a real EC2 API emulator (moto server over HTTP)."""

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import (
    ClusterConfigError,
    instance_type_fields,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_types import (
    InstanceTypeInfo,
    describe_instance_types,
    node_cpus,
)


@pytest.fixture(scope="module")
def ec2():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield boto3.client("ec2", region_name="us-east-1", endpoint_url="http://%s:%d" % (host, port),
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    finally:
        server.stop()


class CountingClient(object):
    """Passes calls to the emulator's client, counting DescribeInstanceTypes requests."""

    def __init__(self, client):
        self.client = client
        self.meta = client.meta
        self.requests = []
        client.meta.events.register("before-parameter-build.ec2.DescribeInstanceTypes", self._count)

    def _count(self, params, **kwargs):
        self.requests.append(dict(params))

    def get_paginator(self, name):
        return self.client.get_paginator(name)

    def close(self):
        self.client.meta.events.unregister("before-parameter-build.ec2.DescribeInstanceTypes", self._count)


def test_c5n_large(ec2):
    info = describe_instance_types(ec2, ["c5n.large"])["c5n.large"]
    assert info == InstanceTypeInfo(vcpus=2, default_cores=1, threads_per_core=2, memory_mib=5376, gpu_count=0,
                                    gpu_type=None, gpu_manufacturer=None, efa_supported=False)
    assert node_cpus(info, disable_smt=True) == 1
    assert node_cpus(info, disable_smt=False) == 2


def test_m5_large(ec2):
    info = describe_instance_types(ec2, ["m5.large"])["m5.large"]
    assert (info.vcpus, info.default_cores, info.threads_per_core, info.memory_mib) == (2, 1, 2, 8192)
    assert info.gpu_count == 0 and not info.efa_supported


def test_gpu_instance_types(ec2):
    infos = describe_instance_types(ec2, ["g4dn.xlarge", "p4d.24xlarge"])
    g4dn = infos["g4dn.xlarge"]
    assert (g4dn.vcpus, g4dn.threads_per_core, g4dn.memory_mib) == (4, 2, 16384)
    assert (g4dn.gpu_count, g4dn.gpu_type, g4dn.gpu_manufacturer) == (1, "t4", "NVIDIA")
    p4d = infos["p4d.24xlarge"]
    assert (p4d.vcpus, p4d.default_cores, p4d.gpu_count, p4d.gpu_type) == (96, 48, 8, "a100")
    assert p4d.efa_supported is True
    assert node_cpus(p4d, disable_smt=True) == 48


def test_single_threaded_types_keep_their_cpus(ec2):
    infos = describe_instance_types(ec2, ["t2.micro", "c6gn.large"])
    assert node_cpus(infos["t2.micro"], disable_smt=True) == 1
    assert infos["c6gn.large"].threads_per_core == 1
    assert node_cpus(infos["c6gn.large"], disable_smt=True) == 2


def test_unknown_instance_type_names_the_fields_that_use_it(ec2):
    config = {
        "HeadNode": {"InstanceType": "m5.large"},
        "Scheduling": {"SlurmQueues": [
            {"Name": "compute", "ComputeResources": [{"Name": "a", "InstanceType": "p3.2xlarge"},
                                                     {"Name": "b", "InstanceType": "c5n.large"}]},
            {"Name": "gpu", "ComputeResources": [{"Name": "c", "InstanceType": "p3.2xlarge"}]},
        ]},
    }
    with pytest.raises(ClusterConfigError) as info:
        describe_instance_types(ec2, instance_type_fields(config))
    assert [field for field, dummy in info.value.errors] == [
        "Scheduling.SlurmQueues[0].ComputeResources[0].InstanceType",
        "Scheduling.SlurmQueues[1].ComputeResources[0].InstanceType",
    ]
    assert "'p3.2xlarge' is not offered in us-east-1" in info.value.errors[0][1]


def test_several_unknown_types_are_all_reported(ec2):
    with pytest.raises(ClusterConfigError) as info:
        describe_instance_types(ec2, ["c5n.large", "zz9.large", "bogus.xlarge"])
    messages = str(info.value)
    assert "'bogus.xlarge'" in messages and "'zz9.large'" in messages and "c5n.large" not in messages


def test_one_request_for_known_types(ec2):
    client = CountingClient(ec2)
    try:
        infos = describe_instance_types(client, {"c5n.large": ["A"], "m5.large": ["B"], "g4dn.xlarge": ["C"]})
    finally:
        client.close()
    assert sorted(infos) == ["c5n.large", "g4dn.xlarge", "m5.large"]
    assert len(client.requests) == 1
    assert client.requests[0]["InstanceTypes"] == ["c5n.large", "g4dn.xlarge", "m5.large"]


def test_more_names_than_one_request_takes(ec2):
    names = []
    for page in ec2.get_paginator("describe_instance_types").paginate():
        names.extend(item["InstanceType"] for item in page["InstanceTypes"])
    names = sorted(names)[:130]
    client = CountingClient(ec2)
    try:
        infos = describe_instance_types(client, names)
    finally:
        client.close()
    assert sorted(infos) == names
    assert [len(request["InstanceTypes"]) for request in client.requests] == [100, 30]


def test_missing_fields_use_parallelclusters_fallbacks():
    info = InstanceTypeInfo.from_ec2({"InstanceType": "x", "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}})
    assert (info.vcpus, info.threads_per_core, info.memory_mib) == (1, 2, 1)
    arm = InstanceTypeInfo.from_ec2({"VCpuInfo": {"DefaultVCpus": 4},
                                     "ProcessorInfo": {"SupportedArchitectures": ["arm64"]}})
    assert (arm.threads_per_core, arm.default_cores) == (1, 4)


def test_gpus_of_every_manufacturer_are_counted():
    info = InstanceTypeInfo.from_ec2({
        "VCpuInfo": {"DefaultVCpus": 8, "DefaultCores": 4, "DefaultThreadsPerCore": 2},
        "MemoryInfo": {"SizeInMiB": 32768},
        "GpuInfo": {"Gpus": [{"Name": "Radeon Pro V520", "Manufacturer": "AMD", "Count": 1}]},
    })
    assert (info.gpu_count, info.gpu_type, info.gpu_manufacturer) == (1, "radeonprov520", "AMD")
