"""Cluster configurations and Slurm settings written by a cluster user, refused before anything changes.

The unprivileged account writes the input (a cluster configuration, an extra-vars file) in its
own home; the administrator's run applies it through the public interface: pcluster_cluster (in
check mode first, then for real), site.yml, and the slurm_tuning role's slurm_settings module.
A MountDir of /etc (which the local provider would make world-writable) and a Slurm value that
smuggles a second setting (``1 SlurmUser=root ResumeProgram=/tmp/x``) or a carriage return are
refused naming the field; slurm.conf and its includes stay byte-identical, /etc keeps its mode,
slurmctld keeps running with its own user, and the attacker's program is never run.
"""

import copy
import json
import os
import pwd
import stat

import pytest
import yaml

from helpers import SITE_ARGS, failed_tasks, playbook, run, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"
LIVE = "hpc-cluster"
RECORD = "/var/lib/hpc-parallelcluster/clusters/%s.json" % LIVE
SLURM_ETC = "/opt/slurm/etc"
SLURMCTLD_PID = "/run/hpc-parallelcluster/slurmctld.pid"
TUNING_PLAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "slurm_tuning.yml")
SMUGGLED = "1 SlurmUser=root ResumeProgram=/tmp/x"
# The attacker's own program, named in a smuggled ResumeProgram: it leaves MARKER if anything runs it.
PROGRAM = "/tmp/hpc-attack-resume"
MARKER = "/tmp/hpc-attack-resumed"
SMUGGLED_PROGRAM = "1 SlurmUser=root ResumeProgram=%s" % PROGRAM

APPLY_PLAYBOOK = """
- name: Apply a cluster configuration
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create or update the cluster
      hpc.parallelcluster.pcluster_cluster:
        name: "{{ target_name }}"
        provider: local
        config_file: "{{ target_config }}"
"""


def _fingerprint(path):
    info = os.lstat(path)
    content = open(path, "rb").read() if stat.S_ISREG(info.st_mode) else None
    return content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def _state():
    """What a refused run must leave as it was: Slurm's files, /etc, the cluster record, slurmctld."""
    paths = [os.path.join(SLURM_ETC, name) for name in sorted(os.listdir(SLURM_ETC))]
    paths += ["/etc", "/etc/sudoers.d", RECORD, "/tmp"]
    state = {path: _fingerprint(path) for path in paths if os.path.lexists(path)}
    with open(SLURMCTLD_PID) as handle:
        state["slurmctld pid"] = handle.read().strip()
    return state


def _show_config(key):
    for line in run(["scontrol", "show", "config"]).stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None


def _live_config():
    with open(RECORD) as handle:
        return json.load(handle)["clusterConfiguration"]


