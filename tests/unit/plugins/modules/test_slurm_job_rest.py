"""slurm_job with backend rest against a fake slurmrestd that answers as Slurm 22.05's v0.0.38, a
23.02-style v0.0.39, Slurm 24.11's v0.0.40 to v0.0.42 and Slurm 26.05's v0.0.43 to v0.0.45: the
same result fields as the cli backend, idempotency, waiting, failures, cancels, and a clear message
for every way the endpoint can refuse."""

import json
import os
import signal
import threading
import time

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from slurmrestd_fake import GOOD_TOKEN, FakeSlurmrestd

from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_jobs, slurm_rest
from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_job

EXPIRED = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3MDAwMDA2MDAsImlhdCI6MTcwMDAwMDAwMCwic3VuIjoiZWMyLXVzZXIifQ"
           ".c2lnbmF0dXJl")
FORGED = GOOD_TOKEN[:-4] + "AAAA"
RESULT_FIELDS = {"job_id", "name", "user", "partition", "state", "reason", "exit_code", "exit_signal", "nodes",
                 "elapsed", "work_dir", "idempotency_key", "stdout_path", "stderr_path", "stdout_tail"}


def run_module(args, capsys, monkeypatch, check_mode=False):
    def no_commands(self, cmd, **kw):
        raise AssertionError("backend rest ran a command: %r" % (cmd,))

    monkeypatch.setattr(basic.AnsibleModule, "run_command", no_commands)
    args = dict(args, _ansible_check_mode=check_mode)
    args.setdefault("poll_interval", 0.01)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            slurm_job.main()
    out = capsys.readouterr().out
    return json.loads(out), out


@pytest.fixture
def server():
    with FakeSlurmrestd() as fake:
        yield fake


@pytest.fixture
def run(capsys, monkeypatch):
    return lambda args, **kw: run_module(args, capsys, monkeypatch, **kw)


def rest(server, **args):
    base = {"backend": "rest", "wait_timeout": 10, "rest_url": server.url, "rest_token": GOOD_TOKEN, "chdir": "/shared/jobs"}
    base.update(args)
    return base


def finish_later(server, job_id, state, status):
    """End the job a little after it was submitted, while the module waits for it."""
    def finish():
        for _i in range(500):
            if job_id in server.jobs:
                time.sleep(0.05)
                return server.finish(job_id, state, status)
            time.sleep(0.01)

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    return thread


def test_submitted_maps_options_to_the_v0038_job_description(run, server):
    out, _raw = run(rest(server, wrap="echo $ALPHA", name="a b\"c", nodes="1-2", ntasks=2, time="1:30", mem="1G",
                         output="/shared/jobs/o-%j.out", exclusive=True, env={"ALPHA": "0.5"},
                         idempotency_key="k 1", extra_args=["--constraint=dynamic"]))
    assert out["changed"] is True and out["job_id"] == "100" and out["state"] == "PENDING"
    _m, path, headers, body = [r for r in server.requests if r[1].endswith("/job/submit")][0]
    assert path == "/slurm/v0.0.38/job/submit"
    assert headers["X-SLURM-USER-NAME"] == "ec2-user"
    job = body["job"]
    assert body["script"] == "#!/bin/sh\n# This script was created by sbatch --wrap.\n\necho $ALPHA\n"
    assert job["environment"] == {"PATH": "/usr/local/bin:/usr/bin:/bin", "ALPHA": "0.5"}
    assert job["name"] == 'a b"c' and job["nodes"] == [1, 2] and job["tasks"] == 2
    assert job["time_limit"] == 2 and job["memory_per_node"] == 1024 and job["exclusive"] == "true"
    assert job["comment"] == "hpc.parallelcluster:idempotency_key=k%201" and job["constraints"] == "dynamic"
    assert job["current_working_directory"] == "/shared/jobs"
    assert out["stdout_path"] == "/shared/jobs/o-100.out" and out["idempotency_key"] == "k 1"
    assert RESULT_FIELDS <= set(out)


