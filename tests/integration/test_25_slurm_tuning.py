"""The slurm_tuning role on the real local cluster: the recipe's settings are what slurmctld runs
with after site.yml, changes are applied by reconfigure or restart as slurm.conf(5) says, refused
settings change nothing, and an interrupted run converges."""

import os

import pytest

from helpers import accounted_state, changed_tasks, failed_tasks, playbook, run, sacct_jobs, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"
TUNING = "/opt/slurm/etc/slurm_tuning.conf"
PIDFILE = "/run/hpc-parallelcluster/slurmctld.pid"
PLAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "slurm_tuning.yml")


def show_config():
    config = {}
    for line in run(["scontrol", "show", "config"]).stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config[key.strip()] = value.strip()
    return config


def slurmctld_pid():
    with open(PIDFILE) as handle:
        return int(handle.read().strip())


def slurm_version():
    """(major, minor) of the cluster's Slurm, from `scontrol --version` ("slurm 24.11.5")."""
    numbers = run(["scontrol", "--version"]).stdout.split()[-1].split(".")
    return int(numbers[0]), int(numbers[1])


def tune(*extra):
    rc, data = playbook(PLAY, *extra)
    result = task_results(data, "Apply the Slurm settings")[HOST]
    return rc, data, result


def test_site_applied_the_recipes_settings(cluster):
    # The role with site.yml's variables (a no-op after site.yml, a repair after an earlier failed test).
    rc, data, _result = tune()
    assert rc == 0, failed_tasks(data)
    config = show_config()
    assert config["SelectType"] == "select/cons_tres"
    assert config["SelectTypeParameters"] == "CR_CORE_MEMORY"
    assert config["PreemptType"] == "preempt/partition_prio"
    assert config["PreemptMode"] == "REQUEUE"
    assert config["DefMemPerCPU"] == "1000"
    assert oct(os.stat(TUNING).st_mode & 0o777) == "0o644"
    with open("/opt/slurm/etc/slurm.conf") as handle:
        includes = [line.strip() for line in handle if line.startswith("include ")]
    assert includes[-1] == "include " + TUNING
    rc, data, result = tune()
    assert rc == 0 and changed_tasks(data) == [] and result["method"] == "none"


def test_a_reconfigure_setting_keeps_slurmctld_running(cluster):
    pid = slurmctld_pid()
    rc, data, result = tune("-e", '{"slurm_tuning_extra_settings": {"SchedulerParameters": ["bf_interval=20", "bf_continue"]}}')
    assert rc == 0, failed_tasks(data)
    assert result["method"] == "reconfigure" and result["changed_keys"] == ["schedulerparameters"]
    assert show_config()["SchedulerParameters"] == "bf_interval=20,bf_continue"
    if slurm_version() < (23, 11):
        assert slurmctld_pid() == pid  # reconfigured in place
    else:
        # Slurm 23.11 and later re-exec slurmctld on `scontrol reconfigure`: a new process that
        # Slurm itself started, with its PID file updated, and answering.
        assert slurmctld_pid() != pid and os.path.exists("/proc/%d" % slurmctld_pid())
        run(["scontrol", "ping"])


def test_a_restart_setting_restarts_slurmctld_and_jobs_survive(cluster):
    history = len(sacct_jobs())
    held = run(["sbatch", "--parsable", "--hold", "--job-name=tuning-held", "--output=/dev/null", "--wrap", "true"],
               user="ec2-user").stdout.strip()
    pid = slurmctld_pid()
    try:
        rc, data, result = tune("-e", '{"slurm_tuning_extra_settings": {"MaxJobCount": 20000}}')
        assert rc == 0, failed_tasks(data)
        assert result["method"] == "restart_slurmctld" and "maxjobcount" in result["changed_keys"]
        assert slurmctld_pid() != pid
        assert show_config()["MaxJobCount"] == "20000"
        state = run(["squeue", "--noheader", "--jobs", held, "--format=%T"]).stdout.strip()
        assert state == "PENDING"
        assert len(sacct_jobs()) >= history
    finally:
        run(["scancel", held])


def test_restart_refused_when_not_allowed_changes_nothing(cluster):
    before = open(TUNING).read()
    max_jobs = show_config()["MaxJobCount"]
    rc, data, result = tune("-e", '{"slurm_tuning_extra_settings": {"MaxJobCount": 30000}}',
                            "-e", "slurm_tuning_allow_restart=false")
    assert rc != 0
    assert "maxjobcount" in result["msg"] and "allow_restart" in result["msg"], result["msg"]
    assert open(TUNING).read() == before
    assert show_config()["MaxJobCount"] == max_jobs != "30000"


def test_denied_and_malformed_settings_are_refused_before_anything_changes(cluster):
    before = open(TUNING).read()
    pid = slurmctld_pid()
    rc, data, result = tune("-e", '{"slurm_tuning_extra_settings": {"ResumeProgram": "/tmp/x", "Debug;rm": 1, '
                                  '"Epilog": "/tmp/e"}}')
    assert rc != 0
    fields = sorted(error["field"] for error in result["errors"])
    assert fields == ["settings.Debug;rm", "settings.Epilog", "settings.ResumeProgram"], result
    assert "ParallelCluster manages this setting" in result["msg"]
    assert open(TUNING).read() == before and slurmctld_pid() == pid


def test_an_interrupted_run_converges(cluster):
    assert tune()[0] == 0
    # The file says DefMemPerCPU=1500 but nothing applied it: the role sees slurmctld disagree.
    with open(TUNING) as handle:
        text = handle.read()
    with open(TUNING, "w") as handle:
        handle.write(text.replace("DefMemPerCPU=1000", "DefMemPerCPU=1500"))
    rc, data, result = tune("-e", '{"slurm_tuning_extra_settings": {"DefMemPerCPU": 1500}}')
    assert rc == 0, failed_tasks(data)
    assert result["changed"] and result["method"] == "reconfigure" and result["changed_keys"] == ["defmempercpu"]
    assert show_config()["DefMemPerCPU"] == "1500"


def test_back_to_the_recipes_settings_then_a_job_runs(cluster):
    rc, data, _result = tune()
    assert rc == 0, failed_tasks(data)
    assert show_config()["SelectType"] == "select/cons_tres" and show_config()["DefMemPerCPU"] == "1000"
    assert "SchedulerParameters" not in open(TUNING).read()
    rc, data, _result = tune()
    assert rc == 0 and changed_tasks(data) == []
    out = run(["sbatch", "--parsable", "--wait", "--nodes=1", "--output=/dev/null", "--wrap", "true"],
              user="ec2-user", timeout=240).stdout.strip()
    assert accounted_state(out) == "COMPLETED"
