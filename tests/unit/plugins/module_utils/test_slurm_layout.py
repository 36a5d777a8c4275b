"""The Slurm layout ParallelCluster's cookbook would generate, computed from the cluster config."""

import copy

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import ClusterConfigError
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_types import InstanceTypeInfo
from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_layout as sl

# The figures the EC2 emulator answers for these types (see test_instance_types.py).
INSTANCE_TYPES = {
    "c5n.large": InstanceTypeInfo(vcpus=2, default_cores=1, threads_per_core=2, memory_mib=5376),
    "m5.large": InstanceTypeInfo(vcpus=2, default_cores=1, threads_per_core=2, memory_mib=8192),
    "t2.micro": InstanceTypeInfo(vcpus=1, default_cores=1, threads_per_core=1, memory_mib=1024),
    "g4dn.xlarge": InstanceTypeInfo(vcpus=4, default_cores=2, threads_per_core=2, memory_mib=16384, gpu_count=1,
                                    gpu_type="t4", gpu_manufacturer="NVIDIA"),
    "p4d.24xlarge": InstanceTypeInfo(vcpus=96, default_cores=48, threads_per_core=2, memory_mib=1179648,
                                     gpu_count=8, gpu_type="a100", gpu_manufacturer="NVIDIA", efa_supported=True),
    "g4ad.xlarge": InstanceTypeInfo(vcpus=4, default_cores=2, threads_per_core=2, memory_mib=16384, gpu_count=1,
                                    gpu_type="radeonprov520", gpu_manufacturer="AMD"),
}

PARTITION = "pcluster/slurm_parallelcluster_compute_partition.conf"
MAIN = "slurm_parallelcluster.conf"


def recipe():
    """The recipe's Scheduling section (the rest of the config does not affect the layout)."""
    return {
        "Region": "us-east-1",
        "Scheduling": {
            "Scheduler": "slurm",
            "SlurmQueues": [{
                "Name": "compute",
                "ComputeResources": [{"Name": "compute-nodes", "InstanceType": "c5n.large", "MinCount": 0,
                                      "MaxCount": 10, "DisableSimultaneousMultithreading": True,
                                      "Efa": {"Enabled": True}}],
                "Networking": {"SubnetIds": ["subnet-0123456789abcdef1"]},
            }],
        },
    }


def queue(name, *crs):
    return {"Name": name, "Networking": {"SubnetIds": ["subnet-0123456789abcdef1"]}, "ComputeResources": list(crs)}


def render(config, **kwargs):
    return sl.render_pcluster_files(config, INSTANCE_TYPES, "ip-10-0-0-10", "10.0.0.10", **kwargs)


def lines(text, prefix):
    return [line for line in text.splitlines() if line.startswith(prefix)]


# ------------------------------------------------------------------ node names


def test_recipe_nodes():
    config = recipe()
    assert sl.all_nodes(config) == ["compute-dy-compute-nodes-[1-10]"]
    assert sl.dynamic_nodes(config) == ["compute-dy-compute-nodes-[1-10]"]
    assert sl.static_nodes(config) == []
    assert sl.dynamic_node_names(config) == ["compute-dy-compute-nodes-%d" % i for i in range(1, 11)]
    assert sl.static_node_names(config) == []


def test_static_and_dynamic_nodes():
    config = recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MinCount=2, MaxCount=5)
    assert sl.static_nodes(config) == ["compute-st-compute-nodes-[1-2]"]
    assert sl.dynamic_nodes(config) == ["compute-dy-compute-nodes-[1-3]"]
    assert sl.all_node_names(config) == [
        "compute-st-compute-nodes-1", "compute-st-compute-nodes-2",
        "compute-dy-compute-nodes-1", "compute-dy-compute-nodes-2", "compute-dy-compute-nodes-3"]
    assert sl.node_groups(config) == [sl.NodeGroup("compute", "compute-nodes", "static", 2),
                                      sl.NodeGroup("compute", "compute-nodes", "dynamic", 3)]


def test_only_static_nodes_when_min_equals_max():
    config = recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MinCount=3, MaxCount=3)
    assert sl.all_nodes(config) == ["compute-st-compute-nodes-[1-3]"]


def test_default_counts():
    config = recipe()
    cr = config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]
    del cr["MinCount"], cr["MaxCount"]
    assert sl.all_nodes(config) == ["compute-dy-compute-nodes-[1-10]"]


