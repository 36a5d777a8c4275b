"""The recipe's cluster config as the unit tests use it: verbatim, and in the shape ParallelCluster
3.15 accepts (shared by the config model's tests, its bad-input and side-by-side verdict tests)."""

import textwrap

import yaml

# The recipe's cluster-config.yaml, verbatim.
RECIPE_YAML = textwrap.dedent("""\
    Region: us-east-1
    Image: {Os: alinux2}
    HeadNode:
      InstanceType: m5.large
      Networking: {SubnetId: subnet-0123456789abcdef0}
      Ssh: {KeyName: hpc-keypair}
      LocalStorage: {RootVolume: {Size: 50, VolumeType: gp3}}
    Scheduling:
      Scheduler: slurm
      SlurmQueues:
        - Name: compute
          ComputeResources:
            - {Name: compute-nodes, InstanceType: c5n.large, MinCount: 0, MaxCount: 10,
               DisableSimultaneousMultithreading: true, Efa: {Enabled: true}}
          Networking: {SubnetIds: [subnet-0123456789abcdef1]}
          ComputeSettings: {LocalStorage: {RootVolume: {Size: 50, VolumeType: gp3}}}
    SharedStorage:
      - {MountDir: /shared, Name: shared-storage, StorageType: Ebs,
         EbsSettings: {Size: 100, VolumeType: gp3, Encrypted: true}}
      - {MountDir: /fsx, Name: fsx-storage, StorageType: FsxLustre,
         FsxLustreSettings: {StorageCapacity: 1200, DeploymentType: SCRATCH_2, ImportPath: "s3://bucket/",
                             ExportPath: "s3://bucket/output/"}}
    Monitoring: {CloudWatch: {Enabled: true, DashboardName: hpc-cluster-dashboard}}
    """)


def recipe():
    return yaml.safe_load(RECIPE_YAML)


def valid_recipe():
    """The recipe with its Monitoring section in the shape ParallelCluster 3.15 accepts."""
    config = recipe()
    config["Monitoring"] = {"Dashboards": {"CloudWatch": {"Enabled": True}}}
    return config
