"""Root's folders: created root's with the mode asked, refused when another account could write
there or a link stands in for them; JSON files written 0600 and read only when they are root's."""

import os
import stat

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import root_folders as rf


@pytest.fixture
def base(tmp_path):
    os.chmod(tmp_path, 0o755)
    return tmp_path


def test_ensure_creates_root_folders(base):
    folder = base / "a" / "b"
    rf.ensure(str(folder), 0o700, trusted=str(base))
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(base / "a").st_mode) == 0o755


def test_group_writable_component_is_refused(base):
    (base / "a").mkdir()
    os.chmod(base / "a", 0o775)
    with pytest.raises(rf.FolderError, match="only root may write"):
        rf.ensure(str(base / "a" / "b"), 0o700, trusted=str(base))


def test_foreign_owner_is_refused(base):
    (base / "a").mkdir()
    os.chown(base / "a", 1000, 1000)
    with pytest.raises(rf.FolderError, match="uid 1000"):
        rf.check_path(str(base / "a" / "b"), trusted=str(base))


def test_linked_component_is_refused(base):
    (base / "real").mkdir()
    os.symlink(str(base / "real"), str(base / "a"))
    with pytest.raises(rf.FolderError, match="symbolic link"):
        rf.ensure(str(base / "a" / "b"), 0o700, trusted=str(base))


def test_sticky_tmp_is_not_trusted_by_default(tmp_path):
    with pytest.raises(rf.FolderError):
        rf.check_path(str(tmp_path / "x"))


def test_json_round_trip_is_0600(base):
    rf.write_json(str(base), "r.json", {"a": 1})
    assert rf.read_json(str(base), "r.json") == {"a": 1}
    assert stat.S_IMODE(os.stat(base / "r.json").st_mode) == 0o600
    assert [p for p in os.listdir(base) if p.endswith(".tmp")] == []


def test_json_through_a_link_is_refused(base):
    (base / "secret").write_text("{}")
    os.symlink(str(base / "secret"), str(base / "r.json"))
    with pytest.raises(rf.FolderError, match="remove it"):
        rf.read_json(str(base), "r.json")


def test_json_of_another_owner_is_refused(base):
    (base / "r.json").write_text("{}")
    os.chown(base / "r.json", 1000, 1000)
    with pytest.raises(rf.FolderError, match="root's"):
        rf.read_json(str(base), "r.json")


def test_missing_json_is_none(base):
    assert rf.read_json(str(base), "none.json") is None
