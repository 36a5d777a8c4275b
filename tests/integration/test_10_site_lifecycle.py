"""The walking skeleton on the local provider: site.yml builds a real Slurm cluster, runs the MPI
smoke test on two powered-up nodes, converges on a re-run and scales back down. Files run in name
order and share one cluster: test_20 drives jobs on it, test_90 changes its shape and tears it down."""

import json
import os
import pwd

import pytest

from helpers import (
    EMULATOR_CREDENTIALS,
    ROOT,
    SLURMDBD_CONF,
    changed_tasks,
    emulator_clients,
    failed_tasks,
    node_namespaces,
    playbook,
    processes,
    run,
    sacct_jobs,
    sinfo_nodes,
    start_emulator,
    task_results,
    wait_until,
)

pytestmark = pytest.mark.integration

RECORDS = "/var/lib/hpc-parallelcluster/clusters"
FAST_IDLE = ["-e", "hpc_scaledown_idletime=1"]

RECIPE_CR = {"Name": "compute-nodes", "InstanceType": "c5n.large", "MinCount": 0, "MaxCount": 10}


def _config(queues):
    return {
        "Region": "us-east-1",
        "Image": {"Os": "alinux2"},
        "HeadNode": {"InstanceType": "m5.large", "Networking": {"SubnetId": "subnet-0123456789abcdef0"},
                     "Ssh": {"KeyName": "kp"}},
        "Scheduling": {"Scheduler": "slurm", "SlurmQueues": queues},
    }


def _queue(**overrides):
    queue = {"Name": "compute", "ComputeResources": [dict(RECIPE_CR)],
             "Networking": {"SubnetIds": ["subnet-0123456789abcdef1"]}}
    queue.update(overrides)
    return queue


BAD_CONFIGS = {
    "unknown key": (_config([_queue(Colour="blue")]), "Scheduling.SlurmQueues[0].Colour"),
    "MaxCount below MinCount": (
        _config([_queue(ComputeResources=[dict(RECIPE_CR, MinCount=5, MaxCount=2)])]),
        "Scheduling.SlurmQueues[0].ComputeResources[0].MaxCount"),
    "queue without compute resources": (_config([_queue(ComputeResources=[])]),
                                        "Scheduling.SlurmQueues[0].ComputeResources"),
}


def test_start_from_a_machine_without_a_cluster():
    """The local provider has one cluster per machine: one left by `make site` is torn down first."""
    rc, data = playbook("teardown.yml")
    assert rc == 0, failed_tasks(data)
    assert processes(("slurmctld", "slurmdbd", "slurmd", "mariadbd", "moto_server")) == []


def _emulator_inventory():
    ec2, s3, cloudwatch, rds, secrets = emulator_clients("ec2", "s3", "cloudwatch", "rds", "secretsmanager")
    return {
        "databases": [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]],
        "secrets": [s["Name"] for s in secrets.list_secrets()["SecretList"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
        "addresses": [a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "dashboards": [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]],
        "alarms": [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]],
    }


def test_check_mode_on_a_fresh_emulator_reports_changes_and_creates_nothing():
    start_emulator()
    empty = {"vpcs": [], "key_pairs": [], "addresses": [], "buckets": [], "dashboards": [], "alarms": [],
             "databases": [], "secrets": []}
    assert _emulator_inventory() == empty
    rc, data = playbook("site.yml", "--check", "--diff")
    assert rc == 0, failed_tasks(data)
    changed = changed_tasks(data)
    for task in ("Create the VPC", "Create or update cluster hpc-cluster",
                 "Store a generated database password in Secrets Manager (once)",
                 "Create the dashboard hpc-cluster-performance"):
        assert any((" : %s on " % task) in c for c in changed), (task, changed)
    cluster = task_results(data, "Create or update cluster hpc-cluster")["localhost"]
    assert cluster["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    assert "/opt/slurm/etc/slurm.conf" in cluster["changed_files"]
    assert _emulator_inventory() == empty
    assert not os.path.exists(RECORDS) and not os.path.exists("/opt/slurm/etc/slurm.conf")
    # Only the emulator's key pair, which start_emulator() generated, is in the state folder.
    assert os.listdir(os.path.join(ROOT, "inventories/local/.state")) == [os.path.basename(EMULATOR_CREDENTIALS)]
    assert processes(("slurmctld", "slurmdbd", "mariadbd")) == []


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_invalid_config_fails_naming_the_field_before_anything_is_created(case, tmp_path):
    import json

    config, field = BAD_CONFIGS[case]
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"bad_config": config}))
    rc, data = playbook(os.path.join(ROOT, "tests/integration/playbooks/cluster_config_error.yml"), "-e", "@%s" % extra)
    assert rc == 0, failed_tasks(data)
    result = task_results(data, "Create cluster")["localhost"]
    assert result["failed"] is True
    assert field in result["msg"], result["msg"]
    assert not os.path.exists(os.path.join(RECORDS, "badcluster.json"))
    assert not [p for p in processes(("slurmctld", "slurmdbd", "mariadbd")) if p]


def test_site_builds_the_cluster_and_runs_the_mpi_smoke_test():
    rc, data = playbook("site.yml", *FAST_IDLE)
    assert rc == 0, failed_tasks(data)


def test_emulator_holds_the_recipes_aws_resources():
    ec2, s3, cloudwatch = emulator_clients("ec2", "s3", "cloudwatch")
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    assert [v["CidrBlock"] for v in vpcs] == ["10.0.0.0/16"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    # Public, private, and the accounting database's second availability zone.
    assert sorted(s["CidrBlock"] for s in subnets) == ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == ["hpc-cluster-keypair"]
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert len(buckets) == 1 and buckets[0].startswith("hpc-data-"), buckets
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=buckets[0])["Contents"])
    assert keys == ["input/input.txt", "jobs/sample_job.sh"]
    # FSx ImportPath: the bucket's content is on /fsx.
    with open("/fsx/input/input.txt") as handle:
        assert handle.read().strip() == "Sample HPC input data"
    assert [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]] == ["hpc-cluster-performance"]
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]] == ["hpc-cluster-high-cpu"]