def test_completed_waits_and_reports_like_the_cli(run, server, tmp_path, monkeypatch):
    # The fake server's user (uid 1001) stands for the user running the tests, who owns the output.
    monkeypatch.setattr(slurm_jobs, "_owner_uid", lambda owner: os.getuid() if owner == "ec2-user(1001)" else None)
    log = tmp_path / "slurm-100.out"
    log.write_text("".join("line %d\n" % i for i in range(30)))
    finish_later(server, 100, "COMPLETED", 0)
    out, _raw = run(rest(server, script="#!/bin/sh\necho hi\n", chdir=str(tmp_path), state="completed", tail_lines=2))
    assert out["state"] == "COMPLETED" and out["exit_code"] == 0 and out["exit_signal"] == 0
    assert out["nodes"] == "compute-dy-compute-nodes-1" and out["elapsed"] == "00:00:03"
    assert out["stdout_path"] == str(log) and out["stdout_tail"] == "line 28\nline 29"
    assert out["reason"] == "None" and out["user"] == "ec2-user"


def test_finished_job_is_read_from_accounting(run, server):
    run(rest(server, wrap="true", idempotency_key="once"))
    server.finish(100, "COMPLETED", 0)
    server.forget(100)
    out, _raw = run(rest(server, wrap="true", idempotency_key="once"))
    assert out["changed"] is False and out["job_id"] == "100" and out["state"] == "COMPLETED"
    assert out["idempotency_key"] == "once" and out["elapsed"] == "00:00:03"
    assert not [r for r in server.requests if r[1].endswith("/job/submit")][1:]


def test_idempotency_key_returns_the_live_job(run, server):
    first, _raw = run(rest(server, wrap="sleep 60", idempotency_key="nightly"))
    again, _raw = run(rest(server, wrap="sleep 60", idempotency_key="nightly"))
    assert first["changed"] is True and again["changed"] is False and again["job_id"] == first["job_id"]
    server.finish(100, "FAILED", 1 << 8)
    third, _raw = run(rest(server, wrap="sleep 60", idempotency_key="nightly"))
    assert third["changed"] is True and third["job_id"] == "101"


def test_cancel_by_name_and_by_id(run, server):
    run(rest(server, wrap="sleep 60", name="sweep"))
    run(rest(server, wrap="sleep 60", name="sweep"))
    check, _raw = run(rest(server, name="sweep", state="cancelled"), check_mode=True)
    assert check["changed"] is True and check["job_ids"] == ["101", "100"]
    out, _raw = run(rest(server, name="sweep", state="cancelled"))
    assert out["changed"] is True and out["job_ids"] == ["101", "100"] and out["state"] == "CANCELLED"
    again, _raw = run(rest(server, job_id="100", state="cancelled"))
    assert again["changed"] is False and again["job_ids"] == [] and again["state"] == "CANCELLED"


def test_slurm_refusal_names_the_parameter(run, server):
    server.submit_errors = [{"error": "Invalid partition name specified", "error_number": 2000,
                             "description": "Invalid partition name specified"}]
    out, _raw = run(rest(server, wrap="true", partition="nope"))
    assert out["failed"] is True and out["parameters"] == ["partition"]
    assert "Slurm refused the job (check parameter partition)" in out["msg"]


def test_bad_time_is_refused_before_submitting(run, server):
    out, _raw = run(rest(server, wrap="true", time="abc"))
    assert out["failed"] is True and out["parameters"] == ["time"]


def test_newer_api_gets_environment_as_a_list(run, capsys, monkeypatch):
    with FakeSlurmrestd(version="0.0.39") as server:
        finish_later(server, 100, "COMPLETED", 0)
        out, _raw = run(rest(server, wrap="true", env={"A": "1"}, state="completed"))
        body = [r for r in server.requests if r[1].endswith("/job/submit")][0][3]
    assert [r for r in server.requests if r[1].endswith("/job/submit")][0][1] == "/slurm/v0.0.39/job/submit"
    assert body["job"]["environment"] == ["A=1", "PATH=/usr/local/bin:/usr/bin:/bin"]
    assert out["state"] == "COMPLETED" and out["exit_code"] == 0 and out["elapsed"] == "00:00:03"