def test_hostlist_join_and_expand():
    assert sl.hostlist(["a-st-x-[1-2]", "b-dy-y-[1-3]"]) == "a-st-x-[1-2],b-dy-y-[1-3]"
    assert sl.expand_hostlist("a-st-x-[1-2],b-dy-y-[1-3]") == ["a-st-x-1", "a-st-x-2", "b-dy-y-1", "b-dy-y-2",
                                                               "b-dy-y-3"]
    assert sl.expand_hostlist("n[1-2,5],head") == ["n1", "n2", "n5", "head"]
    assert sl.expand_hostlist("n[08-10]") == ["n08", "n09", "n10"]
    with pytest.raises(ValueError):
        sl.expand_hostlist("n[a-b]")


# ------------------------------------------------------------------ the recipe's files


def test_recipe_files():
    files = render(recipe())
    assert sorted(files) == [
        "pcluster/slurm_parallelcluster_compute_gres.conf",
        PARTITION,
        MAIN,
        "slurm_parallelcluster_gres.conf",
    ]
    assert lines(files[PARTITION], "NodeName=") == [
        "NodeName=compute-dy-compute-nodes-[1-10] CPUs=1 RealMemory=5107 State=CLOUD "
        "Feature=dynamic,c5n.large,compute-nodes,efa Weight=1000"]
    assert lines(files[PARTITION], "NodeSet=") == ["NodeSet=compute_nodes Nodes=compute-dy-compute-nodes-[1-10]"]
    assert lines(files[PARTITION], "PartitionName=") == [
        "PartitionName=compute Nodes=compute_nodes MaxTime=INFINITE State=UP Default=YES"]


def test_recipe_main_file():
    main = render(recipe())[MAIN]
    body = [line for line in main.splitlines() if line and not line.startswith("#")]
    assert body == [
        "SlurmctldHost=ip-10-0-0-10(10.0.0.10)",
        "SuspendTime=600",
        "ResumeTimeout=2100",
        "SelectTypeParameters=CR_CPU",
        "include /opt/slurm/etc/pcluster/slurm_parallelcluster_compute_partition.conf",
    ]
    assert "SuspendExcNodes" not in main


def test_gres_include_file():
    gres = render(recipe())["slurm_parallelcluster_gres.conf"]
    assert lines(gres, "include") == ["include /opt/slurm/etc/pcluster/slurm_parallelcluster_compute_gres.conf"]


def test_cpus_follow_multithreading_setting():
    config = recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["DisableSimultaneousMultithreading"] = False
    assert "CPUs=2 " in render(config)[PARTITION]


def test_realmemory_ratio():
    assert "RealMemory=5376 " in render(recipe(), realmem_ratio=1.0)[PARTITION]
    assert "RealMemory=4300 " in render(recipe(), realmem_ratio=0.8)[PARTITION]
    with pytest.raises(ValueError):
        render(recipe(), realmem_ratio=0)


def test_schedulable_memory_overrides_the_ratio():
    config = recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["SchedulableMemory"] = 4000
    assert "RealMemory=4000 " in render(config)[PARTITION]


def test_static_nodes_are_excluded_from_suspend():
    config = recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MinCount=2, MaxCount=4)
    config["Scheduling"]["SlurmQueues"].append(queue("other", {"Name": "small", "InstanceType": "t2.micro",
                                                               "MinCount": 1}))
    files = render(config)
    assert lines(files[MAIN], "SuspendExcNodes=") == [
        "SuspendExcNodes=compute-st-compute-nodes-[1-2],other-st-small-[1-1]"]
    assert lines(files[PARTITION], "NodeName=") == [
        "NodeName=compute-st-compute-nodes-[1-2] CPUs=1 RealMemory=5107 State=CLOUD "
        "Feature=static,c5n.large,compute-nodes,efa Weight=1",
        "NodeName=compute-dy-compute-nodes-[1-2] CPUs=1 RealMemory=5107 State=CLOUD "
        "Feature=dynamic,c5n.large,compute-nodes,efa Weight=1000",
    ]
    assert lines(files[PARTITION], "NodeSet=") == [
        "NodeSet=compute_nodes Nodes=compute-st-compute-nodes-[1-2],compute-dy-compute-nodes-[1-2]"]


