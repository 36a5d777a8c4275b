"""The REST client's conversions: sbatch values to job properties, REST records to CLI rows; the
records of Slurm 24.11 and 26.05 are the ones their slurmrestd really answered (fixtures)."""

import pytest

from slurmrestd_fake import RELEASE, FakeSlurmrestd, release_files

from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_rest as sr
from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_rest_shapes as shapes


@pytest.mark.parametrize("value, minutes", [("10", 10), ("00:05:00", 5), ("1:30", 2), ("1-00:00:00", 1440),
                                            ("2-3", 2 * 1440 + 180), ("UNLIMITED", None), ("0:10", 1)])
def test_time_minutes(value, minutes):
    assert sr.time_minutes(value) == minutes


@pytest.mark.parametrize("value", ["abc", "1:2:3:4", "x-1"])
def test_bad_time(value):
    with pytest.raises(ValueError):
        sr.time_minutes(value)


def test_memory_and_nodes():
    assert sr.memory_mb("1G") == 1024 and sr.memory_mb("500") == 500 and sr.memory_mb("2048K") == 2
    assert sr.node_counts("2") == [2] and sr.node_counts("1-3") == [1, 3]


def test_wait_status_and_duration():
    assert shapes.wait_status(3 << 8) == "3:0" and shapes.wait_status(9) == "0:9" and shapes.wait_status(0) == "0:0"
    assert shapes.wait_status({"return_code": {"set": True, "number": 2}, "signal": {"id": {"number": 0}}}) == "2:0"
    assert shapes.duration(3) == "00:00:03" and shapes.duration(90061) == "1-01:01:01"


def test_expand_indexes():
    assert shapes.expand_indexes("1-4%2") == ["1", "2", "3", "4"]
    assert shapes.expand_indexes("1-7:3,9") == ["1", "4", "7", "9"]


def test_array_task_record_and_default_output():
    rec = sr.scontrol_record({"job_id": 12, "array_job_id": 10, "array_task_id": 2, "name": "sweep",
                              "user_name": "u", "user_id": 1, "job_state": "COMPLETED", "exit_code": 0,
                              "start_time": 100, "end_time": 104, "current_working_directory": "/w"}, now=200)
    assert rec["ArrayJobId"] == "10" and rec["ArrayTaskId"] == "2" and rec["RunTime"] == "00:00:04"
    assert rec["StdOut"] == "/w/slurm-10_2.out" and rec["ExitCode"] == "0:0"


def test_sacct_row_from_dbv0038():
    row = sr.sacct_row({"job_id": 7, "name": "n", "user": "u", "state": {"current": "FAILED", "reason": "None"},
                        "exit_code": {"return_code": 3, "signal": {"signal_id": 0}}, "nodes": "a-1",
                        "allocation_nodes": 1, "time": {"elapsed": 5}, "comment": {"job": "c"},
                        "working_directory": "/w", "partition": "compute", "array": {"job_id": 0}})
    assert row["JobID"] == "7" and row["State"] == "FAILED" and row["ExitCode"] == "3:0"
    assert row["Elapsed"] == "00:00:05" and row["Comment"] == "c"


def test_job_properties_refuse_unknown_options():
    with pytest.raises(sr.RestError) as err:
        sr.job_properties(["--gres=gpu:1"], {}, "/w", "0.0.38")
    assert "has no slurmrestd equivalent" in str(err.value)


def test_history_start():
    assert sr.history_start("now-30days", now=86400 * 40).startswith("1970-01-11T")
    assert sr.history_start("2024-01-01") == "2024-01-01"


def test_token_claims_and_check():
    from slurmrestd_fake import GOOD_TOKEN

    assert sr.token_claims(GOOD_TOKEN)["sun"] == "ec2-user"
    assert sr.token_claims("opaque") is None
    assert sr.check_token(GOOD_TOKEN) == ("ec2-user", None)
    assert sr.check_token(GOOD_TOKEN, now=4102444801)[1].startswith("authentication failed: the token expired")
    assert "no token" in sr.check_token(None)[1]


# Records slurmrestd 24.11 (v0.0.40-v0.0.42) and 26.05 (v0.0.43-v0.0.45) answered, as CLI rows.

CAPTURED = sorted(RELEASE)


def answer(version, name):
    return release_files(RELEASE[version])[1][version][name]["body"]


