"""The local provider's record store and the cluster name rule: bad names never become paths, a damaged
record is an error naming its file and never stops the other clusters, and a delete removes only
what the provider's own layout (or a validated record) names."""

import json
import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_records as lr
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths
from bad_cluster_names import BAD_NAME_VALUES, RecordingRun

BAD_NAMES = BAD_NAME_VALUES

GOOD_NAMES = ["hpc-cluster", "ab", "A1", "a" * 60, "Hpc-Cluster-2", "x-"]


def test_rule_is_parallelclusters():
    from pcluster.constants import PCLUSTER_NAME_MAX_LENGTH, PCLUSTER_NAME_REGEX
    assert cb.CLUSTER_NAME_MAX_LENGTH == PCLUSTER_NAME_MAX_LENGTH == 60
    assert cb._PCLUSTER_NAME_REGEX == PCLUSTER_NAME_REGEX


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(name):
    assert cb.cluster_name_problem(name) is None
    assert cb.check_cluster_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused(name):
    with pytest.raises(cb.InvalidClusterName) as info:
        cb.check_cluster_name(name)
    message = str(info.value)
    assert message.startswith("name: ")
    assert "letters, digits and hyphens" in message or "must be a string" in message
    # The name is quoted with repr: a NUL or newline never reaches the message raw.
    assert "\x00" not in message and "\n" not in message


# records -------------------------------------------------------------------------------------

def sound(name="hpc-cluster", **changes):
    record = {
        "clusterName": name,
        "clusterStatus": cb.CREATE_COMPLETE,
        "cloudformationStackStatus": cb.CREATE_COMPLETE,
        "computeFleetStatus": "RUNNING",
        "region": "us-east-1",
        "version": "3.15.1",
        "provider": "local",
        "scheduler": {"type": "slurm"},
        "headNode": {"instanceId": "local-%s-head" % name, "instanceType": "m5.large", "state": "running",
                     "privateIpAddress": "10.253.0.1", "publicIpAddress": None},
        "clusterConfiguration": {"Image": {"Os": "alinux2"}, "SharedStorage": []},
        "local": {"defaultUser": "ec2-user"},
        "creationTime": "2026-01-01T00:00:00.000Z",
        "lastUpdatedTime": "2026-01-01T00:00:00.000Z",
    }
    record.update(changes)
    return record


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "clusters"
    path.mkdir(mode=0o755)
    return path


def plant(folder, name, content):
    path = folder / ("%s.json" % name)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# (file content, what the message says) for records that must be refused.
DAMAGED = [
    pytest.param('{"clusterName": "victim", "clusterSta', "not complete JSON", id="truncated"),
    pytest.param("", "it is empty", id="empty-file"),
    pytest.param("  \n", "it is empty", id="blank-file"),
    pytest.param("[1, 2]", "an array, not a JSON object", id="list"),
    pytest.param('"victim"', "a string, not a JSON object", id="string"),
    pytest.param("null", "null, not a JSON object", id="null"),
    pytest.param(b"\xff\xfe{}", "not complete JSON", id="not-utf8"),
    pytest.param(sound("victim", clusterName=None), "clusterName is null", id="name-null"),
    pytest.param(sound("victim", clusterName=7), "clusterName is a number", id="name-number"),
    pytest.param(sound("victim", clusterName=["victim"]), "clusterName is an array", id="name-list"),
    pytest.param(sound("other-name"), "is not its file name", id="name-differs"),
    pytest.param(sound("victim", clusterStatus="RUNNING"), "not a ParallelCluster status", id="unknown-status"),
    pytest.param(sound("victim", clusterStatus=5), "clusterStatus is a number", id="status-number"),
    pytest.param(sound("victim", headNode="up"), "headNode is a string", id="headnode-string"),
    pytest.param(sound("victim", clusterConfiguration=[]), "clusterConfiguration is an array", id="config-list"),
    pytest.param(sound("victim", clusterConfiguration={"Image": ["alinux2"]}), "Image is an array", id="image-list"),
    pytest.param(sound("victim", local={"createdDirs": "/etc"}), "createdDirs is a string", id="dirs-string"),
    pytest.param(sound("victim", local={"createdDirs": [1]}), "createdDirs holds", id="dirs-number"),
    pytest.param(sound("victim", local={"createdUser": ["root"]}), "createdUser is an array", id="user-list"),
    pytest.param(sound("victim", local=[]), "local is an array", id="local-list"),
    pytest.param(sound("victim", headNode={"state": 1}), "headNode.state is a number", id="state-number"),
]
for _key in ("clusterName", "clusterStatus", "headNode", "clusterConfiguration"):
    _record = sound("victim")
    del _record[_key]
    DAMAGED.append(pytest.param(_record, "%s is missing" % _key, id="missing-" + _key))


