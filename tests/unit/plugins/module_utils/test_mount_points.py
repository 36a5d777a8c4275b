"""Mount points made by root without following a link planted on the way or at the name."""

import os
import stat

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import mount_points as mp


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_missing_folders_are_made_and_the_mount_point_opened_to_all(tmp_path):
    mount = str(tmp_path / "a" / "b" / "shared")
    assert mp.ensure_mount_point(mount) is True
    assert _mode(mount) == 0o1777
    assert _mode(str(tmp_path / "a")) == 0o755 and _mode(str(tmp_path / "a" / "b")) == 0o755
    # A second call makes nothing and keeps the mode.
    assert mp.ensure_mount_point(mount) is False
    assert _mode(mount) == 0o1777


def test_an_existing_folder_becomes_roots_with_the_mode(tmp_path):
    """A folder another account owns (left by an earlier cluster or made by hand) becomes root's, as
    the root of ParallelCluster's shared storage is; what is inside keeps its owner."""
    mount = tmp_path / "shared"
    mount.mkdir(mode=0o700)
    (mount / "kept").mkdir()
    os.chown(str(mount), 65534, 65534)
    os.chown(str(mount / "kept"), 65534, 65534)
    assert mp.ensure_mount_point(str(mount)) is False
    info = os.lstat(str(mount))
    assert (info.st_uid, info.st_gid, _mode(str(mount))) == (0, 0, 0o1777)
    assert os.lstat(str(mount / "kept")).st_uid == 65534


@pytest.mark.parametrize("where", ["leaf", "parent"])
def test_a_link_is_refused_and_its_target_keeps_its_mode(tmp_path, where):
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    os.chmod(str(target), 0o700)
    if where == "leaf":
        os.symlink(str(target), str(tmp_path / "shared"))
        mount = str(tmp_path / "shared")
    else:
        os.symlink(str(target), str(tmp_path / "via"))
        mount = str(tmp_path / "via" / "shared")
    with pytest.raises(mp.MountPointError, match="symbolic link"):
        mp.ensure_mount_point(mount)
    assert _mode(str(target)) == 0o700
    assert os.listdir(str(target)) == []


def test_a_file_at_the_name_is_refused(tmp_path):
    (tmp_path / "shared").write_text("x")
    with pytest.raises(mp.MountPointError, match="not a folder"):
        mp.ensure_mount_point(str(tmp_path / "shared"))


@pytest.mark.parametrize("path", ["shared", "/", "/a/../etc", "/a//b", "/a/./b", "/a/b/"])
def test_paths_that_are_not_plain_are_refused(path):
    with pytest.raises(mp.MountPointError, match="normalised absolute"):
        mp.ensure_mount_point(path)