def test_scaledown_idletime_and_memory_scheduling():
    config = recipe()
    config["Scheduling"]["SlurmSettings"] = {"ScaledownIdletime": 3, "EnableMemoryBasedScheduling": True}
    main = render(config)[MAIN]
    assert lines(main, "SuspendTime=") == ["SuspendTime=180"]
    assert lines(main, "SelectTypeParameters=") == ["SelectTypeParameters=CR_CPU_Memory"]
    config["Scheduling"]["SlurmSettings"]["ScaledownIdletime"] = -1
    assert lines(render(config)[MAIN], "SuspendTime=") == ["SuspendTime=-1"]


def test_resume_timeout_from_config_or_argument():
    config = recipe()
    config["DevSettings"] = {"Timeouts": {"ComputeNodeBootstrapTimeout": 300}}
    assert lines(render(config)[MAIN], "ResumeTimeout=") == ["ResumeTimeout=300"]
    assert lines(render(config, resume_timeout=60)[MAIN], "ResumeTimeout=") == ["ResumeTimeout=60"]


def test_controller_without_address():
    files = sl.render_pcluster_files(recipe(), INSTANCE_TYPES, "head", None)
    assert lines(files[MAIN], "SlurmctldHost=") == ["SlurmctldHost=head"]


def test_accounting_lines():
    main = render(recipe(), accounting={})[MAIN]
    assert lines(main, "Accounting") + lines(main, "JobAcct") == [
        "AccountingStorageType=accounting_storage/slurmdbd",
        "AccountingStorageHost=ip-10-0-0-10",
        "AccountingStoragePort=6819",
        "AccountingStorageUser=slurm",
        "JobAcctGatherType=jobacct_gather/cgroup",
    ]
    main = render(recipe(), accounting={"AccountingStorageHost": "db", "AccountingStoragePort": "7031",
                                        "JobAcctGatherType": "jobacct_gather/linux",
                                        "AccountingStorageEnforce": "associations"})[MAIN]
    assert "AccountingStorageHost=db\nAccountingStoragePort=7031\nAccountingStorageUser=slurm\n" \
           "JobAcctGatherType=jobacct_gather/linux\nAccountingStorageEnforce=associations\n" in main
    assert "Accounting" not in render(recipe())[MAIN]


def test_instance_type_names_of_the_compute_nodes():
    config = recipe()
    config["HeadNode"] = {"InstanceType": "m5.large"}
    config["Scheduling"]["SlurmQueues"].append(queue("flex", {"Name": "f", "Instances": [
        {"InstanceType": "m5.large"}, {"InstanceType": "c5n.large"}]}))
    assert sl.instance_type_names(config) == {
        "c5n.large": ["Scheduling.SlurmQueues[0].ComputeResources[0].InstanceType",
                      "Scheduling.SlurmQueues[1].ComputeResources[0].Instances[1].InstanceType"],
        "m5.large": ["Scheduling.SlurmQueues[1].ComputeResources[0].Instances[0].InstanceType"],
    }
    assert sorted(sl.instance_type_names(config)) == ["c5n.large", "m5.large"]


# ------------------------------------------------------------------ several queues and compute resources


def test_two_queues_give_two_partitions_default_on_the_first():
    config = recipe()
    config["Scheduling"]["SlurmQueues"].append(queue("highmem", {"Name": "big", "InstanceType": "m5.large"}))
    files = render(config)
    assert lines(files[PARTITION], "PartitionName=") == [
        "PartitionName=compute Nodes=compute_nodes MaxTime=INFINITE State=UP Default=YES"]
    second = files["pcluster/slurm_parallelcluster_highmem_partition.conf"]
    assert lines(second, "PartitionName=") == [
        "PartitionName=highmem Nodes=highmem_nodes MaxTime=INFINITE State=UP"]
    assert lines(second, "NodeName=") == [
        "NodeName=highmem-dy-big-[1-10] CPUs=2 RealMemory=7782 State=CLOUD Feature=dynamic,m5.large,big Weight=1000"]
    assert lines(files[MAIN], "include") == [
        "include /opt/slurm/etc/pcluster/slurm_parallelcluster_compute_partition.conf",
        "include /opt/slurm/etc/pcluster/slurm_parallelcluster_highmem_partition.conf",
    ]
    assert lines(files["slurm_parallelcluster_gres.conf"], "include") == [
        "include /opt/slurm/etc/pcluster/slurm_parallelcluster_compute_gres.conf",
        "include /opt/slurm/etc/pcluster/slurm_parallelcluster_highmem_gres.conf",
    ]
    assert sl.all_nodes(config) == ["compute-dy-compute-nodes-[1-10]", "highmem-dy-big-[1-10]"]


