"""Slurm settings as data: rendering, refusal, what a change needs and what slurmctld reports."""

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_conf_include as sci

RECIPE = {"SelectType": "select/cons_tres", "SelectTypeParameters": "CR_Core_Memory",
          "PreemptType": "preempt/partition_prio", "PreemptMode": "REQUEUE", "DefMemPerCPU": 1000}


def test_render_and_parse_round_trip():
    text = sci.render_include(dict(RECIPE, SchedulerParameters=["bf_continue", "bf_interval=20"], Flag=True))
    assert text.startswith("# Managed by hpc.parallelcluster")
    assert "SchedulerParameters=bf_continue,bf_interval=20\n" in text and "Flag=YES\n" in text
    parsed = sci.parse_include(text)
    assert parsed["DefMemPerCPU"] == "1000" and parsed["SelectType"] == "select/cons_tres"
    assert sci.changed_keys(parsed, dict(RECIPE, SchedulerParameters=["bf_continue", "bf_interval=20"], Flag=True)) == []


def test_check_settings_names_every_bad_key():
    with pytest.raises(sci.SettingsError) as info:
        sci.check_settings({"SuspendTime": 1, "Bad Key": 2, "Ok": "a\nb", "Fine": 3, "Nested": {"a": 1}},
                           denied=["suspendtime"])
    assert [key for key, _msg in info.value.errors] == ["SuspendTime", "Bad Key", "Ok", "Nested"]
    sci.check_settings(RECIPE, denied=["suspendtime", "resumeprogram"])


@pytest.mark.parametrize("keys, method", [
    ([], "none"),
    (["defmempercpu", "preemptmode"], "reconfigure"),
    (["defmempercpu", "selecttypeparameters"], "restart_slurmctld"),
    (["selecttype"], "restart"),
    (["maxjobcount"], "restart_slurmctld"),
])
def test_needed_action_follows_slurm_conf_5(keys, method):
    assert sci.needed_action(keys) == method


def test_changed_keys_ignore_key_case_and_see_removals():
    assert sci.changed_keys({"defmempercpu": "1000", "MaxJobCount": "5"}, {"DefMemPerCPU": 1000}) == ["maxjobcount"]


def test_verify_compares_as_slurm_prints():
    shown = sci.parse_show_config("Configuration data as of 2026-11-24T03:37:19\nSelectTypeParameters    = CR_CORE_MEMORY\n"
                                  "DefMemPerCPU            = 1000\nPreemptMode             = OFF\n")
    mismatches, unverifiable = sci.verify({"SelectTypeParameters": "CR_Core_Memory", "DefMemPerCPU": 1000,
                                           "PreemptMode": "REQUEUE", "Unknown": 1}, shown)
    assert mismatches == [{"key": "PreemptMode", "expected": "REQUEUE", "actual": "OFF"}]
    assert unverifiable == ["Unknown"]


def test_include_line_added_once_and_removed():
    conf = "ClusterName=c\ninclude /opt/slurm/etc/slurm_parallelcluster.conf\n"
    added = sci.ensure_include_line(conf, "/opt/slurm/etc/slurm_tuning.conf")
    assert added.endswith("slurm_parallelcluster.conf\ninclude /opt/slurm/etc/slurm_tuning.conf\n")
    assert sci.ensure_include_line(added, "/opt/slurm/etc/slurm_tuning.conf") is None
    assert sci.ensure_include_line("A=1", "/x") == "A=1\ninclude /x\n"
    assert sci.remove_include_line(added, "/opt/slurm/etc/slurm_tuning.conf") == conf
    assert sci.remove_include_line(conf, "/opt/slurm/etc/slurm_tuning.conf") is None


def test_times_match_what_scontrol_prints_with_its_unit():
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_conf_include import verify

    assert verify({"SlurmdTimeout": 10}, {"slurmdtimeout": "10 sec"}) == ([], [])
    mismatches = verify({"SlurmdTimeout": 10}, {"slurmdtimeout": "180 sec"})[0]
    assert mismatches == [{"key": "SlurmdTimeout", "expected": "10", "actual": "180 sec"}]