@pytest.mark.parametrize("content, says", DAMAGED)
def test_damaged_record_is_a_clear_error_and_skipped_in_lists(folder, content, says):
    path = plant(folder, "victim", content)
    plant(folder, "hpc-cluster", sound())
    store = lr.RecordStore(str(folder))
    with pytest.raises(cb.DamagedRecordError) as info:
        store.load("victim")
    message = str(info.value)
    assert says in message
    assert "remove or repair %s" % path in message
    assert info.value.path == str(path)
    warnings = []
    assert [r["clusterName"] for r in store.load_all(warnings.append)] == ["hpc-cluster"]
    assert len(warnings) == 1 and str(path) in warnings[0] and says in warnings[0]


def test_symlink_record_is_not_followed(folder, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(sound("victim")))
    os.symlink(str(target), str(folder / "victim.json"))
    store = lr.RecordStore(str(folder))
    with pytest.raises(cb.DamagedRecordError, match="it is a symbolic link; remove or repair"):
        store.load("victim")
    warnings = []
    assert store.load_all(warnings.append) == [] and "symbolic link" in warnings[0]
    # Removing the record removes the link, never what it points to.
    assert store.remove("victim") is True
    assert target.exists() and not os.path.lexists(str(folder / "victim.json"))


def test_record_that_is_a_folder_or_a_fifo_is_damaged(folder):
    (folder / "victim.json").mkdir()
    os.mkfifo(str(folder / "fifo-record.json"))
    store = lr.RecordStore(str(folder))
    for name in ("victim", "fifo-record"):
        with pytest.raises(cb.DamagedRecordError, match="not a regular file"):
            store.load(name)


def test_record_not_owned_by_root_is_damaged(folder):
    path = plant(folder, "victim", sound("victim"))
    os.chown(str(path), 65534, 65534)
    with pytest.raises(cb.DamagedRecordError, match="owned by uid 65534"):
        lr.RecordStore(str(folder)).load("victim")


def test_oversized_record_is_damaged(folder, monkeypatch):
    monkeypatch.setattr(lr, "MAX_RECORD_BYTES", 100)
    plant(folder, "victim", sound("victim"))
    with pytest.raises(cb.DamagedRecordError, match="larger than 100 bytes"):
        lr.RecordStore(str(folder)).load("victim")


def test_bad_file_names_are_skipped_with_a_warning(folder):
    plant(folder, "hpc-cluster", sound())
    plant(folder, "1bad", sound("1bad"))
    plant(folder, ".hidden", sound(".hidden"))
    (folder / "notes.txt").write_text("not a record")
    warnings = []
    assert [r["clusterName"] for r in lr.RecordStore(str(folder)).load_all(warnings.append)] == ["hpc-cluster"]
    assert len(warnings) == 2 and all("not a cluster name" in w for w in warnings)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_store_refuses_bad_names(folder, name):
    store = lr.RecordStore(str(folder))
    for call in (store.load, store.remove, store.path):
        with pytest.raises(cb.InvalidClusterName):
            call(name)
    with pytest.raises(cb.InvalidClusterName):
        store.save(sound(name))
    assert os.listdir(str(folder)) == []


def test_planted_file_outside_the_folder_is_never_read(tmp_path, folder):
    planted = tmp_path / "x.json"
    planted.write_text(json.dumps(sound("x")))
    with pytest.raises(cb.InvalidClusterName):
        lr.RecordStore(str(folder)).load("../x")
    assert planted.exists()


def test_save_is_atomic_0644_and_round_trips(folder):
    store = lr.RecordStore(str(folder))
    store.save(sound())
    path = folder / "hpc-cluster.json"
    assert oct(path.stat().st_mode & 0o7777) == "0o644"
    assert store.load("hpc-cluster") == sound()
    store.save(sound(clusterStatus=cb.UPDATE_COMPLETE))
    assert store.load("hpc-cluster")["clusterStatus"] == cb.UPDATE_COMPLETE
    assert sorted(os.listdir(str(folder))) == ["hpc-cluster.json"]


