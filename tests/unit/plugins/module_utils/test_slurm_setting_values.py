"""A Slurm setting must read back from slurm.conf as itself: one rule for CustomSlurmSettings and slurm_settings.

Slurm's parser (parse_config.c) ends an unquoted value at the first blank and reads the rest of the
line as more ``Name=Value`` settings, cuts the line at ``#`` and joins lines ending in ``\\``. So
``MaxJobCount: "1 SlurmUser=root ResumeProgram=/tmp/x"`` would set SlurmUser and ResumeProgram.
"""

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_conf_include as sci
from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_settings

# (id, key, value, words in the refusal)
BAD = [
    ("second-setting", "MaxJobCount", "1 SlurmUser=root ResumeProgram=/tmp/x", "SlurmUser="),
    ("second-setting-spaced", "MaxJobCount", "1 SlurmUser = root", "SlurmUser="),
    ("operator", "MaxJobCount", "1 ResumeProgram+=/tmp/x", "ResumeProgram="),
    ("quoted-second-setting", "Reason", '"x SlurmUser=root"', "SlurmUser="),
    ("lower-case-key", "MaxJobCount", "1 slurmuser=root", "slurmuser="),
    ("dotted-key", "MaxJobCount", "1 a.b=c", "a.b="),
    ("newline", "MaxJobCount", "1\nSlurmUser=root", "control character"),
    ("carriage-return", "MaxJobCount", "1\rSlurmUser=root", "control character"),
    ("nul", "MaxJobCount", "1\x00", "control character"),
    ("tab", "MaxJobCount", "1\tSlurmUser=root", "control character"),
    ("escape", "MaxJobCount", "1\x1b[2J", "control character"),
    ("delete", "MaxJobCount", "1\x7f", "control character"),
    ("blank", "MaxJobCount", "1 2", "double quotes"),
    ("half-quoted", "Reason", '"a b', "double quotes"),
    ("inner-quote", "Reason", '"a "b" c"', "double quotes"),
    ("comment", "MaxJobCount", "1#x", "comment"),
    ("continuation", "MaxJobCount", "1\\", "continuation"),
    ("escape-hash", "MaxJobCount", "1\\#", "comment"),
    ("empty", "MaxJobCount", "", "empty"),
    ("none", "MaxJobCount", None, "single-line scalar"),
    ("mapping", "MaxJobCount", {"a": 1}, "single-line scalar"),
    ("nested-list", "SchedulerParameters", [["a"]], "single-line scalar"),
    ("list-item-smuggles", "SchedulerParameters", ["bf_continue", "x SlurmUser=root"], "SlurmUser="),
    ("key-with-blank", "Max JobCount", "1", "parameter name"),
    ("key-with-equals", "MaxJobCount=1 SlurmUser", "root", "parameter name"),
    ("key-with-newline", "MaxJobCount\nSlurmUser", "root", "parameter name"),
    ("key-with-underscore", "Max_JobCount", "1", "parameter name"),
    ("key-with-operator", "MaxJobCount+", "1", "parameter name"),
    ("key-starting-with-digit", "1MaxJobCount", "1", "parameter name"),
    ("key-empty", "", "1", "parameter name"),
    ("key-not-a-string", 5, "1", "parameter name"),
]

GOOD = [("MaxJobCount", 20000), ("SelectType", "select/cons_tres"), ("PreemptMode", "REQUEUE"), ("Flag", True),
        ("SchedulerParameters", ["bf_interval=20", "bf_continue"]), ("SlurmctldParameters", "idle_on_node_suspend"),
        ("Reason", '"planned maintenance"'), ("Prolog", "/opt/slurm/etc/prolog.d/*"), ("Weight", 0),
        ("Nodes", "q-dy-c-[1-10],q-st-c-1"), ("DefMemPerCPU", 1000.5)]


def test_there_are_thirty_and_more_bad_settings():
    assert len({case_id for case_id, dummy, dummy2, dummy3 in BAD}) == len(BAD) >= 30


@pytest.mark.parametrize("key, value, words", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_setting_is_refused(key, value, words):
    problem = sci.setting_problem(key, value)
    assert problem and words in problem, problem


@pytest.mark.parametrize("key, value", GOOD)
def test_ordinary_settings_are_accepted(key, value):
    assert sci.setting_problem(key, value) is None


def test_every_bad_setting_is_listed_under_its_key():
    settings = {"MaxJobCount": "1 SlurmUser=root", "DefMemPerCPU": "1\r", "SuspendTime": 5, "Fine": 1}
    with pytest.raises(sci.SettingsError) as caught:
        sci.check_settings(settings, denied=["suspendtime"])
    assert [key for key, dummy in caught.value.errors] == ["MaxJobCount", "DefMemPerCPU", "SuspendTime"]


def test_printable_spells_control_characters():
    assert sci.printable("a\rb\x00") == "a\\rb\\x00"


def test_the_value_rule_is_the_one_the_cluster_config_uses():
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import (
        ClusterConfigError,
        validate_cluster_config,
    )
    from recipe_config import valid_recipe

    config = valid_recipe()
    config["Scheduling"]["SlurmQueues"][0]["CustomSlurmSettings"] = {"GraceTime": "1 SlurmUser=root"}
    with pytest.raises(ClusterConfigError) as caught:
        validate_cluster_config(config, "hpc")
    (field, message), = caught.value.errors
    assert field == "Scheduling.SlurmQueues[0].CustomSlurmSettings.GraceTime"
    assert message.endswith(sci.setting_problem("GraceTime", "1 SlurmUser=root"))


# ------------------------------------------------------------------ the module refuses before anything


def _run_module(args, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: calls.append(cmd) or (1, "", ""))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            slurm_settings.main()
    return json.loads(capsys.readouterr().out), calls


@pytest.mark.parametrize("settings, field", [
    ({"MaxJobCount": "1 SlurmUser=root ResumeProgram=/tmp/x"}, "settings.MaxJobCount"),
    ({"DefMemPerCPU": "1000\r"}, "settings.DefMemPerCPU"),
    ({"MaxJobCount\rSlurmUser": "root"}, "settings.MaxJobCount\\rSlurmUser"),
], ids=["second-setting", "carriage-return", "carriage-return-in-key"])
@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "apply"])
def test_the_module_refuses_before_reading_or_running_anything(tmp_path, capsys, monkeypatch, settings, field,
                                                               check_mode):
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=c\n")
    include = tmp_path / "slurm_tuning.conf"
    include.write_text("DefMemPerCPU=1000\n")
    out, calls = _run_module({"settings": settings, "slurm_conf": str(conf), "path": str(include),
                              "_ansible_check_mode": check_mode}, capsys, monkeypatch)
    assert out["failed"] is True and "nothing was changed" in out["msg"]
    assert [error["field"] for error in out["errors"]] == [field]
    assert "\r" not in out["msg"].replace(out["errors"][0]["message"], "")
    assert calls == []
    assert conf.read_text() == "ClusterName=c\n" and include.read_text() == "DefMemPerCPU=1000\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slurm.conf", "slurm_tuning.conf"]