def test_a_server_offering_only_unknown_versions_is_named(run):
    with FakeSlurmrestd(version="0.0.47", offers=("0.0.46", "0.0.47")) as server:
        out, _raw = run(rest(server, wrap="true"))
        asked = [r[1] for r in server.requests]
    assert out["failed"] is True and out["error_kind"] == "version"
    assert ("offers API v0.0.47, v0.0.46; this module knows v0.0.36, v0.0.37, v0.0.38, v0.0.39, v0.0.40, v0.0.41, "
            "v0.0.42, v0.0.43, v0.0.44, v0.0.45: use backend cli") in out["msg"]
    assert asked == ["/openapi/v3"]


def test_no_token(run, server):
    out, _raw = run(rest(server, wrap="true", rest_token=None))
    assert out["failed"] is True and out["error_kind"] == "no_token" and "no token" in out["msg"]
    assert server.requests == []


def test_server_without_token_headers_answers_401(server):
    client = slurm_rest.SlurmREST(server.url, GOOD_TOKEN)
    status, payload = client.request("GET", "/openapi/v3")
    assert status == 200
    client.user = ""
    with pytest.raises(slurm_rest.RestError) as err:
        client.call("GET", "/slurm/v0.0.38/ping")
    assert err.value.kind == "no_token" and "HTTP 401 Authentication failure" in str(err.value)


def test_forged_token_is_an_authentication_failure(run, server):
    out, raw = run(rest(server, wrap="true", rest_token=FORGED))
    assert out["failed"] is True and out["error_kind"] == "auth"
    assert out["msg"].startswith("authentication failed (bad or expired token) for user ec2-user")
    assert "Protocol authentication error" in out["msg"]
    assert FORGED not in raw


def test_expired_token_fails_before_any_request(run, server):
    out, raw = run(rest(server, wrap="true", rest_token=EXPIRED))
    assert out["failed"] is True and out["error_kind"] == "auth"
    assert "token expired at 2023-11-14 22:23:20 UTC" in out["msg"]
    assert server.requests == [] and EXPIRED not in raw


def test_unreachable_endpoint(run):
    with FakeSlurmrestd() as server:
        url = server.url
    out, _raw = run({"backend": "rest", "rest_url": url, "rest_token": GOOD_TOKEN, "wrap": "true", "rest_timeout": 2})
    assert out["failed"] is True and out["error_kind"] == "unreachable"
    assert out["msg"].startswith("slurmrestd endpoint unreachable: %s" % url)


