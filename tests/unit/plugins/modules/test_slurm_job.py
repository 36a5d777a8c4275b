"""hpc.parallelcluster.slurm_job and slurm_job_info run as Ansible runs them (module args in, JSON
out), with run_command answered by outputs captured from Slurm 22.05."""

import json
import os

import pytest

from module_runner import run_module
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
# The captured jobs belong to ec2-user (uid 1001); for output files this test writes, the job's
# user is the one running the tests.
MINE = "UserId=ec2-user(%d)" % os.getuid()


@pytest.fixture
def run(capsys, monkeypatch):
    return lambda args, runner, **kw: run_module(slurm_job, dict({"poll_interval": 0.01}, **args), runner, capsys,
                                                 monkeypatch, **kw)


def no_history():
    return FakeRunner(squeue=(0, "", ""), sacct=(0, "", ""))


class FakeSbatch:
    """sbatch's answers, recording what each call was given: its arguments (without the temporary
    --export-file), the job environment in that file (read during the call, it is gone afterwards),
    the file's mode, and sbatch's own process environment as run_command would build it."""

    def __init__(self, *answers):
        self.answers = list(answers) or [(0, "15\n", "")]
        self.seen = []

    def __call__(self, args, kwargs):
        env_file = [a.split("=", 1)[1] for a in args if a.startswith("--export-file=")][0]
        with open(env_file, "rb") as handle:
            entries = [e.decode() for e in handle.read().split(b"\0") if e]
        process = dict(os.environ)
        process.update(kwargs["environ_update"])
        self.seen.append({"args": [os.path.basename(args[0])] + [a for a in args[1:] if a != "--export-file=" + env_file],
                          "file": env_file, "mode": os.stat(env_file).st_mode & 0o777, "process_env": process,
                          "job_env": dict(e.split("=", 1) for e in entries), "kwargs": kwargs})
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_submitted_passes_every_value_as_one_argument(run, tmp_path):
    sbatch = FakeSbatch()
    runner = FakeRunner(sbatch=sbatch, scontrol=(0, RUNNING, ""))
    out = run({"wrap": "echo $FOO; date", "name": 'a b"c;d', "output": "/shared/o x;y.out", "nodes": "1",
               "time": "00:01:00", "env": {"FOO": "it's; \"quoted\" $HOME\nline 2"}, "chdir": str(tmp_path),
               "exclusive": True, "extra_args": ["--constraint=dynamic"]}, runner)
    assert out["changed"] is True and out["job_id"] == "15" and out["state"] == "RUNNING"
    assert out["name"] == 'a b"c;d' and out["stdout_path"] == "/shared/cap/o x;y.out"
    seen = sbatch.seen[0]
    assert seen["args"] == ["sbatch", "--parsable", '--job-name=a b"c;d', "--nodes=1", "--time=00:01:00",
                            "--output=/shared/o x;y.out", "--chdir=%s" % tmp_path, "--exclusive",
                            "--constraint=dynamic", "--wrap=echo $FOO; date"]
    assert seen["job_env"]["FOO"] == "it's; \"quoted\" $HOME\nline 2"
    assert seen["kwargs"]["expand_user_and_vars"] is False
    assert out["cmd"] == seen["args"]


def test_env_reaches_the_job_only_never_the_sbatch_process(run, monkeypatch, tmp_path):
    monkeypatch.setenv("HPC_TEST_MODULE_VAR", "from the module")
    # sbatch is looked up on the module's PATH (the job's PATH must not choose it): one is there.
    (tmp_path / "sbatch").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (tmp_path, os.environ.get("PATH", "")))
    sbatch = FakeSbatch()
    runner = FakeRunner(sbatch=sbatch, scontrol=(0, RUNNING, ""))
    env = {"LD_PRELOAD": "/tmp/evil.so", "PATH": "/opt/app/bin:/usr/bin", "SBATCH_PARTITION": "other",
           "SBATCH_JOB_NAME": "hijacked", "SLURM_MPI_TYPE": "pmix", "LD_LIBRARY_PATH": "/tmp/evil", "EMPTY": None}
    out = run({"wrap": "true", "env": env, "slurm_conf": "/opt/slurm/etc/slurm.conf"}, runner)
    assert out["changed"] is True
    seen = sbatch.seen[0]
    # sbatch itself: SLURM_CONF and nothing else, none of the job's variables, not the module's environment.
    assert seen["process_env"] == {"SLURM_CONF": "/opt/slurm/etc/slurm.conf"}
    assert runner.calls[0][0][0] == str(tmp_path / "sbatch")
    # The job: the module's environment with env on top, from a private file removed afterwards.
    assert seen["job_env"]["HPC_TEST_MODULE_VAR"] == "from the module"
    assert all(seen["job_env"][k] == (v or "") for k, v in env.items())
    assert seen["mode"] == 0o600 and not os.path.exists(seen["file"])
    assert os.environ["HPC_TEST_MODULE_VAR"] == "from the module"


