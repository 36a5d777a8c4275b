"""pcluster_cluster and pcluster_cluster_info with names ParallelCluster refuses (every state, both
providers) and with damaged local records, run as Ansible runs them."""

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths
from ansible_collections.hpc.parallelcluster.plugins.modules import pcluster_cluster
from ansible_collections.hpc.parallelcluster.plugins.modules import pcluster_cluster_info
from bad_cluster_names import BAD_NAME_OPTIONS, RecordingRun

CONFIG = {"Region": "us-east-1", "Image": {"Os": "alinux2"}, "HeadNode": {"InstanceType": "m5.large"},
          "Scheduling": {"Scheduler": "slurm", "SlurmQueues": []}}

BAD_NAMES = BAD_NAME_OPTIONS


@pytest.fixture
def local(tmp_path, monkeypatch):
    """A local backend on folders under tmp_path; ``made`` counts the backends the modules asked for."""
    paths = LocalPaths.under(tmp_path)
    os.makedirs(paths.clusters)
    fake_run = RecordingRun()
    made = []

    def factory(module):
        made.append(module.params["provider"])
        return LocalClusterBackend(run=fake_run, instance_types=None, paths=paths, warn=module.warn)
    monkeypatch.setattr(pcluster_cluster, "cluster_backend", factory)
    monkeypatch.setattr(pcluster_cluster_info, "cluster_backend", factory)
    return {"paths": paths, "run": fake_run, "made": made, "root": tmp_path}