def _record_config():
    with open(os.path.join(RECORDS, "hpc-cluster.json")) as handle:
        return json.load(handle)["clusterConfiguration"]


def test_accounting_runs_on_the_database_the_config_names():
    """Scheduling.SlurmSettings.Database as on ParallelCluster: an RDS instance in the emulator, its
    password in Secrets Manager; slurmdbd logs in with the config's user and the secret's password."""
    rds, secrets = emulator_clients("rds", "secretsmanager")
    instance = rds.describe_db_instances(DBInstanceIdentifier="hpc-cluster-accounting")["DBInstances"][0]
    assert (instance["Engine"], instance["PubliclyAccessible"], instance["StorageEncrypted"]) == ("mariadb", False, True)
    assert len({s["SubnetAvailabilityZone"]["Name"] for s in instance["DBSubnetGroup"]["Subnets"]}) == 2
    database = _record_config()["Scheduling"]["SlurmSettings"]["Database"]
    assert database["Uri"] == "%s:%d" % (instance["Endpoint"]["Address"], instance["Endpoint"]["Port"])
    password = secrets.get_secret_value(SecretId=database["PasswordSecretArn"])["SecretString"]
    assert len(password) == 32
    info = os.stat(SLURMDBD_CONF)
    assert (info.st_mode & 0o777, pwd.getpwuid(info.st_uid).pw_name) == (0o600, "slurm")
    with open(SLURMDBD_CONF) as handle:
        settings = dict(line.strip().split("=", 1) for line in handle if "=" in line)
    assert (settings["StorageUser"], settings["StoragePass"], settings["StorageLoc"]) == (
        database["UserName"], password, "hpc_cluster")
    login = run(["mariadb", "--host=127.0.0.1", "--port=%s" % settings["StoragePort"], "--user=%s" % database["UserName"],
                 "--batch", "--skip-column-names", "--execute=SHOW DATABASES"], env={"MYSQL_PWD": password})
    assert "hpc_cluster" in login.stdout.split(), login
    assert "hpc-cluster" in run(["sacctmgr", "--noheader", "--parsable2", "show", "cluster", "format=cluster"]).stdout.split()
    # The local database meets slurmdbd's own checks of its settings (innodb_buffer_pool_size and
    # innodb_lock_wait_timeout at SchedMD's minimums).
    with open("/var/log/hpc-parallelcluster/slurmdbd.log") as handle:
        assert "Database settings not recommended" not in handle.read()


def test_a_database_the_account_lacks_is_refused_naming_the_field(tmp_path):
    config = _record_config()
    config["Scheduling"]["SlurmSettings"]["Database"]["Uri"] = "gone.example.invalid:3306"
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"bad_config": config}))
    rc, data = playbook(os.path.join(ROOT, "tests/integration/playbooks/cluster_config_error.yml"), "-e", "@%s" % extra)
    assert rc == 0, failed_tasks(data)
    result = task_results(data, "Create cluster")["localhost"]
    assert "Scheduling.SlurmSettings.Database.Uri: gone.example.invalid:3306 is the endpoint of no RDS database" \
        in result["msg"], result["msg"]
    assert not os.path.exists(os.path.join(RECORDS, "badcluster.json"))


def test_partition_lists_the_recipes_dynamic_nodes_powered_down_at_rest():
    nodes = sinfo_nodes()
    expected = {"compute-dy-compute-nodes-%d" % i for i in range(1, 11)}
    assert set(nodes) == expected
    assert {partition for _state, partition in nodes.values()} == {"compute"}
    # The smoke test used two nodes; the other eight never powered up.
    powered_down = [n for n, (state, _p) in nodes.items() if state.endswith("~")]
    assert len(powered_down) >= 8, nodes
    # CPUs come from the instance type: c5n.large has 2 vCPUs, 1 without SMT.
    config = run(["scontrol", "show", "node", "compute-dy-compute-nodes-5", "--oneliner"]).stdout
    assert "CPUTot=1 " in config, config


def test_smoke_test_completed_on_two_nodes_as_the_cluster_user():
    jobs = sacct_jobs("mpi-smoke-test")
    assert len(jobs) == 1, jobs
    job = jobs[0]
    assert job["state"] == "COMPLETED" and job["exit"] == "0:0", job
    assert job["nnodes"] == 2 and job["user"] == "ec2-user", job
    with open("/shared/jobs/mpi-smoke-test-%s.out" % job["id"]) as handle:
        output = handle.read()
    assert "rank 0 of 2" in output and "rank 1 of 2" in output, output
    assert "allreduce sum 1 (expected 1)" in output


def test_second_site_run_changes_nothing_and_does_not_resubmit():
    rc, data = playbook("site.yml", *FAST_IDLE)
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []
    assert all(stats["changed"] == 0 for stats in data["stats"].values()), data["stats"]
    assert len(sacct_jobs("mpi-smoke-test")) == 1


def test_nodes_power_down_after_the_idle_time():
    # ScaledownIdletime=1 gives SuspendTime=60; then SuspendTimeout before the node reads idle~.
    assert "SuspendTime=60" in open("/opt/slurm/etc/slurm_parallelcluster.conf").read()
    wait_until(lambda: all(state.endswith("~") for state, _p in sinfo_nodes().values()), 240,
               what="every node to power down")
    assert node_namespaces() == []
