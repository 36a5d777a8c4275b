"""hpc.parallelcluster.slurm_job and slurm_job_info run as Ansible runs them (module args in, JSON
out), with run_command answered by outputs captured from Slurm 22.05."""

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from slurm_fakes import FakeRunner, sample

from ansible_collections.hpc.parallelcluster.plugins.module_utils.sbatch_options import (
    blame,
    build_options,
    decode_key,
    encode_key,
)
from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_job, slurm_job_info

QUOTED = sample("scontrol_job_quoted_name.txt")
FAILED = sample("scontrol_job_failed.txt")
ARRAY_DONE = sample("scontrol_job_array_done.txt")
ARRAY_PENDING = sample("scontrol_job_array_pending.txt")
STUCK = sample("scontrol_job_partitionconfig.txt")
RUNNING = QUOTED.replace("JobState=COMPLETED", "JobState=RUNNING")


def run_module(module, args, runner, capsys, monkeypatch, check_mode=False):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: runner(cmd, **kw))
    args = dict(args, _ansible_check_mode=check_mode)
    args.setdefault("poll_interval", 0.01) if module is slurm_job else None
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def run(capsys, monkeypatch):
    return lambda args, runner, **kw: run_module(slurm_job, args, runner, capsys, monkeypatch, **kw)


def no_history():
    return FakeRunner(squeue=(0, "", ""), sacct=(0, "", ""))


def test_submitted_passes_every_value_as_one_argument(run, tmp_path):
    runner = FakeRunner(sbatch=(0, "15\n", ""), scontrol=(0, RUNNING, ""))
    out = run({"wrap": "echo $FOO; date", "name": 'a b"c;d', "output": "/shared/o x;y.out", "nodes": "1",
               "time": "00:01:00", "env": {"FOO": "it's; \"quoted\" $HOME"}, "chdir": str(tmp_path),
               "exclusive": True, "extra_args": ["--constraint=dynamic"]}, runner)
    assert out["changed"] is True and out["job_id"] == "15" and out["state"] == "RUNNING"
    assert out["name"] == 'a b"c;d' and out["stdout_path"] == "/shared/cap/o x;y.out"
    args, kwargs = runner.calls[0]
    assert args == ["sbatch", "--parsable", '--job-name=a b"c;d', "--nodes=1", "--time=00:01:00",
                    "--output=/shared/o x;y.out", "--chdir=%s" % tmp_path, "--exclusive", "--export=ALL",
                    "--constraint=dynamic", "--wrap=echo $FOO; date"]
    assert kwargs["environ_update"]["FOO"] == "it's; \"quoted\" $HOME"
    assert kwargs["expand_user_and_vars"] is False
    assert out["cmd"] == args


def test_completed_waits_then_reports_exit_code_and_tail(run, tmp_path):
    log = tmp_path / "out.log"
    log.write_text("".join("line %d\n" % i for i in range(30)))
    done = QUOTED.replace("/shared/cap/o x;y.out", str(log))
    runner = FakeRunner(sbatch=(0, "15\n", ""),
                        scontrol=[(0, RUNNING, ""), (0, RUNNING, ""), (0, RUNNING, ""), (0, done, "")])
    out = run({"script": "#!/bin/sh\necho hi\n", "state": "completed", "tail_lines": 3}, runner)
    assert out["state"] == "COMPLETED" and out["exit_code"] == 0
    assert out["nodes"] == "compute-dy-compute-nodes-9"
    assert out["stdout_tail"] == "line 27\nline 28\nline 29"
    assert runner.calls[0][1]["data"] == "#!/bin/sh\necho hi\n"


def test_completed_failure_fails_with_state_exit_code_and_tail(run, tmp_path):
    log = tmp_path / "slurm-16.out"
    log.write_text("bad\n")
    runner = FakeRunner(sbatch=(0, "16\n", ""), scontrol=(0, FAILED.replace("/shared/cap/slurm-16.out", str(log)), ""))
    out = run({"wrap": "echo bad; exit 3", "state": "completed"}, runner)
    assert out["failed"] is True
    assert out["state"] == "FAILED" and out["exit_code"] == 3
    assert "ended FAILED" in out["msg"] and "exit code 3" in out["msg"] and "bad" in out["msg"]
    assert out["stdout_tail"] == "bad"