def _result(capsys, main, args):
    args.setdefault("region", "us-east-1")
    # The controller's no_target_syslog, as a module receives it. With syslog on (the default),
    # Python 3.13's syslog refuses a NUL in any parameter, so AnsibleModule fails before the
    # module's own checks; these tests are about those checks
    # (test_nul_with_syslog_on_is_refused_before_anything covers the default).
    args.setdefault("_ansible_no_log", True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    return json.loads(capsys.readouterr().out)


def cluster(capsys, check_mode=False, **args):
    args["_ansible_check_mode"] = check_mode
    return _result(capsys, pcluster_cluster.main, args)


def info(capsys, **args):
    return _result(capsys, pcluster_cluster_info.main, args)


def warnings_of(result):
    """The result's warnings as text: plain strings under pytest, WarningSummary dicts under
    ansible-test's serialization profile."""
    return [w if isinstance(w, str) else json.dumps(w) for w in result.get("warnings", [])]


def sound(name):
    return {"clusterName": name, "clusterStatus": cb.CREATE_FAILED, "headNode": {"state": "stopped"},
            "clusterConfiguration": dict(CONFIG), "local": {"createdUser": "ec2-user"}}


def put(local, name, content):
    path = os.path.join(local["paths"].clusters, "%s.json" % name)
    with open(path, "w") as handle:
        handle.write(content if isinstance(content, str) else json.dumps(content))
    return path


def assert_refused(result, local):
    assert result["failed"] is True, result
    assert result["msg"].startswith("name: "), result["msg"]
    assert "letters, digits and hyphens" in result["msg"]
    assert local["made"] == [] and local["run"].calls == []


@pytest.mark.parametrize("provider", ["local", "aws"])
@pytest.mark.parametrize("name", BAD_NAMES)
def test_absent_refuses_bad_names_before_anything(capsys, local, name, provider):
    result = cluster(capsys, name=name, state="absent", provider=provider)
    assert_refused(result, local)
    assert "nothing was read or changed" in result["msg"]


@pytest.mark.parametrize("provider", ["local", "aws"])
@pytest.mark.parametrize("name", BAD_NAMES)
def test_present_refuses_bad_names_before_anything(capsys, local, name, provider):
    result = cluster(capsys, name=name, state="present", provider=provider, config=CONFIG)
    assert_refused(result, local)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_check_mode_refuses_bad_names(capsys, local, name):
    assert_refused(cluster(capsys, check_mode=True, name=name, state="absent"), local)


@pytest.mark.parametrize("provider", ["local", "aws"])
@pytest.mark.parametrize("name", BAD_NAMES)
def test_info_refuses_bad_names_before_anything(capsys, local, name, provider):
    assert_refused(info(capsys, name=name, provider=provider), local)


def test_absent_with_a_traversal_name_reads_and_deletes_nothing(capsys, local):
    """``../../x`` from the record folder is a file the attacker could plant; it is never read."""
    planted = local["root"] / "var" / "x.json"
    planted.write_text(json.dumps(dict(sound("x"), local={"createdUser": "ec2-user",
                                                          "createdDirs": [str(local["root"] / "keep")]})))
    (local["root"] / "keep").mkdir()
    os.makedirs(local["paths"].slurm_etc)
    before = planted.read_text()
    result = cluster(capsys, name="../../x", state="absent")
    assert_refused(result, local)
    assert planted.read_text() == before
    assert (local["root"] / "keep").is_dir() and os.path.isdir(local["paths"].slurm_etc)


def test_info_describe_of_a_damaged_record_fails_naming_the_file(capsys, local):
    path = put(local, "victim", '{"clusterName": "victim", "clu')
    result = info(capsys, name="victim")
    assert result["failed"] is True
    assert "the cluster record %s is damaged" % path in result["msg"]
    assert "remove or repair %s" % path in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_info_list_skips_a_damaged_record_with_a_warning(capsys, local):
    path = put(local, "victim", "[]")
    put(local, "hpc-cluster", sound("hpc-cluster"))
    result = info(capsys)
    assert not result.get("failed"), result
    assert [c["clusterName"] for c in result["clusters"]] == ["hpc-cluster"]
    assert any(path in w for w in warnings_of(result))


def test_present_of_a_damaged_record_fails_naming_the_file(capsys, local, monkeypatch):
    monkeypatch.setattr(pcluster_cluster, "validate_cluster_config", lambda *args, **kwargs: None)
    path = put(local, "victim", "")
    result = cluster(capsys, name="victim", config=CONFIG)
    assert result["failed"] is True
    assert "remove or repair %s" % path in result["msg"] and "it is empty" in result["msg"]
    assert local["run"].calls == []


def test_absent_of_a_damaged_record_in_check_mode_warns_and_keeps_it(capsys, local):
    path = put(local, "victim", '{"clusterName": 1')
    result = cluster(capsys, check_mode=True, name="victim", state="absent")
    assert result["changed"] is True and not result.get("failed")
    assert any(path in w for w in warnings_of(result))
    assert os.path.exists(path)


def test_absent_of_a_damaged_record_beside_a_cluster_removes_only_the_record(capsys, local):
    path = put(local, "victim", json.dumps(dict(sound("someone-else"))))
    put(local, "hpc-cluster", sound("hpc-cluster"))
    os.makedirs(local["paths"].slurm_etc)
    result = cluster(capsys, name="victim", state="absent")
    assert result["changed"] is True and not result.get("failed"), result
    assert not os.path.exists(path)
    assert os.path.isdir(local["paths"].slurm_etc)
    assert local["run"].calls == []
    assert any("belong to cluster hpc-cluster" in w for w in warnings_of(result))


def test_absent_of_a_sound_record_removes_its_user(capsys, local):
    put(local, "hpc-cluster", sound("hpc-cluster"))
    result = cluster(capsys, name="hpc-cluster", state="absent")
    assert result["changed"] is True
    assert ["userdel", "--remove", "ec2-user"] in local["run"].calls
    assert not os.path.exists(os.path.join(local["paths"].clusters, "hpc-cluster.json"))


def test_nul_with_syslog_on_is_refused_before_anything(capsys, local):
    """Ansible's default (syslog on): the module's message on Python 3.12 and older, AnsibleModule's
    own refusal on 3.13 and later; either way nothing is read or changed."""
    result = cluster(capsys, name="hpc\x00x", state="absent", _ansible_no_log=False)
    assert result["failed"] is True
    assert (result["msg"].startswith("name: ")
            or result["msg"].startswith("Failed to log to syslog (embedded null character)")), result["msg"]
    assert local["made"] == [] and local["run"].calls == []
