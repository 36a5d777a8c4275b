"""hpc.parallelcluster.slurm_job and slurm_job_info driving the real local cluster as ec2-user.

The scenario playbooks run at the same time (their jobs use different nodes), so cold nodes'
start-up waits overlap; each test then reads its playbook's results and asks Slurm what happened."""

import concurrent.futures
import glob
import os
import re
import shutil
import uuid

import pytest

from helpers import ROOT, failed_tasks, playbook, run, sacct_jobs, settled_rows, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"
PLAYBOOKS = os.path.join(ROOT, "tests", "integration", "playbooks")
SCENARIOS = ("slurm_job_states", "slurm_job_array", "slurm_job_dependency", "slurm_job_failures")


@pytest.fixture(scope="module")
def tag():
    """A per-run suffix for job names, keys and directories; the directories go afterwards."""
    value = uuid.uuid4().hex[:8]
    yield value
    for path in glob.glob("/shared/slurm-job-it-%s*" % value):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)


def _play(name, tag):
    return playbook(os.path.join(PLAYBOOKS, name + ".yml"), "-e", "tag=" + tag, timeout=400)


def _idempotent_twice(tag):
    return [_play("slurm_job_idempotent", tag), _play("slurm_job_idempotent", tag)]


@pytest.fixture(scope="module")
def results(cluster, tag):
    """{scenario: (rc, json result)}, all scenario playbooks run concurrently."""
    with concurrent.futures.ThreadPoolExecutor(len(SCENARIOS) + 1) as pool:
        futures = {name: pool.submit(_play, name, tag) for name in SCENARIOS}
        futures["idempotent"] = pool.submit(_idempotent_twice, tag)
        return {name: future.result() for name, future in futures.items()}


def _one(data, task):
    return task_results(data, task)[HOST]


def _ok(results, name):
    rc, data = results[name]
    assert rc == 0, failed_tasks(data)
    return data


def test_submitted_returns_at_once_and_cancel_by_id(results):
    data = _ok(results, "slurm_job_states")
    submitted = _one(data, "Submit a job and return at once")
    assert submitted["changed"] is True
    assert submitted["state"] in ("PENDING", "CONFIGURING", "RUNNING")
    cancelled = _one(data, "Cancel it by id")
    assert cancelled["changed"] is True and cancelled["state"] == "CANCELLED"
    assert cancelled["job_ids"] == [submitted["job_id"]]
    assert settled_rows([submitted["job_id"]])[submitted["job_id"]]["state"].startswith("CANCELLED")


def test_cancel_by_name_cancels_every_live_job_of_that_name(results, tag):
    data = _ok(results, "slurm_job_states")
    ids = [item["job_id"] for item in _one(data, "Submit two jobs to cancel by name")["results"]]
    cancelled = _one(data, "Cancel them by name")
    assert cancelled["changed"] is True and sorted(cancelled["job_ids"]) == sorted(ids)
    again = _one(data, "Cancel them by name again")
    assert again["changed"] is False and again["job_ids"] == []
    rows = settled_rows(ids)
    assert all(rows[i]["state"].startswith("CANCELLED") and rows[i]["user"] == "ec2-user" for i in ids)
    assert {rows[i]["name"] for i in ids} == {"it-%s cancel me; now" % tag}


def test_check_mode_submits_nothing(results, tag):
    data = _ok(results, "slurm_job_states")
    check = _one(data, "Would submit a job")
    assert check["changed"] is True and "job_id" not in check
    assert check["cmd"][-1] == "--wrap=true"
    assert sacct_jobs(name="it-%s-check" % tag) == []


def test_awkward_strings_reach_slurm_exactly(results, tag):
    data = _ok(results, "slurm_job_states")
    job_dir = "/shared/slurm-job-it-%s" % tag
    awkward = _one(data, "Run a job with awkward strings")
    value = "sp ace \"dq\" 'sq' ; $(touch %s/pwned) `touch %s/pwned2` $HOME" % (job_dir, job_dir)
    output = "%s/out file \"q\" 'x'; y.log" % job_dir
    assert awkward["state"] == "COMPLETED" and awkward["exit_code"] == 0
    assert awkward["name"] == "it-%s a \"b\" 'c'; d" % tag
    assert awkward["stdout_path"] == output
    assert awkward["stdout_tail"] == value
    with open(output) as handle:
        assert handle.read() == value + "\n"
    assert not os.path.exists(job_dir + "/pwned") and not os.path.exists(job_dir + "/pwned2")
    assert not [f for f in os.listdir(job_dir) if "pwned" in f]
    # slurmdbd keeps the name but stores double quotes as backticks.
    row = settled_rows([awkward["job_id"]])[awkward["job_id"]]
    assert row["name"] == "it-%s a `b` 'c'; d" % tag and row["user"] == "ec2-user"