def test_several_compute_resources_in_one_queue():
    config = recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"].append(
        {"Name": "small", "InstanceType": "t2.micro", "MinCount": 1, "MaxCount": 4,
         "StaticNodePriority": 5, "DynamicNodePriority": 50})
    files = render(config)
    assert lines(files[PARTITION], "NodeName=") == [
        "NodeName=compute-dy-compute-nodes-[1-10] CPUs=1 RealMemory=5107 State=CLOUD "
        "Feature=dynamic,c5n.large,compute-nodes,efa Weight=1000",
        "NodeName=compute-st-small-[1-1] CPUs=1 RealMemory=972 State=CLOUD Feature=static,t2.micro,small Weight=5",
        "NodeName=compute-dy-small-[1-3] CPUs=1 RealMemory=972 State=CLOUD Feature=dynamic,t2.micro,small Weight=50",
    ]
    assert lines(files[PARTITION], "NodeSet=") == [
        "NodeSet=compute_nodes Nodes=compute-dy-compute-nodes-[1-10],compute-st-small-[1-1],compute-dy-small-[1-3]"]
    assert sl.static_nodes(config) == ["compute-st-small-[1-1]"]


def test_flexible_instance_types_take_the_smallest_and_drop_the_type_feature():
    config = recipe()
    config["Scheduling"]["SlurmQueues"][0]["ComputeResources"] = [
        {"Name": "flex", "Instances": [{"InstanceType": "m5.large"}, {"InstanceType": "c5n.large"}],
         "MaxCount": 2}]
    assert lines(render(config)[PARTITION], "NodeName=") == [
        "NodeName=compute-dy-flex-[1-2] CPUs=2 RealMemory=5107 State=CLOUD Feature=dynamic,flex Weight=1000"]


# ------------------------------------------------------------------ GPUs


def gpu_config(instance_type="g4dn.xlarge"):
    config = recipe()
    config["Scheduling"]["SlurmQueues"].append(queue("gpu", {"Name": "g", "InstanceType": instance_type,
                                                             "MinCount": 1, "MaxCount": 3}))
    return config


def test_gpu_nodes_get_gres_and_gpu_feature():
    files = render(gpu_config())
    partition = files["pcluster/slurm_parallelcluster_gpu_partition.conf"]
    assert lines(partition, "NodeName=") == [
        "NodeName=gpu-st-g-[1-1] CPUs=4 RealMemory=15564 State=CLOUD Feature=static,g4dn.xlarge,g,gpu "
        "Gres=gpu:t4:1 Weight=1",
        "NodeName=gpu-dy-g-[1-2] CPUs=4 RealMemory=15564 State=CLOUD Feature=dynamic,g4dn.xlarge,g,gpu "
        "Gres=gpu:t4:1 Weight=1000",
    ]
    assert lines(files["pcluster/slurm_parallelcluster_gpu_gres.conf"], "NodeName=") == [
        "NodeName=gpu-st-g-[1-1] Name=gpu Type=t4 File=/dev/nvidia[0-0]",
        "NodeName=gpu-dy-g-[1-2] Name=gpu Type=t4 File=/dev/nvidia[0-0]",
    ]
    assert lines(files["pcluster/slurm_parallelcluster_compute_gres.conf"], "NodeName=") == []


def test_multi_gpu_efa_type():
    files = render(gpu_config("p4d.24xlarge"))
    partition = files["pcluster/slurm_parallelcluster_gpu_partition.conf"]
    assert "Gres=gpu:a100:8 " in partition
    assert "File=/dev/nvidia[0-7]" in files["pcluster/slurm_parallelcluster_gpu_gres.conf"]


def test_no_gpu_keeps_the_feature_but_drops_gres():
    files = render(gpu_config(), no_gpu=True)
    partition = files["pcluster/slurm_parallelcluster_gpu_partition.conf"]
    assert "Feature=static,g4dn.xlarge,g,gpu Weight=1" in partition
    assert "Gres=" not in partition
    assert lines(files["pcluster/slurm_parallelcluster_gpu_gres.conf"], "NodeName=") == []


def test_non_nvidia_gpus_are_not_configured():
    partition = render(gpu_config("g4ad.xlarge"))["pcluster/slurm_parallelcluster_gpu_partition.conf"]
    assert "Gres=" not in partition
    assert "Feature=static,g4ad.xlarge,g Weight=1" in partition


