"""The instance record store: ids shaped like EC2's never become other paths, folders and records are
root's alone, and an entry the store did not write is never taken for an instance."""

import os
import re
import stat

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import instance_store as st


@pytest.fixture
def store(tmp_path):
    os.chmod(tmp_path, 0o755)
    return st.InstanceStore(str(tmp_path / "instances"), trusted=str(tmp_path))


def test_ids_look_like_ec2s():
    ids = {st.new_instance_id() for _count in range(50)}
    assert len(ids) == 50 and all(re.match(r"^i-[0-9a-f]{17}$", i) for i in ids)


@pytest.mark.parametrize("bad", ["i-../../etc", "i-123", "ami-0123456789abcdef0", "", None, "i-0123456789ABCDEF0"])
def test_bad_ids_are_refused(store, bad):
    with pytest.raises(ValueError, match="instance id"):
        store.folder(bad)


def test_create_save_load_remove(store):
    iid = st.new_instance_id()
    folder = store.create(iid)
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    assert sorted(os.listdir(folder)) == ["boot", "upper", "work"]
    assert os.listdir(os.path.join(folder, "boot")) == ["root"]
    assert stat.S_IMODE(os.stat(os.path.join(folder, "work")).st_mode) == 0o700
    store.save({"instance_id": iid, "state": "pending"})
    assert store.load(iid) == {"instance_id": iid, "state": "pending"}
    assert [r["instance_id"] for r in store.records()] == [iid]
    assert store.remove(iid) is True and store.ids() == [] and store.remove(iid) is False
    # Nothing of the store is left once its last instance goes.
    assert not os.path.exists(store.root)
    with pytest.raises(st.InstanceNotFound) as caught:
        store.load(iid)
    assert str(caught.value) == "there is no instance %s (describe-instances lists the instances)" % iid


def test_folder_stays_while_an_instance_is_left(store):
    first, second = st.new_instance_id(), st.new_instance_id()
    store.create(first)
    store.create(second)
    store.remove(first)
    assert store.ids() == [second]
    with store.lock():
        assert os.listdir(store.root) == [second]


def test_foreign_entries_are_not_instances(store):
    iid = st.new_instance_id()
    store.create(iid)
    store.save({"instance_id": iid})
    other = st.new_instance_id()
    store.create(other)
    store.save({"instance_id": iid})  # a record naming another instance than its folder's
    os.rename(os.path.join(store.folder(iid), "record.json"), os.path.join(store.folder(other), "record.json"))
    os.mkdir(os.path.join(store.root, "not-an-instance"))
    assert store.records() == []
