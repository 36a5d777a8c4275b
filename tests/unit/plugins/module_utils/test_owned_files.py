"""owned_files.open_owned: the one way a module running as root opens a file a cluster user may
have named or replaced (a job's output for stdout_tail, a script_path read for slurmrestd)."""

import io
import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils.owned_files import open_owned, read_at_most

ME = os.geteuid()


def _open(path, owners=(ME,), whole_path=False):
    handle, why = open_owned(str(path), set(owners), "the expected user", whole_path=whole_path)
    if handle is not None:
        with handle:
            return handle.read(), why
    return None, why


def test_a_regular_file_of_an_expected_owner_is_read(tmp_path):
    path = tmp_path / "job.out"
    path.write_bytes(b"hello\n")
    assert _open(path) == (b"hello\n", None)
    assert _open(path, whole_path=True) == (b"hello\n", None)


def test_a_symlink_at_the_last_component_is_never_followed(tmp_path):
    target = tmp_path / "secret"
    target.write_text("SECRET")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert _open(link) == (None, "is not a regular file (a symbolic link)")


def test_a_symlinked_directory_is_refused_only_when_the_whole_path_is_checked(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "file").write_text("data")
    (tmp_path / "via").symlink_to(tmp_path / "real")
    assert _open(tmp_path / "via" / "file") == (b"data", None)
    assert _open(tmp_path / "via" / "file", whole_path=True) == (
        None, "reaches %s through a symbolic link" % (tmp_path / "real" / "file"))


def test_a_fifo_a_directory_and_a_device_are_not_opened_for_reading(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    assert _open(fifo) == (None, "is not a regular file (a FIFO)")  # returns at once: no writer needed
    assert _open(tmp_path) == (None, "is not a regular file (a directory)")
    assert _open("/dev/null", owners=(0,)) == (None, "is not a regular file (a character device)")


def test_a_file_of_another_owner_is_refused(tmp_path):
    path = tmp_path / "theirs"
    path.write_text("SECRET")
    assert _open(path, owners=(ME + 4242,)) == (None, "is owned by uid %d, not by the expected user" % ME)


def test_a_missing_file_says_it_cannot_be_opened(tmp_path):
    assert _open(tmp_path / "nope") == (None, "cannot be opened (No such file or directory)")


@pytest.mark.parametrize("size, expected", [(0, b""), (4, b"abcd"), (5, None)])
def test_read_at_most_refuses_more_than_the_limit(size, expected):
    assert read_at_most(io.BytesIO(b"abcdefgh"[:size]), 4) == expected