@pytest.mark.parametrize("version", CAPTURED)
def test_captured_job_records_read_as_scontrol_prints_them(version):
    failed = sr.scontrol_record(answer(version, "job_failed")["jobs"][0])
    assert failed["JobState"] == "FAILED" and failed["ExitCode"] == "3:0" and failed["Reason"] == "NonZeroExitCode"
    assert failed["StdOut"] == failed["StdErr"] == "/shared/jobs/slurm-%s.out" % failed["JobId"]
    assert failed["ArrayJobId"] is None and failed["ArrayTaskId"] is None and failed["NodeList"] == "node1"
    done = sr.scontrol_record(answer(version, "job_completed")["jobs"][0], now=0)
    assert done["JobState"] == "COMPLETED" and done["ExitCode"] == "0:0"
    assert done["StdOut"] == "/shared/jobs/o-%s.out" % done["JobId"]
    assert "00:00:15" <= done["RunTime"] <= "00:00:30"  # the probe job slept 20 seconds
    assert done["Comment"] == "hpc.parallelcluster:idempotency_key=k%201" and done["UserId"] == "ec2-user(1001)"
    # Right after scancel: CANCELLED, with the COMPLETING flag until the epilog ran, which scontrol
    # shows as COMPLETING. Its exit code depends on when the signal met the script (0:15, 0:0, 1:0).
    cancelled = answer(version, "job_cancelled")["jobs"][0]
    assert shapes.base_state(cancelled["job_state"]) == "CANCELLED"
    shown = sr.scontrol_record(cancelled)["JobState"]
    assert shown == ("COMPLETING" if "COMPLETING" in cancelled["job_state"] else "CANCELLED")


def test_captured_cancelled_job_shows_its_signal():
    cancelled = answer("0.0.40", "job_cancelled")["jobs"][0]
    assert cancelled["exit_code"]["status"] == ["SIGNALED"] and cancelled["exit_code"]["return_code"]["set"] is False
    assert sr.scontrol_record(cancelled)["ExitCode"] == "0:15"


@pytest.mark.parametrize("version", CAPTURED)
def test_captured_pending_array_splits_into_its_tasks(version):
    job = answer(version, "job_pending_array")["jobs"][0]
    # %a of an array not yet split (v0.0.43+ keep the pattern in standard_output)
    assert (job.get("stdout_expanded") or job["standard_output"]).endswith("_4294967294.out")
    assert shapes.pending_tasks(job) == ["1", "2", "3", "4"]
    rows = [sr.queue_row(job, str(job["job_id"]), task) for task in shapes.pending_tasks(job)]
    assert [r["job_id"] for r in rows] == ["%s_%d" % (job["job_id"], i) for i in range(1, 5)]
    assert {r["state"] for r in rows} == {"PENDING"} and {r["reason"] for r in rows} == {"BeginTime"}
    rec = sr.scontrol_record(dict(job, array_task_id=2))
    assert rec["StdOut"] == "/shared/jobs/slurm-%s_2.out" % job["job_id"] and rec["RunTime"] == "00:00:00"


@pytest.mark.parametrize("version", CAPTURED)
def test_captured_array_tasks_and_accounting_rows(version):
    tasks = [sr.scontrol_record(j) for j in answer(version, "job_array_done")["jobs"]]
    array_id = answer(version, "job_array_done")["jobs"][0]["array_job_id"]["number"]
    assert sorted((t["ArrayJobId"], t["ArrayTaskId"], t["StdOut"]) for t in tasks) == [
        (str(array_id), str(i), "/shared/jobs/slurm-%s_%d.out" % (array_id, i)) for i in (1, 2, 3)]
    rows = {r["JobID"]: r for r in (sr.sacct_row(j) for j in answer(version, "db_job_array")["jobs"])}
    assert sorted(rows) == ["%s_%d" % (array_id, i) for i in (1, 2, 3)]
    assert {r["State"] for r in rows.values()} == {"COMPLETED"}
    failed = sr.sacct_row(answer(version, "db_job_failed")["jobs"][0])
    assert failed["State"] == "FAILED" and failed["ExitCode"] == "3:0" and failed["User"] == "ec2-user"
    assert failed["Comment"] == "hpc.parallelcluster:idempotency_key=k%201" and failed["NodeList"] == "node1"
    assert failed["NNodes"] == "1" and failed["WorkDir"] == "/shared/jobs" and failed["JobName"] == "fails"
    cancelled = sr.sacct_row(answer(version, "db_job_cancelled")["jobs"][0])
    assert cancelled["State"] == "CANCELLED" and cancelled["JobID"] == cancelled["JobIDRaw"]


