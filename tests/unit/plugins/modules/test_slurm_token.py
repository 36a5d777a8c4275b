"""hpc.parallelcluster.slurm_token: scontrol token as an argument list, the token parsed from its
output and clear failures (the action plugin that hides the result: tests/unit/plugins/action)."""

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from slurm_fakes import FakeRunner
from slurmrestd_fake import GOOD_TOKEN

from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_token


def run_module(args, runner, capsys, monkeypatch, check_mode=False):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: runner(cmd, **kw))
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        with pytest.raises(SystemExit):
            slurm_token.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def run(capsys, monkeypatch):
    monkeypatch.setenv("SLURM_JWT", "inherited")
    return lambda args, runner, **kw: run_module(args, runner, capsys, monkeypatch, **kw)


def test_mints_a_token(run):
    runner = FakeRunner(scontrol=(0, "SLURM_JWT=%s\n" % GOOD_TOKEN, ""))
    out = run({"username": "ec2-user", "lifespan": 600}, runner)
    assert out["changed"] is True and out["token"] == GOOD_TOKEN and out["expires"] == 4102444800
    args, kwargs = runner.calls[0]
    assert args == ["scontrol", "token", "username=ec2-user", "lifespan=600"]
    assert "SLURM_JWT" not in kwargs["environ_update"]
    assert GOOD_TOKEN not in json.dumps(out["invocation"])


def test_check_mode_mints_nothing(run):
    runner = FakeRunner()
    out = run({"username": "ec2-user"}, runner, check_mode=True)
    assert out["changed"] is True and "token" not in out and runner.calls == []


def test_jwt_not_enabled_is_explained(run):
    runner = FakeRunner(scontrol=(1, "", "scontrol: error: slurm_request_token: JWT authentication disabled\n"))
    out = run({"username": "ec2-user"}, runner)
    assert out["failed"] is True and "apply the hpc.parallelcluster.slurm_rest role" in out["msg"]


@pytest.mark.parametrize("args, message", [({"username": "a b"}, "is not a user name"),
                                           ({"username": "u", "lifespan": 0}, "positive")])
def test_bad_arguments(run, args, message):
    out = run(args, FakeRunner())
    assert out["failed"] is True and message in out["msg"]


def test_parse_token():
    assert slurm_token.parse_token("SLURM_JWT=abc.def.ghi\n") == "abc.def.ghi"
    assert slurm_token.parse_token("nothing") is None
