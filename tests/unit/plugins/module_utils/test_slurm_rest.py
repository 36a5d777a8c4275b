"""The REST client's conversions: sbatch values to job properties, REST records to CLI rows."""

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_rest as sr


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
    assert sr.wait_status(3 << 8) == "3:0" and sr.wait_status(9) == "0:9" and sr.wait_status(0) == "0:0"
    assert sr.wait_status({"return_code": {"set": True, "number": 2}, "signal": {"id": {"number": 0}}}) == "2:0"
    assert sr.duration(3) == "00:00:03" and sr.duration(90061) == "1-01:01:01"


def test_expand_indexes():
    assert sr.expand_indexes("1-4%2") == ["1", "2", "3", "4"]
    assert sr.expand_indexes("1-7:3,9") == ["1", "4", "7", "9"]


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
