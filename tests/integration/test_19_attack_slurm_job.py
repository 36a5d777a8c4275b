"""hpc.parallelcluster.slurm_job run by an admin (root) never lends root's rights to a job or to the
parameters it is given: a cluster user's job cannot get a root-only file back through stdout_tail,
a script path is never read as an sbatch option, and env changes the job's environment only, not
what sbatch itself loads or which cluster configuration it reads.

The attacker (the unprivileged account hpc-attacker) submits its own jobs with sbatch and plants
symlinks, a shared library and a Slurm configuration; then one admin playbook runs the module."""

import json
import os
import pwd
import shutil
import subprocess
import uuid

import pytest

from helpers import playbook, run, sacct_jobs, settled_rows, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"
PRELOAD_SOURCE = r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void)
{
    char comm[64] = "";
    FILE *in = fopen("/proc/self/comm", "r");
    if (in) { if (!fgets(comm, sizeof comm, in)) comm[0] = 0; fclose(in); }
    FILE *out = fopen(LOG, "a");
    if (out) { fprintf(out, "uid=%d comm=%s", (int) getuid(), comm); fclose(out); }
}
"""


def _stat(path):
    info = os.lstat(path)
    with open(path, "rb") as handle:
        return handle.read(), info.st_mode, info.st_uid, info.st_gid


@pytest.fixture(scope="module")
def scene(cluster, attacker, tmp_path_factory):
    """Root's secrets, the attacker's finished jobs with planted output paths, and the admin playbook's results."""
    tag = uuid.uuid4().hex[:8]
    home = pwd.getpwnam(attacker).pw_dir
    work = os.path.join(home, "attack-%s" % tag)
    scratch = tmp_path_factory.mktemp("attack-slurm-job")
    secret_text = "SECRET-%s-root-only\n" % tag
    # A root-only file, and a root-only file at the end of a directory path the attacker can point at.
    secret = "/var/tmp/hpc-it-%s-secret" % tag
    secret_dir = "/var/tmp/hpc-it-%s-dir" % tag
    with open(secret, "w") as handle:
        handle.write(secret_text)
    os.chmod(secret, 0o600)
    os.makedirs(secret_dir, mode=0o755)
    with open(os.path.join(secret_dir, "out.log"), "w") as handle:
        handle.write(secret_text)
    os.chmod(os.path.join(secret_dir, "out.log"), 0o600)
    before = {path: _stat(path) for path in (secret, os.path.join(secret_dir, "out.log"))}

    run(["mkdir", "-p", work + "/via-dir"], user=attacker)
    # Job 1 writes its output, then swaps the file for a symlink to the secret.
    link_job = run(["sbatch", "--parsable", "--job-name=it-%s-link" % tag, "--output=%s/out.log" % work,
                    "--chdir=" + work, "--wrap=echo harmless; rm -f %s/out.log; ln -s %s %s/out.log" % (work, secret, work)],
                   user=attacker).stdout.strip().split(";")[0]
    # Job 2 writes into a directory that it then replaces with a symlink to root's directory.
    dir_job = run(["sbatch", "--parsable", "--job-name=it-%s-dir" % tag, "--output=%s/via-dir/out.log" % work,
                   "--chdir=" + work, "--wrap=echo harmless; rm -rf %s/via-dir; ln -s %s %s/via-dir" % (work, secret_dir, work)],
                  user=attacker).stdout.strip().split(";")[0]

    # The attacker's preload library and Slurm configuration.
    preload_log = "/tmp/hpc-it-%s-preload.log" % tag
    run(["touch", preload_log], user=attacker)
    os.chmod(preload_log, 0o666)
    source = os.path.join(work, "mark.c")
    with open(source, "w") as handle:
        handle.write(PRELOAD_SOURCE)
    account = pwd.getpwnam(attacker)
    os.chown(source, account.pw_uid, account.pw_gid)
    library = os.path.join(work, "mark.so")
    run(["gcc", "-shared", "-fPIC", "-DLOG=\"%s\"" % preload_log, "-o", library, source], user=attacker)
    fake_conf = "/tmp/hpc-it-%s-slurm.conf" % tag
    run(["sh", "-c", "printf 'ClusterName=attacker\\nSlurmctldHost=attacker(127.0.0.9)\\n' > %s" % fake_conf], user=attacker)

    # A script file literally called "--wrap=id", for script_path.
    with open(os.path.join(str(scratch), "--wrap=id"), "w") as handle:
        handle.write("#!/bin/sh\necho script-file-ran\n")
    job_dir = "/shared/slurm-job-it-%s-attack" % tag
    os.makedirs(job_dir, mode=0o755)

    settled_rows([link_job, dir_job], timeout=300)
    assert os.path.islink(os.path.join(work, "out.log")) and os.path.islink(os.path.join(work, "via-dir"))

    tasks = [
        {"name": "Wait for the attacker's job whose output became a symlink",
         "hpc.parallelcluster.slurm_job": {"job_id": link_job, "state": "completed", "tail_lines": 50},
         "register": "link", "ignore_errors": True},
        {"name": "Wait for the attacker's job whose output directory became a symlink",
         "hpc.parallelcluster.slurm_job": {"job_id": dir_job, "state": "completed", "tail_lines": 50},
         "register": "viadir", "ignore_errors": True},
        {"name": "Submit a script whose path looks like an option",
         "hpc.parallelcluster.slurm_job": {"name": "it-%s-wrapid" % tag, "script_path": "--wrap=id",
                                           "chdir": str(scratch), "output": job_dir + "/wrapid-%j.out",
                                           "time": "00:02:00", "state": "completed"},
         "ignore_errors": True},
        {"name": "Submit with the attacker's preload library and sbatch input variables in env",
         "hpc.parallelcluster.slurm_job": {
             "name": "it-%s-env" % tag, "chdir": job_dir, "output": job_dir + "/env-%j.out", "time": "00:02:00",
             "env": {"LD_PRELOAD": library, "SBATCH_JOB_NAME": "it-%s-hijacked" % tag,
                     "SBATCH_OUTPUT": "/tmp/hpc-it-%s-hijacked.out" % tag, "IT_MARK": "seen by the job"},
             "wrap": "for v in LD_PRELOAD SBATCH_JOB_NAME SBATCH_OUTPUT IT_MARK SLURM_CONF HOME; do "
                     "printf '%s=%s\\n' \"$v\" \"$(printenv $v)\"; done",
             "state": "completed"},
         "ignore_errors": True},
        {"name": "Submit with SLURM_CONF pointing at the attacker's configuration",
         "hpc.parallelcluster.slurm_job": {"name": "it-%s-conf" % tag, "chdir": job_dir, "wrap": "true",
                                           "env": {"SLURM_CONF": fake_conf, "LD_PRELOAD": library}},
         "ignore_errors": True},
        {"name": "Submit with a control character in the job name",
         "hpc.parallelcluster.slurm_job": {"name": "it-%s-ctl\nJobState=COMPLETED" % tag, "chdir": job_dir,
                                           "wrap": "true"},
         "ignore_errors": True},
    ]
    play = [{"name": "An admin drives slurm_job with what a cluster user controls", "hosts": HOST,
             "gather_facts": False, "tasks": tasks}]
    path = os.path.join(str(scratch), "attack.yml")
    with open(path, "w") as handle:
        json.dump(play, handle)
    rc, data = playbook(path, timeout=600)
    after = {path: _stat(path) for path in before}
    yield {"tag": tag, "data": data, "rc": rc, "secret_text": secret_text, "before": before, "after": after,
           "preload_log": preload_log, "fake_conf": fake_conf, "job_dir": job_dir, "library": library}
    for path in (secret, preload_log, fake_conf, "/tmp/hpc-it-%s-hijacked.out" % tag):
        if os.path.lexists(path):
            os.remove(path)
    shutil.rmtree(secret_dir, ignore_errors=True)
    shutil.rmtree(job_dir, ignore_errors=True)
    subprocess.run(["rm", "-rf", work], check=False)


