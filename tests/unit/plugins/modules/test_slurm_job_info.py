"""slurm_job_info reads stdout_tail as slurm_job does (only a regular file of the job's user, never
through a link) and says why in a warning when it leaves the tail empty."""

import json
import os

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from slurm_fakes import FakeRunner, sample

from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_job_info

QUOTED = sample("scontrol_job_quoted_name.txt")
MINE = "UserId=ec2-user(%d)" % os.getuid()
# The captured queue and accounting hold one job of this name (15): one report, one warning.
NAME = 'a b"c;d'


def run_info(args, scontrol, capsys, monkeypatch):
    """The module's JSON result, with the warnings it gave under "warnings"."""
    warned = []
    runner = FakeRunner(squeue=(0, sample("squeue_states_all.txt"), ""), sacct=(0, sample("sacct_jobs.txt"), ""),
                        scontrol=(0, scontrol, ""))
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: runner(cmd, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning, **kw: warned.append(warning))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            slurm_job_info.main()
    out = json.loads(capsys.readouterr().out)
    out["warnings"] = warned
    return out


def _job_writing_to(path, user=MINE):
    return QUOTED.replace("/shared/cap/o x;y.out", str(path)).replace("UserId=ec2-user(1001)", user)


def test_tail_of_the_job_users_own_file_is_read(capsys, monkeypatch, tmp_path):
    log = tmp_path / "out.log"
    log.write_text("one\ntwo\nthree\n")
    out = run_info({"name": NAME, "tail_lines": 2}, _job_writing_to(log), capsys, monkeypatch)
    assert out["jobs"][0]["stdout_tail"] == "two\nthree" and out["warnings"] == []


def test_tail_through_a_symlink_is_left_empty_with_a_warning(capsys, monkeypatch, tmp_path):
    secret = tmp_path / "root-only"
    secret.write_text("SECRET-LINE\n")
    secret.chmod(0o600)
    link = tmp_path / "out.log"
    link.symlink_to(secret)
    out = run_info({"name": NAME, "tail_lines": 5}, _job_writing_to(link), capsys, monkeypatch)
    assert out["jobs"][0]["stdout_tail"] is None and "SECRET" not in json.dumps(out)
    assert out["warnings"] == ["stdout_tail left empty: %s is not a regular file (a symbolic link)" % link]


def test_tail_of_a_fifo_or_another_users_file_is_left_empty_with_a_warning(capsys, monkeypatch, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(str(fifo))
    out = run_info({"name": NAME, "tail_lines": 5}, _job_writing_to(fifo), capsys, monkeypatch)
    assert out["jobs"][0]["stdout_tail"] is None
    assert out["warnings"] == ["stdout_tail left empty: %s is not a regular file (a FIFO)" % fifo]
    other = tmp_path / "theirs.log"
    other.write_text("SECRET-LINE\n")
    stranger = os.getuid() + 4242
    out = run_info({"name": NAME, "tail_lines": 5}, _job_writing_to(other, "UserId=someone(%d)" % stranger),
                   capsys, monkeypatch)
    assert out["jobs"][0]["stdout_tail"] is None and "SECRET" not in json.dumps(out)
    assert out["warnings"] == ["stdout_tail left empty: %s is owned by uid %d, not by the job's user (uid %d)"
                               % (other, os.getuid(), stranger)]


def test_no_warning_without_a_tail_or_for_a_missing_file(capsys, monkeypatch, tmp_path):
    out = run_info({"name": NAME}, _job_writing_to(tmp_path / "out.fifo"), capsys, monkeypatch)
    assert out["warnings"] == [] and out["jobs"][0]["stdout_tail"] is None
    out = run_info({"name": NAME, "tail_lines": 5}, _job_writing_to(tmp_path / "gone.log"), capsys, monkeypatch)
    assert out["warnings"] == [] and out["jobs"][0]["stdout_tail"] is None