def test_script_path_is_always_a_path_never_an_option(run):
    sbatch = FakeSbatch()
    runner = FakeRunner(sbatch=sbatch, scontrol=(0, RUNNING, ""))
    out = run({"script_path": "--wrap=id"}, runner)
    assert sbatch.seen[0]["args"][-2:] == ["--", "--wrap=id"] and out["cmd"][-2:] == ["--", "--wrap=id"]
    assert not [a for a in sbatch.seen[0]["args"][:-1] if a.startswith("--wrap")]
    checked = run({"script_path": "-v"}, no_history(), check_mode=True)
    assert checked["cmd"] == ["sbatch", "--parsable", "--", "-v"]


def test_completed_waits_then_reports_exit_code_and_tail(run, tmp_path):
    log = tmp_path / "out.log"
    log.write_text("".join("line %d\n" % i for i in range(30)))
    done = QUOTED.replace("/shared/cap/o x;y.out", str(log)).replace("UserId=ec2-user(1001)", MINE)
    runner = FakeRunner(sbatch=FakeSbatch(),
                        scontrol=[(0, RUNNING, ""), (0, RUNNING, ""), (0, RUNNING, ""), (0, done, "")])
    out = run({"script": "#!/bin/sh\necho hi\n", "state": "completed", "tail_lines": 3}, runner)
    assert out["state"] == "COMPLETED" and out["exit_code"] == 0
    assert out["nodes"] == "compute-dy-compute-nodes-9"
    assert out["stdout_tail"] == "line 27\nline 28\nline 29"
    assert runner.calls[0][1]["data"] == "#!/bin/sh\necho hi\n"
    assert out.get("warnings") is None


def test_completed_failure_fails_with_state_exit_code_and_tail(run, tmp_path):
    log = tmp_path / "slurm-16.out"
    log.write_text("bad\n")
    failed = FAILED.replace("/shared/cap/slurm-16.out", str(log)).replace("UserId=ec2-user(1001)", MINE)
    runner = FakeRunner(sbatch=FakeSbatch((0, "16\n", "")), scontrol=(0, failed, ""))
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
    ("sbatch_too_many_cpus.stderr", 1, "cpus_per_task"),
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


# Hostile and malformed parameters: refused before any Slurm command runs, naming the parameter.
HOSTILE = [
    ({"wrap": "id\x00; rm -rf ~"}, "wrap"),
    ({"wrap": "true\nid"}, "wrap"),
    ({"wrap": "true\rid"}, "wrap"),
    ({"wrap": "echo \x1b[31mred"}, "wrap"),
    ({"wrap": "true\u2028id"}, "wrap"),
    ({"script": "#!/bin/sh\r\necho dos\r\n"}, "script"),
    ({"script": "#!/bin/sh\necho a\x00b\n"}, "script"),
    ({"script": "#!/bin/sh\necho \x07bell\n"}, "script"),
    ({"script": "#!/bin/sh\necho \x85next\n"}, "script"),
    ({"script_path": "/shared/job.sh\n--wrap=id"}, "script_path"),
    ({"script_path": "/shared/job.sh\x00.txt"}, "script_path"),
    ({"extra_args": ["--export=NONE"]}, "extra_args"),
    ({"extra_args": ["--export-file=/tmp/attacker.env"]}, "extra_args"),
    ({"extra_args": ["--exp=NONE"]}, "extra_args"),
    ({"extra_args": ["--wrap=id"]}, "extra_args"),
    ({"extra_args": ["--wr=id"]}, "extra_args"),
    ({"extra_args": ["--", "/tmp/other.sh"]}, "extra_args"),
    ({"extra_args": ["--parsable"]}, "extra_args"),
    ({"extra_args": ["--test-only"]}, "extra_args"),
    ({"extra_args": ["--constraint=a\nb"]}, "extra_args"),
    ({"extra_args": ["--comment=\x00"]}, "extra_args"),
    ({"name": "job\nJobState=COMPLETED"}, "name"),
    ({"name": "job\u2029x"}, "name"),
    ({"name": "job\tx"}, "name"),
    ({"chdir": "/shared/dir\n"}, "chdir"),
    ({"chdir": "/shared/../root"}, "chdir"),
    ({"output": "/shared/o\r.out"}, "output"),
    ({"output": "../../etc/cron.d/x"}, "output"),
    ({"error": "/shared/e\x1b.err"}, "error"),
    ({"partition": "compute\x00"}, "partition"),
    ({"dependency": "afterok:1\n"}, "dependency"),
    ({"idempotency_key": "k\x7f"}, "idempotency_key"),
    ({"slurm_conf": "/opt/slurm/etc/slurm.conf\n"}, "slurm_conf"),
    ({"env": {"LD_PRELOAD=x": "y"}}, "env"),
    ({"env": {"1ABC": "y"}}, "env"),
    ({"env": {"A B": "y"}}, "env"),
    ({"env": {"N" * 256: "y"}}, "env"),
    ({"env": {"SLURM_CONF": "/tmp/x"}}, "env"),
    ({"env": {"DISPLAY": ":0"}}, "env"),
    ({"env": {"ENVIRONMENT": "prod"}}, "env"),
    ({"env": {"HOSTNAME": "elsewhere"}}, "env"),
    ({"env": {"GOOD": "a\x00b"}}, "env"),
    ({"env": {"GOOD": "a\rb"}}, "env"),
    ({"env": {"GOOD": "a\x1bb"}}, "env"),
    ({"env": {"GOOD": "x" * (128 * 1024)}}, "env"),
]


