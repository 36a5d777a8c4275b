"""Writing into another system's tree as root: the tree's links are never followed out of it."""

import os
import stat

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import tree_files as tf


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "etc").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    return root, outside


def test_write_file(tree):
    root = tree[0]
    tf.write_file(str(root), "/etc/hosts", "127.0.0.1 localhost\n", 0o640, uid=0, gid=0)
    info = os.stat(root / "etc/hosts")
    assert (root / "etc/hosts").read_text() == "127.0.0.1 localhost\n"
    assert stat.S_IMODE(info.st_mode) == 0o640


def test_a_linked_folder_is_not_followed(tree):
    root, outside = tree
    os.symlink(str(outside), str(root / "etc/ssh"))
    with pytest.raises(tf.TreeError, match="/etc/ssh"):
        tf.write_file(str(root), "/etc/ssh/sshd_config", "x")
    assert os.listdir(outside) == []


def test_an_absolute_link_in_the_tree_is_replaced_not_followed(tree):
    root, outside = tree
    target = outside / "resolv.conf"
    target.write_text("theirs")
    os.symlink(str(target), str(root / "etc/resolv.conf"))
    tf.write_file(str(root), "/etc/resolv.conf", "ours")
    assert target.read_text() == "theirs"
    assert not os.path.islink(root / "etc/resolv.conf")
    assert (root / "etc/resolv.conf").read_text() == "ours"


def test_dot_dot_is_refused(tree):
    root = tree[0]
    with pytest.raises(tf.TreeError):
        tf.write_file(str(root), "/etc/../../outside/x", "x")


def test_missing_folders_copy_the_model_tree(tree, tmp_path):
    root = tree[0]
    lower = tmp_path / "lower"
    (lower / "home/user").mkdir(parents=True)
    os.chmod(lower / "home/user", 0o750)
    os.chown(lower / "home/user", 1000, 1000)
    tf.make_dir(str(root), "/home/user/.ssh", 0o700, 1000, 1000, like=str(lower))
    home = os.stat(root / "home/user")
    assert (stat.S_IMODE(home.st_mode), home.st_uid, home.st_gid) == (0o750, 1000, 1000)
    ssh = os.stat(root / "home/user/.ssh")
    assert (stat.S_IMODE(ssh.st_mode), ssh.st_uid) == (0o700, 1000)


def test_missing_folder_without_a_model_is_an_error(tree):
    root = tree[0]
    with pytest.raises(tf.TreeError, match="does not exist"):
        tf.write_file(str(root), "/var/lib/x", "x")


def test_links_and_moves(tree):
    root = tree[0]
    (root / "etc/slurm").mkdir()
    (root / "etc/slurm/plugstack.conf").write_text("include")
    tf.make_dir(str(root), "/opt/slurm/etc")
    tf.move_entries(str(root), "/etc/slurm", "/opt/slurm/etc")
    tf.make_link(str(root), "/etc/slurm", "/opt/slurm/etc")
    assert os.readlink(root / "etc/slurm") == "/opt/slurm/etc"
    assert (root / "opt/slurm/etc/plugstack.conf").read_text() == "include"
    assert tf.remove(str(root), "/etc/slurm") is True
    assert tf.remove(str(root), "/etc/slurm") is False