def test_save_replaces_a_planted_symlink_instead_of_writing_through_it(folder, tmp_path):
    target = tmp_path / "target"
    target.write_text("untouched")
    os.symlink(str(target), str(folder / "hpc-cluster.json"))
    lr.RecordStore(str(folder)).save(sound())
    assert target.read_text() == "untouched"
    assert not os.path.islink(str(folder / "hpc-cluster.json"))


def test_save_refuses_an_unsound_record(folder):
    with pytest.raises(cb.BackendError, match="refusing to write"):
        lr.RecordStore(str(folder)).save(sound(headNode=None))
    assert os.listdir(str(folder)) == []


def test_save_creates_the_folder_0755(tmp_path):
    store = lr.RecordStore(str(tmp_path / "state" / "clusters"))
    store.save(sound())
    assert oct((tmp_path / "state" / "clusters").stat().st_mode & 0o777) == "0o755"


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757, 0o1777])
def test_folder_writable_by_others_is_refused(folder, mode):
    plant(folder, "hpc-cluster", sound())
    os.chmod(str(folder), mode)
    store = lr.RecordStore(str(folder))
    for call in (lambda: store.load("hpc-cluster"), lambda: store.load_all(print), lambda: store.save(sound())):
        with pytest.raises(cb.BackendError, match="only root may write there"):
            call()


def test_folder_owned_by_another_user_is_refused(folder):
    os.chown(str(folder), 65534, 65534)
    with pytest.raises(cb.BackendError, match="owned by uid 65534"):
        lr.RecordStore(str(folder)).load_all(print)


def test_folder_that_is_a_symlink_is_refused(tmp_path, folder):
    link = tmp_path / "link"
    os.symlink(str(folder), str(link))
    with pytest.raises(cb.BackendError, match="not a symbolic link"):
        lr.RecordStore(str(link)).load("hpc-cluster")


def test_missing_folder_is_empty(tmp_path):
    store = lr.RecordStore(str(tmp_path / "none"))
    assert store.load("hpc-cluster") is None and store.load_all(print) == [] and store.remove("hpc-cluster") is False


# what a delete may remove -----------------------------------------------------------------

def test_created_dirs_only_validated_mount_dirs(tmp_path):
    real = tmp_path / "shared"
    real.mkdir()
    link = tmp_path / "link"
    os.symlink("/etc", str(link))
    listed = [str(real), "/etc", "/", "/opt/slurm", "relative", str(tmp_path / "a/../shared"), str(link), str(tmp_path / "other")]
    storage = [{"Name": "s%d" % i, "MountDir": d} for i, d in enumerate(listed[:-1])]
    record = sound(clusterConfiguration={"SharedStorage": storage}, local={"createdDirs": listed})
    allowed, refused = lr.created_dirs(record)
    assert allowed == [str(real)]
    assert dict(refused) == {
        "/etc": "a system folder", "/": "a system folder", "/opt/slurm": "a system folder",
        "relative": "not an absolute, normalised path",
        str(tmp_path / "a/../shared"): "not an absolute, normalised path",
        str(link): "it goes through a symbolic link",
        str(tmp_path / "other"): "not a MountDir of the cluster's configuration"}


@pytest.mark.parametrize("os_name, listed, allowed", [
    ("alinux2", "ec2-user", "ec2-user"),
    ("ubuntu2204", "ubuntu", "ubuntu"),
    ("alinux2", "root", None),
    ("alinux2", "ubuntu", None),
    ("ubuntu2204", "ec2-user", None),
    ("alinux2", "hpc-attacker", None),
])
def test_created_user_only_the_images_default_user(os_name, listed, allowed):
    record = sound(clusterConfiguration={"Image": {"Os": os_name}}, local={"createdUser": listed})
    user, problem = lr.created_user(record)
    assert user == allowed
    assert (problem is None) == (allowed is not None)


# the backend on top of the store ------------------------------------------------------------

@pytest.fixture
def backend(tmp_path):
    paths = LocalPaths.under(tmp_path)
    os.makedirs(paths.clusters)
    warnings = []
    result = LocalClusterBackend(run=RecordingRun(), instance_types=None, paths=paths, warn=warnings.append)
    result.warnings = warnings
    return result


def folder_of(backend):
    return backend.paths.clusters


def put(backend, name, content):
    path = os.path.join(folder_of(backend), "%s.json" % name)
    with open(path, "wb") as handle:
        handle.write(content if isinstance(content, bytes) else
                     (content if isinstance(content, str) else json.dumps(content)).encode("utf-8"))
    return path


