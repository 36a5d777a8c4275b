"""The Slurm command runner and its parsers, against outputs captured from Slurm 22.05."""

import os

import pytest

from slurm_fakes import FakeRunner, sample

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import (
    QUEUE_FIELDS,
    SEP,
    SlurmCLI,
    SlurmError,
    export_file_content,
    parse_delimited,
    parse_oneliner,
    parse_submit,
    state_word,
)


def test_parse_submit_plain_and_federated():
    assert parse_submit("15\n") == "15"
    assert parse_submit("15;cluster\n") == "15"
    with pytest.raises(SlurmError):
        parse_submit("")
    with pytest.raises(SlurmError):
        parse_submit("Submitted batch job 15\n")


def test_oneliner_keeps_spaces_quotes_and_semicolons_in_values():
    rec = parse_oneliner(sample("scontrol_job_quoted_name.txt").strip())
    assert rec["JobName"] == 'a b"c;d'
    assert rec["StdOut"] == "/shared/cap/o x;y.out"
    assert rec["Comment"] == "hpc.parallelcluster:idempotency_key=k1"
    assert rec["UserId"] == "ec2-user(1001)"
    assert rec["JobState"] == "COMPLETED"
    assert rec["ExitCode"] == "0:0"


def test_oneliner_value_with_an_unknown_key_like_word_stays_whole():
    line = sample("scontrol_job_quoted_name.txt").strip().replace('JobName=a b"c;d', "JobName=x Foo=bar")
    assert parse_oneliner(line)["JobName"] == "x Foo=bar"


def test_oneliner_array_records_and_pending_array():
    done = [parse_oneliner(l) for l in sample("scontrol_job_array_done.txt").splitlines()]
    assert sorted((r["ArrayTaskId"], r["JobState"], r["ExitCode"]) for r in done) == [
        ("1", "COMPLETED", "0:0"), ("2", "FAILED", "1:0"), ("3", "COMPLETED", "0:0")]
    pending = parse_oneliner(sample("scontrol_job_array_pending.txt").strip())
    assert pending["ArrayTaskId"] == "1-2" and pending["Reason"] == "BeginTime"


def test_queue_rows_and_arguments():
    runner = FakeRunner(squeue=(0, sample("squeue_states_all.txt"), ""))
    rows = SlurmCLI(runner).queue(user="ec2-user")
    assert [r["job_id"] for r in rows] == ["15", "25_3", "25_1", "16", "25_2"]
    assert rows[0]["name"] == 'a b"c;d'
    assert rows[0]["comment"] == "hpc.parallelcluster:idempotency_key=k1"
    assert rows[3]["reason"] == "NonZeroExitCode"
    args, kwargs = runner.calls[0]
    assert args[:4] == ["squeue", "--noheader", "--array", "--format=" + SEP.join(
        ["%i", "%F", "%K", "%j", "%T", "%u", "%k", "%r", "%D", "%N", "%M", "%Z", "%P"])]
    assert "--user=ec2-user" in args and "--states=all" in args
    assert kwargs["environ_update"]["SLURM_CONF"].endswith("slurm.conf")
    assert kwargs["expand_user_and_vars"] is False


def test_accounting_rows_show_slurmdbd_quote_mangling():
    runner = FakeRunner(sacct=(0, sample("sacct_jobs.txt"), ""))
    rows = SlurmCLI(runner).accounting(job_ids=["15", "16", "25"])
    assert rows[0]["JobName"] == "a b`c;d"  # slurmdbd stores '"' as a backtick
    assert rows[1]["ExitCode"] == "3:0"
    assert [r["JobID"] for r in rows[2:]] == ["25_1", "25_2", "25_3"]
    args = runner.calls[0][0]
    assert "--parsable2" in args and "--allocations" in args and "--jobs=15,16,25" in args


def test_parse_delimited_rejects_wrong_field_count():
    with pytest.raises(SlurmError):
        parse_delimited("a%sb\n" % SEP, QUEUE_FIELDS)


def test_show_job_forgotten_job_is_empty():
    runner = FakeRunner(scontrol=(1, "", sample("scontrol_invalid_job.stderr")))
    assert SlurmCLI(runner).show_job("999999") == []


def _submitted(runner):
    """Each sbatch call: its arguments (basename, without the temporary --export-file), the job
    environment read from that file during the call, and sbatch's own process environment."""
    seen = []

    def sbatch(args, kwargs):
        env_file = [a.split("=", 1)[1] for a in args if a.startswith("--export-file=")][0]
        with open(env_file, "rb") as handle:
            job_env = dict(e.decode().split("=", 1) for e in handle.read().split(b"\0") if e)
        process = dict(os.environ)
        process.update(kwargs["environ_update"])
        seen.append(([os.path.basename(args[0])] + [a for a in args[1:] if not a.startswith("--export-file=")],
                     job_env, process, kwargs, env_file))
        return (0, "42\n", "")

    runner.responses["sbatch"] = sbatch
    return seen


