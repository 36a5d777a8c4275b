"""Last of the integration files: the cluster is rebuilt with two queues and static nodes, then
teardown.yml must leave nothing behind and be idempotent."""

import os

import pytest

from helpers import (
    ROOT,
    STATE_DIR,
    changed_tasks,
    emulator_clients,
    failed_tasks,
    home_of,
    node_namespaces,
    playbook,
    processes,
    run,
    sinfo_nodes,
    wait_until,
)

pytestmark = pytest.mark.integration

# Without Scheduling.SlurmSettings.Database (and without the database, which it does not name), and
# without FSx.
MULTI_QUEUE = ["-e", "pcluster_config_file=%s/tests/integration/files/multi-queue.yaml.j2" % ROOT,
               "-e", "hpc_accounting_database=false"]
KEEP_EMULATOR = ["-e", "local_cloud_keep_running=true"]


def _databases_and_secrets():
    rds, secrets = emulator_clients("rds", "secretsmanager")
    return {"databases": rds.describe_db_instances()["DBInstances"],
            "subnet groups": rds.describe_db_subnet_groups()["DBSubnetGroups"],
            "secrets": secrets.list_secrets()["SecretList"]}


def test_teardown_then_site_with_two_queues_and_static_nodes():
    rc, data = playbook("teardown.yml", *KEEP_EMULATOR)
    assert rc == 0, failed_tasks(data)
    assert _databases_and_secrets() == {"databases": [], "subnet groups": [], "secrets": []}
    rc, data = playbook("site.yml", *MULTI_QUEUE)
    assert rc == 0, failed_tasks(data)
    # No FSx in this config: job_tools makes no /fsx/input or /fsx/output on the head node's own disk
    # (compute nodes would not see them, and teardown would leave them, owned by a deleted user).
    assert not os.path.exists("/fsx"), os.listdir("/fsx")
    nodes = sinfo_nodes()
    assert {n for n, (_s, p) in nodes.items() if p == "compute"} == {
        "compute-dy-small-1", "compute-dy-small-2", "compute-dy-small-3", "compute-dy-large-1", "compute-dy-large-2"}
    assert {n for n, (_s, p) in nodes.items() if p == "highmem"} == {
        "highmem-st-r5-1", "highmem-st-r5-2", "highmem-dy-r5-1", "highmem-dy-r5-2"}
    wait_until(lambda: all(not sinfo_nodes()[n][0].endswith(("~", "#")) for n in ("highmem-st-r5-1", "highmem-st-r5-2")),
               60, what="static nodes to be up")
    large = run(["scontrol", "show", "node", "compute-dy-large-1", "--oneliner"]).stdout
    assert "CPUTot=4 " in large, large  # c5n.xlarge, SMT kept
    job_id = run(["sbatch", "--wait", "--parsable", "--partition=highmem", "--nodes=2", "--job-name=highmem-check",
                  "--output=/shared/highmem-check-%j.out", "--wrap=hostname"], user="ec2-user", timeout=180).stdout.strip()
    # No Database in this config: no accounting, as on ParallelCluster; slurmctld still knows the job.
    job = run(["scontrol", "show", "job", job_id, "--oneliner"]).stdout
    for field in ("JobState=COMPLETED", "Partition=highmem", "NodeList=highmem-st-r5-[1-2]"):
        assert " %s " % field in job, (field, job)
    assert processes(("slurmdbd", "mariadbd")) == []
    assert not os.path.exists("/opt/slurm/etc/slurmdbd.conf")
    assert "accounting_storage/slurmdbd" not in run(["scontrol", "show", "config"]).stdout
    refused = run(["sacct", "--noheader", "-X", "-j", job_id], check=False)
    assert refused.returncode != 0 and "accounting storage is disabled" in refused.stderr.lower(), refused
    # The recipe's monitoring script says why it shows no history, and does not fail for it.
    monitor = run(["/shared/jobs/monitor-jobs.sh"], user="ec2-user", check=False)
    assert monitor.returncode == 0, (monitor.stdout, monitor.stderr)
    history = monitor.stdout.split("=== Recent Job History ===")[1].split("===")[0]
    assert "Slurm accounting is off on this cluster" in history, monitor.stdout


def test_static_nodes_stay_up_past_the_idle_time():
    wait_until(lambda: all(sinfo_nodes()[n][0].endswith("~") for n in ("compute-dy-small-1", "compute-dy-small-2")),
               240, what="the smoke test's dynamic nodes to power down")
    for node in ("highmem-st-r5-1", "highmem-st-r5-2"):
        state = sinfo_nodes()[node][0]
        assert not state.endswith(("~", "%")), (node, state)


def test_teardown_with_half_the_resources_already_gone():
    """Someone deleted things by hand (or a teardown died half-way): teardown still finishes."""
    ec2, s3, cloudwatch = emulator_clients("ec2", "s3", "cloudwatch")
    cloudwatch.delete_dashboards(DashboardNames=[d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]])
    cloudwatch.delete_alarms(AlarmNames=[a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]])
    for bucket in s3.list_buckets()["Buckets"]:
        for obj in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            s3.delete_object(Bucket=bucket["Name"], Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket["Name"])
    for key in ec2.describe_key_pairs()["KeyPairs"]:
        ec2.delete_key_pair(KeyName=key["KeyName"])
    for nat in ec2.describe_nat_gateways()["NatGateways"]:
        ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    # Teardown removes the default user with the cluster: where its credentials were is found first.
    credentials = os.path.join(home_of("ec2-user"), ".aws", "credentials")
    assert os.path.exists(credentials), "site.yml gave ec2-user the deployment's key pair"
    rc, data = playbook("teardown.yml", *KEEP_EMULATOR)
    assert rc == 0, failed_tasks(data)
    assert not os.path.exists(credentials)
    # What was left (the cluster, the VPC, its subnets and the EIP) is gone now; the next test checks all of it.
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert processes(("slurmctld", "slurmdbd", "slurmd", "mariadbd")) == []


def test_teardown_leaves_nothing_behind_and_is_idempotent():
    rc, data = playbook("teardown.yml", *KEEP_EMULATOR)
    assert rc == 0, failed_tasks(data)
    assert processes(("slurmctld", "slurmdbd", "slurmd", "mariadbd")) == []
    assert node_namespaces() == []
    assert "hpcbr0" not in run(["ip", "link"]).stdout
    for path in ("/opt/slurm/etc", "/opt/parallelcluster", "/var/lib/hpc-parallelcluster/clusters", "/shared", "/fsx",
                 "/etc/sudoers.d/hpc-parallelcluster", "/etc/slurm/slurm.conf"):
        assert not os.path.exists(path), path
    ec2, s3, cloudwatch = emulator_clients("ec2", "s3", "cloudwatch")
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert s3.list_buckets()["Buckets"] == []
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert _databases_and_secrets() == {"databases": [], "subnet groups": [], "secrets": []}

    rc, data = playbook("teardown.yml", *KEEP_EMULATOR)
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []

    rc, data = playbook("teardown.yml")
    assert rc == 0, failed_tasks(data)
    assert processes(("moto_server",)) == []
    assert not os.path.exists("/var/lib/hpc-parallelcluster")
    assert not os.path.exists(STATE_DIR)