# ------------------------------------------------------------------ CustomSlurmSettings


def test_custom_settings_at_every_level():
    config = recipe()
    scheduling = config["Scheduling"]
    scheduling["SlurmSettings"] = {"CustomSlurmSettings": [
        {"MaxJobCount": 20000},
        {"State": "FUTURE", "CPUs": 4, "NodeName": "burst[1-2]"},
    ]}
    scheduling["SlurmQueues"][0]["CustomSlurmSettings"] = {"GraceTime": 15, "ExclusiveUser": True}
    scheduling["SlurmQueues"][0]["ComputeResources"][0]["CustomSlurmSettings"] = {"Port": 20000}
    files = render(config)
    assert lines(files[PARTITION], "NodeName=")[0].endswith(" Weight=1000 Port=20000")
    assert lines(files[PARTITION], "PartitionName=") == [
        "PartitionName=compute Nodes=compute_nodes MaxTime=INFINITE State=UP Default=YES ExclusiveUser=YES "
        "GraceTime=15"]
    main = files[MAIN].splitlines()
    assert main[-2:] == ["MaxJobCount=20000", "NodeName=burst[1-2] CPUs=4 State=FUTURE"]


def test_job_exclusive_allocation_as_the_cookbook_writes_it():
    """The cookbook's test_generate_slurm_config_with_job_exc_alloc: three queues with JobExclusiveAllocation
    true, false and unset; only the first partition gets OverSubscribe=EXCLUSIVE, after Default=YES and
    before the queue's CustomSlurmSettings (config_renderer.QueueRenderer._render_partition)."""
    config = recipe()
    cr = {"Name": "cr-1", "InstanceType": "t2.micro", "MinCount": 0, "MaxCount": 10}
    config["Scheduling"]["SlurmQueues"] = [
        dict(queue("jls-enabled", dict(cr)), JobExclusiveAllocation=True, CustomSlurmSettings={"GraceTime": 15}),
        dict(queue("jls-disabled", dict(cr)), JobExclusiveAllocation=False),
        queue("jls-default", dict(cr)),
    ]
    files = render(config)
    partition = "pcluster/slurm_parallelcluster_%s_partition.conf"
    assert lines(files[partition % "jls-enabled"], "PartitionName=") == [
        "PartitionName=jls-enabled Nodes=jls-enabled_nodes MaxTime=INFINITE State=UP Default=YES "
        "OverSubscribe=EXCLUSIVE GraceTime=15"]
    for name in ("jls-disabled", "jls-default"):
        assert lines(files[partition % name], "PartitionName=") == [
            "PartitionName=%s Nodes=%s_nodes MaxTime=INFINITE State=UP" % (name, name)]
    # A queue that is not the first one keeps the option too.
    config["Scheduling"]["SlurmQueues"][1]["JobExclusiveAllocation"] = True
    assert lines(render(config)[partition % "jls-disabled"], "PartitionName=") == [
        "PartitionName=jls-disabled Nodes=jls-disabled_nodes MaxTime=INFINITE State=UP OverSubscribe=EXCLUSIVE"]


# ------------------------------------------------------------------ determinism and errors


def test_rendering_is_deterministic_and_independent_of_key_order():
    config = gpu_config()
    config["Scheduling"]["SlurmQueues"][0]["CustomSlurmSettings"] = {"GraceTime": 15, "ExclusiveUser": True}
    first = render(config)
    assert render(copy.deepcopy(config)) == first
    shuffled = copy.deepcopy(config)
    shuffled["Scheduling"]["SlurmQueues"][0]["CustomSlurmSettings"] = {"ExclusiveUser": True, "GraceTime": 15}
    shuffled["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0] = dict(
        reversed(list(shuffled["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].items())))
    assert render(shuffled) == first
    assert list(first) == sorted(first)


def test_rendering_does_not_modify_the_config():
    config = gpu_config()
    before = copy.deepcopy(config)
    render(config)
    sl.all_node_names(config)
    assert config == before


def test_missing_instance_type_data_names_the_field():
    with pytest.raises(ClusterConfigError) as info:
        sl.render_pcluster_files(recipe(), {"m5.large": INSTANCE_TYPES["m5.large"]}, "head", "10.0.0.1")
    assert info.value.errors[0][0] == "Scheduling.SlurmQueues[0].ComputeResources[0].InstanceType"
    assert "c5n.large" in info.value.errors[0][1]