def test_submit_script_on_stdin_exactly_and_env_for_the_job_only(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", "/tmp/module-side.so")
    runner = FakeRunner()
    seen = _submitted(runner)
    cli = SlurmCLI(runner, slurm_conf="/etc/x.conf")
    script = "#!/bin/bash\necho '$HOME; rm -rf /'\n"
    assert cli.submit(["--job-name=a b;c"], script=script, env={"V": "x y\nz", "SLURM_CONF_X": "1"}, cwd="/shared") == "42"
    args, job_env, process, kwargs, env_file = seen[0]
    assert args == ["sbatch", "--parsable", "--job-name=a b;c"]
    assert kwargs["data"] == script and kwargs["binary_data"] is True
    assert process == {"SLURM_CONF": "/etc/x.conf"}
    assert job_env["V"] == "x y\nz" and job_env["SLURM_CONF_X"] == "1" and job_env["LD_PRELOAD"] == "/tmp/module-side.so"
    assert kwargs["cwd"] == "/shared"
    assert "use_unsafe_shell" not in kwargs
    assert not os.path.exists(env_file) and os.environ["LD_PRELOAD"] == "/tmp/module-side.so"


def test_submit_wrap_and_script_path_are_single_arguments():
    runner = FakeRunner()
    seen = _submitted(runner)
    cli = SlurmCLI(runner)
    cli.submit([], wrap="echo $X; date")
    cli.submit([], script_path="/shared/my job.sh")
    cli.submit([], script_path="--wrap=id")
    assert [args for args, *_rest in seen] == [["sbatch", "--parsable", "--wrap=echo $X; date"],
                                               ["sbatch", "--parsable", "--", "/shared/my job.sh"],
                                               ["sbatch", "--parsable", "--", "--wrap=id"]]
    with pytest.raises(ValueError):
        cli.submit([], wrap="x", script="y")


def test_export_file_content_is_nul_separated_with_the_job_env_on_top():
    content = export_file_content({"B": "two\nlines", "A": ""}, base={"B": "base", "C": "c=d"})
    assert content == b"A=\0B=two\nlines\0C=c=d\0"


def test_output_lines_split_at_newlines_only_and_join_a_value_with_a_newline():
    fields = ("job_id", "name", "state")
    out = "1\x1fa\u2028b\x1c\x85\x1fRUNNING\n2\x1fline one\nline two\x1fPENDING\n"
    rows = parse_delimited(out, fields)
    assert [(r["job_id"], r["name"]) for r in rows] == [("1", "a\u2028b\x1c\x85"), ("2", "line one\nline two")]
    runner = FakeRunner(scontrol=(0, "JobId=7 JobName=a\nb UserId=x(1) JobState=RUNNING\nJobId=8 JobName=c JobState=PENDING\n", ""))
    records = SlurmCLI(runner).show_job("7")
    assert [(r["JobId"], r["JobName"]) for r in records] == [("7", "a\nb"), ("8", "c")]


def test_submit_refusal_carries_slurm_stderr():
    runner = FakeRunner(sbatch=(1, "", sample("sbatch_bad_partition.stderr")))
    with pytest.raises(SlurmError) as err:
        SlurmCLI(runner).submit(["--partition=nope"], wrap="true")
    assert err.value.rc == 1
    assert "invalid partition specified: nope" in err.value.stderr
    assert err.value.slurm_message == ("invalid partition specified: nope "
                                       "Batch job submission failed: Invalid partition name specified")


def test_test_only_returns_slurm_message():
    runner = FakeRunner(sbatch=(0, "", "sbatch: Job 14 to start at 2026-11-24T01:37:39 using 2 processors\n"))
    assert SlurmCLI(runner).submit([], wrap="true", test_only=True).startswith("sbatch: Job 14 to start")
    assert "--test-only" in runner.calls[0][0]


def test_cancel_arguments():
    runner = FakeRunner(scancel=(0, "", ""))
    cli = SlurmCLI(runner)
    cli.cancel(job_ids=["1", "2"])
    cli.cancel(name="a b", user="ec2-user")
    assert runner.commands("scancel") == [["scancel", "1", "2"], ["scancel", "--name=a b", "--user=ec2-user"]]
    with pytest.raises(ValueError):
        cli.cancel()


def test_state_word():
    assert state_word("CANCELLED by 1001") == "CANCELLED"
    assert state_word("COMPLETED") == "COMPLETED"
