"""hpc.parallelcluster.slurm_job with backend rest, run by an admin (root) for a cluster user's job,
never reads a file the user could not read and hands it to that user's job: slurmrestd stores the
script it is given, and the job's user can read it back (scontrol write batch_script).

The attacker (the unprivileged account hpc-attacker) plants, where the admin's task will read
script_path, a symlink to a root-only script, a symlink to a root-only directory, a FIFO and a
file of its own; a root-owned script in a root-owned directory is submitted for the attacker as the
control. Every planted path is refused naming script_path, nothing is submitted, the root-only
files are untouched and their text appears nowhere."""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from helpers import playbook, run, sacct_jobs, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"
ATTACKS = {
    "A symlink to a root-only script": "link.sh",
    "A root-only script behind a symlinked directory": "via/job.sh",
    "A FIFO": "job.fifo",
    "The attacker's own file": "own.sh",
}


def _stat(path):
    info = os.lstat(path)
    with open(path, "rb") as handle:
        return handle.read(), info.st_mode, info.st_uid, info.st_gid


def _write(path, text, mode):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


@pytest.fixture(scope="module")
def scene(cluster, attacker, tmp_path_factory):
    """Root's secrets, the attacker's planted paths, and the results of the admin's playbook."""
    tag = uuid.uuid4().hex[:8]
    secret_text = "SECRET-%s-root-only" % tag
    script = "#!/bin/sh\n# %s\necho leaked\n" % secret_text
    secret = "/var/tmp/hpc-it-%s-rest-secret.sh" % tag
    secret_dir = "/var/tmp/hpc-it-%s-rest-dir" % tag
    good_dir = "/var/tmp/hpc-it-%s-rest-ok" % tag
    _write(secret, script, 0o600)
    os.makedirs(secret_dir, mode=0o700)
    _write(os.path.join(secret_dir, "job.sh"), script, 0o600)
    os.makedirs(good_dir, mode=0o755)
    _write(os.path.join(good_dir, "job.sh"), "#!/bin/sh\necho control-ran\n", 0o644)
    before = {path: _stat(path) for path in (secret, os.path.join(secret_dir, "job.sh"))}

    home = run(["sh", "-c", "echo ~"], user=attacker).stdout.strip()
    work = os.path.join(home, "rest-attack-%s" % tag)
    run(["mkdir", "-p", work], user=attacker)
    run(["ln", "-s", secret, os.path.join(work, "link.sh")], user=attacker)
    run(["ln", "-s", secret_dir, os.path.join(work, "via")], user=attacker)
    run(["mkfifo", os.path.join(work, "job.fifo")], user=attacker)
    run(["sh", "-c", "printf '#!/bin/sh\\necho mine\\n' > %s/own.sh" % work], user=attacker)

    defaults = {"backend": "rest", "rest_url": "http://127.0.0.1:6830", "rest_user": attacker,
                "rest_token": "{{ hostvars[groups['head_nodes'][0]].attacker_token.token }}", "chdir": work,
                "time": "00:02:00"}
    tasks = [{"name": name, "hpc.parallelcluster.slurm_job": dict(defaults, name="it-%s-%d" % (tag, index),
                                                                  script_path=os.path.join(work, path)),
              "timeout": 120, "ignore_errors": True}
             for index, (name, path) in enumerate(sorted(ATTACKS.items()))]
    tasks.append({"name": "Control: a root-owned script in a root-owned directory",
                  "hpc.parallelcluster.slurm_job": dict(defaults, name="it-%s-control" % tag, state="completed",
                                                        script_path=os.path.join(good_dir, "job.sh")),
                  "timeout": 300, "ignore_errors": True})
    play = [
        {"name": "The Slurm REST API on the head node, and a token for the cluster user", "hosts": "head_nodes",
         "gather_facts": True, "gather_subset": ["min"], "roles": ["hpc.parallelcluster.slurm_rest"],
         "tasks": [{"name": "Mint a token for the attacker",
                    "hpc.parallelcluster.slurm_token": {"username": attacker, "lifespan": 900},
                    "register": "attacker_token"}]},
        {"name": "An admin submits the cluster user's script_path through slurmrestd", "hosts": "localhost",
         "connection": "local", "gather_facts": False, "tasks": tasks},
    ]
    scratch = tmp_path_factory.mktemp("attack-rest-script")
    path = os.path.join(str(scratch), "attack.yml")
    with open(path, "w") as handle:
        json.dump(play, handle)
    rc, data = playbook(path, timeout=900)
    after = {path: _stat(path) for path in before}
    yield {"tag": tag, "data": data, "rc": rc, "secret_text": secret_text, "before": before, "after": after,
           "work": work}
    os.remove(secret)
    for directory in (secret_dir, good_dir):
        shutil.rmtree(directory, ignore_errors=True)
    subprocess.run(["rm", "-rf", work], check=False)


@pytest.mark.parametrize("task", sorted(ATTACKS))
def test_planted_script_path_is_refused_and_nothing_is_submitted(scene, task):
    result = task_results(scene["data"], task)["localhost"]
    path = os.path.join(scene["work"], ATTACKS[task])
    assert result.get("failed") is True, result
    assert result.get("error_kind") == "input" and "job_id" not in result, result
    assert result["msg"].startswith("invalid parameters, nothing was submitted: script_path %s " % path), result
    assert scene["secret_text"] not in json.dumps(result)
    name = result["invocation"]["module_args"]["name"]
    assert sacct_jobs(name=name) == []
    assert run(["squeue", "--noheader", "--all", "--name", name]).stdout.strip() == ""


def test_root_only_files_are_untouched_and_the_fifo_is_still_there(scene):
    assert scene["after"] == scene["before"]
    assert os.path.exists(os.path.join(scene["work"], "job.fifo"))


def test_control_script_runs_as_the_cluster_user(scene):
    result = task_results(scene["data"], "Control: a root-owned script in a root-owned directory")["localhost"]
    assert not result.get("failed"), result
    assert result["state"] == "COMPLETED" and result["user"] == "hpc-attacker"
    assert result["stdout_tail"] == "control-ran"