def test_array_reports_per_task_states(run):
    runner = FakeRunner(sbatch=(0, "25\n", ""), scontrol=[(0, ARRAY_PENDING.replace("=28", "=25"), ""), (0, ARRAY_DONE, "")])
    out = run({"wrap": "x", "array": "1-3", "state": "completed"}, runner)
    assert out["failed"] is True and out["state"] == "FAILED" and out["exit_code"] == 1
    assert [(t["task_id"], t["state"], t["exit_code"]) for t in out["tasks"]] == [
        ("1", "COMPLETED", 0), ("2", "FAILED", 1), ("3", "COMPLETED", 0)]
    assert "tasks 2=FAILED" in out["msg"]


@pytest.mark.parametrize("stderr_file, rc, param", [
    ("sbatch_bad_partition.stderr", 1, "partition"),
    ("sbatch_bad_time.stderr", 255, "time"),
    ("sbatch_cpus.stderr", 1, "cpus_per_task"),
])
def test_refused_submission_names_the_parameter(run, stderr_file, rc, param):
    runner = FakeRunner(sbatch=(rc, "", sample(stderr_file)))
    out = run({"wrap": "true", "partition": "nope", "time": "abc", "cpus_per_task": 4}, runner)
    assert out["failed"] is True
    assert out["parameters"] == [param]
    assert "check parameter %s" % param in out["msg"]
    assert sample(stderr_file).splitlines()[-1].split("error: ")[-1] in out["msg"]


def test_job_that_can_never_start_is_cancelled_and_fails_naming_nodes(run):
    runner = FakeRunner(sbatch=[(0, "29\n", ""), (1, "", sample("sbatch_test_only_nodes.stderr"))],
                        scontrol=(0, STUCK, ""), scancel=(0, "", ""))
    out = run({"wrap": "true", "nodes": "20"}, runner)
    assert out["failed"] is True and out["parameters"] == ["nodes"]
    assert "PartitionConfig" in out["msg"] and "Requested node configuration is not available" in out["msg"]
    assert runner.commands("scancel") == [["scancel", "29"]]
    assert "--test-only" in runner.commands("sbatch")[1]


def test_idempotency_key_returns_existing_job_without_submitting(run):
    queue = sample("squeue_states_all.txt")
    runner = FakeRunner(squeue=(0, queue, ""), sacct=(0, "", ""), scontrol=(0, QUOTED, ""))
    out = run({"wrap": "true", "idempotency_key": "k1"}, runner)
    assert out["changed"] is False and out["job_id"] == "15" and out["idempotency_key"] == "k1"
    assert runner.commands("sbatch") == []


def test_idempotency_key_found_in_accounting_only(run):
    acct = sample("sacct_jobs.txt").replace("idempotency_key=k1", "idempotency_key=" + "old%20key")
    runner = FakeRunner(squeue=(0, "", ""), sacct=(0, acct, ""),
                        scontrol=(1, "", "slurm_load_jobs error: Invalid job id specified\n"))
    out = run({"wrap": "true", "idempotency_key": "old key", "state": "completed"}, runner)
    assert out["changed"] is False and out["job_id"] == "15" and out["state"] == "COMPLETED"


def test_failed_job_with_key_is_resubmitted(run):
    acct = sample("sacct_jobs.txt").replace("COMPLETED^_0:0^_compute-dy-compute-nodes-9".replace("^_", "\x1f"),
                                            "FAILED\x1f1:0\x1fcompute-dy-compute-nodes-9")
    runner = FakeRunner(squeue=(0, "", ""), sacct=(0, acct, ""), sbatch=(0, "30\n", ""), scontrol=(0, RUNNING, ""))
    out = run({"wrap": "true", "idempotency_key": "k1"}, runner)
    assert out["changed"] is True and "--comment=hpc.parallelcluster:idempotency_key=k1" in runner.commands("sbatch")[0]


def test_check_mode_reports_the_command_without_submitting(run):
    runner = no_history()
    out = run({"wrap": "true", "name": "n", "idempotency_key": "a \"b\""}, runner, check_mode=True)
    assert out["changed"] is True
    assert out["cmd"] == ["sbatch", "--parsable", "--job-name=n",
                          "--comment=hpc.parallelcluster:idempotency_key=a%20%22b%22", "--wrap=true"]
    assert runner.commands("sbatch") == []


def test_check_mode_with_existing_key_is_unchanged(run):
    runner = FakeRunner(squeue=(0, sample("squeue_states_all.txt"), ""), sacct=(0, "", ""), scontrol=(0, QUOTED, ""))
    out = run({"wrap": "true", "idempotency_key": "k1"}, runner, check_mode=True)
    assert out["changed"] is False and out["job_id"] == "15"