def test_array_reports_every_task(results, tag):
    data = _ok(results, "slurm_job_array")
    array = _one(data, "Run an array")
    assert array["state"] == "COMPLETED" and array["exit_code"] == 0
    assert [(t["task_id"], t["state"], t["exit_code"]) for t in array["tasks"]] == [
        ("1", "COMPLETED", 0), ("2", "COMPLETED", 0), ("3", "COMPLETED", 0)]
    for task in array["tasks"]:
        assert task["stdout_path"] == "/shared/slurm-job-it-%s/array-%s_%s.out" % (tag, array["job_id"], task["task_id"])
        with open(task["stdout_path"]) as handle:
            assert handle.read() == "task %s\n" % task["task_id"]
    info = _one(data, "Look up the array")["jobs"]
    assert [j["job_id"] for j in info] == [array["job_id"]]
    assert [t["state"] for t in info[0]["tasks"]] == ["COMPLETED"] * 3
    rows = settled_rows([array["job_id"]])
    assert sorted(rows) == ["%s_%d" % (array["job_id"], i) for i in (1, 2, 3)]


def test_dependency_chain_runs_in_order(results):
    data = _ok(results, "slurm_job_dependency")
    second = _one(data, "Run the second job after the first")
    assert second["state"] == "COMPLETED"
    assert second["stdout_tail"] == "first\nsecond"
    first = _one(data, "Look at the first job after the chain")["jobs"][0]
    assert first["state"] == "COMPLETED"


def test_failing_job_fails_the_task_with_exit_code_and_tail(results):
    _rc, data = results["slurm_job_failures"]
    failing = _one(data, "Run a failing job")
    assert failing["failed"] is True
    assert failing["state"] == "FAILED" and failing["exit_code"] == 3
    assert failing["stdout_tail"] == "about to fail"
    assert "ended FAILED" in failing["msg"] and "exit code 3" in failing["msg"]
    assert settled_rows([failing["job_id"]])[failing["job_id"]]["exit"] == "3:0"


# With ParallelCluster's EnforcePartLimits=ALL, Slurm refuses a job its partition is too small for at
# submission, saying so in the words of the limit it checked first.
TOO_BIG = r"More processors requested than permitted|Node count specification invalid|" \
          r"Requested node configuration is not available"


@pytest.mark.parametrize("task, parameter, slurm_says", [
    ("Submit to a missing partition", "partition", "Invalid partition name specified"),
    ("Ask for more nodes than the partition has", "nodes", TOO_BIG),
    ("Ask for more tasks than the partition has", "ntasks", TOO_BIG),
    ("Give a bad time limit", "time", r"Invalid --time specification"),
])
def test_refused_submission_names_parameter_and_reason(results, tag, task, parameter, slurm_says):
    _rc, data = results["slurm_job_failures"]
    res = _one(data, task)
    assert res["failed"] is True
    assert res["parameters"] == [parameter]
    assert "check parameter %s" % parameter in res["msg"] and re.search(slurm_says, res["msg"]), res["msg"]
    # Nothing is left queued: refused outright, or cancelled at once when Slurm only parks it.
    live = run(["squeue", "--noheader", "--user=ec2-user", "--format=%j"]).stdout.split("\n")
    assert not [n for n in live if n.startswith("it-%s-" % tag) and n.endswith(("toomany", "toomanytasks"))]


@pytest.mark.parametrize("task, parameter, words", [
    ("Write the output through a parent directory", "output", "'..' component"),
    ("Give a name longer than accounting keeps", "name", "at most 255"),
    ("Give a name with a newline", "name", "control character"),
])
def test_hostile_input_is_refused_naming_the_parameter_and_nothing_is_submitted(results, tag, task, parameter, words):
    _rc, data = results["slurm_job_failures"]
    res = _one(data, task)
    assert res["failed"] is True and res["parameters"] == [parameter]
    assert "nothing was submitted" in res["msg"] and words in res["msg"], res["msg"]
    names = [j["name"] for j in sacct_jobs()]
    assert not [n for n in names if n.startswith("it-%s-" % tag) and ("traversal" in n or "nnnn" in n or "newline" in n)]
    assert not os.path.exists("/etc/it-%s.out" % tag)


def test_idempotency_key_second_run_returns_the_same_job(results, tag):
    (rc1, first), (rc2, second) = results["idempotent"]
    assert rc1 == 0 and rc2 == 0, failed_tasks(first) + failed_tasks(second)
    one = _one(first, "Run the keyed job")
    two = _one(second, "Run the keyed job")
    assert one["changed"] is True and two["changed"] is False
    assert one["job_id"] == two["job_id"] and two["state"] == "COMPLETED"
    assert two["idempotency_key"] == 'it-%s "key"; once' % tag
    assert [row["id"] for row in sacct_jobs(name="it-%s-keyed" % tag)] == [one["job_id"]]