def test_the_token_never_appears_in_results(run, server):
    finish_later(server, 100, "FAILED", 3 << 8)
    out, raw = run(rest(server, wrap="exit 3", state="completed"))
    assert out["failed"] is True
    assert GOOD_TOKEN not in raw
    assert out["invocation"]["module_args"]["rest_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_unsupported_extra_args_are_named(run, server):
    out, _raw = run(rest(server, wrap="true", extra_args=["--gres=gpu:1"]))
    assert out["failed"] is True and out["parameters"] == ["extra_args"]
    assert "--gres=gpu:1 has no slurmrestd equivalent" in out["msg"]


# script_path with backend rest: read with the task's rights (root here), submitted as ec2-user's job.

SCRIPT = "#!/bin/sh\necho from-file\n"
SECRET = "root:SECRET-HASH:19000:0:99999:7:::\n"


def _submitted(server):
    return [r for r in server.requests if r[1].endswith("/job/submit")]


def _secret(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    return secret


def test_script_path_of_the_task_account_is_submitted(run, server, tmp_path):
    (tmp_path / "job.sh").write_text(SCRIPT)
    out, _raw = run(rest(server, script_path="job.sh", chdir=str(tmp_path)))
    assert out["changed"] is True and out["job_id"] == "100"
    assert _submitted(server)[0][3]["script"] == SCRIPT


def _symlink(tmp_path):
    link = tmp_path / "job.sh"
    link.symlink_to(_secret(tmp_path))
    return str(link), "is not a regular file (a symbolic link)"


def _symlinked_directory(tmp_path):
    _secret(tmp_path)
    (tmp_path / "mine").symlink_to(tmp_path)
    return str(tmp_path / "mine" / "shadow"), "reaches %s through a symbolic link" % (tmp_path / "shadow")


def _fifo(tmp_path):
    fifo = tmp_path / "job.fifo"
    os.mkfifo(str(fifo))
    return str(fifo), "is not a regular file (a FIFO)"


def _other_users_file(tmp_path):
    other = tmp_path / "theirs.sh"
    other.write_text(SCRIPT + "cat " + SECRET)
    os.chown(str(other), 4242, 4242)
    return str(other), "is owned by uid 4242, not by root or the account running the task (uid %d)" % os.geteuid()


def _too_big(tmp_path):
    big = tmp_path / "big.sh"
    with open(str(big), "w") as handle:
        handle.write(SCRIPT)
        handle.truncate(slurm_rest.MAX_SCRIPT_SIZE + 1)
    return str(big), "is larger than 4194304 bytes"


def _directory(tmp_path):
    return str(tmp_path), "is not a regular file (a directory)"


def _missing(tmp_path):
    return str(tmp_path / "nope.sh"), "cannot be opened (No such file or directory)"


def _written(content):
    def make(tmp_path):
        path = tmp_path / "job.sh"
        path.write_bytes(content)
        return str(path), None
    return make


@pytest.mark.parametrize("make, problem", [
    (_symlink, None), (_symlinked_directory, None), (_fifo, None), (_other_users_file, None), (_too_big, None),
    (_directory, None), (_missing, None),
    (_written(b"#!/bin/sh\r\necho dos\r\n"), "has DOS line breaks"),
    (_written(b"#!/bin/sh\necho \0\n"), "contains a NUL character"),
    (_written(b"echo no interpreter\n"), "does not look like a batch script"),
    (_written(b"#!/bin/sh\necho \xff\n"), "is not UTF-8 text"),
], ids=["symlink", "symlinked-directory", "fifo", "other-user", "too-big", "directory", "missing", "dos", "nul",
        "no-shebang", "not-utf8"])
def test_script_path_the_task_should_not_read_is_refused_before_submitting(run, server, tmp_path, make, problem):
    if make is _other_users_file and os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    path, expected = make(tmp_path)

    def hung(signum, frame):
        raise AssertionError("reading script_path %s blocked" % path)

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        out, raw = run(rest(server, script_path=path))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert out["failed"] is True and out["error_kind"] == "input"
    prefix = "invalid parameters, nothing was submitted: script_path %s %s" % (path, expected or problem)
    assert out["msg"].startswith(prefix) and "; " in out["msg"][len(prefix):]
    assert _submitted(server) == [] and "SECRET" not in raw


# The same runs against every API version: request shapes, waiting, arrays, accounting, cancels and
# refusals as each release's slurmrestd answers them (the fake follows the captured answers).

VERSIONS = ["0.0.38", "0.0.40", "0.0.41", "0.0.42", "0.0.43", "0.0.44", "0.0.45"]
DATA_PARSER = [v for v in VERSIONS if v >= "0.0.40"]


@pytest.fixture(params=VERSIONS)
def any_server(request):
    with FakeSlurmrestd(version=request.param) as fake:
        yield fake


def test_submission_has_the_shape_of_the_servers_version(run, any_server):
    server = any_server
    out, _raw = run(rest(server, wrap="echo $ALPHA", name="sweep", nodes="1-2", ntasks=2, time="1:30", mem="1G",
                         exclusive=True, env={"ALPHA": "0.5"}, output="/shared/jobs/o-%j.out", idempotency_key="k 1",
                         extra_args=["--constraint=dynamic", "--mail-type=END,FAIL", "--nice=5", "--requeue"]))
    assert out["changed"] is True and out["job_id"] == "100" and out["state"] == "PENDING"
    assert out["stdout_path"] == "/shared/jobs/o-100.out"
    _m, path, _headers, body = _submitted(server)[0]
    assert path == "/slurm/v%s/job/submit" % server.version
    job = body["job"]
    script = "#!/bin/sh\n# This script was created by sbatch --wrap.\n\necho $ALPHA\n"
    common = {"name": "sweep", "tasks": 2, "comment": "hpc.parallelcluster:idempotency_key=k%201", "nice": 5,
              "constraints": "dynamic", "current_working_directory": "/shared/jobs", "requeue": True,
              "standard_output": "/shared/jobs/o-%j.out"}
    assert {k: job[k] for k in common} == common
    if server.version == "0.0.38":
        assert body["script"] == script and "script" not in job
        assert job["environment"] == {"PATH": "/usr/local/bin:/usr/bin:/bin", "ALPHA": "0.5"}
        assert job["nodes"] == [1, 2] and job["time_limit"] == 2 and job["memory_per_node"] == 1024
        assert job["exclusive"] == "true" and job["mail_type"] == "END,FAIL"
    else:
        assert set(body) == {"job"} and job["script"] == script
        assert job["environment"] == ["ALPHA=0.5", "PATH=/usr/local/bin:/usr/bin:/bin"]
        assert job["nodes"] == "1-2" and job["shared"] == ["none"] and "exclusive" not in job
        assert job["time_limit"] == {"set": True, "infinite": False, "number": 2}
        assert job["memory_per_node"] == {"set": True, "infinite": False, "number": 1024}
        assert job["mail_type"] == ["END", "FAIL"]
        assert server.warnings == []  # slurmrestd's parser took every field as documented


def test_completed_job_is_waited_for_and_reported(run, any_server, tmp_path, monkeypatch):
    server = any_server
    monkeypatch.setattr(slurm_jobs, "_owner_uid", lambda owner: os.getuid() if owner == "ec2-user(1001)" else None)
    (tmp_path / "slurm-100.out").write_text("first\nlast\n")
    finish_later(server, 100, "COMPLETED", 0)
    out, _raw = run(rest(server, script="#!/bin/sh\necho hi\n", env={"A": "1"}, chdir=str(tmp_path),
                         state="completed", tail_lines=1))
    assert out["state"] == "COMPLETED" and out["exit_code"] == 0 and out["exit_signal"] == 0
    assert out["nodes"] == "compute-dy-compute-nodes-1" and out["elapsed"] == "00:00:03"
    assert out["stdout_path"] == str(tmp_path / "slurm-100.out") and out["stdout_tail"] == "last"
    assert out["user"] == "ec2-user" and out["partition"] == "compute" and out["reason"] == "None"


def test_failed_job_fails_with_its_exit_code(run, any_server):
    finish_later(any_server, 100, "FAILED", 3 << 8)
    out, _raw = run(rest(any_server, wrap="exit 3", state="completed"))
    assert out["failed"] is True and out["state"] == "FAILED" and out["exit_code"] == 3
    assert out["msg"].startswith("job 100 ended FAILED with exit code 3")


def test_pending_array_reports_each_task(run, any_server):
    out, _raw = run(rest(any_server, wrap="true", array="1-3"))
    assert out["state"] == "PENDING" and out["job_id"] == "100"
    assert [(t["task_id"], t["state"], t["stdout_path"]) for t in out["tasks"]] == [
        (str(i), "PENDING", "/shared/jobs/slurm-100_%d.out" % i) for i in (1, 2, 3)]
    assert _submitted(any_server)[0][3]["job"]["array"] == "1-3"


def test_array_runs_to_completion(run, any_server):
    finish_later(any_server, 100, "COMPLETED", 0)
    out, _raw = run(rest(any_server, wrap="true", array="1-3", state="completed"))
    assert out["state"] == "COMPLETED" and out["exit_code"] == 0
    tasks = {t["task_id"]: t for t in out["tasks"]}
    assert sorted(tasks) == ["1", "2", "3"] and {t["state"] for t in tasks.values()} == {"COMPLETED"}
    assert tasks["3"]["job_id"] == "100" and tasks["2"]["stdout_path"] == "/shared/jobs/slurm-100_2.out"


def test_running_job_is_queued_and_shown(run, any_server):
    server = any_server
    first, _raw = run(rest(server, wrap="sleep 60", idempotency_key="nightly"))
    server.start(100)
    again, _raw = run(rest(server, wrap="sleep 60", idempotency_key="nightly"))
    assert again["changed"] is False and again["job_id"] == "100" and again["state"] == "RUNNING"
    assert again["nodes"] == "compute-dy-compute-nodes-1" and again["elapsed"] >= "00:00:05"
    client = slurm_rest.SlurmREST(server.url, GOOD_TOKEN)
    [row] = client.queue(user="ec2-user")
    assert row["job_id"] == "100" and row["state"] == "RUNNING" and row["node_count"] == "1"
    assert row["comment"] == "hpc.parallelcluster:idempotency_key=nightly"
    [rec] = client.show_job("100")
    assert rec["JobState"] == "RUNNING" and rec["StdOut"] == "/shared/jobs/slurm-100.out"
    assert client.queue(user="someone-else") == [] and client.show_job("999") == []


def test_finished_jobs_are_read_from_accounting(run, any_server):
    server = any_server
    run(rest(server, wrap="true", idempotency_key="once"))
    run(rest(server, wrap="exit 3", name="broken"))
    server.finish(100, "COMPLETED", 0)
    server.finish(101, "FAILED", 3 << 8)
    server.forget(100)
    server.forget(101)
    out, _raw = run(rest(server, wrap="true", idempotency_key="once"))
    assert out["changed"] is False and out["job_id"] == "100" and out["state"] == "COMPLETED"
    assert out["idempotency_key"] == "once" and out["elapsed"] == "00:00:03"
    failed, _raw = run(rest(server, job_id="101"))
    assert failed["state"] == "FAILED" and failed["exit_code"] == 3 and failed["name"] == "broken"
    assert len(_submitted(server)) == 2
    queries = [r[1] for r in server.requests if "/jobs" in r[1] and "slurmdb" in r[1]]
    assert queries and all("start_time=" in q for q in queries)
    if server.version in DATA_PARSER:
        assert all("users=ec2-user" in q and "%3A" in q for q in queries)
        assert server.warnings == []


def test_cancel_by_name_and_by_id(run, any_server):
    server = any_server
    run(rest(server, wrap="sleep 60", name="sweep"))
    run(rest(server, wrap="sleep 60", name="sweep"))
    server.start(101)
    check, _raw = run(rest(server, name="sweep", state="cancelled"), check_mode=True)
    assert check["changed"] is True and check["job_ids"] == ["101", "100"]
    out, _raw = run(rest(server, name="sweep", state="cancelled"))
    assert out["changed"] is True and out["job_ids"] == ["101", "100"] and out["state"] == "CANCELLED"
    assert out["exit_signal"] == 15
    deletes = [r[1] for r in server.requests if r[0] == "DELETE"]
    assert deletes == ["/slurm/v%s/job/101" % server.version, "/slurm/v%s/job/100" % server.version]
    again, _raw = run(rest(server, job_id="100", state="cancelled"))
    assert again["changed"] is False and again["job_ids"] == [] and again["state"] == "CANCELLED"


def test_refused_submission_names_the_parameter(run, any_server):
    any_server.submit_errors = [{"error": "Invalid partition name specified", "error_number": 2000,
                                 "description": "Batch job submission failed", "source": "slurm_submit_batch_job()"}]
    out, _raw = run(rest(any_server, wrap="true", partition="nope"))
    assert out["failed"] is True and out["parameters"] == ["partition"]
    assert "Slurm refused the job (check parameter partition)" in out["msg"]


def test_forged_token_fails_as_an_authentication_failure(run, any_server):
    out, raw = run(rest(any_server, wrap="true", rest_token=FORGED))
    assert out["failed"] is True and out["error_kind"] == "auth"
    assert out["msg"].startswith("authentication failed (bad or expired token) for user ec2-user")
    assert FORGED not in raw and _submitted(any_server) == []


@pytest.mark.parametrize("version", DATA_PARSER)
def test_forged_token_on_later_calls_is_an_authentication_failure(version):
    """Past the negotiation (version given): slurmctld's 511 is an authentication failure, and so is
    slurmdbd's 502 on 24.11, which says so (26.05's only says it could not connect)."""
    with FakeSlurmrestd(version=version) as server:
        client = slurm_rest.SlurmREST(server.url, FORGED, user="ec2-user", version=version)
        for call in (client.queue, lambda: client.submit([], wrap="true", cwd="/w"),
                     lambda: client.accounting(user="ec2-user", starttime="now-30days")):
            with pytest.raises(slurm_rest.RestError) as err:
                call()
            assert err.value.status in (502, 511), err.value
            if err.value.status == 511 or version < "0.0.43":
                assert err.value.kind == "auth" and str(err.value).startswith("authentication failed")


@pytest.mark.parametrize("version", DATA_PARSER)
def test_requests_without_token_headers_get_401(version):
    with FakeSlurmrestd(version=version) as server:
        client = slurm_rest.SlurmREST(server.url, GOOD_TOKEN)
        client.user = ""
        with pytest.raises(slurm_rest.RestError) as err:
            client.negotiate()
    assert err.value.kind == "no_token" and "HTTP 401 Authentication failure" in str(err.value)


@pytest.mark.parametrize("offers, used", [
    (("0.0.40", "0.0.41", "0.0.42"), "0.0.42"),
    (("0.0.42", "0.0.43", "0.0.44", "0.0.45"), "0.0.45"),
])
def test_the_newest_offered_version_is_used(run, offers, used):
    with FakeSlurmrestd(version=offers[-1], offers=offers) as server:
        out, _raw = run(rest(server, wrap="true"))
        assert [r[1] for r in server.requests][:2] == ["/openapi/v3", "/slurm/v%s/ping/" % used]
        assert _submitted(server)[0][1] == "/slurm/v%s/job/submit" % used
    assert out["changed"] is True and out["job_id"] == "100"


def test_the_fake_flags_a_submission_off_the_schema():
    """The spec check the version tests rely on: a v0.0.38 body sent to v0.0.42 is warned about
    (and a flag slurmrestd does not know is refused), as the real server does."""
    with FakeSlurmrestd(version="0.0.42") as server:
        client = slurm_rest.SlurmREST(server.url, GOOD_TOKEN, version="0.0.42")
        legacy = slurm_rest.job_properties(["--nodes=1-2", "--exclusive"], {"A": "1"}, "/w", "0.0.38")
        client.call("POST", "/slurm/v0.0.42/job/submit", body={"script": "#!/bin/sh\n", "job": legacy})
        assert sorted(w["source"] for w in server.warnings) == [
            "#/job/environment/", '#/job/exclusive/', "#/job/nodes/"]
        with pytest.raises(slurm_rest.RestError) as err:
            client.call("POST", "/slurm/v0.0.42/job/submit",
                        body={"job": {"script": "#!/bin/sh\n", "mail_type": ["END,FAIL"], "environment": []}})
    assert err.value.kind == "slurm" and 'Unknown flag "END,FAIL"' in str(err.value)