def test_cancel_by_name_cancels_only_live_jobs_of_that_name(run):
    queue = sample("squeue_pending.txt").replace("\x1fwrap\x1f", "\x1fa b;c\x1f")
    cancelled = ARRAY_PENDING.replace("JobState=PENDING", "JobState=CANCELLED")
    runner = FakeRunner(squeue=(0, queue, ""), scancel=(0, "", ""), scontrol=(0, cancelled, ""))
    out = run({"name": "a b;c", "state": "cancelled"}, runner)
    assert out["changed"] is True and out["job_ids"] == ["29", "28"]
    assert runner.commands("scancel") == [["scancel", "29", "28"]]


def test_cancel_by_id_of_finished_job_is_unchanged(run):
    runner = FakeRunner(scontrol=(0, QUOTED, ""))
    out = run({"job_id": "15", "state": "cancelled"}, runner)
    assert out["changed"] is False and out["state"] == "COMPLETED"


def test_cancel_check_mode(run):
    runner = FakeRunner(scontrol=(0, RUNNING, ""))
    out = run({"job_id": "15", "state": "cancelled"}, runner, check_mode=True)
    assert out["changed"] is True and out["job_ids"] == ["15"]
    assert runner.commands("scancel") == []


def test_submit_needs_a_source(run):
    out = run({"name": "x"}, no_history())
    assert out["failed"] is True and "script, script_path or wrap" in out["msg"]


def test_info_by_name_merges_queue_and_accounting(capsys, monkeypatch):
    runner = FakeRunner(squeue=(0, sample("squeue_states_all.txt"), ""), sacct=(0, sample("sacct_jobs.txt"), ""),
                        scontrol=(0, QUOTED, ""))
    out = run_module(slurm_job_info, {"name": 'a b"c;d'}, runner, capsys, monkeypatch)
    assert [j["job_id"] for j in out["jobs"]] == ["15"]
    assert out["jobs"][0]["name"] == 'a b"c;d'


def test_info_state_filter(capsys, monkeypatch):
    runner = FakeRunner(squeue=(0, sample("squeue_states_all.txt"), ""), sacct=(0, sample("sacct_jobs.txt"), ""),
                        scontrol=lambda args, kw: (0, FAILED if args[-1] == "16" else ARRAY_DONE, ""))
    out = run_module(slurm_job_info, {"state": ["failed"]}, runner, capsys, monkeypatch)
    assert sorted(j["job_id"] for j in out["jobs"]) == ["16", "25"]


@pytest.mark.parametrize("message, params, expected", [
    ("invalid partition specified: nope", {"partition": "nope"}, ["partition"]),
    ("Invalid --time specification", {"time": "abc"}, ["time"]),
    ("Batch job submission failed: Invalid job array specification", {"array": "5-1"}, ["array"]),
    ("Batch job submission failed: Job dependency problem", {"dependency": "x"}, ["dependency"]),
    ("Invalid --mem specification", {"mem": "abc"}, ["mem"]),
    ('Invalid numeric value "abc" for --ntasks.', {"ntasks": 1}, ["ntasks"]),
    ('Invalid numeric value "abc" for --ntasks-per-node.', {"ntasks_per_node": 1}, ["ntasks_per_node"]),
    ('Invalid numeric value "abc" for --cpus-per-task.', {"cpus_per_task": 1}, ["cpus_per_task"]),
    ('"abc" is not a valid node count', {"nodes": "abc"}, ["nodes"]),
    ("Maximum node count 1 is less than minimum node count 3", {"nodes": "3-1"}, ["nodes"]),
    ("Invalid --exclusive specification", {"exclusive": True}, ["exclusive"]),
    ("Batch job submission failed: Requested node configuration is not available", {"nodes": "20", "ntasks": 1},
     ["nodes", "ntasks"]),
    ("Memory specification can not be satisfied", {"mem": "9T"}, ["mem"]),
    ("This does not look like a batch script.", {"script": "x"}, ["script"]),
    ("Unable to open file /nonexist.sh", {"script_path": "/nonexist.sh"}, ["script_path"]),
    ("unrecognized option '--bogus'", {"extra_args": ["--bogus"]}, ["extra_args"]),
])
def test_blame_maps_sbatch_messages_to_parameters(message, params, expected):
    assert blame(message, params) == expected


def test_idempotency_key_round_trip_survives_quotes_and_spaces():
    key = 'deploy "v2"; it\'s 100%'
    comment = encode_key(key)
    assert '"' not in comment and "'" not in comment and " " not in comment
    assert decode_key(comment) == key
    assert decode_key("(null)") is None


def test_build_options_skips_unset_values():
    assert build_options({"name": None, "nodes": "2", "exclusive": False, "extra_args": []}) == ["--nodes=2"]
