"""Faults on the running recipe cluster: a killed slurmctld, an AWS API outage in the middle of
site.yml, and site.yml interrupted between roles. Each must end with site.yml converging on a
re-run, with no duplicated AWS resources and no job lost from accounting."""

import glob
import os
import signal
import subprocess
import time

import pytest

from helpers import (
    ROOT,
    SITE_ARGS,
    VENV_BIN,
    ansible_env,
    changed_tasks,
    emulator_clients,
    failed_tasks,
    job_field,
    node_state,
    playbook,
    processes,
    release_requeued,
    run,
    sacct_jobs,
    task_results,
    wait_until,
)

pytestmark = pytest.mark.integration

CLUSTER_TASK = "Create or update cluster hpc-cluster"
POWER_PROGRAM = "/opt/parallelcluster/local/bin/pcluster-local-power"
TUNING_PLAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "slurm_tuning.yml")
EMULATOR_PIDS = "/run/hpc-parallelcluster-local-cloud/*.pid"
JOB_STATE = "/var/spool/hpc-parallelcluster/slurmctld/job_state"


def _aws_resources():
    """What the recipe's roles create, counted in the emulator."""
    ec2, s3, cloudwatch = emulator_clients("ec2", "s3", "cloudwatch")
    return {
        "vpcs": len([v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]),
        "subnets": len([s for s in ec2.describe_subnets()["Subnets"] if not s.get("DefaultForAz")]),
        "nat_gateways": len([n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"]),
        "addresses": len(ec2.describe_addresses()["Addresses"]),
        "key_pairs": len(ec2.describe_key_pairs()["KeyPairs"]),
        "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
        "dashboards": len(cloudwatch.list_dashboards()["DashboardEntries"]),
        "alarms": len(cloudwatch.describe_alarms()["MetricAlarms"]),
    }


def _site_until(marker, action, timeout=600):
    """Run site.yml, call ``action`` once its output shows ``marker``; return its exit code and output."""
    log = os.path.join(ROOT, ".site-fault.log")
    with open(log, "w") as out:
        proc = subprocess.Popen([os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "site.yml"),
                                 *SITE_ARGS],
                                cwd=ROOT, env=ansible_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            with open(log) as handle:
                if marker in handle.read():
                    action(proc)
                    break
            time.sleep(0.2)
        rc = proc.wait(timeout=timeout)
    with open(log) as handle:
        text = handle.read()
    os.unlink(log)
    assert marker in text, text[-3000:]
    return rc, text


@pytest.fixture(scope="module")
def before(cluster):
    """The emulator's resources before any fault (the cluster fixture has run site.yml, or an earlier
    module has)."""
    resources = _aws_resources()
    assert resources["vpcs"] == 1 and len(resources["buckets"]) == 1, resources
    return resources


def test_slurmctld_killed_during_a_job_is_restarted_by_site_and_the_job_completes(before):
    # The job outlives the outage: it ends when the test says so, with the restarted controller there to hear it.
    release = os.path.join("/tmp", "fault-ctld-%d.release" % os.getpid())
    job = run(["sbatch", "--parsable", "--job-name=fault-ctld", "--nodes=1", "--output=/dev/null", "--time=10",
               "--wrap", "while [ ! -e %s ]; do sleep 1; done" % release], user="ec2-user").stdout.strip()
    wait_until(lambda: run(["squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip() == "RUNNING", 120,
               interval=0.5, what="the job to run")
    # slurmctld writes its job state a moment after a change; a crash before that forgets the start
    # (the job comes back PENDING while it runs, and Slurm drains the node for a duplicate job id).
    # An admin's annotation changes the job, so slurmctld saves its state (the start included) just after.
    run(["scontrol", "update", "jobid=" + job, "comment=fault-test"])
    annotated = time.time()
    wait_until(lambda: os.stat(JOB_STATE).st_mtime > annotated, 60, interval=0.5, what="slurmctld to save the job's start")
    for proc in processes(("slurmctld",)):
        os.kill(int(proc.split()[0]), signal.SIGKILL)
    assert run(["scontrol", "ping"], check=False).returncode != 0
    rc, data = playbook("site.yml", *SITE_ARGS)
    assert rc == 0, failed_tasks(data)
    # site.yml saw the controller down and brought it back (a repair, not a rebuild).
    assert task_results(data, CLUSTER_TASK)["localhost"]["changed"] is True
    run(["scontrol", "ping"])
    assert run(["squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip() == "RUNNING"
    open(release, "w").close()
    try:
        wait_until(lambda: run(["squeue", "-h", "-j", job], check=False).stdout.strip() == "", 120,
                   what="the job to finish")
    finally:
        os.unlink(release)
    record = wait_until(lambda: [j for j in sacct_jobs("fault-ctld") if j["id"] == job and j["state"] != "RUNNING"],
                        60, what="the job's final accounting record")
    assert record[0]["state"] == "COMPLETED", record
    assert _aws_resources() == before


def test_a_mount_point_given_away_or_opened_is_taken_back_by_site(before):
    """/fsx and /shared are root's and 1777 on ParallelCluster; a mount point left with another owner
    (an earlier cluster, a hand-made folder) would let that account decide what root makes below it."""
    account = run(["id", "-u", "ec2-user"]).stdout.strip()
    os.chown("/fsx", int(account), int(account))
    os.chmod("/shared", 0o755)
    rc, data = playbook("site.yml", *SITE_ARGS)
    assert rc == 0, failed_tasks(data)
    assert task_results(data, CLUSTER_TASK)["localhost"]["changed"] is True
    for mount in ("/fsx", "/shared"):
        info = os.lstat(mount)
        assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (0, 0, 0o1777), mount
    assert _aws_resources() == before


def _usable(state):
    """Idle, up or powered down, and not on its way anywhere (sinfo's ``idle`` or ``idle~``)."""
    flags = state.split("+")
    return flags[0] == "IDLE" and not {"DRAIN", "NOT_RESPONDING", "POWERING_UP", "POWERING_DOWN"} & set(flags)


def test_a_crashed_compute_node_is_marked_down_its_job_requeued_and_site_replaces_the_node(before):
    # A short SlurmdTimeout so that Slurm notices the dead node in seconds rather than minutes.
    rc, data = playbook(TUNING_PLAY, "-e", '{"slurm_tuning_extra_settings": {"SlurmdTimeout": "10"}}')
    assert rc == 0, failed_tasks(data)
    job = None
    try:
        job = run(["sbatch", "--parsable", "--requeue", "--job-name=fault-node", "--nodes=1", "--output=/dev/null",
                   "--wrap", "sleep 300"], user="ec2-user").stdout.strip()
        wait_until(lambda: job_field(job, "T") == "RUNNING", 120, interval=0.5, what="the job to run")
        node = job_field(job, "N")
        # The instance dies: everything in the node's namespace is gone, Slurm was not asked.
        run([POWER_PROGRAM, "suspend", node])
        wait_until(lambda: node_state(node).startswith("DOWN"), 120, what="Slurm to mark %s down" % node)
        wait_until(lambda: "Restarts=1" in run(["scontrol", "show", "job", job]).stdout and job_field(job, "T") == "PENDING",
                   60, interval=0.5, what="the job's requeue")
        # Released at once rather than after Slurm's credential hold (70 s here); the crashed node has
        # no run to finish. It may be back in the pool by then (see below), so the job may run anywhere.
        release_requeued(job)
        wait_until(lambda: job_field(job, "T") == "RUNNING", 300, what="the requeued job to run again")
        run(["scancel", job])

        # Slurm's own power saving may already have suspended the DOWN node (idle_on_node_suspend) while the
        # job waited; otherwise site.yml replaces it as clustermgtd does. Either way it is back and usable.
        rc, data = playbook("site.yml", *SITE_ARGS)
        assert rc == 0, failed_tasks(data)
        wait_until(lambda: _usable(node_state(node)), 180, what="%s back in the pool" % node)
        probe = run(["sbatch", "--parsable", "--wait", "--job-name=fault-node-back", "--nodelist=" + node,
                     "--output=/dev/null", "--wrap", "true"], user="ec2-user", timeout=300).stdout.strip()
        record = wait_until(lambda: [j for j in sacct_jobs("fault-node-back") if j["id"] == probe], 60,
                            what="the probe's accounting record")
        assert record[0]["state"] == "COMPLETED" and record[0]["nodes"] == node, record
    finally:
        if job:
            run(["scancel", job], check=False)
        rc, data = playbook(TUNING_PLAY)
        assert rc == 0, failed_tasks(data)


def test_aws_api_outage_in_the_middle_of_site_then_a_rerun_converges(before):
    """The emulator dies while site.yml runs. It keeps its state in memory, so the re-run starts an
    empty one and rebuilds the network; the cluster takes the new subnets instead of refusing them."""
    def kill_emulator(_proc):
        for pidfile in glob.glob(EMULATOR_PIDS):
            with open(pidfile) as handle:
                os.kill(int(handle.read().strip()), signal.SIGKILL)

    rc, text = _site_until("TASK [hpc.parallelcluster.s3_repo", kill_emulator)
    assert rc != 0 and "failed=1" in text, text[-3000:]
    rc, data = playbook("site.yml", *SITE_ARGS)
    assert rc == 0, failed_tasks(data)
    cluster = task_results(data, CLUSTER_TASK)["localhost"]
    assert cluster["changed"] is True
    assert any("takes the new ones" in w for w in cluster.get("warnings", [])), cluster.get("warnings")
    after = _aws_resources()
    # Same shape, same bucket name: nothing duplicated, nothing missing.
    assert after == before, (before, after)
    # That it converged (a further run changes nothing) is shown by the next test's re-run.


def test_site_interrupted_between_roles_then_a_rerun_converges_without_duplicates(before):
    # Killed, as when the control machine or the AWX job goes away: ansible-playbook may see a SIGINT
    # out and finish its run, a SIGKILL of its process group stops it wherever it is.
    rc, _text = _site_until("TASK [hpc.parallelcluster.s3_repo", lambda proc: os.killpg(proc.pid, signal.SIGKILL))
    assert rc == -signal.SIGKILL
    rc, data = playbook("site.yml", *SITE_ARGS)
    assert rc == 0, failed_tasks(data)
    assert [c for c in changed_tasks(data) if "on localhost" in c] == []
    assert _aws_resources() == before