def _as_attacker_write(attacker, name, text):
    """The attacker writes ``text`` to a file of its own (an argument list, no shell); returns its path."""
    path = os.path.join(pwd.getpwnam(attacker).pw_dir, name)
    run(["python3", "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path, text], user=attacker)
    return path


@pytest.fixture
def attack_program(attacker):
    """The attacker's program, which would leave MARKER if slurmctld ever ran it."""
    for path in (MARKER, PROGRAM):
        if os.path.lexists(path):
            os.unlink(path)
    run(["python3", "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", PROGRAM,
         "#!/bin/sh\nid > %s\n" % MARKER], user=attacker)
    run(["chmod", "755", PROGRAM], user=attacker)
    yield MARKER
    for path in (MARKER, PROGRAM):
        if os.path.lexists(path):
            os.unlink(path)


def _apply(config_path, check_mode, tmp_path):
    book = tmp_path / "apply.yml"
    book.write_text(APPLY_PLAYBOOK)
    args = ["-e", json.dumps({"target_name": LIVE, "target_config": config_path})]
    if check_mode:
        args.append("--check")
    rc, data = playbook(str(book), *args)
    return rc, task_results(data, "Create or update the cluster")["localhost"]


def _with_mount_dir(config, mount_dir):
    config = copy.deepcopy(config)
    storage = config.setdefault("SharedStorage", [])
    storage.append({"Name": "attack", "StorageType": "Ebs", "MountDir": mount_dir})
    return config, "SharedStorage[%d].MountDir" % (len(storage) - 1)


def _with_custom_settings(config, level, value):
    config = copy.deepcopy(config)
    scheduling = config["Scheduling"]
    queue = scheduling["SlurmQueues"][0]
    if level == "cluster":
        settings = scheduling.setdefault("SlurmSettings", {}).setdefault("CustomSlurmSettings", [])
        settings.append({"MaxJobCount": value})
        return config, "Scheduling.SlurmSettings.CustomSlurmSettings[%d].MaxJobCount" % (len(settings) - 1)
    if level == "queue":
        queue["CustomSlurmSettings"] = {"GraceTime": value}
        return config, "Scheduling.SlurmQueues[0].CustomSlurmSettings.GraceTime"
    queue["ComputeResources"][0]["CustomSlurmSettings"] = {"Features": value}
    return config, "Scheduling.SlurmQueues[0].ComputeResources[0].CustomSlurmSettings.Features"


def _refused_twice(attacker, tmp_path, config, field, name):
    """Check mode, then a real run, of the attacker's configuration: both refused naming ``field``."""
    path = _as_attacker_write(attacker, name, yaml.safe_dump(config))
    before = _state()
    for check_mode in (True, False):  # a real run only after check mode refused it
        rc, result = _apply(path, check_mode, tmp_path)
        assert rc != 0 and result.get("failed"), result
        assert field in [error["field"] for error in result["errors"]], result
        assert "invalid cluster configuration" in result["msg"]
        assert _state() == before
    return result


@pytest.mark.parametrize("mount_dir", ["/etc", "/etc/sudoers.d", "/opt/slurm/etc", "/var/lib/hpc-parallelcluster"])
def test_a_mount_dir_the_provider_would_open_to_everyone_is_refused(cluster, attacker, tmp_path, mount_dir):
    config, field = _with_mount_dir(_live_config(), mount_dir)
    result = _refused_twice(attacker, tmp_path, config, field, "mount.yaml")
    assert "1777" in result["msg"] or "reserved" in result["msg"], result["msg"]


@pytest.mark.parametrize("level", ["cluster", "queue", "compute-resource"])
@pytest.mark.parametrize("value", [SMUGGLED, SMUGGLED_PROGRAM, "1\rSlurmUser=root"],
                         ids=["second-setting", "attackers-program", "carriage-return"])
def test_a_custom_slurm_setting_smuggling_another_is_refused(
        cluster, attacker, attack_program, tmp_path, level, value):
    config, field = _with_custom_settings(_live_config(), level, value)
    _refused_twice(attacker, tmp_path, config, field, "custom.yaml")
    assert _show_config("SlurmUser").startswith("slurm")
    assert not os.path.exists(attack_program)


def test_site_refuses_the_attackers_configuration_before_anything_changes(cluster, attacker, attack_program):
    config, mount_field = _with_mount_dir(_live_config(), "/etc")
    config, custom_field = _with_custom_settings(config, "cluster", SMUGGLED_PROGRAM)
    path = _as_attacker_write(attacker, "site-config.yaml", yaml.safe_dump(config))
    before = _state()
    rc, data = playbook("site.yml", *SITE_ARGS, "-e", json.dumps({"pcluster_config_file": path}))
    assert rc != 0
    result = task_results(data, "Create or update cluster %s" % LIVE)["localhost"]
    fields = [error["field"] for error in result["errors"]]
    assert mount_field in fields and custom_field in fields, result
    assert _state() == before
    assert _show_config("SlurmUser").startswith("slurm") and not os.path.exists(attack_program)


def _tune(vars_path, *extra):
    rc, data = playbook(TUNING_PLAY, "-e", "@" + vars_path, *extra)
    return rc, data, task_results(data, "Apply the Slurm settings")[HOST]


@pytest.mark.parametrize("settings, field", [
    ({"MaxJobCount": SMUGGLED}, "settings.MaxJobCount"),
    ({"MaxJobCount": SMUGGLED_PROGRAM}, "settings.MaxJobCount"),
    ({"DefMemPerCPU": "1000\r"}, "settings.DefMemPerCPU"),
    ({"SchedulerParameters": ["bf_continue", "bf_interval=30 SlurmUser=root"]}, "settings.SchedulerParameters"),
    ({"MaxJobCount\rSlurmUser": "root"}, "settings.MaxJobCount\\rSlurmUser"),
    ({"DefMemPerCPU": "1000 #"}, "settings.DefMemPerCPU"),
], ids=["second-setting", "attackers-program", "carriage-return", "second-setting-in-a-list", "carriage-return-in-key",
        "comment"])
def test_slurm_tuning_refuses_a_value_smuggling_another(cluster, attacker, attack_program, settings, field):
    path = _as_attacker_write(attacker, "tuning.json", json.dumps({"slurm_tuning_extra_settings": settings}))
    before = _state()
    for extra in (("--check",), ()):
        rc, data, result = _tune(path, *extra)
        assert rc != 0, failed_tasks(data)
        assert field in [error["field"] for error in result["errors"]], result
        assert "nothing was changed" in result["msg"]
        assert _state() == before
    assert _show_config("SlurmUser").startswith("slurm") and not os.path.exists(attack_program)
