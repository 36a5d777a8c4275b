"""slurm_accounts as Ansible runs it, with sacctmgr answered by a fake that keeps a tree in memory."""

import pytest

from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_accounts
from ansible_collections.hpc.parallelcluster.tests.unit.plugins.module_runner import run_module
from ansible_collections.hpc.parallelcluster.tests.unit.plugins.slurm_fakes import (
    CONFIG_WITH_ACCOUNTING,
    CONFIG_WITHOUT_ACCOUNTING,
    FakeRunner,
)

# sacctmgr --parsable2 of a new cluster, as Slurm 22.05 prints it.
SHOW = {
    "qos": "normal|Normal QOS default|0|||\n",
    "account": "root|default root account|root\n",
    "user": "root|root\n",
    "association": "root|||1|normal|\nroot|root||1|normal|\n",
}


def sacctmgr(calls):
    def answer(args, _kwargs):
        calls.append(list(args[1:]))
        if args[1:4] == ["--noheader", "--parsable2", "show"]:
            return 0, SHOW[args[4]], ""
        if args[1] == "--immediate":
            return 0, " Adding ...\n", ""
        raise AssertionError(args)
    return answer


def test_check_mode_runs_no_sacctmgr_command_that_changes_anything(capsys, monkeypatch):
    calls = []
    runner = FakeRunner(sacctmgr=sacctmgr(calls))
    result = run_module(slurm_accounts, {"accounts": [{"name": "physics", "fairshare": 60}],
                                         "users": [{"name": "alice", "accounts": ["physics"]}]},
                        runner, capsys, monkeypatch, check_mode=True)
    assert result["changed"] is True and result["cluster"] == "noacct"
    assert result["commands"] == [
        ["add", "account", "physics", "Cluster=noacct", "Parent=root", "Fairshare=60"],
        ["add", "user", "alice", "Cluster=noacct", "Account=physics", "DefaultAccount=physics"]]
    assert not [c for c in calls if "--immediate" in c]
    assert result["accounts"]["physics"]["fairshare"] == "60" and result["users"]["alice"]["default_account"] == "physics"


def test_a_run_executes_the_plan_and_reads_back(capsys, monkeypatch):
    calls = []
    runner = FakeRunner(sacctmgr=sacctmgr(calls))
    result = run_module(slurm_accounts, {"qos": [{"name": "long", "max_wall": 90}]}, runner, capsys, monkeypatch)
    assert result["changed"] is True
    assert [c for c in calls if c[0] == "--immediate"] == [["--immediate", "add", "qos", "long", "MaxWall=90"]]
    # Read twice: before and after.
    assert len([c for c in calls if c[:4] == ["--noheader", "--parsable2", "show", "qos"]]) == 2
    for _args, kwargs in runner.calls:
        assert kwargs["environ_update"]["SLURM_CONF"] == "/opt/slurm/etc/slurm.conf"


def test_a_cluster_without_accounting_is_refused_saying_what_to_do(capsys, monkeypatch):
    calls = []
    runner = FakeRunner(config=CONFIG_WITHOUT_ACCOUNTING, sacctmgr=sacctmgr(calls))
    result = run_module(slurm_accounts, {"accounts": [{"name": "physics"}]}, runner, capsys, monkeypatch)
    assert result["failed"] is True
    assert "keeps no Slurm accounting" in result["msg"] and "Scheduling.SlurmSettings.Database" in result["msg"]
    assert calls == []


def test_every_problem_is_named_before_anything_changes(capsys, monkeypatch):
    calls = []
    runner = FakeRunner(config=CONFIG_WITH_ACCOUNTING, sacctmgr=sacctmgr(calls))
    result = run_module(slurm_accounts, {"accounts": [{"name": "Physics"}, {"name": "x", "parent": "nowhere"}],
                                         "users": [{"name": "alice", "accounts": ["physics"]}]},
                        runner, capsys, monkeypatch)
    assert result["failed"] is True and result["msg"].startswith("the declaration is refused, nothing was changed")
    assert [p.split(":")[0] for p in result["problems"]] == ["accounts[0].name", "accounts[1].parent", "users[0].accounts"]
    assert not [c for c in calls if "--immediate" in c]


@pytest.mark.parametrize("purge", [False, True])
def test_nothing_declared_changes_nothing_on_a_new_cluster(capsys, monkeypatch, purge):
    calls = []
    runner = FakeRunner(sacctmgr=sacctmgr(calls))
    result = run_module(slurm_accounts, {"purge": purge}, runner, capsys, monkeypatch)
    assert result.get("changed") is False and result["commands"] == [], result.get("msg")
