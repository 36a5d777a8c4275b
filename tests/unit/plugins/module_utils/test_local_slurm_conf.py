"""The controller prolog that starts jobs as soon as their powered-up nodes answer, run for real
with a stand-in sinfo that reports the states Slurm would."""

import os
import stat
import subprocess

from ansible_collections.hpc.parallelcluster.plugins.module_utils.accounting_database import DatabaseTarget
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_slurm_conf import (
    PROLOG_NAME,
    render_slurm_conf,
    render_wait_for_nodes_prolog,
)


def _fake_sinfo(tmp_path, states):
    """sinfo that answers the given state lines in turn (the last one for ever) and logs its args."""
    answers = tmp_path / "answers"
    answers.write_text("\n".join(states) + "\n")
    script = tmp_path / "sinfo"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$*" >> %(dir)s/calls\n'
        'n=$(wc -l < %(dir)s/calls)\n'
        'total=$(wc -l < %(dir)s/answers)\n'
        '[ "$n" -gt "$total" ] && n=$total\n'
        'sed -n "${n}p" %(dir)s/answers | tr "," "\\n"\n' % {"dir": tmp_path})
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _run_prolog(tmp_path, states, nodelist="compute-dy-c-[1-2]", timeout_s=5):
    prolog = tmp_path / "prolog"
    prolog.write_text(render_wait_for_nodes_prolog("/x/slurm.conf", sinfo=_fake_sinfo(tmp_path, states),
                                                   timeout_s=timeout_s))
    prolog.chmod(0o755)
    env = dict(os.environ, SLURM_JOB_NODELIST=nodelist)
    proc = subprocess.run([str(prolog)], env=env, capture_output=True, text=True, timeout=30, check=False)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return proc.returncode, calls


def test_prolog_waits_while_the_jobs_nodes_power_up_and_ends_when_they_answer(tmp_path):
    rc, calls = _run_prolog(tmp_path, ["alloc#,alloc#", "alloc,alloc#", "mix,alloc"])
    assert rc == 0
    assert len(calls) == 3
    assert calls[0] == "--noheader --Node --nodes=compute-dy-c-[1-2] --format=%t"


def test_prolog_also_waits_for_allocated_nodes_not_yet_resumed_or_not_responding(tmp_path):
    rc, calls = _run_prolog(tmp_path, ["alloc~", "alloc*", "comp~", "alloc"])
    assert rc == 0 and len(calls) == 4


def test_prolog_returns_at_once_for_nodes_already_up(tmp_path):
    rc, calls = _run_prolog(tmp_path, ["alloc,mix"])
    assert rc == 0 and len(calls) == 1


def test_prolog_gives_up_after_its_timeout_and_leaves_the_rest_to_slurm(tmp_path):
    rc, calls = _run_prolog(tmp_path, ["alloc#"], timeout_s=1)
    assert rc == 0
    assert len(calls) == 4  # four polls a second


def test_prolog_without_a_nodelist_does_not_query_slurm(tmp_path):
    rc, calls = _run_prolog(tmp_path, ["alloc#"], nodelist="")
    assert rc == 0 and calls == []


def test_slurm_conf_names_the_prolog_that_the_backend_installs(tmp_path):
    paths = LocalPaths()
    text = render_slurm_conf("c", paths)
    assert "PrologSlurmctld=%s" % paths.bin(PROLOG_NAME) in text.splitlines()


def test_slurmdbd_conf_repeats_the_rest_roles_jwt_settings_last():
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_slurm_conf import render_slurmdbd_conf

    database = DatabaseTarget("admin", "pw", "hpc_cluster", "db.example.com:3306")
    plain = render_slurmdbd_conf("head", LocalPaths(), 3306, database)
    with_jwt = render_slurmdbd_conf("head", LocalPaths(), 3306, database, {
        "AuthAltParameters": "jwt_key=/opt/slurm/etc/jwt_hs256.key", "AuthAltTypes": "auth/jwt", "Other": "x"})
    assert with_jwt == plain + "AuthAltTypes=auth/jwt\nAuthAltParameters=jwt_key=/opt/slurm/etc/jwt_hs256.key\n"
    assert "AuthAlt" not in plain


def test_slurmdbd_conf_names_the_configs_user_password_and_database():
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_slurm_conf import render_slurmdbd_conf

    lines = render_slurmdbd_conf("head", LocalPaths(), 3307, DatabaseTarget("admin", "s3cret", "acct", "x:3306")).splitlines()
    assert {"StorageUser=admin", "StoragePass=s3cret", "StorageLoc=acct", "StorageHost=127.0.0.1",
            "StoragePort=3307"} <= set(lines)


def _settings(text):
    """{key: value} of a slurm.conf text, leaving out comments and include lines."""
    pairs = [line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.startswith(("#", "include "))]
    return dict(pairs)


COOKBOOK_SLURM_CONF = os.path.join(os.path.dirname(__file__), "..", "fixtures", "cookbook", "slurm.conf")
SLURM_CONF_DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "slurm-conf.md")


def test_base_slurm_conf_equals_parallelclusters_but_where_a_listed_difference_says_why():
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_slurm_conf import DIFFERENCES
    with open(COOKBOOK_SLURM_CONF) as handle:
        theirs = _settings(handle.read())
    ours = _settings(render_slurm_conf("CLUSTER", LocalPaths()))
    unexplained = {key: (theirs.get(key), ours.get(key)) for key in set(theirs) | set(ours)
                   if theirs.get(key) != ours.get(key) and key not in DIFFERENCES}
    assert unexplained == {}
    # Every listed difference is one: a setting the two files agree on is not listed.
    assert [key for key in DIFFERENCES if theirs.get(key) == ours.get(key)] == []


def test_the_cookbooks_settings_that_change_slurms_behaviour_are_kept():
    ours = _settings(render_slurm_conf("CLUSTER", LocalPaths()))
    kept = ("MpiDefault", "EnforcePartLimits", "ReconfigFlags", "KillWait", "MessageTimeout",
            "SchedulerParameters", "BatchStartTimeout")
    assert {key: ours[key] for key in kept} == {
        "MpiDefault": "none", "EnforcePartLimits": "ALL", "ReconfigFlags": "KeepPartState", "KillWait": "30",
        "MessageTimeout": "60", "SchedulerParameters": "nohold_on_prolog_fail", "BatchStartTimeout": "180"}


def test_base_slurm_conf_names_each_setting_once_and_includes_the_generated_file_then_the_extra_ones():
    text = render_slurm_conf("c", LocalPaths(), extra_includes=["/x/tuning.conf"])
    keys = [line.split("=", 1)[0] for line in text.splitlines() if "=" in line and not line.startswith("#")]
    assert len(keys) == len(set(keys))
    assert text.splitlines()[-2:] == ["include %s/slurm_parallelcluster.conf" % LocalPaths().slurm_etc,
                                      "include /x/tuning.conf"]


def test_docs_list_every_difference_from_parallelclusters_slurm_conf():
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_slurm_conf import DIFFERENCES
    with open(SLURM_CONF_DOC) as handle:
        rows = {line.split("|")[1].strip().strip("`") for line in handle if line.startswith("| `")}
    assert sorted(set(DIFFERENCES) - rows) == [] and sorted(rows - set(DIFFERENCES)) == []