@pytest.mark.parametrize("params, parameter", HOSTILE, ids=["%d-%s" % (i, p) for i, (_v, p) in enumerate(HOSTILE)])
def test_hostile_parameter_is_refused_before_anything_runs(run, params, parameter):
    args = dict(params)
    if not any(k in args for k in ("script", "script_path", "wrap")):
        args["wrap"] = "true"
    runner = FakeRunner()
    out = run(args, runner)
    assert out["failed"] is True
    assert out["msg"].startswith("invalid parameters, nothing was submitted: %s " % parameter)
    assert out["parameters"] == [parameter]
    assert runner.calls == []


@pytest.mark.parametrize("params", [
    {"script": "#!/bin/bash\n\tif true; then\n\t\techo 'tabs and newlines'\n\tfi\n"},
    {"wrap": "printf '%s\\t%s\\n' a b\t# a tab"},
    {"wrap": "true", "env": {"PEM": "-----BEGIN X-----\nAAAA\n-----END X-----\n", "TABS": "a\tb"}},
    {"wrap": "true", "extra_args": ["--constraint=efa", "--partition", "compute", "--exclusive=user"]},
    {"wrap": "true", "env": {"SBATCH_TIMELIMIT": "5", "SLURM_MPI_TYPE": "pmix", "LD_PRELOAD": "libx.so"}},
    {"script_path": "-starts-with-a-dash.sh", "name": "--wrap=id"},
])
def test_awkward_but_legitimate_parameters_are_submitted(run, params):
    sbatch = FakeSbatch()
    out = run(params, FakeRunner(sbatch=sbatch, scontrol=(0, RUNNING, "")))
    assert out["changed"] is True and out["job_id"] == "15"
    assert len(sbatch.seen) == 1


def _done_with_output(path, user=MINE):
    return QUOTED.replace("/shared/cap/o x;y.out", str(path)).replace("UserId=ec2-user(1001)", user)


def test_tail_of_a_symlinked_output_is_not_read(run, tmp_path):
    secret = tmp_path / "root-only"
    secret.write_text("SECRET-LINE\n")
    secret.chmod(0o600)
    link = tmp_path / "out.log"
    link.symlink_to(secret)
    out = run({"job_id": "15", "state": "completed"}, FakeRunner(scontrol=(0, _done_with_output(link), "")))
    assert out["state"] == "COMPLETED" and out["stdout_tail"] is None
    assert "SECRET" not in json.dumps(out)
    assert any("stdout_tail left empty: %s is not a regular file" % link in w for w in out["warnings"])


def test_tail_of_a_file_owned_by_someone_else_is_not_read(run, tmp_path):
    other = tmp_path / "hard-link-or-foreign.log"
    other.write_text("SECRET-LINE\n")
    out = run({"job_id": "15", "state": "completed"},
              FakeRunner(scontrol=(0, _done_with_output(other, "UserId=someone(%d)" % (os.getuid() + 4242)), "")))
    assert out["stdout_tail"] is None and "SECRET" not in json.dumps(out)
    assert any("not by the job's user (uid %d)" % (os.getuid() + 4242) in w for w in out["warnings"])


def test_tail_of_a_fifo_or_a_directory_is_not_read_and_does_not_block(run, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(str(fifo))
    for path in (fifo, tmp_path):
        out = run({"job_id": "15", "state": "completed"}, FakeRunner(scontrol=(0, _done_with_output(path), "")))
        assert out["stdout_tail"] is None
        assert any("is not a regular file" in w for w in out["warnings"])


def test_tail_of_an_unknown_user_or_missing_file(run, tmp_path):
    log = tmp_path / "out.log"
    log.write_text("x\n")
    out = run({"job_id": "15", "state": "completed"},
              FakeRunner(scontrol=(0, _done_with_output(log, "UserId=nobody-here-hpc"), "")))
    assert out["stdout_tail"] is None and "unknown here" in " ".join(out["warnings"])
    out = run({"job_id": "15", "state": "completed"},
              FakeRunner(scontrol=(0, _done_with_output(tmp_path / "not-yet.log"), "")))
    assert out["stdout_tail"] is None and not out.get("warnings")


def test_nul_with_syslog_on_is_refused_before_anything_runs(run):
    """Ansible's default (syslog on): the module's message on Python 3.12 and older, AnsibleModule's
    own refusal on 3.13 and later; either way nothing runs."""
    runner = FakeRunner()
    out = run({"wrap": "id\x00; rm -rf ~", "_ansible_no_log": False}, runner)
    assert out["failed"] is True
    assert (out["msg"].startswith("invalid parameters, nothing was submitted: wrap ")
            or out["msg"].startswith("Failed to log to syslog (embedded null character)")), out["msg"]
    assert runner.calls == []