@pytest.mark.parametrize("name", BAD_NAMES)
def test_backend_methods_refuse_bad_names(backend, name):
    for call in (backend.describe, backend.delete, lambda n: backend.repair(n, check_mode=True),
                 lambda n: backend.data_repository_task(n, cb.EXPORT_TO_REPOSITORY),
                 lambda n: backend.adopt_replaced_network(n, {})):
        with pytest.raises(cb.InvalidClusterName):
            call(name)
    assert backend.run.calls == []


@pytest.mark.parametrize("content, says", DAMAGED[:6])
def test_list_skips_damaged_and_describe_names_it(backend, content, says):
    path = put(backend, "victim", content)
    put(backend, "hpc-cluster", sound(clusterStatus=cb.CREATE_FAILED))
    assert [c["clusterName"] for c in backend.list_clusters()] == ["hpc-cluster"]
    assert len(backend.warnings) == 1 and path in backend.warnings[0]
    with pytest.raises(cb.DamagedRecordError, match="remove or repair"):
        backend.describe("victim")
    assert backend.describe("nothing") is None


def test_create_of_another_cluster_is_not_blocked_by_a_damaged_record(backend, monkeypatch):
    path = put(backend, "victim", '{"clusterName": "vic')
    monkeypatch.setattr(backend, "check_prerequisites", lambda: None)

    class Reached(Exception):
        pass

    def prepare_dirs():
        raise Reached()
    monkeypatch.setattr(backend, "_prepare_dirs", prepare_dirs)
    with pytest.raises(Reached):
        backend.create("hpc-cluster", {"HeadNode": {"InstanceType": "m5.large"}})
    assert any(path in w for w in backend.warnings)


def test_create_is_still_refused_by_a_sound_other_cluster(backend, monkeypatch):
    put(backend, "other", sound("other"))
    monkeypatch.setattr(backend, "check_prerequisites", lambda: None)
    with pytest.raises(cb.BackendError, match="other already exists"):
        backend.create("hpc-cluster", {})


def test_delete_of_a_damaged_record_beside_a_sound_cluster_removes_only_the_record(backend):
    path = put(backend, "victim", "[]")
    put(backend, "hpc-cluster", sound())
    os.makedirs(backend.paths.slurm_etc)
    assert backend.delete("victim") is True
    assert not os.path.exists(path)
    assert os.path.isdir(backend.paths.slurm_etc)
    assert backend.run.calls == []
    assert "belong to cluster hpc-cluster" in backend.warnings[0] and path in backend.warnings[0]
    assert backend.records.load("hpc-cluster") is not None


def test_delete_of_the_only_damaged_record_cleans_the_layout_and_says_what_is_left(backend):
    path = put(backend, "victim", '{"clusterName": "victim", "local": {"createdUser": "root", "createdDirs": ["/etc"]')
    os.makedirs(backend.paths.slurm_etc)
    assert backend.delete("victim") is True
    assert not os.path.exists(path) and not os.path.exists(backend.paths.slurm_etc)
    assert not any(call[0] == "userdel" for call in backend.run.calls)
    assert "remove them by hand" in backend.warnings[0] and path in backend.warnings[0]


def test_delete_of_a_damaged_record_that_cannot_be_removed_says_how(backend):
    path = os.path.join(folder_of(backend), "victim.json")
    os.makedirs(os.path.join(path, "inside"))
    with pytest.raises(cb.BackendError, match="remove %s by hand" % path):
        backend.delete("victim")


def test_delete_trusts_no_user_or_folder_from_the_record(backend, tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "data").write_text("keep")
    shared = tmp_path / "shared"
    shared.mkdir()
    record = sound(clusterConfiguration={"Image": {"Os": "alinux2"}, "SharedStorage": [{"MountDir": str(shared)}]},
                   local={"createdUser": "root", "createdDirs": [str(keep), str(shared), "/etc"]})
    put(backend, "hpc-cluster", record)
    assert backend.delete("hpc-cluster") is True
    assert (keep / "data").read_text() == "keep"
    assert not shared.exists()
    assert not any(call[0] == "userdel" for call in backend.run.calls)
    joined = "\n".join(backend.warnings)
    assert str(keep) in joined and "'/etc' (a system folder)" in joined and "'root'" in joined


def test_delete_removes_the_default_user_it_created(backend):
    put(backend, "hpc-cluster", sound(local={"createdUser": "ec2-user"}))
    assert backend.delete("hpc-cluster") is True
    assert ["userdel", "--remove", "ec2-user"] in backend.run.calls
    assert backend.records.load("hpc-cluster") is None