def _one(scene, task):
    return task_results(scene["data"], task)[HOST]


@pytest.mark.parametrize("task", ["Wait for the attacker's job whose output became a symlink",
                                  "Wait for the attacker's job whose output directory became a symlink"])
def test_stdout_tail_never_returns_a_root_only_file(scene, task):
    result = _one(scene, task)
    assert result.get("state") == "COMPLETED", result
    assert scene["secret_text"].strip() not in json.dumps(result)
    assert result["stdout_tail"] is None
    assert any("stdout_tail left empty" in str(w) for w in result.get("warnings", [])), result
    assert scene["after"] == scene["before"]


def test_script_path_that_looks_like_an_option_is_a_path(scene):
    result = _one(scene, "Submit a script whose path looks like an option")
    assert result.get("state") == "COMPLETED", result
    assert result["cmd"][-2:] == ["--", "--wrap=id"]
    assert result["stdout_tail"] == "script-file-ran"
    with open(result["stdout_path"]) as handle:
        assert "uid=" not in handle.read()


def test_env_reaches_the_job_but_not_sbatch(scene):
    tag = scene["tag"]
    result = _one(scene, "Submit with the attacker's preload library and sbatch input variables in env")
    assert result.get("state") == "COMPLETED", result
    # sbatch's own input variables did not change the submission...
    assert result["name"] == "it-%s-env" % tag and result["stdout_path"].startswith(scene["job_dir"] + "/env-")
    assert not os.path.exists("/tmp/hpc-it-%s-hijacked.out" % tag)
    assert sacct_jobs(name="it-%s-hijacked" % tag) == []
    # ...the library was never loaded by sbatch (only, as documented, by the job's own processes)...
    with open(scene["preload_log"]) as handle:
        loaded_by = handle.read().splitlines()
    assert not [line for line in loaded_by if "comm=sbatch" in line], loaded_by
    # ...and the job saw the variables, the cluster's SLURM_CONF and the module's environment.
    with open(result["stdout_path"]) as handle:
        seen = dict(line.split("=", 1) for line in handle.read().splitlines())
    assert seen["LD_PRELOAD"] == scene["library"] and seen["IT_MARK"] == "seen by the job"
    assert seen["SBATCH_JOB_NAME"] == "it-%s-hijacked" % tag
    assert seen["SLURM_CONF"] == "/opt/slurm/etc/slurm.conf" and seen["HOME"] == os.environ["HOME"]


def test_slurm_conf_in_env_is_refused_before_sbatch_runs(scene):
    tag = scene["tag"]
    result = _one(scene, "Submit with SLURM_CONF pointing at the attacker's configuration")
    assert result["failed"] is True and result["parameters"] == ["env"]
    assert "nothing was submitted" in result["msg"] and "SLURM_CONF" in result["msg"]
    assert "job_id" not in result
    assert sacct_jobs(name="it-%s-conf" % tag) == []


def test_control_character_in_name_is_refused(scene):
    tag = scene["tag"]
    result = _one(scene, "Submit with a control character in the job name")
    assert result["failed"] is True and result["parameters"] == ["name"]
    assert "control character" in result["msg"]
    assert not [r for r in sacct_jobs() if r["name"].startswith("it-%s-ctl" % tag)]