@pytest.mark.parametrize("version", CAPTURED)
def test_every_option_is_spelled_as_the_versions_document_says(version):
    """Every job property the module can send, checked against the release's request schema
    the way slurmrestd's parser checks it (an unknown field or a wrong type is a warning)."""
    options = ["--job-name=n", "--partition=p", "--nodes=1-3", "--ntasks=2", "--ntasks-per-node=1",
               "--cpus-per-task=2", "--mem=2G", "--time=1-00:00:00", "--array=1-4%2", "--dependency=afterok:7",
               "--output=o-%j", "--error=e-%j", "--chdir=/w", "--comment=c", "--constraint=f", "--account=a",
               "--qos=q", "--reservation=r", "--mail-type=ALL", "--mail-user=u@x", "--begin=now+1hour",
               "--nice=3", "--no-requeue", "--exclusive=user"]
    job = sr.job_properties(options, {"A": "1"}, "/w", version)
    body = shapes.submit_body("#!/bin/sh\n", job, version)
    warnings, errors = FakeSlurmrestd(version=version).check_submission(version, body)
    assert warnings == [] and errors == []
    assert job["shared"] == ["user"] and job["requeue"] is False and job["time_limit"]["number"] == 1440
    assert job["mail_type"] == ["INVALID_DEPENDENCY", "BEGIN", "END", "FAIL", "REQUEUE", "STAGE_OUT"]
    assert job["begin_time"] == "now+1hour"  # slurmrestd reads text with parse_time(), as sbatch does
    assert sr.job_properties(["--begin=1800000000"], {}, "/w", version)["begin_time"]["number"] == 1800000000


def test_version_0039_takes_only_a_unix_begin_time_and_plain_counts():
    job = sr.job_properties(["--ntasks=2", "--begin=1800000000", "--nodes=2"], {}, "/w", "0.0.39")
    assert job["tasks"] == 2 and job["begin_time"] == {"set": True, "infinite": False, "number": 1800000000}
    assert job["nodes"] == [2] and job["environment"] == ["PATH=/usr/local/bin:/usr/bin:/bin"]
    with pytest.raises(sr.RestError) as err:
        sr.job_properties(["--begin=now+1hour"], {}, "/w", "0.0.39")
    assert "--begin 'now+1hour': slurmrestd API v0.0.39 takes only a UNIX time" in str(err.value)


@pytest.mark.parametrize("value, flags", [("END,FAIL", ["END", "FAIL"]), ("none", []),
                                          ("TIME_LIMIT_90,invalid_depend", ["TIME=90%", "INVALID_DEPENDENCY"])])
def test_mail_flags(value, flags):
    assert shapes.mail_flags(value) == flags


def test_unknown_mail_type_is_refused_before_submitting():
    with pytest.raises(sr.RestError) as err:
        sr.job_properties(["--mail-type=SOMETIMES"], {}, "/w", "0.0.42")
    assert str(err.value) == "--mail-type 'SOMETIMES': invalid mail type"


@pytest.mark.parametrize("value, word", [(["CANCELLED", "COMPLETING"], "COMPLETING"), (["PENDING"], "PENDING"),
                                         (["RUNNING", "CONFIGURING"], "CONFIGURING"), ("RUNNING", "RUNNING"),
                                         (["FAILED", "REQUEUED"], "REQUEUED"), ([], None)])
def test_state_name_follows_job_state_string(value, word):
    assert shapes.state_name(value) == word


def test_scontrol_run_time_of_a_completing_job_ends_at_its_end_time():
    job = {"job_id": 5, "job_state": ["CANCELLED", "COMPLETING"], "start_time": {"set": True, "number": 100},
           "end_time": {"set": True, "number": 110}, "current_working_directory": "/w"}
    assert sr.scontrol_record(job, now=500)["RunTime"] == "00:00:10"
    assert sr.scontrol_record(dict(job, job_state=["RUNNING"]), now=500)["RunTime"] == "00:06:40"


@pytest.mark.parametrize("version", CAPTURED)
def test_captured_pings_tell_a_refused_token_apart(version):
    assert all(sr._answered(p) for p in answer(version, "ping")["pings"])
    assert not any(sr._answered(p) for p in answer(version, "ping_forged")["pings"])
